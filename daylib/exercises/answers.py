"""Reading a learner's answer before a check compares it: one place for "is this the kind of value asked for?".

Every check passes the learner's value through one of these first. A value of the wrong kind
raises ``ValueError`` with a message that names it and says what is expected, and
:meth:`Exercise.check <daylib.exercises.core.Exercise.check>` shows that message as "Not yet: ...",
never as a traceback. Numbers, whole numbers and flags follow the package's own argument rules
(:mod:`daylib.arguments`); this module adds what only answers need: a one-element array read as
its number (``maps.max(keepdims=True)``), and the course's own objects (a Keras model, a history).

Example:
    >>> from daylib.exercises.answers import number, keras_model
    >>> number(np.array([0.25]), "logit_peak")
    0.25
    >>> number("0.25", "logit_peak")
    Traceback (most recent call last):
    ValueError: logit_peak must be a number, got '0.25' (str). Pass e.g. logit_peak=0.5.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from daylib.arguments import count, flag as _flag, number as _finite

__all__ = ["number", "whole", "flag", "keras_model", "training_history"]


def number(value: Any, name: str) -> float:
    """One finite number (Python, NumPy, or an array holding exactly one), as a float.

    Raises:
        ValueError: a bool, text, ``None``, several numbers, NaN or infinity.

    Example:
        >>> number(np.float32(0.5), "energy")
        0.5
    """
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype != bool:
        value = value.reshape(())[()]
    return _finite(value, name)


def whole(value: Any, name: str) -> int:
    """A whole number of at least 0 (Python or NumPy int, not a bool), as an int.

    Example:
        >>> whole(np.int64(47), "n_returned")
        47
    """
    return count(value, name, minimum=0)


def flag(value: Any, name: str) -> bool:
    """``True`` or ``False`` (NumPy bools too); anything else is refused rather than read as truthy.

    Example:
        >>> flag(np.bool_(False), "beats_baseline")
        False
    """
    return _flag(value, name)


def keras_model(value: Any, name: str = "model") -> Any:
    """A Keras model, returned as it is.

    Raises:
        ValueError: anything else (a history, a file name, a list of models).

    Example:
        >>> keras_model(model, "fine_tuned") is model
        True
    """
    import keras

    if not isinstance(value, keras.Model):
        raise ValueError(f"{name} must be a Keras model (what build_classifier returns), "
                         f"not {type(value).__name__}.")
    return value


def training_history(value: Any, name: str, needs: str = "val_loss") -> Any:
    """A training history (what ``train_head``, ``fine_tune`` and ``train_classifier`` return) that logged ``needs``.

    Raises:
        ValueError: an object without a ``history`` dict, or one without the ``needs`` column
            (a run without validation data).

    Example:
        >>> training_history(head_history, "slow_history", needs="val_accuracy") is head_history
        True
    """
    logged = getattr(value, "history", None)
    if not isinstance(logged, dict):
        raise ValueError(f"{name} must be a training history (what train_head or fine_tune returns), "
                         f"not {type(value).__name__}.")
    if needs not in logged:
        raise ValueError(f"{name} has no {needs!r} column: train with validation data to log it.")
    return value
