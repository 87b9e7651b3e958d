"""Score a classifier: accuracy, precision, recall, specificity, F1, ROC AUC, confusion, thresholds.

Everything here works on plain arrays (true labels and predicted scores), so it is
easy to check by hand. Scores come in the shapes Keras models produce:

- binary, one sigmoid unit: ``(N,)`` or ``(N, 1)``, the probability of class 1;
- binary, two columns: ``(N, 2)``, column 1 is used;
- multi-class: ``(N, K)`` softmax scores; the prediction is the argmax, AUC is one-vs-rest macro.

Class 1 is the *positive* class of a binary task (pneumonia in the course), so recall is
sensitivity: the fraction of sick patients the model finds.

Undefined metrics are never NaN. A ratio with an empty denominator (precision with no
positive predictions, recall with no positive cases, AUC with one class in ``y_true``)
is ``None`` in a :class:`Report`, with a note saying why; the low-level functions
(:func:`roc_auc`) raise :class:`UndefinedMetricError` instead.

Example:
    >>> report = evaluate(y_test, model.predict(x_test), dataset="phantom")
    >>> print(report)                     # the model beside the majority-class baseline
    >>> choice = choose_threshold(y_val, model.predict(x_val), target_sensitivity=0.95)
    >>> print(evaluate(y_test, scores_test, threshold=choice))
    >>> print(compare_to_paper(report))
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import numpy as np

__all__ = [
    "UndefinedMetricError", "roc_auc", "roc_curve", "confusion_matrix", "choose_threshold", "ThresholdChoice",
    "bootstrap_ci", "evaluate", "evaluate_model", "scores_and_labels", "Report", "compare_to_paper", "PaperComparison",
    "PAPER", "REAL_DATASET",
]

REAL_DATASET = "chest_xray"
"""The ``dataset`` name that marks numbers measured on the Kaggle/Kermany test split."""

PAPER = {"accuracy": 0.928, "recall": 0.932, "specificity": 0.901, "auc": 0.968}
"""Kermany et al., Cell 2018, pneumonia vs normal on their 624-image test set."""

PAPER_TEST_SIZE = 624

METRIC_LABELS = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall (sensitivity)",
    "specificity": "specificity",
    "f1": "F1",
    "auc": "ROC AUC",
}


class UndefinedMetricError(ValueError):
    """A metric has no value for these inputs (e.g. ROC AUC when ``y_true`` holds one class)."""


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold chosen on validation data for a target sensitivity.

    Pass it as ``threshold=`` to :func:`evaluate` to report it on the test set.

    Example:
        >>> choice = choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], target_sensitivity=1.0)
        >>> choice.threshold, choice.specificity
        (0.35, 0.5)
    """

    threshold: float
    target_sensitivity: float
    sensitivity: float
    specificity: float

    def __float__(self) -> float:
        return self.threshold

    def __str__(self) -> str:
        return (
            f"threshold {self.threshold:.4g}, chosen on validation for sensitivity >= {self.target_sensitivity:.3g} "
            f"(validation: sensitivity {self.sensitivity:.3f}, specificity {self.specificity:.3f})"
        )


