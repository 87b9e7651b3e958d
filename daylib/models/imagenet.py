"""The 1000 ImageNet classes, offline, and decoding of model outputs.

``keras.applications`` downloads ``imagenet_class_index.json`` on first use; the
course must work without a network, so the same file ships with the package as
``imagenet_classes.json`` (byte for byte Keras's file: MD5
``c2c37ea517e94d9795004a39431a14cb``): index -> ``[WordNet id, name]``, e.g.
``285 -> ["n02124075", "Egyptian_cat"]``.

Names are returned human readable ("Egyptian cat"). Two names occur twice in
ImageNet: "crane" (134 the bird, 517 the machine) and "maillot" (638, 639);
look those up by WordNet id.

Example:
    >>> from daylib.models.imagenet import class_names, class_index, decode_predictions
    >>> class_names()[285]
    'Egyptian cat'
    >>> class_index("egyptian_cat")
    285
    >>> decode_predictions(model.predict(images), top=3)[0][0]
    (285, 'Egyptian cat', 0.78...)
"""
from __future__ import annotations

import difflib
import json
import numbers
from functools import lru_cache
from importlib import resources

import numpy as np

from daylib.arguments import count

NUM_CLASSES = 1000
CLASSES_FILE = "imagenet_classes.json"
_PROBABILITY_TOLERANCE = 1e-3


@lru_cache(maxsize=1)
def _class_table() -> tuple[tuple[str, str], ...]:
    text = resources.files("daylib.models").joinpath(CLASSES_FILE).read_text(encoding="utf-8")
    table = json.loads(text)
    return tuple((table[str(i)][0], table[str(i)][1].replace("_", " ")) for i in range(NUM_CLASSES))


def class_names() -> list[str]:
    """The 1000 human-readable class names, in index order.

    Example:
        >>> class_names()[243], class_names()[967]
        ('bull mastiff', 'espresso')
    """
    return [name for _wnid, name in _class_table()]


def class_wnids() -> list[str]:
    """The 1000 WordNet ids (``"n02124075"``...), in index order.

    Example:
        >>> class_wnids()[285]
        'n02124075'
    """
    return [wnid for wnid, _name in _class_table()]


def _normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


def class_index(name: str) -> int:
    """Index of a class given its name (case and ``_``/space insensitive) or WordNet id.

    Raises:
        ValueError: not a string, an unknown name (the message suggests close matches) or an
            ambiguous one ("crane", "maillot": use the WordNet id).

    Example:
        >>> class_index("Egyptian_cat"), class_index("tiger cat"), class_index("n02012849")
        (285, 282, 134)
    """
    if isinstance(name, numbers.Integral) and not isinstance(name, bool):
        raise ValueError(f"{name} is a class index already; class_names()[{name}] gives its name.")
    if not isinstance(name, str):
        raise ValueError(f"class_index takes a class name or WordNet id as a string, got {name!r}.")
    key = _normalize(name)
    wnids = class_wnids()
    if key in wnids:
        return wnids.index(key)
    normalized = [_normalize(n) for n in class_names()]
    matches = [i for i, n in enumerate(normalized) if n == key]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(f"{i} ({wnids[i]})" for i in matches)
        raise ValueError(f"{name!r} names {len(matches)} ImageNet classes: {options}; pass the WordNet id instead")
    close = difflib.get_close_matches(key, sorted(set(normalized)), n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"{name!r} is not an ImageNet class name.{hint} class_names() lists all 1000.")


def decode_predictions(preds, top: int = 5) -> list[list[tuple[int, str, float]]]:
    """The ``top`` classes of each row of ``preds``, best first, as ``(index, name, probability)``.

    ``preds`` may hold probabilities *or* logits: a row that is not a probability
    distribution (a negative value, or a sum not within 1e-3 of 1) is passed
    through a softmax first, so the scores returned are always probabilities.

    Args:
        preds: array-like of shape ``(N, 1000)``.
        top: how many classes per row, 1 to 1000.

    Raises:
        ValueError: wrong shape, non-finite values, or ``top`` out of range.

    Example:
        >>> decode_predictions(model.predict(images), top=1)
        [[(285, 'Egyptian cat', 0.78...)]]
    """
    top = count(top, "top", maximum=NUM_CLASSES)
    scores = np.asarray(preds)
    if scores.dtype != bool and not np.issubdtype(scores.dtype, np.number):
        raise ValueError(f"preds have dtype {scores.dtype}; expected the model's output scores, numbers of shape (N, 1000).")
    scores = scores.astype(np.float64)
    if scores.ndim != 2 or scores.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"decode_predictions expects a batch of shape (N, {NUM_CLASSES}), got {scores.shape}; "
            "for one image use preds[None] or model.predict(image[None])"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("preds contains NaN or infinite values; check the model's input and output")
    names = class_names()
    results = []
    for row in scores:
        probs = row if _is_distribution(row) else _softmax(row)
        best = np.argsort(-probs, kind="stable")[:top]
        results.append([(int(i), names[i], float(probs[i])) for i in best])
    return results


def _is_distribution(row: np.ndarray) -> bool:
    return bool(np.all(row >= 0) and abs(row.sum() - 1.0) <= _PROBABILITY_TOLERANCE)


def _softmax(row: np.ndarray) -> np.ndarray:
    exp = np.exp(row - row.max())
    return exp / exp.sum()
