"""Score a classifier: metrics, thresholds, confidence intervals, reports, the paper's bar.

Import from here; the modules inside, one job each:

- :mod:`~daylib.evaluate.inputs`: check labels and scores, bring Keras output shapes to two.
- :mod:`~daylib.evaluate.metrics`: the metrics, computed by scikit-learn (undefined is ``None``).
- :mod:`~daylib.evaluate.thresholds`: choose a decision threshold for a target sensitivity.
- :mod:`~daylib.evaluate.bootstrap`: percentile bootstrap confidence intervals.
- :mod:`~daylib.evaluate.intervals`: Wilson intervals, intervals of per-image heatmap scores,
  two independent proportions compared (Fisher's exact test).
- :mod:`~daylib.evaluate.paired`: two models or methods on the same items (exact McNemar,
  paired bootstrap, Wilcoxon signed-rank), each with a one-sentence conclusion.
- :mod:`~daylib.evaluate.repeat`: run an experiment under several seeds and report the spread.
- :mod:`~daylib.evaluate.report`: :func:`evaluate` into a :class:`Report`, beside the majority baseline.
- :mod:`~daylib.evaluate.paper`: the Kermany et al. (2018) bar and :func:`compare_to_paper`.
- :mod:`~daylib.evaluate.run`: run a model on labelled images (:func:`evaluate_model`).

Class 1 is the *positive* class of a binary task (pneumonia in the course), so recall is
sensitivity: the fraction of sick patients the model finds. Undefined metrics are never NaN.

Example:
    >>> from daylib.evaluate import evaluate, choose_threshold, compare_to_paper
    >>> report = evaluate(y_test, model.predict(x_test), dataset="phantom")
    >>> print(report)                     # the model beside the majority-class baseline
    >>> choice = choose_threshold(y_val, model.predict(x_val), target_sensitivity=0.95)
    >>> print(evaluate(y_test, scores_test, threshold=choice))
    >>> print(compare_to_paper(report))
    >>> print(paired_bootstrap(y_test, scores_a, scores_b, "auc").conclusion())
    >>> print(score_interval(pointing_game(heatmaps, masks)))   # 0.090 (95% CI 0.048-0.162, Wilson, n=100)
"""
from daylib.evaluate.bootstrap import bootstrap_ci
from daylib.evaluate.intervals import Comparison, Interval, compare_proportions, score_interval, wilson_interval
from daylib.evaluate.metrics import (
    METRIC_LABELS,
    UndefinedMetricError,
    classification_metrics,
    confusion_matrix,
    metric,
    roc_auc,
    roc_curve,
    score_metrics,
)
from daylib.evaluate.paired import PairedTest, mcnemar_exact, paired_bootstrap, paired_scores
from daylib.evaluate.paper import PAPER, PAPER_TEST_SIZE, REAL_DATASET, PaperComparison, compare_to_paper
from daylib.evaluate.repeat import Repeated, Spread, repeat
from daylib.evaluate.report import Report, evaluate
from daylib.evaluate.run import evaluate_model, scores_and_labels
from daylib.evaluate.thresholds import ThresholdChoice, choose_threshold

__all__ = [
    "UndefinedMetricError", "METRIC_LABELS", "roc_auc", "roc_curve", "confusion_matrix",
    "classification_metrics", "metric", "score_metrics",
    "choose_threshold", "ThresholdChoice", "bootstrap_ci",
    "evaluate", "Report", "evaluate_model", "scores_and_labels",
    "compare_to_paper", "PaperComparison", "PAPER", "PAPER_TEST_SIZE", "REAL_DATASET",
    "Interval", "Comparison", "wilson_interval", "score_interval", "compare_proportions",
    "PairedTest", "mcnemar_exact", "paired_bootstrap", "paired_scores",
    "Repeated", "Spread", "repeat",
]
