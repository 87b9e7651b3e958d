"""A small CNN to train from scratch: the baseline that transfer learning is measured against.

Example:
    >>> from daylib.models import build_classifier, small_cnn
    >>> model = build_classifier(small_cnn((160, 160, 3)), num_classes=2)
"""
from __future__ import annotations

from typing import Sequence

import keras

from daylib.arguments import count, image_shape


def small_cnn(input_shape: tuple[int, int, int] = (160, 160, 3), filters: Sequence[int] = (16, 32, 64),
              name: str = "small_cnn") -> keras.Model:
    """A plain conv base: ``[conv 3x3 + ReLU, max-pool]`` per entry of ``filters``, then ``last_conv``.

    Takes RGB 0-255 like every course model (a ``Rescaling(1/255)`` comes first) and outputs a
    feature map at 1/``2**len(filters)`` of the input size, so :func:`build_classifier` can put
    the usual head on it and Grad-CAM can explain ``last_conv``. It has **no BatchNormalization**,
    so unfreezing it from layer 0 (``daylib.training.fine_tune(model, ..., fine_tune_at=0)``)
    really trains every weight from scratch; with BN, ``unfreeze`` would keep the random BN
    statistics frozen, which is right for pretrained bases only.

    Raises:
        ValueError: ``filters`` is not a non-empty list of positive ints, or ``input_shape`` is not
            ``(H, W, 3)`` with sides of at least ``2 ** len(filters)`` (each block halves them).

    Example:
        >>> small_cnn((64, 64, 3)).output.shape
        (None, 8, 8, 64)
    """
    if isinstance(filters, (str, bytes)) or not isinstance(filters, Sequence) or not filters:
        raise ValueError(f"filters must be a non-empty list of channel counts, e.g. (16, 32, 64); got {filters!r}.")
    filters = [count(width, f"filters[{i}]") for i, width in enumerate(filters)]
    inputs = keras.Input(image_shape(input_shape, min_size=2 ** len(filters)), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescaling")(inputs)
    for width in filters:
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{width}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{width}")(x)
    x = keras.layers.Conv2D(filters[-1], 3, padding="same", activation="relu", name="last_conv")(x)
    return keras.Model(inputs, x, name=name)
