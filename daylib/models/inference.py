"""Run a model over many images in inference mode, batch by batch: the one loop every module uses.

Feature extraction, evaluation and the heatmap metrics all need "the model's outputs for
these images". :func:`predict` does it for arrays and for ``tf.data`` datasets with one
compiled forward function per model (:func:`forward`), traced once for any batch size.
``model.predict`` would trace a new predict function for each model and retrace it for
each new batch shape: seconds on a CPU, and after a few models TensorFlow's "retracing"
warning. Under a ``tf.distribute`` strategy ``model.predict`` is used, since it is what
spreads the batches over the replicas.

Example:
    >>> from daylib.models.inference import predict
    >>> scores, labels = predict(model, (x_test, y_test))      # (N, units), (N,)
    >>> scores, _ = predict(model, x_test)                      # images only
"""
from __future__ import annotations

import weakref
from typing import Callable, Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.data.images import to_rgb_batch

__all__ = ["forward", "predict"]

_FORWARDS: "weakref.WeakKeyDictionary[keras.Model, Callable]" = weakref.WeakKeyDictionary()

Images = Union[np.ndarray, tuple, tf.data.Dataset]


def forward(model: keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """The model's compiled inference function (``training=False``), made once per model.

    It accepts any batch size, so partial last batches do not trace again; the weights are
    read when it runs, so training the model afterwards is seen.

    Example:
        >>> outputs = forward(model)(tf.zeros((3, 224, 224, 3)))
    """
    compiled = _FORWARDS.get(model)
    if compiled is None:
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        compiled = tf.function(lambda images: model(images, training=False), input_signature=[spec],
                               autograph=False)
        _FORWARDS[model] = compiled
    return compiled


def predict(
    model: Union[keras.Model, Callable],
    data: Images,
    *,
    batch_size: int = 32,
    strategy: Optional[tf.distribute.Strategy] = None,
    verbose: int = 0,
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Outputs of ``model`` for every image in ``data``, and the labels that came with them.

    Args:
        model: a Keras model (run through :func:`forward`), or any function of a float32
            image batch (e.g. a CAM's perturbed-image scorer).
        data: an image array (grayscale films are repeated into three channels), a pair
            tuple ``(images, labels)`` of arrays, or a batched ``tf.data.Dataset`` of images or of
            ``(images, labels[, ...])``.
        batch_size: images per forward pass (arrays only; datasets come batched).
        strategy: run ``model.predict`` under this ``tf.distribute`` strategy instead.
        verbose: 1 shows a progress bar.

    Returns:
        ``(outputs, labels)``: outputs stacked along the first axis; labels ``None`` when
        ``data`` had none.

    Raises:
        ValueError: no images at all, or an image batch the model cannot take (see
            :func:`daylib.data.images.to_rgb_batch`).

    Example:
        >>> features, labels = predict(feature_model, train_ds, verbose=1)
    """
    if isinstance(model, keras.Model):
        input_shape = model.input_shape[1:]
        run = forward(model) if strategy is None else None
    else:
        input_shape, run = None, model
    if isinstance(data, tf.data.Dataset):
        batches, total = _dataset_batches(data), int(data.cardinality())
    else:
        images, labels = data if isinstance(data, tuple) and len(data) == 2 else (data, None)
        images = to_rgb_batch(images, input_shape=input_shape)
        if run is None:
            return np.asarray(model.predict(images, batch_size=batch_size, verbose=verbose)), labels
        starts = range(0, len(images), batch_size)
        batches = ((images[i:i + batch_size], None if labels is None else labels[i:i + batch_size]) for i in starts)
        total = len(starts)
    if run is None:
        return _predict_distributed(model, data, verbose)
    progress = keras.utils.Progbar(total if total > 0 else None, verbose=verbose) if verbose else None
    outputs, label_parts = [], []
    for step, (batch, batch_labels) in enumerate(batches):
        outputs.append(np.asarray(run(tf.cast(batch, tf.float32))))
        if batch_labels is not None:
            label_parts.append(np.asarray(batch_labels))
        if progress is not None:
            progress.update(step + 1)
    if not outputs:
        raise ValueError("The data hold no images (an empty dataset or array): nothing to run the model on.")
    return np.concatenate(outputs), (np.concatenate(label_parts) if label_parts else None)


def _dataset_batches(data: tf.data.Dataset):
    for element in data:
        if isinstance(element, (tuple, list)):
            yield element[0], element[1] if len(element) > 1 else None
        else:
            yield element, None


def _predict_distributed(model: keras.Model, data: tf.data.Dataset, verbose: int) -> tuple[np.ndarray, np.ndarray]:
    outputs = np.asarray(model.predict(data.map(lambda images, *rest: images), verbose=verbose))
    labels = np.concatenate([np.asarray(element[1]) for element in data])
    return outputs, labels
