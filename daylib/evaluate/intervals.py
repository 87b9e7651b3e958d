"""Confidence intervals of proportions and per-image scores, and two independent proportions compared.

- :func:`wilson_interval`: the Wilson score interval of ``successes`` out of ``n`` (scipy's
  ``binomtest(...).proportion_ci(method="wilson")``), good down to 0/n and n/n, where the
  textbook ``p +- 1.96 * se`` collapses to a single point.
- :func:`score_interval`: an interval for the mean of per-image heatmap scores: Wilson for
  hits (booleans, e.g. :func:`~daylib.cam.metrics.pointing_game`), a percentile bootstrap of
  the mean for continuous scores (energy, IoU, deletion/insertion AUC).
- :func:`compare_proportions`: two proportions from *different* samples (a method against a
  random-map baseline): Fisher's exact test, both Wilson intervals and Newcombe's interval of
  the difference. For two methods on the *same* images use :mod:`daylib.evaluate.paired`.

Each result prints as one line a lesson can show, and never holds NaN.

Example:
    >>> print(wilson_interval(9, 100))
    0.090 (95% CI 0.048-0.162, Wilson, n=100)
    >>> print(compare_proportions(9, 100, 2, 100, names=("Grad-CAM", "random")).conclusion())
    no difference shown (p = 0.058); the 95% interval +0.005 to +0.144 excludes 0, but the test does not reach p < 0.05: a borderline result.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats

from daylib.arguments import count, fraction, names as name_list, optional_seed


# SciPy 1.15 renamed bootstrap's random_state to rng (the old name is deprecated there); the oldest SciPy
# the course allows (1.11) knows only random_state. Both take a Generator.
_SEED_ARGUMENT = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"

__all__ = ["Interval", "Comparison", "wilson_interval", "score_interval", "compare_proportions", "as_values",
           "mean_interval", "square_and_add", "format_p", "check_confidence", "Difference"]


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def format_p(p: float) -> str:
    """A p-value as a lesson writes it, to three decimals: ``p = 0.058``, or ``p < 0.001``.

    Example:
        >>> format_p(0.0582), format_p(0.00002)
        ('p = 0.058', 'p < 0.001')
    """
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval.

    Attributes:
        estimate: the value on the data (a proportion, a mean, a difference).
        low, high: the interval's ends.
        confidence: its level, e.g. 0.95.
        method: how it was computed ("Wilson", "percentile bootstrap", "Newcombe", ...).
        n: how many items (images, test cases) it rests on.
        note: why the interval is degenerate, where it is (e.g. a single value); else "".

    Example:
        >>> interval = wilson_interval(9, 100)
        >>> interval.contains(0.05), interval.contains(0.2)
        (True, False)
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int
    note: str = ""

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies within the interval, ends included.

        Example:
            >>> wilson_interval(0, 10).contains(0.0)
            True
        """
        return bool(self.low <= x <= self.high)

    @property
    def level(self) -> str:
        """The confidence level as text, e.g. ``"95%"``.

        Example:
            >>> wilson_interval(9, 100, confidence=0.9).level
            '90%'
        """
        return f"{self.confidence * 100:g}%"

    def span(self, signed: bool = False) -> str:
        """The interval's ends as text: ``0.048-0.162``; signed, ``-0.020 to +0.050``, with ``signed`` or below 0.

        Example:
            >>> wilson_interval(9, 100).span(), wilson_interval(9, 100).span(signed=True)
            ('0.048-0.162', '+0.048 to +0.162')
        """
        if signed or self.low < 0:
            return f"{_signed(self.low)} to {_signed(self.high)}"
        return f"{self.low:.3f}-{self.high:.3f}"

    def __str__(self) -> str:
        note = f"; {self.note}" if self.note else ""
        value = _signed(self.estimate) if self.low < 0 else f"{self.estimate:.3f}"
        return f"{value} ({self.level} CI {self.span()}, {self.method}, n={self.n}{note})"


