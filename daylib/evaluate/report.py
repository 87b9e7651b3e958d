"""Evaluate scores against labels into a :class:`Report`: the model beside the majority-class baseline.

A report prints as a plain-text table and shows as an HTML table in a notebook. Undefined
metrics are ``None`` in it, with a note saying why.

Example:
    >>> report = evaluate(y_test, model.predict(x_test), dataset="phantom")
    >>> print(report)                     # the model beside the majority-class baseline
    >>> report["auc"]
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from daylib.evaluate.bootstrap import bootstrap_ci
from daylib.evaluate.inputs import labels_and_scores, predicted_labels
from daylib.evaluate.metrics import METRIC_LABELS, UndefinedMetricError, confusion_matrix, score_metrics
from daylib.evaluate.thresholds import ThresholdChoice
from daylib.arguments import count, fraction, names, optional_seed

__all__ = ["Report", "evaluate", "format_metric"]


def format_metric(value: Optional[float]) -> str:
    """A metric as the tables show it: three decimals, or ``"undefined"`` for ``None``.

    Example:
        >>> format_metric(2 / 3), format_metric(None)
        ('0.667', 'undefined')
    """
    return "undefined" if value is None else f"{value:.3f}"


def _confusion_text(confusion: np.ndarray, class_names: list[str]) -> str:
    width = max(len(name) for name in class_names + [str(confusion.max())]) + 2
    lines = [" " * width + "".join(name.rjust(width) for name in class_names)]
    for name, row in zip(class_names, confusion):
        lines.append(name.rjust(width) + "".join(str(count).rjust(width) for count in row))
    return "\n".join(lines)


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
            out.append((label, format_metric(self.metrics[key]), format_metric(self.baseline[key]), interval))
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


def _undefined_notes(binary: bool, metrics: dict[str, Optional[float]], who: str) -> list[str]:
    reasons = {
        "precision": "no sample was predicted positive" if binary else "a class was never predicted",
        "recall": "y_true has no positive case" if binary else "a class never occurs in y_true",
        "specificity": "y_true has no negative case" if binary else "a class is the only one in y_true",
        "f1": "there is no positive case in y_true or in the predictions",
        "auc": "y_true holds a single class" if binary else "a class never occurs in y_true",
    }
    return [f"{who} {key} is undefined: {reasons[key]}." for key, value in metrics.items() if value is None]


def evaluate(
    y_true,
    scores,
    *,
    threshold: Union[None, float, ThresholdChoice] = None,
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
        threshold: binary only: predict class 1 when ``score >= threshold`` (default 0.5; within
            [0, 1] for probability scores); a :class:`ThresholdChoice` from
            :func:`~daylib.evaluate.choose_threshold` is shown with its origin.
        class_names: names for the table; default ``"0"``, ``"1"``, ...
        dataset: what the data are (``"phantom"``, ``"chest_xray"`` for the real test split, ...);
            :func:`~daylib.evaluate.compare_to_paper` uses it to say whether the numbers can be compared.
        bootstrap: resamples for the accuracy and AUC confidence intervals (0 or None to skip).
        level: confidence level of the intervals.
        seed: seed of the bootstrap.

    The baseline always predicts the majority class of ``y_true`` (ties: the lower index)
    with a constant score, so its AUC is 0.5. Undefined metrics are ``None`` and explained in
    ``report.notes``.

    Raises:
        ValueError: labels and scores that do not fit (see :mod:`daylib.evaluate.inputs`), a
            threshold for multi-class scores or outside [0, 1] for probabilities, class names
            that do not match the classes, or bad ``bootstrap``, ``level``, ``seed`` or ``dataset``.

    Example:
        >>> report = evaluate([0, 1, 1, 1], [0.2, 0.9, 0.4, 0.7], class_names=["normal", "pneumonia"])
        >>> report["recall"]
        0.6666666666666666
    """
    y, s, k = labels_and_scores(y_true, scores)
    if k > 2 and threshold is not None:
        raise ValueError(
            f"A decision threshold applies to binary scores only; these have {k} classes, whose prediction is "
            "the argmax: drop threshold."
        )
    class_names = [str(i) for i in range(k)] if class_names is None else names(class_names, "class_names", k, "classes")
    bootstrap = 0 if bootstrap is None else count(bootstrap, "bootstrap", minimum=0, example=1000)
    level, seed = fraction(level, "level", open_low=True, open_high=True, example="0.95"), optional_seed(seed)
    if not isinstance(dataset, str):
        raise ValueError(f"dataset must be a name for the data, e.g. 'phantom' or 'chest_xray'; got {dataset!r}.")
    cut = threshold.threshold if isinstance(threshold, ThresholdChoice) else 0.5 if threshold is None else threshold
    metrics = score_metrics(y, s, cut)  # checks the threshold
    cut = float(cut)
    majority = int(np.bincount(y, minlength=k).argmax())
    constant = np.full(len(y), float(majority)) if k == 2 else np.eye(k)[np.full(len(y), majority)]
    baseline = score_metrics(y, constant, 0.5)
    notes = _undefined_notes(k == 2, metrics, "Model") + _undefined_notes(k == 2, baseline, "Baseline")
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
        confusion=confusion_matrix(y, predicted_labels(s, cut), num_classes=k),
        class_names=class_names,
        threshold=cut if k == 2 else None,
        n=len(y),
        dataset=dataset,
        baseline_class=majority,
        intervals=intervals,
        interval_level=level,
        threshold_choice=threshold if isinstance(threshold, ThresholdChoice) else None,
        notes=notes,
    )
