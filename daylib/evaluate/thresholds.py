"""Choose a binary decision threshold on validation data for a target sensitivity.

Example:
    >>> choice = choose_threshold(y_val, s_val, target_sensitivity=0.95)
    >>> print(evaluate(y_test, s_test, threshold=choice))   # reported on the test set
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from daylib.evaluate.inputs import binary_labels_and_scores, predicted_labels
from daylib.evaluate.metrics import UndefinedMetricError, classification_metrics
from daylib.arguments import fraction

__all__ = ["ThresholdChoice", "choose_threshold"]


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold chosen on validation data for a target sensitivity.

    Pass it as ``threshold=`` to :func:`daylib.evaluate.evaluate` to report it on the test set.

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


def choose_threshold(y_true, scores, target_sensitivity: float = 0.95) -> ThresholdChoice:
    """The highest threshold whose sensitivity on these (validation) data reaches the target.

    Lowering the threshold finds more positives (sensitivity up) and raises more false alarms
    (specificity down); the highest threshold that meets the target keeps specificity as high
    as possible. Choose it on validation data, then report it on the test set
    (``evaluate(y_test, s_test, threshold=choice)``): the test sensitivity may fall short of the target.

    Raises:
        ValueError: a target outside (0, 1], or multi-class scores.
        UndefinedMetricError: the labels hold a single class.

    Example:
        >>> choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], target_sensitivity=0.5).threshold
        0.8
    """
    target_sensitivity = fraction(target_sensitivity, "target_sensitivity", open_low=True, example="0.95")
    y, s = binary_labels_and_scores(y_true, scores)
    positives = np.sort(s[y == 1])[::-1]
    if len(positives) == 0 or len(positives) == len(y):
        raise UndefinedMetricError(
            "Choosing a threshold needs positive and negative cases in the validation labels; "
            f"these hold only class {y[0]}."
        )
    needed = math.ceil(target_sensitivity * len(positives) - 1e-9)
    threshold = float(positives[needed - 1])
    metrics = classification_metrics(y, predicted_labels(s, threshold), num_classes=2)
    return ThresholdChoice(threshold, float(target_sensitivity), metrics["recall"], metrics["specificity"])