@dataclass(frozen=True, kw_only=True)
class Difference:
    """A difference A - B with its interval and test: what :class:`Comparison` and ``PairedTest`` share.

    Example:
        >>> compare_proportions(30, 100, 10, 100).conclusion()
        'A is better than B (p < 0.001).'
    """

    estimate: float
    interval: Interval
    p_value: float
    method: str
    n: int
    quantity: str
    names: tuple[str, str] = ("A", "B")
    higher_is_better: bool = True
    note: str = ""

    def conclusion(self, alpha: float = 0.05) -> str:
        """One plain sentence: which is better at level ``alpha``, or that no difference is shown.

        When the test and the interval disagree (possible near the threshold, as they are
        computed differently) the sentence says so rather than pick one.

        Example:
            >>> from daylib.evaluate.paired import mcnemar_exact
            >>> mcnemar_exact([True] * 6 + [False], [False] * 6 + [True]).conclusion()
            'no difference shown (p = 0.125); the 95% interval -0.026 to +0.949 includes 0.'
        """
        alpha = fraction(alpha, "alpha", open_low=True, open_high=True, example="0.05")
        p = format_p(self.p_value)
        span = f"the {self.interval.level} interval {self.interval.span(signed=True)}"
        zero_inside = self.interval.contains(0.0)
        if self.p_value < alpha:
            first, second = self.names
            if self.estimate == 0:
                sentence = f"{first} and {second} differ ({p}), though the estimated difference is 0"
            else:
                a_better = (self.estimate > 0) == self.higher_is_better
                winner, loser = (first, second) if a_better else (second, first)
                sentence = f"{winner} is better than {loser} ({p})"
            if zero_inside:
                sentence += f", though {span} still includes 0: a borderline result"
        elif zero_inside:
            sentence = f"no difference shown ({p}); {span} includes 0"
        else:
            sentence = (f"no difference shown ({p}); {span} excludes 0, but the test does not reach "
                        f"p < {alpha:g}: a borderline result")
        note = f" {self.note}" if self.note else ""
        return f"{sentence}.{note}"


@dataclass(frozen=True, kw_only=True)
class Comparison(Difference):
    """Two proportions from different samples: Fisher's exact test, both Wilson intervals, the difference.

    Attributes:
        estimate: ``first.estimate - second.estimate``.
        interval: Newcombe's hybrid score interval of the difference (his method 10, 1998).
        p_value: Fisher's exact test, two-sided.
        first, second: the Wilson interval of each proportion.

    Example:
        >>> result = compare_proportions(9, 100, 2, 100)
        >>> round(result.p_value, 4), round(result.estimate, 2)
        (0.0582, 0.07)
    """

    first: Interval
    second: Interval

    def __str__(self) -> str:
        a, b = self.names
        return (f"{self.quantity}: {a} {self.first.estimate:.3f} ({self.first.span()}, n={self.first.n}) vs "
                f"{b} {self.second.estimate:.3f} ({self.second.span()}, n={self.second.n}); difference "
                f"{_signed(self.estimate)} ({self.interval.level} CI {self.interval.span(signed=True)}, "
                f"{self.interval.method}); {self.method} {format_p(self.p_value)}")


def check_confidence(confidence) -> float:
    """A confidence level within (0, 1), as a float.

    Example:
        >>> check_confidence(0.9)
        0.9
    """
    return fraction(confidence, "confidence", open_low=True, open_high=True, example="0.95")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """The Wilson score interval of the proportion ``successes / n``.

    The interval holds every proportion ``p`` that a two-sided score test would not reject:
    ``(p_hat + z^2 / 2n +- z sqrt(p_hat (1 - p_hat) / n + z^2 / 4n^2)) / (1 + z^2 / n)``
    with ``z`` the normal quantile of ``(1 + confidence) / 2``. Computed by
    ``scipy.stats.binomtest(successes, n).proportion_ci(confidence, method="wilson")``, which
    is that formula (no continuity correction). Unlike ``p_hat +- z se`` it stays inside
    [0, 1] and does not shrink to a point at 0/n or n/n.

    Raises:
        ValueError: ``successes`` or ``n`` not whole numbers, ``n < 1``, ``successes > n``, or a
            ``confidence`` outside (0, 1).

    Example:
        >>> print(wilson_interval(9, 100))   # pointing game: 9 hits in 100 images
        0.090 (95% CI 0.048-0.162, Wilson, n=100)
    """
    n = count(n, "n", example=100)
    successes = count(successes, "successes", minimum=0, example=min(9, n))
    if successes > n:
        raise ValueError(
            f"successes ({successes}) is more than n ({n}): successes counts the hits among n trials. "
            f"Pass successes <= n, e.g. wilson_interval(int(hits.sum()), len(hits))."
        )
    confidence = check_confidence(confidence)
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(estimate=successes / n, low=float(ci.low), high=float(ci.high), confidence=confidence,
                    method="Wilson", n=n)


