"""The in-stream half of the training-input rules: each tf.data batch checked as it flows, failures made clear.

A ``tf.data.Dataset`` cannot be checked at the door without reading it: for the course's
pipelines (decode, cache, shuffle over the whole set) even one peeked batch would decode
every image an extra time and throw away the half-filled cache. So the rules that need
pixel or label values run *inside* the stream, on the batches ``fit`` (or the feature
extractor) reads anyway: one ``map`` of reductions per batch, no second pass over the data.

The rules (the same as for arrays, :mod:`daylib.training.inputs`):

- pixels finite; the error names the batch and the image in it;
- pixels within 0-255;
- a batch whose largest value is above 0 but at most 1.0 looks scaled to [0, 1]. Arrays get a
  warning for that (:func:`daylib.data.images.to_rgb_batch`); a check inside the stream can
  only stop it, so a dataset is *refused*, with the fix. A 0-255 model sees such a batch as
  almost black images, so training on it is never what was meant;
- image height and width as the model takes them, when the dataset's shape leaves them open;
- labels are class indices of the model's head (sparse labels);
- training labels are tallied per class as they flow (:class:`LabelTally`): after the first
  epoch :class:`SingleClassCheck` warns if they held one class only, as arrays are warned at
  the door. The tally is a counter the batches add to; nothing is read twice.

A failed check is a ``tf.debugging.Assert`` whose message starts with a marker;
:func:`stream_errors` turns it into an :class:`~daylib.data.images.ImageError` or a
``ValueError`` that names the problem, the batch, and the fix.

Example:
    >>> checked = checked_stream(train_ds, role="training", input_shape=(224, 224, 3), classes=2)
    >>> with stream_errors():
    ...     model.fit(checked, epochs=3)
"""
from __future__ import annotations

import contextlib
import re
from typing import Callable, Iterator, Optional

import keras
import numpy as np
import tensorflow as tf

from daylib.data.images import ImageError

__all__ = ["checked_stream", "stream_errors", "label_range_message", "LabelTally", "SingleClassCheck"]

_MARK = "daylib-input-check"
_FOUND = re.compile(rf"\[{_MARK}:(\w+)\] \[(\w+)\]((?: \[[^\]]*\])*)")


def label_range_message(role: str, value: float, classes: int, where: str = "") -> str:
    """The message for a label that is not a class index of the model's head (arrays and datasets alike).

    Example:
        >>> label_range_message("training", 2, 2)[:40]
        'Training labels include 2, but the mode'
    """
    head = ("one sigmoid output (2 classes: 0 and 1)" if classes == 2 else f"{classes} classes")
    return (
        f"{role.capitalize()} labels include {value:g}{where}, but the model has {head}: labels must be class "
        f"indices 0..{classes - 1}. Fix the labels, or build the model for more classes "
        "(daylib.models.build_classifier(base, num_classes))."
    )


class LabelTally:
    """How many labels of each class a stream has yielded: the batches add to it as they flow.

    Example:
        >>> tally = LabelTally(2)
        >>> checked = checked_stream(ds, role="training", classes=2, tally=tally)
        >>> for _ in checked: pass
        >>> tally.counts()
        array([16, 16])
    """

    def __init__(self, classes: int):
        self.classes = int(classes)
        self._counts = tf.Variable(tf.zeros([self.classes], tf.int64), trainable=False, name="label_tally")

    def add(self, labels: tf.Tensor) -> tf.Operation:
        """Add a batch of class indices (already checked to lie in ``0 .. classes - 1``)."""
        indices = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        found = tf.math.bincount(indices, minlength=self.classes, maxlength=self.classes, dtype=tf.int64)
        return self._counts.assign_add(found)

    def counts(self) -> np.ndarray:
        """Labels seen per class so far, ``(classes,)``."""
        return self._counts.numpy()

    def reset(self) -> None:
        """Start counting again from zero."""
        self._counts.assign(tf.zeros_like(self._counts))


class SingleClassCheck(keras.callbacks.Callback):
    """After the first epoch ``fit`` runs, warn if the stream's training labels held one class only.

    Args:
        tally: the stream's :class:`LabelTally`.
        warn: called with the labels' class counts; by default
            :func:`daylib.training.inputs.warn_if_single_class`'s rule for counts.

    Example:
        >>> model.fit(checked, epochs=3, callbacks=[SingleClassCheck(tally, warn)])
    """

    def __init__(self, tally: LabelTally, warn: Callable[[np.ndarray], None]):
        super().__init__()
        self.tally, self.warn, self._done = tally, warn, False

    def on_train_begin(self, logs=None) -> None:
        self.tally.reset()
        self._done = False

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if not self._done:
            self._done = True
            self.warn(self.tally.counts())


