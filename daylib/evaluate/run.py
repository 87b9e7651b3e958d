"""Run a model on labelled images and evaluate its outputs.

Both functions go through :func:`daylib.models.inference.predict`, the one batched-inference
loop of the package (one compiled forward function per model, inference mode).

Example:
    >>> report = evaluate_model(model, test_ds, dataset="phantom", class_names=["normal", "pneumonia"])
"""
from __future__ import annotations

from typing import Union

import keras
import numpy as np
import tensorflow as tf

from daylib.evaluate.report import Report, evaluate
from daylib.models.inference import predict

__all__ = ["scores_and_labels", "evaluate_model"]

LabelledImages = Union[tuple, tf.data.Dataset]


def scores_and_labels(
    model: keras.Model, data: LabelledImages, *, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Run the model on images in inference mode; return its outputs ``(N, units)`` and the labels.

    ``data`` is an ``(images, labels)`` tuple of arrays (grayscale films are repeated into
    three channels) or a batched ``tf.data.Dataset`` of ``(images, labels)``. The same numbers
    as ``model.predict``, without its retracing for each model and batch shape (see
    :mod:`daylib.models.inference`).

    Raises:
        ValueError: the data carry no labels, or images the model cannot take.

    Example:
        >>> scores, labels = scores_and_labels(model, val_ds)
        >>> choice = choose_threshold(labels, scores[:, 0], target_sensitivity=0.95)
    """
    scores, labels = predict(model, data, batch_size=batch_size)
    if labels is None:
        raise ValueError(
            "The data carry no labels, so there is nothing to evaluate against: pass an (images, labels) "
            "tuple or a dataset of (images, labels) batches."
        )
    return scores, labels


def evaluate_model(model: keras.Model, data: LabelledImages, *, batch_size: int = 32, **kwargs) -> Report:
    """Run the model on images (inference mode) and evaluate against their labels.

    ``data`` as in :func:`scores_and_labels`; the keyword arguments go to
    :func:`daylib.evaluate.evaluate` (``dataset``, ``class_names``, ``threshold``, ``bootstrap``, ...).

    Example:
        >>> report = evaluate_model(model, (x_test, y_test), dataset="phantom", class_names=["normal", "pneumonia"])
    """
    scores, labels = scores_and_labels(model, data, batch_size=batch_size)
    return evaluate(labels, scores, **kwargs)