def as_values(values, name: str = "values") -> np.ndarray:
    """Per-item values (one per image or test case) as a 1-D array: booleans stay booleans, numbers become floats.

    Raises:
        ValueError: None, text, a ragged list, not one value per item (shape other than
            ``(N,)``), no values, or NaN/infinity.

    Example:
        >>> as_values([True, False]).dtype, as_values([1, 2]).dtype
        (dtype('bool'), dtype('float64'))
    """
    if values is None:
        raise ValueError(f"{name} is None: pass one value per image, e.g. pointing_game(heatmaps, masks).")
    try:
        array = np.asarray(values)
    except ValueError:
        raise ValueError(f"{name} is a ragged list (items of different lengths): pass one number per image.") from None
    if array.dtype != bool and not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"{name} holds {array.reshape(-1)[:3].tolist()} ({array.dtype}); expected numbers or booleans, one per image."
        )
    if array.ndim != 1:
        raise ValueError(
            f"{name} has shape {array.shape}; expected one value per image, shape (N,). "
            f"For a deletion or insertion curve pass curve.auc; a column (N, 1) can be flattened with .ravel()."
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to summarise.")
    if array.dtype == bool:
        return array
    array = array.astype(float)
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); drop or fix those images before the interval."
        )
    return array


def mean_interval(values: np.ndarray, confidence: float, resamples: int, seed: Optional[int],
                  method: str = "percentile bootstrap") -> Interval:
    """Percentile bootstrap interval of the mean of checked values (``scipy.stats.bootstrap``).

    A single value has no spread to resample: the interval is the value itself, with a note.

    Example:
        >>> round(mean_interval(np.array([0.2, 0.4, 0.6]), 0.95, 500, seed=0).estimate, 3)
        0.4
    """
    estimate = float(np.mean(values))
    if len(values) < 2:
        return Interval(estimate, estimate, estimate, confidence, method, len(values),
                        note="one value has no spread to resample: the interval is the value itself")
    result = stats.bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=confidence,
                             method="percentile", vectorized=True, **{_SEED_ARGUMENT: np.random.default_rng(seed)})
    ci = result.confidence_interval
    return Interval(estimate, float(ci.low), float(ci.high), confidence, method, len(values))


def score_interval(values, confidence: float = 0.95, *, resamples: int = 2000, seed: int = 0) -> Interval:
    """A confidence interval for the mean of per-image heatmap scores.

    - booleans (hits, e.g. :func:`~daylib.cam.metrics.pointing_game`): the Wilson interval
      of the hit rate (:func:`wilson_interval`);
    - numbers (:func:`~daylib.cam.metrics.energy_pointing`, :func:`~daylib.cam.metrics.heatmap_iou`,
      ``deletion_curve(...).auc``): the percentile bootstrap interval of the mean
      (``scipy.stats.bootstrap``, ``resamples`` resamples, seeded). Hits stored as 0/1
      numbers are read as numbers: pass ``hits.astype(bool)`` for the Wilson interval.

    Raises:
        ValueError: see :func:`as_values`; a ``confidence`` outside (0, 1), ``resamples``
            below 1 or a bad ``seed``.

    Example:
        >>> print(score_interval(pointing_game(heatmaps, masks)))     # Wilson
        >>> print(score_interval(energy_pointing(heatmaps, masks)))   # bootstrap of the mean
        >>> print(score_interval([True] * 9 + [False] * 91))
        0.090 (95% CI 0.048-0.162, Wilson, n=100)
    """
    array = as_values(values)
    confidence = check_confidence(confidence)
    resamples = count(resamples, "resamples", example=2000)
    seed = optional_seed(seed)
    if array.dtype == bool:
        return wilson_interval(int(array.sum()), len(array), confidence)
    return mean_interval(array, confidence, resamples, seed)


