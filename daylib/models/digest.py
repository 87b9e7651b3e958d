"""A short hash of a model's architecture and weights: the one rule for "is this the same model?".

Training runs (resume only the same call) and feature caches (reuse only features of the
same base) both need it. Layer *names* are left out: Keras numbers unnamed layers per
process (``conv2d_7``), so a model rebuilt in the same session would otherwise never match.

Example:
    >>> from daylib.models.digest import model_digest
    >>> model_digest(model) == model_digest(model)
    True
"""
from __future__ import annotations

import hashlib

import keras
import numpy as np

from daylib.models.layers import iter_layers

__all__ = ["model_digest"]


def model_digest(model: keras.Model, *, trainable: bool = False) -> str:
    """Hex digest (32 characters) of the layer types, in order, and every weight's values.

    Args:
        model: any built Keras model (nested models included).
        trainable: also hash each layer's ``trainable`` flag (two training calls with other
            frozen layers are different calls).

    Example:
        >>> len(model_digest(model, trainable=True))
        32
    """
    h = hashlib.blake2b(digest_size=16)
    for _, layer in iter_layers(model):
        h.update(f"{type(layer).__name__}:{layer.trainable if trainable else ''};".encode())
    for weight in model.weights:
        h.update(np.ascontiguousarray(weight.numpy()).data)
    return h.hexdigest()
