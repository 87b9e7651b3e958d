"""Run a model over many images in inference mode, batch by batch: the one loop every module uses.

Feature extraction, evaluation and the heatmap metrics all need "the model's outputs for
these images". :func:`predict` does it for arrays and for ``tf.data`` datasets with one
compiled forward function per model (:func:`forward`), traced once for any batch size.
``model.predict`` would trace a new predict function for each model and retrace it for
each new batch shape: seconds on a CPU, and after a few models TensorFlow's "retracing"
warning. Under a ``tf.distribute`` strategy ``model.predict`` is used, since it is what
spreads the batches over the replicas.

Every batch goes through :func:`daylib.data.images.to_rgb_batch`, the one image check, arrays
and datasets alike (a dataset's batch is in memory already, so the check costs little next to
the forward pass): images the model cannot take are refused with the fix, and a dataset that
looks scaled to [0, 1] warns once, as an array does.

Example:
    >>> from daylib.models.inference import predict
    >>> scores, labels = predict(model, (x_test, y_test))      # (N, units), (N,)
    >>> scores, _ = predict(model, x_test)                      # images only
"""
from __future__ import annotations

import functools
import warnings
import weakref
from typing import Callable, Iterator, Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.data.images import ImageRangeWarning, to_rgb_batch
from daylib.arguments import count
from daylib.models.layers import require_model

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
    compiled = _FORWARDS.get(require_model(model))
    if compiled is None:
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        # A partial (no __code__ of its own) makes TensorFlow count traces per model, so a lesson that
        # builds many models does not trigger its "frequent retracing" warning.
        compiled = tf.function(functools.partial(_inference, model), input_signature=[spec], autograph=False)
        _FORWARDS[model] = compiled
    return compiled


def _inference(model: keras.Model, images: tf.Tensor) -> tf.Tensor:
    return model(images, training=False)


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
        data: an image array or one image (grayscale films are repeated into three channels),
            a list of images, a pair tuple ``(images, labels)`` of arrays, or a batched
            ``tf.data.Dataset`` of images or of ``(images, labels[, ...])``.
        batch_size: images per forward pass (arrays only; datasets come batched).
        strategy: run ``model.predict`` under this ``tf.distribute`` strategy instead.
        verbose: 1 shows a progress bar.

    Returns:
        ``(outputs, labels)``: outputs stacked along the first axis; labels ``None`` when
        ``data`` had none.

    Raises:
        ValueError: no model, a bad ``batch_size``, no images at all, labels that do not match
            the images in number, a dataset of single images or of dicts, or an image batch the
            model cannot take (see :func:`daylib.data.images.to_rgb_batch`).

    Example:
        >>> features, labels = predict(feature_model, train_ds, verbose=1)
    """
    batch_size = count(batch_size, "batch_size", example=32)
    if isinstance(model, keras.Model):
        input_shape = model.input_shape[1:]
        run = forward(model) if strategy is None else None
    elif callable(model):
        input_shape, run = None, model
    else:
        raise ValueError(f"model must be a keras.Model or a function of an image batch, got {type(model).__name__}.")
    if isinstance(data, tf.data.Dataset):
        _check_dataset(data)
        batches, total = _checked(_dataset_batches(data), input_shape), int(data.cardinality())
    else:
        images, labels = _images_and_labels(data, input_shape)
        if run is None:
            return np.asarray(model.predict(images, batch_size=batch_size, verbose=verbose)), labels
        starts = range(0, len(images), batch_size)
        batches = ((images[i:i + batch_size], None if labels is None else labels[i:i + batch_size]) for i in starts)
        total = len(starts)
    if run is None:
        return _predict_distributed(model, data, batches, verbose)
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


def _images_and_labels(data, input_shape) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """An array's images checked, and its labels (one per image) when it came as ``(images, labels)``."""
    if isinstance(data, tuple) and len(data) != 2:
        raise ValueError(
            f"A tuple is read as (images, labels), but this one has {len(data)} items: pass (images, labels), "
            "or the images alone as an array or a list."
        )
    images, labels = data if isinstance(data, tuple) else (data, None)
    images = to_rgb_batch(images, input_shape=input_shape, single=True)
    if labels is not None and (np.ndim(labels) == 0 or len(labels) != len(images)):
        got = "one value" if np.ndim(labels) == 0 else f"{len(labels)} labels"
        raise ValueError(f"Got {len(images)} images but {got}: pass one label per image, in the same order.")
    return images, labels


def _check_dataset(data: tf.data.Dataset) -> None:
    spec = data.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(first, tf.TensorSpec):
        raise ValueError(
            f"The dataset yields {type(first).__name__} elements {first}; predict takes batches of images or of "
            "(images, labels): map it first, e.g. ds.map(lambda d: (d['image'], d['label']))."
        )
    if first.shape.rank == 3:
        raise ValueError(
            f"The dataset yields single images {tuple(first.shape)}, not batches: batch it first, e.g. ds.batch(32)."
        )


def _dataset_batches(data: tf.data.Dataset):
    for element in data:
        if isinstance(element, (tuple, list)):
            yield element[0], element[1] if len(element) > 1 else None
        else:
            yield element, None


def _checked(batches, input_shape) -> Iterator[tuple[Union[tf.Tensor, np.ndarray], Optional[tf.Tensor]]]:
    """Each dataset batch through the one image check; a [0, 1] warning is given once, for the first such batch."""
    warned = False
    for index, (images, labels) in enumerate(batches):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ImageRangeWarning)
            batch = to_rgb_batch(images, input_shape=input_shape, role=f"the images of dataset batch {index}")
        if caught and not warned:
            warnings.warn(str(caught[0].message), ImageRangeWarning, stacklevel=4)
            warned = True
        if labels is not None and len(labels) != len(batch):
            raise ValueError(f"Dataset batch {index} holds {len(batch)} images but {len(labels)} labels.")
        yield (images if batch.shape == tuple(images.shape) else batch), labels  # the tensor itself: no copy


def _predict_distributed(model: keras.Model, data: tf.data.Dataset, batches, verbose: int):
    """``model.predict`` under its strategy; the checked ``batches`` are read first, for the labels."""
    labels = [np.asarray(batch_labels) for _, batch_labels in batches if batch_labels is not None]
    outputs = np.asarray(model.predict(data.map(lambda images, *rest: images), verbose=verbose))
    return outputs, (np.concatenate(labels) if labels else None)