def checked_stream(dataset: tf.data.Dataset, *, role: str, input_shape: Optional[tuple] = None,
                   classes: Optional[int] = None, sparse: bool = True,
                   tally: Optional[LabelTally] = None) -> tf.data.Dataset:
    """``dataset`` with every batch checked on the way (see the module docstring for the rules).

    Args:
        dataset: a batched dataset of ``(images, labels)``.
        role: ``"training"`` or ``"validation"``, for the messages.
        input_shape: the model's input shape; height and width are checked per batch only where
            the dataset's static shape leaves them open (known ones are checked at the door).
        classes: the head's number of classes; ``None`` skips the label check.
        sparse: labels are class indices (``False``: one-hot rows, whose width is checked at the door).
        tally: a :class:`LabelTally` the checked class indices are added to (needs ``classes``, sparse labels).

    Example:
        >>> checked = checked_stream(ds, role="validation", classes=3)
    """
    height, width = (tuple(input_shape[:2]) if input_shape is not None else (None, None))
    static = dataset.element_spec[0].shape
    size_open = static.rank is None or (height is not None and static[1] is None) or (
        width is not None and static[2] is None)

    def check(batch, pair):
        images, labels = pair
        pixels = tf.reshape(tf.cast(images, tf.float32), [tf.shape(images)[0], -1])
        finite = tf.reduce_all(tf.math.is_finite(pixels), axis=1)
        first = _first_false(finite)
        empty = tf.equal(tf.size(pixels), 0)
        low, high = tf.reduce_min(pixels), tf.reduce_max(pixels)
        checks = [
            (tf.reduce_all(finite), ["nan", role, batch, first]),
            (empty | ((low >= 0.0) & (high <= 255.0)), ["range", role, batch, low, high]),
            (empty | ~((high > 0.0) & (high <= 1.0)), ["scaled", role, batch, high]),
        ]
        if size_open and (height is not None or width is not None):
            shape = tf.shape(images)
            fits = tf.constant(True)
            if height is not None:
                fits &= tf.equal(shape[1], height)
            if width is not None:
                fits &= tf.equal(shape[2], width)
            checks.append((fits, ["size", role, batch, shape[1], shape[2], height or -1, width or -1]))
        if classes is not None and sparse:
            values = tf.reshape(tf.cast(labels, tf.float32), [-1])
            good = (values >= 0.0) & (values < float(classes)) & tf.equal(values, tf.round(values))
            bad = _first_false(good)
            value = tf.gather(tf.concat([values, [0.0]], 0), bad)
            checks.append((tf.reduce_all(good), ["labels", role, batch, bad, value, classes]))
        done: list = []
        for ok, (code, *data) in checks:  # one after another, so the first broken rule is the one reported
            with tf.control_dependencies(done):
                done = [tf.debugging.Assert(ok, [f"{_MARK}:{code}", *map(_as_text, data)])]
        if tally is not None and classes is not None and sparse:
            with tf.control_dependencies(done):
                done = [tally.add(labels)]
        with tf.control_dependencies(done):
            return tf.identity(images), tf.identity(labels)

    # Parallel, in order: the checks overlap the training step, and the first bad batch is the one reported.
    return dataset.enumerate().map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _as_text(value) -> tf.Tensor:
    """A string tensor for an Assert's data.

    With only strings (or int32) there, TensorFlow adds no ``cond`` around the Assert; that ``cond``
    is a function instantiated again for every new iterator (every epoch), about 10 ms each here.
    """
    return value if isinstance(value, str) else tf.strings.as_string(value)


def _first_false(flags: tf.Tensor) -> tf.Tensor:
    """Index of the first False (the length when there is none; also fine for an empty batch)."""
    return tf.argmin(tf.cast(tf.concat([flags, [False]], 0), tf.int32), output_type=tf.int64)


def _numbers(text: str) -> list[float]:
    return [float(part.strip("[]")) for part in text.split()]


def _clear_error(code: str, role: str, values: list[float]) -> ValueError:
    what = f"{role.capitalize()} images"
    batch = int(values[0])
    if code == "nan":
        return ImageError(
            f"{what} contain NaN or infinite values: the first is in batch {batch}, image {int(values[1])} of that "
            "batch (counting from 0). Clean or drop those images in the pipeline; "
            "daylib.data.images.to_rgb_batch checks arrays the same way."
        )
    if code == "range":
        return ImageError(
            f"{what} have values in [{values[1]:.4g}, {values[2]:.4g}] (batch {batch}); the course's models take "
            "RGB 0-255 and do their own preprocessing (see daylib.data.images). Remove preprocess_input or any "
            "normalization from the pipeline."
        )
    if code == "scaled":
        return ImageError(
            f"{what} look scaled to [0, 1] (batch {batch} has values up to {values[1]:.3g}), but the course's "
            "models take RGB 0-255 (the convention of daylib.data.images), so they would see almost black images. "
            "Drop the division by 255 from the pipeline, or map it back: ds.map(lambda x, y: (x * 255.0, y))."
        )
    if code == "size":
        height, width = int(values[3]), int(values[4])
        return ImageError(
            f"{what} are {int(values[1])}x{int(values[2])} (batch {batch}) but the model expects "
            f"{height if height > 0 else 'any'}x{width if width > 0 else 'any'}: resize them in the pipeline, e.g. "
            f"ds.map(lambda x, y: (tf.image.resize(x, ({height}, {width})), y))."
        )
    return ValueError(label_range_message(role, values[2], int(values[3]),
                                          f" (batch {batch}, image {int(values[1])} of that batch)"))


@contextlib.contextmanager
def stream_errors() -> Iterator[None]:
    """Turn a failed in-stream check (a TensorFlow ``InvalidArgumentError``) into a clear daylib error.

    Other errors pass through unchanged.

    Raises:
        ImageError: NaN/inf pixels, values outside 0-255, a batch scaled to [0, 1], a wrong image size.
        ValueError: a label that is not a class index of the head.

    Example:
        >>> with stream_errors():
        ...     model.fit(checked_stream(ds, role="training", classes=2))
    """
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        found = _FOUND.search(str(error))
        if found is None:
            raise
        raise _clear_error(found.group(1), found.group(2), _numbers(found.group(3))) from None
