"""Training inputs: numpy arrays or a tf.data.Dataset, checked at the door, and the loss and metrics that fit them.

Every training function takes data as either

- ``(images, labels)``: numpy arrays, images ``(N, H, W, 3)`` RGB 0-255 (uint8 or float;
  grayscale ``(N, H, W)`` or ``(N, H, W, 1)`` is repeated into 3 channels), labels class
  indices ``(N,)`` or one-hot ``(N, K)``; batched and shuffled by ``fit`` (uint8 images stay
  uint8, which the model casts to float32 exactly: a quarter of the memory and of the hashing); or
- a batched ``tf.data.Dataset`` yielding ``(images, labels)`` (shuffle it yourself).

**The one home of the training-input rules.** Arrays are checked here, in full, before
training starts: the images by the one image-batch check,
:func:`daylib.data.images.to_rgb_batch` (shape, size, NaN/inf naming the first bad image,
0-255, a warning for batches that look scaled to [0, 1]); the labels here (numbers, not
class names; class indices of the model's head; as many as images; a warning when they
hold a single class). A dataset is checked here as far as its structure tells (batched
pairs, numeric images with 3 channels, the model's image size, label type and one-hot
width, not empty, not endless); the rules that need its values run in the stream as
``fit`` reads it (:mod:`daylib.training.stream`), so it is never read twice.

Example:
    >>> data = as_inputs((x_train, y_train), classes=2)
    >>> data.label_kind
    'sparse'
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.data.images import ImageError, InputShape, to_rgb_batch
from daylib.models.digest import Digest
from daylib.training.stream import LabelTally, SingleClassCheck, checked_stream, label_range_message, stream_errors

__all__ = ["Data", "Inputs", "as_inputs", "head_classes", "output_units", "loss_and_metrics", "check_class_weight",
           "stream_errors", "SingleClassWarning", "warn_if_single_class",
           "warn_if_single_class_counts"]

Data = Union[tuple, tf.data.Dataset]


class SingleClassWarning(UserWarning):
    """Training labels that hold one class only: the model can only learn to always answer it."""


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
    tally: Optional[LabelTally] = None
    _digest: Optional[str] = field(default=None, init=False, repr=False, compare=False)

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

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """The callbacks ``fit`` needs for this data's in-stream rules: for a training dataset of class
        indices, the single-class warning after its first epoch (arrays were warned at the door).

        Example:
            >>> model.fit(**data.fit_kwargs(32), callbacks=data.callbacks(), epochs=2)
        """
        return [SingleClassCheck(self.tally, warn_if_single_class_counts)] if self.tally is not None else []

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
        if self._digest is not None:  # the run fingerprint and the feature cache both ask; hash once
            return self._digest
        h = Digest()
        if self.is_dataset:
            h.update(repr(self.x.element_spec).encode())
            h.update(str(int(self.x.cardinality())).encode())
        else:
            for array in (self.x, self.y):
                h.update(str((array.shape, array.dtype)).encode())
                h.update(np.ascontiguousarray(array).data)
        self._digest = h.hexdigest()
        return self._digest


def as_inputs(data: Data, *, role: str = "training", input_shape: InputShape = None,
              classes: Optional[int] = None) -> Inputs:
    """Check and wrap training or validation data (see the module docstring for the forms and rules).

    Args:
        data: ``(images, labels)`` arrays or a batched ``tf.data.Dataset`` of such pairs.
        role: ``"training"`` or ``"validation"``, for the messages.
        input_shape: the model's input shape without the batch axis; images whose height and
            width differ from it are refused before training starts.
        classes: the number of classes of the model's head (:func:`head_classes`); labels
            outside ``0 .. classes - 1`` are refused. ``None`` checks only that labels are
            class indices.

    Raises:
        ValueError: wrong shapes or values (a :class:`daylib.data.images.ImageError`, which is
            one), mismatched lengths, labels that are not class indices of the head or one-hot
            rows of its width, class names as labels, empty data.

    Example:
        >>> as_inputs((np.zeros((4, 32, 32, 3), "uint8"), np.array([0, 1, 0, 1])), classes=2).x.shape
        (4, 32, 32, 3)
    """
    if isinstance(data, tf.data.Dataset):
        return _dataset_inputs(data, role, input_shape, classes)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            f"{role.capitalize()} data must be (images, labels) arrays or a tf.data.Dataset; got {type(data).__name__}."
        )
    images = to_rgb_batch(data[0], input_shape=input_shape, role=f"{role} images", keep_uint8=True)
    labels, kind = _array_labels(np.asarray(data[1]), len(images), role, classes)
    return Inputs(images, labels, kind)


def _not_numbers(labels, role: str) -> ValueError:
    return ValueError(
        f"{role.capitalize()} labels are {'text' if labels.dtype.kind in 'SU' else labels.dtype} values such as "
        f"{labels.reshape(-1)[:3].tolist()}, not class "
        "indices. Map the class names to indices first, e.g. names = sorted(set(labels)); "
        "labels = np.array([names.index(name) for name in labels])."
    )


def _array_labels(labels: np.ndarray, n: int, role: str, classes: Optional[int]) -> tuple[np.ndarray, str]:
    if labels.dtype.kind not in "biuf":
        raise _not_numbers(labels, role)
    if labels.ndim == 0 or len(labels) != n:
        raise ValueError(f"{role.capitalize()} data have {n} images but {labels.size if labels.ndim else 1} labels: "
                         "give one label per image.")
    if labels.ndim == 2 and labels.shape[1] > 1:
        if classes is not None and labels.shape[1] != classes:
            raise ValueError(f"{role.capitalize()} labels are one-hot rows of {labels.shape[1]} columns, but the "
                             f"model has {classes} classes. Give rows of {classes}, or class indices.")
        return labels.astype("float32"), "one_hot"
    if labels.ndim > 2:
        raise ValueError(f"{role.capitalize()} labels have shape {labels.shape}; expected class indices (N,) or "
                         "one-hot rows (N, K).")
    labels = labels.reshape(-1).astype("float64")
    if not np.all(np.isfinite(labels)) or not np.all(np.mod(labels, 1) == 0) or labels.min() < 0:
        raise ValueError(
            f"{role.capitalize()} labels must be class indices 0, 1, ... or one-hot rows; got {labels[:5]}."
        )
    if classes is not None and labels.max() >= classes:
        first = int(np.argmax(labels >= classes))
        raise ValueError(label_range_message(role, labels[first], classes, f" (the first is labels[{first}])"))
    if role == "training":
        warn_if_single_class(labels, stacklevel=5)
    return labels.astype("int32"), "sparse"


def warn_if_single_class(labels: np.ndarray, stacklevel: int = 2) -> None:
    """Warn (:class:`SingleClassWarning`) when every training label is the same class.

    Arrays are checked at the door; a dataset's labels once the cached path has read them, or
    after the first epoch of the plain path (:func:`warn_if_single_class_counts` on its tally).

    Example:
        >>> warn_if_single_class(np.array([1, 1, 1]))      # SingleClassWarning
    """
    values, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)
    _warn_single(values, counts, stacklevel + 1)


def warn_if_single_class_counts(counts: np.ndarray, stacklevel: int = 2) -> None:
    """:func:`warn_if_single_class` for labels given as counts per class (a dataset's tally).

    Example:
        >>> warn_if_single_class_counts(np.array([0, 32]))   # SingleClassWarning
    """
    counts = np.asarray(counts).reshape(-1)
    present = np.flatnonzero(counts)
    _warn_single(present, counts[present], stacklevel + 1)


def _warn_single(classes: np.ndarray, counts: np.ndarray, stacklevel: int) -> None:
    """The one single-class rule: more than one label, all of one class."""
    if len(classes) == 1 and counts[0] > 1:
        warnings.warn(
            f"All {int(counts[0])} training labels are class {int(classes[0])}: the model can only learn to always "
            "answer that class. Check the labels and the split (both classes belong in the training set).",
            SingleClassWarning, stacklevel=stacklevel,
        )


def _dataset_inputs(data: tf.data.Dataset, role: str, input_shape: InputShape, classes: Optional[int]) -> Inputs:
    what = role.capitalize()
    spec = data.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2 or not all(isinstance(s, tf.TensorSpec) for s in spec):
        raise ValueError(
            f"The {role} dataset must yield (images, labels) pairs; it yields {spec}. "
            "Map it, e.g. ds.map(lambda x, y: (x, y))."
        )
    images, labels = spec
    if images.shape.rank is not None and images.shape.rank != 4:
        raise ValueError(
            f"The {role} dataset must be batched: images of shape (batch, H, W, 3), got {images.shape}. "
            "Call .batch(32) on it."
        )
    if not (images.dtype.is_floating or images.dtype.is_integer):
        raise ImageError(f"{what} images in the dataset have dtype {images.dtype.name}; decode them to numbers "
                         "first (daylib.data.pipeline does, with the course's one decoding rule).")
    if images.shape.rank is not None and images.shape[-1] not in (None, 3):
        raise ImageError(f"{what} images in the dataset have {images.shape[-1]} channels; the models take RGB "
                         "(3). For grayscale: ds.map(lambda x, y: (tf.image.grayscale_to_rgb(x), y)).")
    if input_shape is not None and images.shape.rank is not None:
        height, width = tuple(input_shape)[:2]
        got = images.shape[1], images.shape[2]
        if any(want is not None and have is not None and want != have for want, have in zip((height, width), got)):
            raise ImageError(
                f"{what} images are {got[0]}x{got[1]} but the model expects {height}x{width}: resize them in the "
                f"pipeline, e.g. ds.map(lambda x, y: (tf.image.resize(x, ({height}, {width})), y))."
            )
    if not (labels.dtype.is_floating or labels.dtype.is_integer or labels.dtype.is_bool):
        raise ValueError(f"{what} labels in the dataset are {labels.dtype.name}, not class indices: map the class "
                         "names to indices first, e.g. with a tf.lookup.StaticHashTable, or use "
                         "daylib.data.pipeline, which does.")
    one_hot = labels.shape.rank == 2 and (labels.shape[-1] or 1) > 1
    if classes is not None and one_hot and labels.shape[-1] != classes:
        raise ValueError(f"{what} labels are one-hot rows of {labels.shape[-1]} columns, but the model has "
                         f"{classes} classes. Give rows of {classes}, or class indices.")
    size = int(data.cardinality())
    if size == 0:
        raise ValueError(f"The {role} dataset is empty (0 batches): check the files or filters that make it.")
    if size == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError(f"The {role} dataset repeats forever, so an epoch would never end: remove .repeat().")
    tally = LabelTally(classes) if role == "training" and classes is not None and not one_hot else None
    checked = checked_stream(data, role=role, input_shape=input_shape, classes=classes, sparse=not one_hot,
                             tally=tally)
    return Inputs(checked, None, "one_hot" if one_hot else "sparse", tally)


def head_classes(model: keras.Model) -> int:
    """The number of classes of the model's head: 2 for one sigmoid unit, else the output width.

    Example:
        >>> head_classes(build_classifier("mobilenet_v2", 2, input_shape=(32, 32, 3), weights=None))
        2
    """
    units = output_units(model)
    return 2 if units == 1 else units


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


def check_class_weight(class_weight: Optional[dict], units: int) -> Optional[dict]:
    """Validate a class-weight dict ``{class index: weight}`` (compute it with ``daylib.data.pipeline.class_weights``).

    Raises:
        ValueError: a class is missing or a weight is not positive.

    Example:
        >>> check_class_weight({0: 2.0, 1: 0.7}, 1)
        {0: 2.0, 1: 0.7}
    """
    n_classes = 2 if units == 1 else units
    if class_weight is None:
        return None
    weights = {int(k): float(v) for k, v in class_weight.items()}
    if sorted(weights) != list(range(n_classes)) or min(weights.values()) <= 0:
        raise ValueError(
            f"class_weight needs one positive weight per class 0..{n_classes - 1}; got {class_weight}. "
            "daylib.data.pipeline.class_weights(labels) computes balanced ones."
        )
    return weights
