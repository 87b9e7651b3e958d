"""The checks every public function runs on its plain arguments: counts, fractions, lists of names.

A ``True`` passed where a count is wanted is 1 to Python, a ``2.5`` would be cut to 2 by
``int()``, and ``"abc"`` passed as a list of names is three names: each of these changes a
result without a word. These functions refuse them with a message that names the argument,
what it got and what to pass instead, so every module says it the same way.

Example:
    >>> from daylib.arguments import count, fraction
    >>> count(np.int64(3), "steps"), fraction(0.5, "alpha")
    (3, 0.5)
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["count", "number", "positive", "fraction", "flag", "names", "optional_seed", "image_shape"]


def count(value: Any, name: str, *, minimum: int = 1, maximum: Optional[int] = None, example: Optional[int] = None) -> int:
    """A whole number (Python or NumPy int, not a bool) within ``minimum..maximum``, as an int.

    Raises:
        ValueError: a bool, a float (even ``2.0``), text, None or a number out of range; the
            message names ``name`` and the range.

    Example:
        >>> count(4, "batch_size")
        4
        >>> count(True, "batch_size")
        Traceback (most recent call last):
        ValueError: batch_size must be a whole number of at least 1, got True (a bool). Pass e.g. batch_size=1.
    """
    top = "" if maximum is None else f" and at most {maximum}"
    wanted = f"a whole number of at least {minimum}{top}"
    shown = max(minimum, 1) if example is None else example
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = " (a bool)" if isinstance(value, bool) else f" ({type(value).__name__})"
        raise ValueError(f"{name} must be {wanted}, got {value!r:.60}{kind}. Pass e.g. {name}={shown}.")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {wanted}, got {value}. Pass e.g. {name}={shown}.")
    return int(value)


def number(value: Any, name: str, example: str = "0.5") -> float:
    """A finite real number (Python or NumPy, not a bool), as a float.

    Raises:
        ValueError: a bool, text, None, a list, NaN or infinity.

    Example:
        >>> number(np.float32(2.5), "amount")
        2.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r:.60} ({type(value).__name__}). Pass e.g. {name}={example}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}. Pass e.g. {name}={example}.")
    return float(value)


def positive(value: Any, name: str, example: str = "2.0") -> float:
    """A finite number above 0 (a size in inches, a scale), as a float.

    Example:
        >>> positive(1.5, "size")
        1.5
    """
    x = number(value, name, example)
    if x <= 0:
        raise ValueError(f"{name} must be above 0, got {x:g}. Pass e.g. {name}={example}.")
    return x


def fraction(value: Any, name: str, *, open_low: bool = False, open_high: bool = False, example: str = "0.5") -> float:
    """A number within [0, 1] (the ends excluded with ``open_low`` / ``open_high``), as a float.

    Raises:
        ValueError: not a finite number (see :func:`number`), or outside the interval; a
            value like 95 or 50 is named as a percentage.

    Example:
        >>> fraction(0.95, "level", open_low=True, open_high=True)
        0.95
    """
    x = number(value, name, example)
    low, high = ("(" if open_low else "["), (")" if open_high else "]")
    if x < 0 or x > 1 or (open_low and x == 0) or (open_high and x == 1):
        percent = f" (if {x:g} is a percentage, divide by 100)" if 1 < x <= 100 else ""
        raise ValueError(f"{name} must be within {low}0, 1{high}, got {x:g}{percent}. Pass e.g. {name}={example}.")
    return x


def flag(value: Any, name: str) -> bool:
    """``True`` or ``False`` (a NumPy bool too), as a bool; anything else is refused rather than read as truthy.

    Raises:
        ValueError: ``1``, ``"yes"``, ``None`` and every other non-bool; the message names ``name``.

    Example:
        >>> flag(np.bool_(True), "normalize")
        True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r:.60}.")
    return bool(value)


def names(values: Any, name: str, expected: Optional[int] = None, what: str = "items") -> list[str]:
    """A list of names (class names, titles) as strings; ``expected`` says how many there must be.

    Raises:
        ValueError: one string (it would be read letter by letter), no sequence at all, or
            the wrong number of names.

    Example:
        >>> names(["normal", "pneumonia"], "class_names", expected=2)
        ['normal', 'pneumonia']
    """
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} is one string, {values!r}; pass a list with one name per entry, e.g. {name}=[{values!r}].")
    if not isinstance(values, Sequence) and not hasattr(values, "__array__"):
        raise ValueError(f"{name} must be a list of names, got {type(values).__name__}.")
    listed = [str(value) for value in values]
    if expected is not None and len(listed) != expected:
        raise ValueError(f"{name} has {len(listed)} names but there are {expected} {what}: pass one name per entry.")
    return listed


def one_or_many(value: Any, name: str) -> list:
    """``value`` as a list: one item (a string, a class, a function) becomes a list of one.

    Raises:
        ValueError: ``value`` is neither one item nor iterable; the message names ``name``.

    Example:
        >>> one_or_many("gradcam", "methods"), one_or_many(["gradcam", "saliency"], "methods")
        (['gradcam'], ['gradcam', 'saliency'])
    """
    if isinstance(value, (str, type)) or callable(value):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise ValueError(f"{name} must be one item or a list of them, got {type(value).__name__}.") from None


def optional_seed(value: Any, name: str = "seed") -> Optional[int]:
    """A random seed: a whole number of at least 0, or None for a fresh one each call.

    Example:
        >>> optional_seed(None), optional_seed(7)
        (None, 7)
    """
    return None if value is None else count(value, name, minimum=0, example=0)


def image_shape(value: Any, name: str = "input_shape", min_size: int = 1) -> tuple[int, int, int]:
    """An image input shape ``(height, width, 3)`` of whole numbers, each side at least ``min_size``.

    Raises:
        ValueError: not three whole numbers, sides below ``min_size``, or not 3 channels
            (the course's models take RGB; grayscale films are repeated into three channels).

    Example:
        >>> image_shape((224, 224, 3))
        (224, 224, 3)
    """
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"{name} must be (height, width, 3), e.g. {name}=(224, 224, 3); got {value!r}.")
    height, width, channels = (count(size, f"{name}[{i}]") for i, size in enumerate(value))
    if channels != 3:
        raise ValueError(
            f"{name} {tuple(value)} has {channels} channel(s); the course's models take RGB (height, width, 3). "
            "Grayscale films are repeated into three channels by daylib.data (to_rgb_batch, the pipeline)."
        )
    if min(height, width) < min_size:
        raise ValueError(f"{name} {tuple(value)} is too small: this model needs at least {min_size}x{min_size} pixels.")
    return height, width, channels