@dataclass
class Report:
    """The numbers of one evaluation, beside the majority-class baseline.

    ``metrics`` and ``baseline`` map ``accuracy, precision, recall, specificity, f1, auc`` to a
    value, or ``None`` when undefined (see ``notes``). For more than two classes the
    precision/recall/specificity/F1/AUC values are macro averages over the classes.
    ``intervals`` holds bootstrap confidence intervals (accuracy and AUC).
    Print it, or show it in a notebook (``_repr_html_``); ``report["auc"]`` reads a metric.

    Example:
        >>> report = evaluate([0, 1, 1, 1], [0.2, 0.9, 0.4, 0.7], bootstrap=0)
        >>> report["accuracy"], report.baseline["accuracy"]
        (0.75, 0.75)
    """

    metrics: dict[str, Optional[float]]
    baseline: dict[str, Optional[float]]
    confusion: np.ndarray
    class_names: list[str]
    threshold: Optional[float]
    n: int
    dataset: str
    baseline_class: int
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    interval_level: float = 0.95
    threshold_choice: Optional[ThresholdChoice] = None
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, metric: str) -> Optional[float]:
        return self.metrics[metric]

    def rows(self) -> list[tuple[str, str, str, str]]:
        """Table rows ``(metric, model, baseline, interval)`` as formatted strings.

        Example:
            >>> report.rows()[0][0]
            'accuracy'
        """
        out = []
        for key, label in METRIC_LABELS.items():
            low_high = self.intervals.get(key)
            interval = f"{low_high[0]:.3f} - {low_high[1]:.3f}" if low_high else ""
            out.append((label, _fmt(self.metrics[key]), _fmt(self.baseline[key]), interval))
        return out

    def _header(self) -> list[str]:
        kind = "binary" if len(self.class_names) == 2 else f"{len(self.class_names)} classes, macro averages"
        lines = [f"Evaluation on {self.n} {self.dataset} images ({kind})."]
        if self.threshold_choice is not None:
            lines.append(f"Decision {self.threshold_choice}.")
        elif self.threshold is not None:
            lines.append(f"Decision threshold {self.threshold:.4g} on P({self.class_names[1]}).")
        lines.append(
            f"Baseline: always predict the majority class {self.class_names[self.baseline_class]!r}."
        )
        return lines

    def table(self) -> str:
        """The report as a plain-text table (also what ``print(report)`` shows).

        Example:
            >>> print(report.table())
        """
        ci = f"{self.interval_level:.0%} CI"
        header = ("metric", "model", "baseline", ci if self.intervals else "")
        rows = [header] + self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = self._header() + [""]
        for row in rows:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        lines += ["", "confusion matrix (rows: true, columns: predicted):"]
        lines += [_confusion_text(self.confusion, self.class_names)]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:
        ci = f"{self.interval_level:.0%} CI" if self.intervals else ""
        head = "".join(f"<p>{html.escape(line)}</p>" for line in self._header())
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in self.rows()
        )
        notes = "".join(f"<p><b>Note:</b> {html.escape(note)}</p>" for note in self.notes)
        return (
            f"{head}<table><tr><th>metric</th><th>model</th><th>baseline</th><th>{ci}</th></tr>{cells}</table>"
            f"<pre>{html.escape(_confusion_text(self.confusion, self.class_names))}</pre>{notes}"
        )


@dataclass
class PaperComparison:
    """Your numbers beside the Kermany et al. (2018) bar, with a plain caveat.

    Example:
        >>> print(compare_to_paper(report))
    """

    rows: list[tuple[str, Optional[float], float]]
    dataset: str
    n: int
    caveat: str

    def table(self) -> str:
        """Plain-text table: metric, yours, paper.

        Example:
            >>> compare_to_paper(report).table().splitlines()[0]
        """
        lines = [self.caveat, "", f"{'metric':22}{'yours':>8}{'paper':>8}"]
        lines += [f"{METRIC_LABELS[key]:22}{_fmt(mine):>8}{paper:>8.3f}" for key, mine, paper in self.rows]
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{METRIC_LABELS[key]}</td><td>{_fmt(mine)}</td><td>{paper:.3f}</td></tr>"
            for key, mine, paper in self.rows
        )
        return (
            f"<p><b>{html.escape(self.caveat)}</b></p>"
            f"<table><tr><th>metric</th><th>yours</th><th>paper</th></tr>{cells}</table>"
        )


def _fmt(value: Optional[float]) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def _confusion_text(confusion: np.ndarray, class_names: list[str]) -> str:
    width = max(len(name) for name in class_names + [str(confusion.max())]) + 2
    lines = [" " * width + "".join(name.rjust(width) for name in class_names)]
    for name, row in zip(class_names, confusion):
        lines.append(name.rjust(width) + "".join(str(count).rjust(width) for count in row))
    return "\n".join(lines)


