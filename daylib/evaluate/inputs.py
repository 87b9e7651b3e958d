"""Check labels and scores at the door and bring them to the two shapes the metrics take.

Scores come in the shapes Keras models produce:

- binary, one sigmoid unit: ``(N,)`` or ``(N, 1)``, the probability of class 1;
- binary, two columns: ``(N, 2)``, column 1 is used;
- multi-class: ``(N, K)`` softmax scores; the prediction is the argmax.

:func:`labels_and_scores` turns them into class indices ``(N,)`` and scores ``(N,)``
(binary) or ``(N, K)`` with ``K > 2``, and says what is wrong when they do not fit (class
names instead of indices, NaN, lengths that differ). :func:`predicted_labels` is the one
place a decision threshold is applied, and checks it.

Example:
    >>> y, s, k = labels_and_scores([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    >>> s.tolist(), k
    ([0.2, 0.7, 0.6], 2)
"""
from __future__ import annotations

import numpy as np

from daylib.arguments import number

__all__ = ["as_labels", "as_scores", "num_classes", "labels_and_scores", "binary_labels_and_scores", "predicted_labels"]


def as_labels(y_true, name: str = "y_true") -> np.ndarray:
    """Class indices ``(N,)`` from indices (ints, whole floats, bools), a column ``(N, 1)`` or one-hot rows ``(N, K)``.

    Raises:
        ValueError: no labels; class names instead of indices (the message shows how to map
            them); NaN; rows that are not one-hot; or values that are not class indices 0, 1, ...

    Example:
        >>> as_labels([[1, 0], [0, 1]]).tolist()
        [0, 1]
    """
    y = _numeric(y_true, name, "labels")
    if y.ndim == 0 or y.ndim > 2:
        raise ValueError(f"{name} has shape {y.shape}; expected one class index per sample (N,) or one-hot rows (N, K).")
    if y.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to evaluate.")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinity; every sample needs a class index 0, 1, ...")
    if y.ndim == 2 and y.shape[1] > 1:
        if not (np.isin(y, (0, 1)).all() and np.all(y.sum(axis=1) == 1)):
            raise ValueError(
                f"The rows of {name} are not one-hot (one 1 per row, the rest 0), e.g. {y[0].tolist()}: pass class "
                "indices, or take the most likely class of soft labels first with y.argmax(axis=1)."
            )
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0:
        raise ValueError(f"{name} must hold class indices 0, 1, ... (or one-hot rows); got values like {y[:5]}.")
    return y.astype(int)


def _numeric(values, name: str, what: str) -> np.ndarray:
    """``values`` as a number array, or an error that says what they hold instead."""
    if values is None:
        raise ValueError(f"{name} is None: pass the {what}.")
    try:
        array = np.asarray(values)
    except ValueError:
        raise ValueError(f"{name} is a ragged list (items of different lengths): pass one value per sample.") from None
    if array.dtype == object and not any(isinstance(value, (str, bytes)) for value in array.reshape(-1)):
        try:
            array = array.astype(float)
        except (TypeError, ValueError):
            pass
    if array.dtype == bool or np.issubdtype(array.dtype, np.number):
        return array
    examples = [v.decode() if isinstance(v, bytes) else v for v in array.reshape(-1)[:3].tolist()]
    if what == "labels":
        raise ValueError(
            f"{name} holds class names like {examples}, not class indices: map them to indices first, e.g. "
            f"np.array([class_names.index(label) for label in {name}]), and pass class_names=class_names for the table."
        )
    raise ValueError(f"{name} holds {examples} ({array.dtype}); expected numbers, e.g. the model's outputs.")


def as_scores(scores, n: int) -> np.ndarray:
    """Finite float scores, ``(N,)`` for a binary task (column 1 of two) or ``(N, K)`` with ``K > 2``.

    Raises:
        ValueError: a shape that does not fit ``n`` samples, or NaN/infinity.

    Example:
        >>> as_scores([[0.3], [0.9]], 2).tolist()
        [0.3, 0.9]
    """
    s = _numeric(scores, "scores", "model's outputs, e.g. model.predict(images)").astype(float)
    if s.ndim == 2 and s.shape[1] in (1, 2):
        s = s[:, -1]
    if s.ndim not in (1, 2):
        raise ValueError(f"scores must have shape (N,), (N, 1) or (N, K) with N = {n} (len of y_true); got {s.shape}.")
    if len(s) != n:
        raise ValueError(
            f"scores has {len(s)} rows but y_true has {n} labels: pass one score (or row of scores) per label, in the same order."
        )
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity; check the model's outputs (a diverged training run?).")
    return s


def num_classes(scores: np.ndarray) -> int:
    """How many classes scores from :func:`as_scores` cover: 2 for ``(N,)``, else ``K``.

    Example:
        >>> num_classes(np.zeros((4, 3)))
        3
    """
    return 2 if scores.ndim == 1 else scores.shape[1]


def labels_and_scores(y_true, scores) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels, scores and the number of classes, checked against each other.

    Raises:
        ValueError: see :func:`as_labels` and :func:`as_scores`; or a label the scores do not cover.

    Example:
        >>> labels_and_scores([0, 2], np.eye(3)[[0, 2]])[2]
        3
    """
    y = as_labels(y_true)
    s = as_scores(scores, len(y))
    k = num_classes(s)
    if y.max() >= k:
        raise ValueError(
            f"y_true contains class {y.max()}, but the scores cover only {k} classes: "
            "give the model one output per class (or one sigmoid unit for 0/1 labels)."
        )
    return y, s, k


def binary_labels_and_scores(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0/1 and one score per sample (the score of class 1), for binary-only metrics.

    Raises:
        ValueError: multi-class scores or labels.

    Example:
        >>> binary_labels_and_scores([0, 1], [[0.9, 0.1], [0.2, 0.8]])[1].tolist()
        [0.1, 0.8]
    """
    y, s, k = labels_and_scores(y_true, scores)
    if k != 2:
        raise ValueError(f"A binary metric needs one score per sample or two columns; got {k} columns.")
    return y, s


def predicted_labels(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Predicted classes: ``score >= threshold`` for binary scores ``(N,)``, the argmax for ``(N, K)``.

    The one place a decision threshold is applied, so its check lives here: a finite number;
    for probability scores (all within [0, 1]) also within [0, 1], since any other threshold
    puts every sample in one class. Logits (scores outside [0, 1]) take any threshold.

    Raises:
        ValueError: a threshold that is not a finite number, or outside [0, 1] for probabilities.

    Example:
        >>> predicted_labels(np.array([0.2, 0.5, 0.9])).tolist()
        [0, 1, 1]
    """
    if scores.ndim != 1:
        return scores.argmax(axis=1)
    cut = number(threshold, "threshold")
    if not 0 <= cut <= 1 and len(scores) and 0 <= scores.min() and scores.max() <= 1:
        percent = f" (if {cut:g} is a percentage, divide by 100)" if 1 < cut <= 100 else ""
        raise ValueError(
            f"threshold {cut:g} is outside [0, 1], but the scores are probabilities (all within [0, 1]), so every "
            f"sample would be predicted class {int(cut < 0)}{percent}. Pass a threshold within [0, 1], e.g. 0.5."
        )
    return (scores >= cut).astype(int)
