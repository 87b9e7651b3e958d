"""The metrics, computed by scikit-learn: accuracy, precision, recall, specificity, F1, ROC AUC, ROC, confusion.

A thin layer over :mod:`sklearn.metrics` that adds what the course needs:

- inputs in the shapes Keras models produce (see :mod:`daylib.evaluate.inputs`);
- class 1 is the *positive* class of a binary task (pneumonia in the course), so recall is
  sensitivity; for ``K > 2`` classes precision, recall, specificity, F1 and AUC are
  macro averages (AUC one-vs-rest);
- undefined metrics are never NaN: a ratio with an empty denominator is ``None``
  (:func:`classification_metrics`, :func:`metric`), and :func:`roc_auc` / :func:`roc_curve`
  raise :class:`UndefinedMetricError` when ``y_true`` lacks a class.

Example:
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> classification_metrics([0, 1, 1], [0, 0, 1])["recall"]
    0.5
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from daylib.evaluate.inputs import as_labels, binary_labels_and_scores, labels_and_scores, predicted_labels
from daylib.arguments import count

__all__ = [
    "UndefinedMetricError", "METRIC_LABELS", "roc_auc", "roc_curve", "confusion_matrix",
    "classification_metrics", "metric", "score_metrics",
]

METRIC_LABELS = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall (sensitivity)",
    "specificity": "specificity",
    "f1": "F1",
    "auc": "ROC AUC",
}
"""Every metric daylib reports, by key, with the name its tables show."""


class UndefinedMetricError(ValueError):
    """A metric has no value for these inputs (e.g. ROC AUC when ``y_true`` holds one class)."""


def _require_both_classes(y: np.ndarray) -> None:
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        only = "positive (1)" if n_pos == len(y) else "negative (0)"
        raise UndefinedMetricError(
            f"ROC AUC is undefined: y_true holds only {only} cases, and AUC compares positives with negatives. "
            "Evaluate on a set with both classes (a stratified split)."
        )


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); tied scores count one half.

    AUC is the probability that a random positive case scores higher than a random negative
    one. For ``(N, K)`` scores with ``K > 2`` it is the one-vs-rest macro average; the rows
    need not sum to 1 (logits work too).

    Raises:
        UndefinedMetricError: a class is missing from ``y_true`` (no positives or no negatives).

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    y, s, k = labels_and_scores(y_true, scores)
    if k == 2:
        _require_both_classes(y)
        return float(skm.roc_auc_score(y, s))
    missing = sorted(set(range(k)) - set(y.tolist()))
    if missing:
        raise UndefinedMetricError(
            f"One-vs-rest ROC AUC is undefined: classes {missing} never occur in y_true. "
            "Evaluate on a set that contains every class."
        )
    return float(skm.roc_auc_score(label_binarize(y, classes=range(k)), s, average="macro"))


def roc_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds of a binary ROC curve.

    One point per distinct score (``sklearn.metrics.roc_curve`` with ``drop_intermediate=False``),
    thresholds in decreasing order. Each threshold ``t`` predicts positive when
    ``score >= t``; the curve starts at (0, 0) with threshold ``inf``.

    Raises:
        UndefinedMetricError: ``y_true`` holds a single class.

    Example:
        >>> fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> tpr.tolist()
        [0.0, 0.5, 0.5, 1.0, 1.0]
    """
    y, s = binary_labels_and_scores(y_true, scores)
    _require_both_classes(y)
    fpr, tpr, thresholds = skm.roc_curve(y, s, pos_label=1, drop_intermediate=False)
    return fpr, tpr, thresholds