def _ratio(numerator: float, denominator: float) -> Optional[float]:
    return float(numerator / denominator) if denominator else None


def _labels(y_true) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if y.size == 0:
        raise ValueError("y_true is empty: there is nothing to evaluate.")
    if not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0:
        raise ValueError(f"y_true must hold class indices 0, 1, ... (or one-hot rows); got values like {y[:5]}.")
    return y.astype(int)


def _scores(scores, n: int) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim not in (1, 2) or len(s) != n:
        raise ValueError(f"scores must have shape (N,), (N, 1) or (N, K) with N = {n} (len of y_true); got {s.shape}.")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity; check the model's outputs (a diverged training run?).")
    return s


def _binary(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = _labels(y_true)
    s = _scores(scores, len(y))
    if s.ndim == 2:
        if s.shape[1] != 2:
            raise ValueError(f"A binary metric needs one score per sample or two columns; got {s.shape[1]} columns.")
        s = s[:, 1]
    if y.max() > 1:
        raise ValueError(f"A binary metric needs labels 0 and 1; y_true contains {sorted(set(y.tolist()))}.")
    return y, s


def _midranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    ends = np.r_[starts[1:], len(ordered)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _binary_auc(y: np.ndarray, s: np.ndarray) -> float:
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        only = "positive (1)" if n_neg == 0 else "negative (0)"
        raise UndefinedMetricError(
            f"ROC AUC is undefined: y_true holds only {only} cases, and AUC compares positives with negatives. "
            "Evaluate on a set with both classes (a stratified split)."
        )
    rank_sum = _midranks(s)[y == 1].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve, by the rank (Mann-Whitney U) formula; ties count one half.

    AUC is the probability that a random positive case scores higher than a random negative
    one. For ``(N, K)`` scores with ``K > 2`` it is the one-vs-rest macro average.

    Raises:
        UndefinedMetricError: a class is missing from ``y_true`` (no positives or no negatives).

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    y = _labels(y_true)
    s = _scores(scores, len(y))
    if s.ndim == 1 or s.shape[1] == 2:
        return _binary_auc(*_binary(y, s))
    missing = sorted(set(range(s.shape[1])) - set(y.tolist()))
    if missing:
        raise UndefinedMetricError(
            f"One-vs-rest ROC AUC is undefined: classes {missing} never occur in y_true. "
            "Evaluate on a set that contains every class."
        )
    return float(np.mean([_binary_auc((y == k).astype(int), s[:, k]) for k in range(s.shape[1])]))


def roc_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds of a binary ROC curve.

    Each threshold ``t`` predicts positive when ``score >= t``; the curve starts at (0, 0)
    with threshold ``inf``.

    Raises:
        UndefinedMetricError: ``y_true`` holds a single class.

    Example:
        >>> fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> tpr.tolist()
        [0.0, 0.5, 0.5, 1.0, 1.0]
    """
    y, s = _binary(y_true, scores)
    _binary_auc(y, s)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last_of_group]
    fp = (last_of_group + 1) - tp
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (len(y) - y.sum())]
    return fpr, tpr, np.r_[np.inf, s_sorted[last_of_group]]


def confusion_matrix(y_true, y_pred, num_classes: Optional[int] = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
        [[1, 0], [1, 1]]
    """
    y = _labels(y_true)
    p = _labels(y_pred)
    if len(p) != len(y):
        raise ValueError(f"y_true has {len(y)} labels but y_pred has {len(p)}.")
    k = num_classes or int(max(y.max(), p.max()) + 1)
    if max(y.max(), p.max()) >= k:
        raise ValueError(f"Labels go up to {max(y.max(), p.max())}, more than num_classes={k} allows.")
    return np.bincount(y * k + p, minlength=k * k).reshape(k, k)


def _binary_metrics(confusion: np.ndarray) -> dict[str, Optional[float]]:
    (tn, fp), (fn, tp) = confusion
    return {
        "accuracy": _ratio(tp + tn, confusion.sum()),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def _macro(confusion: np.ndarray) -> dict[str, Optional[float]]:
    per_class = [
        _binary_metrics(np.array([
            [confusion.sum() - confusion[k].sum() - confusion[:, k].sum() + confusion[k, k],
             confusion[:, k].sum() - confusion[k, k]],
            [confusion[k].sum() - confusion[k, k], confusion[k, k]],
        ]))
        for k in range(len(confusion))
    ]
    out: dict[str, Optional[float]] = {"accuracy": _ratio(np.trace(confusion), confusion.sum())}
    for key in ("precision", "recall", "specificity", "f1"):
        values = [m[key] for m in per_class]
        out[key] = None if any(v is None for v in values) else float(np.mean(values))
    return out


def _undefined_notes(confusion: np.ndarray, metrics: dict, who: str) -> list[str]:
    reasons = {
        "precision": "no sample was predicted positive" if len(confusion) == 2 else "a class was never predicted",
        "recall": "y_true has no positive case" if len(confusion) == 2 else "a class never occurs in y_true",
        "specificity": "y_true has no negative case" if len(confusion) == 2 else "a class is the only one in y_true",
        "f1": "there is no positive case in y_true or in the predictions",
        "auc": "y_true holds a single class" if len(confusion) == 2 else "a class never occurs in y_true",
    }
    return [f"{who} {key} is undefined: {reasons[key]}." for key, value in metrics.items() if value is None]


def _predict(s: np.ndarray, threshold: float) -> np.ndarray:
    return (s >= threshold).astype(int) if s.ndim == 1 else s.argmax(axis=1)


def _threshold_metrics(y: np.ndarray, s: np.ndarray, threshold: float, k: int) -> dict[str, Optional[float]]:
    confusion = confusion_matrix(y, _predict(s, threshold), num_classes=k)
    return _binary_metrics(confusion) if k == 2 else _macro(confusion)


def _auc_or_none(y: np.ndarray, s: np.ndarray) -> Optional[float]:
    try:
        return roc_auc(y, s)
    except UndefinedMetricError:
        return None


def _metric_values(y: np.ndarray, s: np.ndarray, threshold: float, k: int) -> dict[str, Optional[float]]:
    return {**_threshold_metrics(y, s, threshold, k), "auc": _auc_or_none(y, s)}


def choose_threshold(y_true, scores, target_sensitivity: float = 0.95) -> ThresholdChoice:
    """The highest threshold whose sensitivity on these (validation) data reaches the target.

    Lowering the threshold finds more positives (sensitivity up) and raises more false alarms
    (specificity down); the highest threshold that meets the target keeps specificity as high
    as possible. Choose it on validation data, then report it on the test set
    (``evaluate(y_test, s_test, threshold=choice)``): the test sensitivity may fall short of the target.

    Example:
        >>> choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], target_sensitivity=0.5).threshold
        0.8
    """
    if not 0 < target_sensitivity <= 1:
        raise ValueError(f"target_sensitivity must be in (0, 1], got {target_sensitivity}.")
    y, s = _binary(y_true, scores)
    positives = np.sort(s[y == 1])[::-1]
    if len(positives) == 0 or len(positives) == len(y):
        raise UndefinedMetricError(
            "Choosing a threshold needs positive and negative cases in the validation labels; "
            f"these hold only class {y[0]}."
        )
    needed = math.ceil(target_sensitivity * len(positives) - 1e-9)
    threshold = float(positives[needed - 1])
    metrics = _binary_metrics(confusion_matrix(y, _predict(s, threshold), num_classes=2))
    return ThresholdChoice(threshold, float(target_sensitivity), metrics["recall"], metrics["specificity"])


def bootstrap_ci(
    y_true,
    scores,
    metric: Union[str, Callable[[np.ndarray, np.ndarray], float]] = "accuracy",
    *,
    threshold: float = 0.5,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a metric on a (small) test set.

    Resamples the test cases with replacement ``n_resamples`` times (seeded, so the interval
    repeats) and returns the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. ``metric``
    is a key of :attr:`Report.metrics` (``"accuracy"``, ``"auc"``, ...) or ``f(y, scores) -> float``.
    Resamples in which the metric is undefined (e.g. a single class, for AUC) are left out.

    Raises:
        UndefinedMetricError: the metric is undefined in more than half of the resamples.

    Example:
        >>> low, high = bootstrap_ci(y_test, scores, "auc", seed=0)
    """
    y = _labels(y_true)
    s = _scores(scores, len(y))
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, e.g. 0.95; got {level}.")
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    k = int(max(y.max() + 1, 2 if s.ndim == 1 else s.shape[1]))
    if callable(metric):
        compute = metric
    elif metric == "auc":
        compute = _auc_or_none
    elif metric in METRIC_LABELS:
        def compute(y_b, s_b):
            return _threshold_metrics(y_b, s_b, threshold, k)[metric]
    else:
        raise ValueError(f"Unknown metric {metric!r}; use one of {', '.join(METRIC_LABELS)} or a function.")
    rng = np.random.default_rng(seed)
    values = []
    for indices in rng.integers(0, len(y), size=(n_resamples, len(y))):
        try:
            value = compute(y[indices], s[indices])
        except UndefinedMetricError:
            value = None
        if value is not None:
            values.append(value)
    if len(values) < n_resamples / 2:
        raise UndefinedMetricError(
            f"{metric} is undefined in {n_resamples - len(values)} of {n_resamples} bootstrap resamples: "
            "the test set is too small or has too few cases of one class for an interval."
        )
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def evaluate(
    y_true,
    scores,
    *,
    threshold: Union[float, ThresholdChoice] = 0.5,
    class_names: Optional[list[str]] = None,
    dataset: str = "unspecified",
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Report:
    """Evaluate predicted scores against true labels; the majority-class baseline comes along.

    Args:
        y_true: class indices ``(N,)`` or one-hot rows ``(N, K)``.
        scores: model outputs, ``(N,)``/``(N, 1)`` sigmoid, ``(N, 2)`` or ``(N, K)`` softmax.
        threshold: binary only: predict class 1 when ``score >= threshold``; a
            :class:`ThresholdChoice` from :func:`choose_threshold` is shown with its origin.
        class_names: names for the table; default ``"0"``, ``"1"``, ...
        dataset: what the data are (``"phantom"``, ``"chest_xray"`` for the real test split, ...);
            :func:`compare_to_paper` uses it to say whether the numbers can be compared.
        bootstrap: resamples for the accuracy and AUC confidence intervals (0 to skip).
        level: confidence level of the intervals.
        seed: seed of the bootstrap.

    The baseline always predicts the majority class of ``y_true`` (ties: the lower index)
    with a constant score, so its AUC is 0.5. Undefined metrics are ``None`` and explained in
    ``report.notes``.

    Example:
        >>> report = evaluate([0, 1, 1, 1], [0.2, 0.9, 0.4, 0.7], class_names=["normal", "pneumonia"])
        >>> report["recall"]
        0.6666666666666666
    """
    y = _labels(y_true)
    s = _scores(scores, len(y))
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    k = 2 if s.ndim == 1 else s.shape[1]
    if y.max() >= k:
        raise ValueError(f"y_true contains class {y.max()}, but the scores cover only {k} classes.")
    if k > 2 and isinstance(threshold, ThresholdChoice):
        raise ValueError("A decision threshold applies to binary scores only; multi-class predictions use the argmax.")
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names but there are {k} classes.")
    cut = float(threshold)
    confusion = confusion_matrix(y, _predict(s, cut), num_classes=k)
    metrics = _metric_values(y, s, cut, k)
    majority = int(np.bincount(y, minlength=k).argmax())
    constant = np.full(len(y), float(majority)) if k == 2 else np.eye(k)[np.full(len(y), majority)]
    baseline = _metric_values(y, constant, 0.5, k)
    notes = _undefined_notes(confusion, metrics, "Model") + _undefined_notes(confusion, baseline, "Baseline")
    intervals = {}
    if bootstrap:
        for key in ("accuracy", "auc"):
            if metrics[key] is None:
                continue
            try:
                intervals[key] = bootstrap_ci(y, s, key, threshold=cut, n_resamples=bootstrap, level=level, seed=seed)
            except UndefinedMetricError as error:
                notes.append(f"No {key} interval: {error}")
    return Report(
        metrics=metrics,
        baseline=baseline,
        confusion=confusion,
        class_names=names,
        threshold=cut if k == 2 else None,
        n=len(y),
        dataset=dataset,
        baseline_class=majority,
        intervals=intervals,
        interval_level=level,
        threshold_choice=threshold if isinstance(threshold, ThresholdChoice) else None,
        notes=notes,
    )


def scores_and_labels(model, data, *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Run the model on images in inference mode; return its outputs ``(N, units)`` and the labels.

    ``data`` is ``(images, labels)`` arrays (grayscale films are repeated into three channels)
    or a batched ``tf.data.Dataset`` of ``(images, labels)``. The same numbers as
    ``model.predict``, but through direct calls: Keras traces a new predict function for each
    model and retraces it for a new batch shape, which on a CPU costs seconds and, after a few
    models, a TensorFlow "retracing" warning.

    Example:
        >>> scores, labels = scores_and_labels(model, val_ds)
        >>> choice = choose_threshold(labels, scores[:, 0], target_sensitivity=0.95)
    """
    import tensorflow as tf

    from daylib.data.images import to_rgb_batch

    if isinstance(data, tf.data.Dataset):
        batches = [(images, batch_labels) for images, batch_labels in data]
    else:
        images, labels = data
        images = to_rgb_batch(images)
        batches = [(images[i:i + batch_size], labels[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    scores = np.concatenate([np.asarray(model(images, training=False)) for images, _ in batches])
    labels = np.concatenate([np.asarray(batch_labels) for _, batch_labels in batches])
    return scores, labels


def evaluate_model(model, data, *, batch_size: int = 32, **kwargs) -> Report:
    """Run the model on images (inference mode) and evaluate against their labels (see :func:`evaluate`).

    ``data`` as in :func:`scores_and_labels`.

    Example:
        >>> report = evaluate_model(model, (x_test, y_test), dataset="phantom", class_names=["normal", "pneumonia"])
    """
    scores, labels = scores_and_labels(model, data, batch_size=batch_size)
    return evaluate(labels, scores, **kwargs)


def compare_to_paper(report: Report) -> PaperComparison:
    """Put a binary report beside Kermany et al. (2018): accuracy, sensitivity, specificity, AUC.

    The caveat says plainly whether the numbers are on the real test split
    (``dataset="chest_xray"``) or on something else, such as phantom X-rays, which
    cannot be compared with the paper. Class 1 must be pneumonia.

    Example:
        >>> print(compare_to_paper(evaluate(y, s, dataset="phantom")))
    """
    if len(report.class_names) != 2:
        raise ValueError("The paper's bar is for pneumonia vs normal: compare a binary report (class 1 = pneumonia).")
    rows = [(key, report.metrics[key], PAPER[key]) for key in ("accuracy", "recall", "specificity", "auc")]
    if report.dataset != REAL_DATASET:
        caveat = (
            f"These numbers are on {report.dataset} data, NOT on the real chest X-ray test set: "
            "they cannot be compared with the paper's."
        )
    elif report.n != PAPER_TEST_SIZE:
        caveat = (
            f"Real chest X-rays, but {report.n} test images instead of the paper's {PAPER_TEST_SIZE}: "
            "compare with care."
        )
    else:
        caveat = f"Real chest X-ray test split ({report.n} images), the set the paper reports on."
    return PaperComparison(rows=rows, dataset=report.dataset, n=report.n, caveat=caveat)
