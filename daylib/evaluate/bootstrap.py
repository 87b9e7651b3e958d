"""Percentile bootstrap confidence intervals of a metric on a (small) test set.

The resampling itself (:func:`resample_indices`, :func:`resampled_metric`,
:func:`defined_values`) is shared with :func:`daylib.evaluate.paired.paired_bootstrap`,
which resamples the same cases for two models.

Example:
    >>> low, high = bootstrap_ci(y_test, scores, "auc", seed=0)
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import numbers

import numpy as np
from scipy.stats import rankdata

from daylib.evaluate.inputs import labels_and_scores, predicted_labels
from daylib.evaluate.metrics import METRIC_LABELS, UndefinedMetricError, metric as named_metric
from daylib.arguments import count, fraction, optional_seed

__all__ = ["bootstrap_ci", "known_metric", "resample_indices", "defined_values", "resampled_metric"]

Metric = Union[str, Callable[[np.ndarray, np.ndarray], Optional[float]]]


def bootstrap_ci(
    y_true,
    scores,
    metric: Metric = "accuracy",
    *,
    threshold: float = 0.5,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a metric on a (small) test set.

    Resamples the test cases with replacement ``n_resamples`` times (seeded, so the interval
    repeats) and returns the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. ``metric``
    is a key of :data:`~daylib.evaluate.metrics.METRIC_LABELS` (``"accuracy"``, ``"auc"``, ...;
    binary scores are cut at ``threshold``) or ``f(y, scores) -> float | None``.
    Resamples in which the metric is undefined (e.g. a single class, for AUC) are left out.

    Why a loop of its own and not ``scipy.stats.bootstrap``: scipy needs a value from every
    resample and cannot skip those where the metric is undefined (a resample of a small
    test set that holds one class has no AUC), so one such resample spoils the interval.

    Accuracy and AUC, the two intervals every :func:`~daylib.evaluate.evaluate` draws, are
    computed for all resamples at once: AUC as the Mann-Whitney rank sum with midranks (ties
    count one half; one-vs-rest macro for ``K > 2``), which equals
    ``sklearn.metrics.roc_auc_score`` on each resample.
    scikit-learn itself costs about 5 ms a call in input checks, so 1000 resamples would take
    5 s or more on a 2-core CPU instead of 0.1 s. Other metrics call
    :func:`~daylib.evaluate.metrics.metric` (scikit-learn) once per resample.

    Raises:
        ValueError: an unknown metric, labels or scores that do not fit, a ``level`` outside
            (0, 1), a ``n_resamples`` below 1, a bad threshold or seed, or a metric function
            that returns something other than a number or None.
        UndefinedMetricError: the metric is undefined in more than half of the resamples.

    Example:
        >>> low, high = bootstrap_ci([0, 1, 0, 1, 1, 0, 1, 0], [0.2, 0.7, 0.4, 0.9, 0.6, 0.5, 0.3, 0.1], "auc")
    """
    level = fraction(level, "level", open_low=True, open_high=True, example="0.95")
    n_resamples = count(n_resamples, "n_resamples", example=1000)
    metric = known_metric(metric)
    y, s, k = labels_and_scores(y_true, scores)
    indices = resample_indices(len(y), n_resamples, seed)
    values = defined_values(resampled_metric(metric, y, s, k, threshold, indices), metric)
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def known_metric(metric: Metric) -> Metric:
    """``metric`` itself if it is a key of :data:`~daylib.evaluate.metrics.METRIC_LABELS` or a function.

    Raises:
        ValueError: an unknown metric name.

    Example:
        >>> known_metric("auc")
        'auc'
    """
    if not callable(metric) and metric not in METRIC_LABELS:
        raise ValueError(f"Unknown metric {metric!r}; use one of {', '.join(METRIC_LABELS)} or a function.")
    return metric


def resample_indices(n: int, n_resamples: int, seed: Optional[int]) -> np.ndarray:
    """Row ``b`` holds the ``n`` case indices of bootstrap resample ``b`` (drawn with replacement, seeded).

    Example:
        >>> resample_indices(5, 2, seed=0).shape
        (2, 5)
    """
    return np.random.default_rng(optional_seed(seed)).integers(0, n, size=(n_resamples, n))


def defined_values(values: np.ndarray, metric: Metric) -> np.ndarray:
    """The resampled values where the metric is defined (not NaN).

    Raises:
        UndefinedMetricError: the metric is undefined in more than half of the resamples.

    Example:
        >>> defined_values(np.array([0.5, np.nan, 0.7]), "auc").tolist()
        [0.5, 0.7]
    """
    kept = values[~np.isnan(values)]
    if len(kept) < len(values) / 2:
        name = metric if isinstance(metric, str) else getattr(metric, "__name__", "the metric")
        raise UndefinedMetricError(
            f"{name} is undefined in {len(values) - len(kept)} of {len(values)} bootstrap resamples: "
            "the test set is too small or has too few cases of one class for an interval."
        )
    return kept


def resampled_metric(metric: Metric, y: np.ndarray, s: np.ndarray, k: int, threshold: float,
                     indices: np.ndarray) -> np.ndarray:
    """The metric on each resample ``y[indices[b]], s[indices[b]]``; NaN where it is undefined.

    ``y, s, k`` come from :func:`~daylib.evaluate.inputs.labels_and_scores`; accuracy and AUC
    are computed for all resamples at once (see :func:`bootstrap_ci`).

    Example:
        >>> y, s, k = labels_and_scores([0, 1, 1], [0.2, 0.9, 0.4])
        >>> resampled_metric("accuracy", y, s, k, 0.5, np.array([[0, 1, 2], [1, 1, 1]])).round(3).tolist()
        [0.667, 1.0]
    """
    if metric == "accuracy":
        return (predicted_labels(s, threshold) == y)[indices].mean(axis=1)
    if metric == "auc":
        y_b, s_b = y[indices], s[indices]
        if k == 2:
            return _rank_sum_auc(y_b == 1, s_b)
        return np.mean([_rank_sum_auc(y_b == c, s_b[..., c]) for c in range(k)], axis=0)
    return np.array([_value_or_nan(metric, y[rows], s[rows], threshold) for rows in indices], dtype=float)


def _rank_sum_auc(positives: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUC of each row (resample) of scores ``s``, given which are positive; NaN for a single class."""
    n_pos = positives.sum(axis=1)
    n_neg = positives.shape[1] - n_pos
    rank_sum = (rankdata(s, axis=1) * positives).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _value_or_nan(metric: Metric, y: np.ndarray, s: np.ndarray, threshold: float) -> float:
    if callable(metric):
        try:
            value = metric(y, s)
        except UndefinedMetricError:
            value = None
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            name = getattr(metric, "__name__", "The metric function")
            raise ValueError(f"{name} returned {value!r}; a metric function must return a number, or None where undefined.")
    else:
        value = named_metric(metric, y, s, threshold)
    return np.nan if value is None else value
