"""The paper's bar: put a binary report beside Kermany et al. (Cell 2018), with a plain caveat.

Example:
    >>> print(compare_to_paper(evaluate(y_test, s_test, dataset=REAL_DATASET)))
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Optional

from daylib.evaluate.metrics import METRIC_LABELS
from daylib.evaluate.report import Report, format_metric

__all__ = ["PAPER", "PAPER_TEST_SIZE", "REAL_DATASET", "PaperComparison", "compare_to_paper"]

REAL_DATASET = "chest_xray"
"""The ``dataset`` name that marks numbers measured on the Kaggle/Kermany test split."""

PAPER = {"accuracy": 0.928, "recall": 0.932, "specificity": 0.901, "auc": 0.968}
"""Kermany et al., Cell 2018, pneumonia vs normal on their 624-image test set."""

PAPER_TEST_SIZE = 624
"""Images in the paper's (and the Kaggle dataset's) test split: 234 normal, 390 pneumonia."""


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
        lines += [f"{METRIC_LABELS[key]:22}{format_metric(mine):>8}{paper:>8.3f}" for key, mine, paper in self.rows]
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{METRIC_LABELS[key]}</td><td>{format_metric(mine)}</td><td>{paper:.3f}</td></tr>"
            for key, mine, paper in self.rows
        )
        return (
            f"<p><b>{html.escape(self.caveat)}</b></p>"
            f"<table><tr><th>metric</th><th>yours</th><th>paper</th></tr>{cells}</table>"
        )


def compare_to_paper(report: Report) -> PaperComparison:
    """Put a binary report beside Kermany et al. (2018): accuracy, sensitivity, specificity, AUC.

    The caveat says plainly whether the numbers are on the real test split
    (``dataset="chest_xray"``) or on something else, such as phantom X-rays, which
    cannot be compared with the paper. Class 1 must be pneumonia.

    Raises:
        ValueError: not a :class:`~daylib.evaluate.Report`, or not a binary one.

    Example:
        >>> print(compare_to_paper(evaluate(y, s, dataset="phantom")))
    """
    if not isinstance(report, Report):
        raise ValueError(
            f"compare_to_paper takes the Report of daylib.evaluate.evaluate(y_test, scores, dataset=...), "
            f"got {type(report).__name__}."
        )
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
