"""Chest X-ray data for the course: image files, phantom films, the Kaggle dataset and tf.data pipelines.

One job per module:

- :mod:`daylib.data.images`    read any image file or array as RGB uint8, and the one image-batch check.
- :mod:`daylib.data.phantom`   synthetic chest X-rays with lesion masks and optional shortcut markers.
- :mod:`daylib.data.splits`    the ``Split`` / ``ChestXrays`` types, the patient split, seeded class-balanced subsets.
- :mod:`daylib.data.folders`   read a class-per-folder tree (``split/class/images``, or Keras's ``class/images``), skipping bad files by name.
- :mod:`daylib.data.kaggle_credentials` where the kaggle client will find credentials (its own lookup).
- :mod:`daylib.data.kaggle`    the Kaggle download, its endpoint and its verified install.
- :mod:`daylib.data.pneumonia` ``load()``: the Kaggle films or the phantoms, split the same way.
- :mod:`daylib.data.pipeline`  tf.data datasets, augmentation layers, class weights (imports TensorFlow).

Example:
    >>> from daylib.data import pneumonia, pipeline
    >>> data = pneumonia.load("auto")
    >>> train_ds = pipeline.dataset_from_split(data.train, shuffle=True)
"""