def confusion_matrix(y_true, y_pred, num_classes: Optional[int] = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j`` (rows: truth).

    ``num_classes`` defaults to the largest label in either argument, plus one.

    Raises:
        ValueError: labels that are not class indices (scores in ``y_pred`` included), lengths
            that differ, or a ``num_classes`` that is not a whole number above every label.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
        [[1, 0], [1, 1]]
    """
    y, p = _label_pair(y_true, y_pred)
    k = _class_count(y, p, num_classes)
    return skm.confusion_matrix(y, p, labels=np.arange(k))


def _label_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y = as_labels(y_true)
    try:
        p = as_labels(y_pred, "y_pred")
    except ValueError as error:
        raise ValueError(
            f"{error} y_pred are predicted labels; for scores use evaluate(y_true, scores), or cut them first "
            "with daylib.evaluate.inputs.predicted_labels(scores, threshold)."
        ) from None
    if len(p) != len(y):
        raise ValueError(f"y_true has {len(y)} labels but y_pred has {len(p)}: pass one prediction per label.")
    return y, p


def _class_count(y: np.ndarray, p: np.ndarray, num_classes: Optional[int], at_least: int = 1) -> int:
    top = int(max(y.max(), p.max()))
    k = max(at_least, top + 1) if num_classes is None else count(num_classes, "num_classes")
    if top >= k:
        raise ValueError(f"Labels go up to {top}, more than num_classes={k} allows: pass num_classes={top + 1}.")
    return k


def _summary(per_class: np.ndarray) -> Optional[float]:
    """Class 1's value of a binary task, or the macro mean; ``None`` where a needed value is NaN."""
    values = per_class[1:] if len(per_class) == 2 else per_class
    return None if np.isnan(values).any() else float(values.mean())


def _specificity(y: np.ndarray, p: np.ndarray, labels: np.ndarray) -> np.ndarray:
    true_negatives, false_positives = skm.multilabel_confusion_matrix(y, p, labels=labels)[:, 0, :].T
    negatives = true_negatives + false_positives
    return np.divide(true_negatives, negatives, out=np.full(len(labels), np.nan), where=negatives > 0)


_PER_CLASS = {
    "precision": lambda y, p, labels: skm.precision_score(y, p, labels=labels, average=None, zero_division=np.nan),
    "recall": lambda y, p, labels: skm.recall_score(y, p, labels=labels, average=None, zero_division=np.nan),
    "specificity": _specificity,
    "f1": lambda y, p, labels: skm.f1_score(y, p, labels=labels, average=None, zero_division=np.nan),
}


def _label_metric(name: str, y: np.ndarray, p: np.ndarray, k: int) -> Optional[float]:
    if name == "accuracy":
        return float(skm.accuracy_score(y, p))
    return _summary(_PER_CLASS[name](y, p, np.arange(k)))


def classification_metrics(y_true, y_pred, num_classes: Optional[int] = None) -> dict[str, Optional[float]]:
    """Accuracy, precision, recall, specificity and F1 of predicted labels; ``None`` where undefined.

    ``num_classes`` defaults to the largest label plus one, at least 2.
    Binary (two classes): the values of class 1, the positive class. More classes: macro
    averages, ``None`` when the metric is undefined for any class (e.g. recall of a class
    that never occurs in ``y_true``). Precision is undefined with no positive prediction,
    recall with no positive case, specificity with no negative case, F1 with neither.

    Example:
        >>> classification_metrics([0, 0, 1, 1], [0, 1, 1, 1])
        {'accuracy': 0.75, 'precision': 0.6666666666666666, 'recall': 1.0, 'specificity': 0.5, 'f1': 0.8}
    """
    y, p = _label_pair(y_true, y_pred)
    k = _class_count(y, p, num_classes, at_least=2)
    return {name: _label_metric(name, y, p, k) for name in ("accuracy", *_PER_CLASS)}


def metric(name: str, y_true, scores, threshold: float = 0.5) -> Optional[float]:
    """One metric (a key of :data:`METRIC_LABELS`) of scores; ``None`` where undefined.

    Binary scores are cut at ``threshold`` (``score >= threshold`` is class 1); multi-class
    scores predict their argmax. ``"auc"`` uses the scores themselves.

    Example:
        >>> metric("specificity", [0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
        0.5
    """
    if name not in METRIC_LABELS:
        raise ValueError(f"Unknown metric {name!r}; use one of {', '.join(METRIC_LABELS)}.")
    y, s, k = labels_and_scores(y_true, scores)
    if name == "auc":
        try:
            return roc_auc(y, s)
        except UndefinedMetricError:
            return None
    return _label_metric(name, y, predicted_labels(s, threshold), k)


def score_metrics(y_true, scores, threshold: float = 0.5) -> dict[str, Optional[float]]:
    """Every metric of :data:`METRIC_LABELS` for these scores (see :func:`metric`).

    Example:
        >>> score_metrics([0, 1, 1, 1], [0.2, 0.9, 0.4, 0.7])["auc"]
        1.0
    """
    return {name: metric(name, y_true, scores, threshold) for name in METRIC_LABELS}