def square_and_add(p1: float, first: Interval, p2: float, second: Interval, phi: float = 0.0) -> tuple[float, float]:
    """Newcombe's square-and-add interval of ``p1 - p2`` from the Wilson intervals of each proportion.

    ``phi`` is the correlation between the two estimates: 0 for independent samples
    (Newcombe 1998a, method 10), the paired table's phi for two results on the same items
    (Newcombe 1998b, method 10). The ends are kept within [-1, 1].

    Example:
        >>> low, high = square_and_add(7 / 34, wilson_interval(7, 34), 1 / 34, wilson_interval(1, 34))
        >>> round(low, 4), round(high, 4)
        (0.0189, 0.3404)
    """
    below = math.sqrt(max((p1 - first.low) ** 2 + (second.high - p2) ** 2
                          - 2 * phi * (p1 - first.low) * (second.high - p2), 0.0))
    above = math.sqrt(max((p2 - second.low) ** 2 + (first.high - p1) ** 2
                          - 2 * phi * (p2 - second.low) * (first.high - p1), 0.0))
    return max(-1.0, p1 - p2 - below), min(1.0, p1 - p2 + above)


def compare_proportions(
    k1: int,
    n1: int,
    k2: int,
    n2: int,
    *,
    confidence: float = 0.95,
    names: Sequence[str] = ("A", "B"),
    quantity: str = "proportion",
    higher_is_better: bool = True,
) -> Comparison:
    """Compare two proportions from different samples, ``k1 / n1`` against ``k2 / n2``.

    Fisher's exact test (``scipy.stats.fisher_exact``, two-sided) gives the p-value; each
    proportion gets its Wilson interval and the difference Newcombe's hybrid score interval
    (Newcombe 1998, "Interval estimation for the difference between independent
    proportions", method 10). Use it for a heatmap method against a random-map baseline
    scored on its own images; for two methods on the *same* images the paired test
    (:func:`~daylib.evaluate.paired.paired_scores`) is the right one and has more power.
    Against a fixed, known rate (not a sample) use ``scipy.stats.binomtest(k, n, p=rate)``.

    Raises:
        ValueError: counts that are not whole numbers, ``n1`` or ``n2`` below 1, ``k > n``,
            a ``confidence`` outside (0, 1), or ``names`` that are not two names.

    Example:
        >>> result = compare_proportions(9, 100, 2, 100, names=("Grad-CAM", "random maps"), quantity="pointing game")
        >>> print(result)
        pointing game: Grad-CAM 0.090 (0.048-0.162, n=100) vs random maps 0.020 (0.006-0.070, n=100); difference +0.070 (95% CI +0.005 to +0.144, Newcombe); Fisher's exact p = 0.058
    """
    first = wilson_interval(k1, n1, confidence)
    second = wilson_interval(k2, n2, confidence)
    labels = tuple(name_list(names, "names", expected=2, what="proportions"))
    p_value = float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
    low, high = square_and_add(first.estimate, first, second.estimate, second)
    estimate = first.estimate - second.estimate
    return Comparison(
        estimate=estimate, interval=Interval(estimate, low, high, first.confidence, "Newcombe", n1 + n2),
        p_value=min(p_value, 1.0), method="Fisher's exact", n=n1 + n2, quantity=str(quantity), names=labels,
        higher_is_better=bool(higher_is_better), first=first, second=second,
    )
