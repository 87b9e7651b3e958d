"""Paired comparisons: two models, or two heatmap methods, scored on the SAME test items.

Pairing removes the variation between items (hard films are hard for both models), so a
paired test finds differences an unpaired one misses. Every function returns a
:class:`PairedTest`: the difference A - B, its confidence interval, a two-sided p-value,
and :meth:`~PairedTest.conclusion`, one plain sentence.

- :func:`mcnemar_exact`: right/wrong per item (accuracy); the exact McNemar test.
- :func:`paired_bootstrap`: any metric of the scores (AUC by default); a paired bootstrap.
- :func:`paired_scores`: per-image heatmap scores of two methods; Wilcoxon signed-rank for
  numbers, exact McNemar for hits.

Example:
    >>> test = paired_bootstrap(y_test, scores_finetuned, scores_frozen, "auc", names=("fine-tuned", "frozen"))
    >>> print(test)
    >>> print(test.conclusion())       # e.g. "fine-tuned is better than frozen (p = 0.003)."
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats

from daylib.arguments import count, names as name_list, optional_seed
from daylib.evaluate.bootstrap import Metric, defined_values, known_metric, resample_indices, resampled_metric
from daylib.evaluate.inputs import labels_and_scores
from daylib.evaluate.intervals import (
    Difference, Interval, as_values, check_confidence, format_p, mean_interval, square_and_add, wilson_interval,
)
from daylib.evaluate.metrics import METRIC_LABELS, UndefinedMetricError

__all__ = ["PairedTest", "mcnemar_exact", "paired_bootstrap", "paired_scores"]


@dataclass(frozen=True, kw_only=True)
class PairedTest(Difference):
    """A paired comparison of A and B on the same ``n`` items.

    Attributes:
        estimate: the difference A - B (of accuracy, of the metric, of the mean score).
        interval: the confidence interval of the difference (an :class:`~daylib.evaluate.intervals.Interval`).
        p_value: two-sided p-value of "no difference"; 1 with a ``note`` where the test has nothing to weigh.
        method: the test ("exact McNemar", "paired bootstrap", "Wilcoxon signed-rank").
        n: the number of items.
        quantity: what is compared ("accuracy", "ROC AUC", "mean score", "hit rate").
        names: the names of A and B, used by ``str`` and :meth:`conclusion`.
        higher_is_better: False for scores where lower is better (deletion AUC).
        b, c: for McNemar, the discordant pairs: items only A gets right (b), only B (c).
        note: what the reader should know (e.g. no discordant pairs), else "".

    Example:
        >>> test = mcnemar_exact([True, True, False, True], [True, False, False, False])
        >>> test.b, test.c, test.estimate
        (2, 0, 0.5)
    """

    b: Optional[int] = None
    c: Optional[int] = None

    def __str__(self) -> str:
        a, b = self.names
        counts = "" if self.b is None else f", b={self.b}, c={self.c}"
        return (f"{self.quantity} {a} - {b} = {self.estimate:+.3f} ({self.interval.level} CI "
                f"{self.interval.span(signed=True)}, {self.interval.method}); "
                f"{self.method} {format_p(self.p_value)}; n={self.n}{counts}")


def _labels(names: Sequence[str]) -> tuple[str, str]:
    first, second = name_list(names, "names", expected=2, what="things compared (A and B)")
    return first, second


def _same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} has {len(a)} items but {name_b} has {len(b)}: a paired comparison needs both scored on the "
            "same test items, in the same order."
        )


def _booleans(values, name: str) -> np.ndarray:
    array = as_values(values, name)
    if array.dtype != bool:
        raise ValueError(
            f"{name} holds numbers, not booleans: McNemar's test takes whether each item was classified right. "
            f"Pass booleans, e.g. {name} = (predicted_labels == y_true). (0/1 numbers are refused because "
            "predicted labels look the same.)"
        )
    return array


def _mcnemar(a: np.ndarray, b: np.ndarray, confidence: float, names: tuple[str, str], quantity: str,
             higher_is_better: bool = True) -> PairedTest:
    n = len(a)
    both, only_a, only_b = int(np.sum(a & b)), int(np.sum(a & ~b)), int(np.sum(~a & b))
    neither = n - both - only_a - only_b
    discordant = only_a + only_b
    if discordant:
        p_value, note = float(stats.binomtest(only_a, discordant, 0.5).pvalue), ""
    else:
        p_value = 1.0
        note = (f"There are no discordant pairs: {names[0]} and {names[1]} are right on exactly the same items, "
                "so the test has nothing to weigh (p = 1).")
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    rows, columns = (both + only_a, only_b + neither), (both + only_b, only_a + neither)
    product = rows[0] * rows[1] * columns[0] * columns[1]
    agreement = both * neither - only_a * only_b
    if product == 0 or 0 <= agreement <= n / 2:
        phi = 0.0
    else:
        phi = (agreement - n / 2 if agreement > 0 else agreement) / math.sqrt(product)
    low, high = square_and_add(p1, wilson_interval(both + only_a, n, confidence), p2,
                               wilson_interval(both + only_b, n, confidence), phi)
    estimate = (only_a - only_b) / n
    return PairedTest(
        estimate=estimate, interval=Interval(estimate, low, high, confidence, "Newcombe", n), p_value=min(p_value, 1.0),
        method="exact McNemar", n=n, quantity=quantity, names=names, higher_is_better=higher_is_better, note=note,
        b=only_a, c=only_b,
    )


def mcnemar_exact(correct_a, correct_b, *, confidence: float = 0.95, names: Sequence[str] = ("A", "B")) -> PairedTest:
    """Compare the accuracy of two models on the same items with the exact McNemar test.

    Only the discordant items count: ``b`` that only A gets right and ``c`` that only B gets
    right. Under "no difference" each discordant item is a fair coin, so the two-sided
    p-value is the exact binomial test of ``b`` in ``b + c`` trials with p = 1/2
    (``scipy.stats.binomtest``); e.g. b=1, c=6 gives ``2 * (C(7,0) + C(7,1)) / 2^7 = 0.125``.
    With no discordant pair the p-value is 1 and a ``note`` says why.

    The difference of accuracies ``(b - c) / n`` gets Newcombe's square-and-add interval for
    paired proportions (Newcombe 1998, Statistics in Medicine 17:2635, method 10: the Wilson
    intervals of both accuracies, combined with the table's phi correlation), which keeps
    its coverage with few discordant pairs where the Wald interval does not.

    Raises:
        ValueError: inputs that are not booleans (0/1 predictions would pass unnoticed),
            lengths that differ, empty inputs, a ``confidence`` outside (0, 1) or ``names``
            that are not two names.

    Example:
        >>> test = mcnemar_exact(pred_a == y_test, pred_b == y_test, names=("fine-tuned", "frozen"))
        >>> print(mcnemar_exact([True] * 6 + [False], [False] * 6 + [True]))
        accuracy A - B = +0.714 (95% CI -0.026 to +0.949, Newcombe); exact McNemar p = 0.125; n=7, b=6, c=1
    """
    a, b = _booleans(correct_a, "correct_a"), _booleans(correct_b, "correct_b")
    _same_length(a, b, "correct_a", "correct_b")
    return _mcnemar(a, b, check_confidence(confidence), _labels(names), "accuracy")


def _scores(y_true, scores, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    try:
        return labels_and_scores(y_true, scores)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def paired_bootstrap(
    y_true,
    scores_a,
    scores_b,
    metric: Metric = "auc",
    *,
    threshold: float = 0.5,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    names: Sequence[str] = ("A", "B"),
    higher_is_better: bool = True,
) -> PairedTest:
    """The difference ``metric(A) - metric(B)`` on the same test set, with a paired bootstrap.

    Each resample draws the test cases with replacement and scores *both* models on the
    same cases (the resampling of :mod:`daylib.evaluate.bootstrap`, vectorised for accuracy
    and AUC), so what the two models share cancels out. The interval is the percentile
    interval of the resampled differences; the two-sided p-value is
    ``2 * min(share <= 0, share >= 0)`` of those differences, each share counted as
    ``(k + 1) / (resamples + 1)`` so it is never 0: its smallest value is
    ``2 / (resamples + 1)``, about 0.001 with 2000 resamples. Resamples where the metric is
    undefined for either model (one class only, for AUC) are left out.

    ``metric`` is a key of :data:`~daylib.evaluate.metrics.METRIC_LABELS` (binary scores are
    cut at ``threshold``) or ``f(y, scores) -> float | None``. For accuracy alone,
    :func:`mcnemar_exact` is the exact test.

    Raises:
        ValueError: labels or scores that do not fit (the message names ``scores_a`` or
            ``scores_b``), an unknown metric, a bad ``threshold``, ``resamples``,
            ``confidence``, ``seed`` or ``names``.
        UndefinedMetricError: the metric is undefined on the test set, or in more than half
            of the resamples.

    Example:
        >>> test = paired_bootstrap(y_test, model_a.predict(x_test), model_b.predict(x_test), "auc")
        >>> print(test.conclusion())
    """
    metric = known_metric(metric)
    resamples = count(resamples, "resamples", example=2000)
    confidence = check_confidence(confidence)
    labels = _labels(names)
    y, s_a, k_a = _scores(y_true, scores_a, "scores_a")
    _, s_b, k_b = _scores(y_true, scores_b, "scores_b")
    if k_a != k_b:
        raise ValueError(f"scores_a covers {k_a} classes but scores_b {k_b}: compare models of the same task.")
    whole = np.arange(len(y))[None]
    estimate = float((resampled_metric(metric, y, s_a, k_a, threshold, whole)
                      - resampled_metric(metric, y, s_b, k_a, threshold, whole))[0])
    name = METRIC_LABELS.get(metric, metric) if isinstance(metric, str) else getattr(metric, "__name__", "metric")
    if math.isnan(estimate):
        raise UndefinedMetricError(
            f"{name} is undefined on this test set for at least one model (for AUC: y_true holds one class only): "
            "compare on a set with both classes."
        )
    indices = resample_indices(len(y), resamples, optional_seed(seed))
    differences = defined_values(resampled_metric(metric, y, s_a, k_a, threshold, indices)
                                 - resampled_metric(metric, y, s_b, k_a, threshold, indices), metric)
    low, high = np.quantile(differences, [(1 - confidence) / 2, (1 + confidence) / 2])
    kept = len(differences)
    below = (np.sum(differences <= 0) + 1) / (kept + 1)
    above = (np.sum(differences >= 0) + 1) / (kept + 1)
    left_out = resamples - kept
    note = f"{left_out} of {resamples} resamples were left out: {name} was undefined in them." if left_out else ""
    return PairedTest(
        estimate=estimate, interval=Interval(estimate, float(low), float(high), confidence, "paired bootstrap", len(y)),
        p_value=float(min(1.0, 2 * min(below, above))), method="paired bootstrap", n=len(y), quantity=name,
        names=labels, higher_is_better=bool(higher_is_better), note=note,
    )


def paired_scores(
    values_a,
    values_b,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    names: Sequence[str] = ("A", "B"),
    higher_is_better: bool = True,
) -> PairedTest:
    """Compare two heatmap methods by their per-image scores on the same images.

    - numbers (energy, IoU, ``deletion_curve(...).auc``): the mean of the per-image
      differences A - B, with a percentile bootstrap interval of that mean
      (``scipy.stats.bootstrap`` on the differences, seeded), and the Wilcoxon signed-rank
      test (``scipy.stats.wilcoxon``, two-sided; images with no difference are dropped, its
      default). Wilcoxon tests whether the differences are centred on 0, so it can disagree
      with the mean near the threshold; :meth:`~PairedTest.conclusion` then says so. When
      every difference is 0 the p-value is 1 with a note.
    - booleans (pointing-game hits): the exact McNemar test of the hit rates
      (:func:`mcnemar_exact`, the sign test on the images where only one method hits).

    Pass ``higher_is_better=False`` for scores where lower is better (deletion AUC).

    Raises:
        ValueError: see :func:`~daylib.evaluate.intervals.as_values`; lengths that differ,
            booleans for one method and numbers for the other, a bad ``confidence``,
            ``resamples``, ``seed`` or ``names``.

    Example:
        >>> test = paired_scores(energy_pointing(gradcam_maps, masks), energy_pointing(cam_maps, masks),
        ...                      names=("Grad-CAM", "CAM"))
        >>> print(paired_scores([0.6, 0.7, 0.9, 0.8], [0.5, 0.4, 0.6, 0.5]).conclusion())
        no difference shown (p = 0.125); the 95% interval +0.150 to +0.300 excludes 0, but the test does not reach p < 0.05: a borderline result.
    """
    a, b = as_values(values_a, "values_a"), as_values(values_b, "values_b")
    _same_length(a, b, "values_a", "values_b")
    confidence = check_confidence(confidence)
    resamples = count(resamples, "resamples", example=2000)
    seed = optional_seed(seed)
    labels = _labels(names)
    if (a.dtype == bool) != (b.dtype == bool):
        which = "values_a" if a.dtype == bool else "values_b"
        raise ValueError(
            f"{which} holds booleans (hits) but the other holds numbers: compare the same score for both methods, "
            "e.g. pointing_game for both, or energy_pointing for both."
        )
    if a.dtype == bool:
        return _mcnemar(a, b, confidence, labels, "hit rate", bool(higher_is_better))
    differences = a - b
    interval = mean_interval(differences, confidence, resamples, seed, "paired bootstrap")
    if np.all(differences == 0):
        p_value = 1.0
        note = f"{labels[0]} and {labels[1]} score the same on every image, so the test has nothing to weigh (p = 1)."
    else:
        p_value, note = float(stats.wilcoxon(a, b).pvalue), interval.note
    return PairedTest(
        estimate=interval.estimate, interval=interval, p_value=min(p_value, 1.0), method="Wilcoxon signed-rank",
        n=len(a), quantity="mean score", names=labels, higher_is_better=bool(higher_is_better), note=note,
    )
