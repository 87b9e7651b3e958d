"""Training inputs: numpy arrays or a tf.data.Dataset, and the loss and metrics that fit them.

Every training function takes data as either

- ``(images, labels)``: numpy arrays, images ``(N, H, W, 3)`` RGB 0-255 (uint8 or float;
  grayscale ``(N, H, W)`` or ``(N, H, W, 1)`` is repeated into 3 channels), labels class
  indices ``(N,)`` or one-hot ``(N, K)``; batched and shuffled by ``fit``. The images go
  through the one image-batch check, :func:`daylib.data.images.to_rgb_batch`; or
- a batched ``tf.data.Dataset`` yielding ``(images, labels)`` (shuffle it yourself).

Example:
    >>> data = as_inputs((x_train, y_train))
    >>> data.label_kind
    'sparse'
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.data.images import InputShape, to_rgb_batch

__all__ = ["Data", "Inputs", "as_inputs", "output_units", "loss_and_metrics", "check_class_weight"]

Data = Union[tuple, tf.data.Dataset]


@dataclass
class Inputs:
    """Data for ``fit``: arrays (``x``, ``y``) or a dataset (``x``, with ``y=None``).

    Example:
        >>> as_inputs((x, y)).fit_kwargs(batch_size=32)["shuffle"]
        True
    """

    x: Union[np.ndarray, tf.data.Dataset]
    y: Optional[np.ndarray]
    label_kind: str

    @property
    def is_dataset(self) -> bool:
        """True for a ``tf.data.Dataset`` (labels inside it), False for arrays.

        Example:
            >>> as_inputs((x, y)).is_dataset
            False
        """
        return self.y is None

    def fit_kwargs(self, batch_size: int) -> dict:
        """Keyword arguments for ``model.fit`` (arrays are shuffled each epoch; datasets as they come).

        Example:
            >>> model.fit(**data.fit_kwargs(32), epochs=2)
        """
        if self.is_dataset:
            return {"x": self.x, "shuffle": False}  # a dataset shuffles itself; Keras warns on shuffle=True
        return {"x": self.x, "y": self.y, "batch_size": batch_size, "shuffle": True}

    def validation(self):
        """The form ``validation_data=`` takes.

        Example:
            >>> model.fit(x, y, validation_data=val.validation())
        """
        return self.x if self.is_dataset else (self.x, self.y)

    def digest(self) -> str:
        """A short content hash (arrays) or structure-and-size hash (datasets) for run fingerprints.

        Example:
            >>> len(as_inputs((x, y)).digest())
            32
        """
        h = hashlib.blake2b(digest_size=16)
        if self.is_dataset:
            h.update(repr(self.x.element_spec).encode())
            h.update(str(int(self.x.cardinality())).encode())
        else:
            for array in (self.x, self.y):
                h.update(str((array.shape, array.dtype)).encode())
                h.update(np.ascontiguousarray(array).data)
        return h.hexdigest()


def as_inputs(data: Data, *, role: str = "training", input_shape: InputShape = None) -> Inputs:
    """Check and wrap training or validation data (see the module docstring for the two forms).

    Args:
        data: ``(images, labels)`` arrays or a batched ``tf.data.Dataset`` of such pairs.
        role: ``"training"`` or ``"validation"``, for the error messages.
        input_shape: the model's input shape without the batch axis; arrays whose height and
            width differ from it are refused before training starts.

    Raises:
        ValueError: wrong shapes or values (a :class:`daylib.data.images.ImageError`, which is
            one), mismatched lengths, or labels that are not class indices / one-hot.

    Example:
        >>> as_inputs((np.zeros((4, 32, 32, 3), "uint8"), np.array([0, 1, 0, 1]))).x.dtype
        dtype('float32')
    """
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise ValueError(
                f"The {role} dataset must yield (images, labels) pairs; it yields {spec}. "
                "Map it, e.g. ds.map(lambda x, y: (x, y))."
            )
        images, labels = spec
        if images.shape.rank != 4:
            raise ValueError(
                f"The {role} dataset must be batched: images of shape (batch, H, W, 3), got {images.shape}. "
                "Call .batch(32) on it."
            )
        one_hot = labels.shape.rank == 2 and (labels.shape[-1] or 1) > 1
        return Inputs(data, None, "one_hot" if one_hot else "sparse")
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            f"{role.capitalize()} data must be (images, labels) arrays or a tf.data.Dataset; got {type(data).__name__}."
        )
    images = to_rgb_batch(data[0], input_shape=input_shape, role=f"{role} images")
    labels = np.asarray(data[1])
    if len(labels) != len(images):
        raise ValueError(f"{role.capitalize()} data have {len(images)} images but {len(labels)} labels.")
    if labels.ndim == 2 and labels.shape[1] > 1:
        return Inputs(images, labels.astype("float32"), "one_hot")
    labels = labels.reshape(-1)
    if not np.all(np.mod(labels, 1) == 0) or labels.min() < 0:
        raise ValueError(
            f"{role.capitalize()} labels must be class indices 0, 1, ... or one-hot rows; got {labels[:5]}."
        )
    return Inputs(images, labels.astype("int32"), "sparse")


def output_units(model: keras.Model) -> int:
    """Width of the model's output (1 for a single sigmoid unit).

    Example:
        >>> output_units(build_classifier("mobilenet_v2", 2, input_shape=(32, 32, 3), weights=None))
        1
    """
    return int(model.output_shape[-1])


def loss_and_metrics(units: int, label_kind: str) -> tuple[keras.losses.Loss, list]:
    """The loss and metrics for an output of ``units`` and labels of ``label_kind``.

    One sigmoid unit: binary cross-entropy; softmax: (sparse) categorical cross-entropy; accuracy
    either way. (No AUC during training: Keras's AUC metric adds about a second of tracing to
    every compile, a large share of a cached head's training on a CPU; ``daylib.evaluate``
    computes AUC afterwards.) Call it inside a ``strategy.scope()`` when distributing.

    Raises:
        ValueError: one-hot labels for a single-unit (binary) output.

    Example:
        >>> loss, metrics = loss_and_metrics(1, "sparse")
        >>> [m.name for m in metrics]
        ['accuracy']
    """
    if units == 1:
        if label_kind == "one_hot":
            raise ValueError(
                "The model has one sigmoid output (binary), so labels must be 0/1 per image, not one-hot rows. "
                "Pass labels.argmax(axis=1)."
            )
        return keras.losses.BinaryCrossentropy(), [keras.metrics.BinaryAccuracy(name="accuracy")]
    if label_kind == "one_hot":
        return keras.losses.CategoricalCrossentropy(), [keras.metrics.CategoricalAccuracy(name="accuracy")]
    return keras.losses.SparseCategoricalCrossentropy(), [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


def check_class_weight(class_weight: Optional[dict], units: int, inputs: Inputs) -> Optional[dict]:
    """Validate a class-weight dict ``{class index: weight}`` (compute it with ``daylib.data.pipeline.class_weights``).

    Raises:
        ValueError: a class is missing, a weight is not positive, or labels exceed the classes.

    Example:
        >>> check_class_weight({0: 2.0, 1: 0.7}, 1, data)
        {0: 2.0, 1: 0.7}
    """
    n_classes = 2 if units == 1 else units
    if not inputs.is_dataset and inputs.label_kind == "sparse" and inputs.y.size and inputs.y.max() >= n_classes:
        raise ValueError(f"Labels go up to {inputs.y.max()}, but the model has {n_classes} classes.")
    if class_weight is None:
        return None
    weights = {int(k): float(v) for k, v in class_weight.items()}
    if sorted(weights) != list(range(n_classes)) or min(weights.values()) <= 0:
        raise ValueError(
            f"class_weight needs one positive weight per class 0..{n_classes - 1}; got {class_weight}. "
            "daylib.data.pipeline.class_weights(labels) computes balanced ones."
        )
    return weights
