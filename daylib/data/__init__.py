"""Chest X-ray data for the course: phantom films, the Kaggle dataset and tf.data pipelines.

- :mod:`daylib.data.images`    read any image file or array as RGB uint8.
- :mod:`daylib.data.phantom`   synthetic chest X-rays with lesion masks and optional shortcut markers.
- :mod:`daylib.data.pneumonia` the Kaggle dataset (download, verify, patient split) or phantoms: ``load()``.
- :mod:`daylib.data.pipeline`  tf.data datasets, augmentation layers, class weights (imports TensorFlow).

Example:
    >>> from daylib.data import pneumonia, pipeline
    >>> data = pneumonia.load("auto")
    >>> train_ds = pipeline.dataset_from_split(data.train, shuffle=True)
"""
