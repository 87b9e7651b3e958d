"""Figures of training and evaluation results: learning curves, confusion matrix, ROC.

Each function returns a matplotlib ``Figure`` (a notebook shows it; a test inspects it).

Example:
    >>> from daylib.viz.results import plot_history, plot_confusion_matrix, plot_roc
    >>> plot_history(history)                       # both phases, fine-tuning start marked
    >>> plot_confusion_matrix(report, normalize=True)
    >>> plot_roc(y_test, scores, threshold=0.5)
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from daylib.evaluate import Report, UndefinedMetricError, roc_auc, roc_curve
from daylib.evaluate.inputs import labels_and_scores, predicted_labels
from daylib.arguments import count, flag, names

__all__ = ["plot_history", "plot_confusion_matrix", "plot_roc", "FINE_TUNE_LABEL", "KEPT_LABEL"]

FINE_TUNE_LABEL = "fine-tuning starts"
KEPT_LABEL = "kept epoch (phase 2 starts from it)"
DEFAULT_METRICS = ("loss", "accuracy", "auc")


def _history_parts(history) -> tuple[dict[str, list[float]], list[int], Optional[int]]:
    if isinstance(history, dict):
        logs = history
        epochs = list(range(len(next(iter(logs.values()), []))))
        return logs, epochs, None
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict):
        raise ValueError(
            "history must be a daylib.training.TrainingHistory, a Keras History (what model.fit returns) or a dict "
            f"of lists like {{'loss': [...], 'val_loss': [...]}}; got {type(history).__name__}."
        )
    epochs = list(getattr(history, "epoch", range(len(next(iter(logs.values()), [])))))
    return logs, epochs, getattr(history, "fine_tune_epoch", None)


def _restart(history, epochs: list[int], fine_tune_epoch: Optional[int]) -> Optional[tuple[int, int]]:
    """Positions of phase 1's kept epoch and of phase 2's first epoch, when phase 2 restarted from an earlier epoch."""
    kept = getattr(history, "best_epochs", {}).get("head")
    if fine_tune_epoch is None or kept is None or fine_tune_epoch not in epochs or kept not in epochs:
        return None
    first = epochs.index(fine_tune_epoch)
    kept_at = epochs.index(kept)
    return (kept_at, first) if kept_at < first - 1 else None


def _curve(logs: dict, key: str, epochs: int) -> np.ndarray:
    """One logged metric as numbers, one per epoch."""
    try:
        values = np.asarray(logs[key], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"history[{key!r}] holds {logs[key]!r:.60}; expected one number per epoch.") from None
    if values.ndim != 1 or len(values) != epochs:
        raise ValueError(
            f"history[{key!r}] has {values.size} values for {epochs} epochs: every logged metric needs one value per epoch."
        )
    return values


def plot_history(
    history,
    metrics: Optional[Sequence[str]] = None,
    *,
    fine_tune_epoch: Optional[int] = None,
) -> Figure:
    """Training and validation curves, one panel per metric, both phases in one figure.

    Args:
        history: a ``daylib.training.TrainingHistory``, a Keras ``History`` or a dict of lists.
        metrics: metric names without the ``val_`` prefix; default: those of
            ``loss, accuracy, auc`` that were logged.
        fine_tune_epoch: index of the first fine-tuning epoch; read from a ``TrainingHistory``
            when not given. A dashed vertical line marks where fine-tuning starts, when a phase 1
            came before it (a run that fine-tuned from its first epoch, e.g. from scratch, has none).

    Epochs are numbered from 1 on the x axis. When phase 1 kept an earlier epoch than its last
    (a ``TrainingHistory``'s ``best_epochs["head"]``), phase 2 starts from that epoch's weights,
    not from the last epoch's: the kept epoch is starred, and each phase-2 curve starts with a
    dotted line from it.

    Raises:
        ValueError: not a history, no epochs, a metric not logged (or one string as
            ``metrics``), values that are not one number per epoch, or a ``fine_tune_epoch``
            that is not an epoch index of the history.

    Example:
        >>> fig = plot_history({"loss": [0.7, 0.5], "val_loss": [0.8, 0.6]})
    """
    logs, epochs, stored = _history_parts(history)
    fine_tune_epoch = stored if fine_tune_epoch is None else fine_tune_epoch
    shown = names(metrics, "metrics") if metrics is not None else [m for m in DEFAULT_METRICS if m in logs]
    missing = [m for m in shown if m not in logs and f"val_{m}" not in logs]
    if not shown or missing:
        raise ValueError(f"No logged values for {missing or 'any metric'}; the history has {sorted(logs)}.")
    if not epochs:
        raise ValueError("The history has no epochs: train first (or pass the history model.fit returned).")
    if fine_tune_epoch is not None and count(fine_tune_epoch, "fine_tune_epoch", minimum=0) > max(epochs) + 1:
        raise ValueError(
            f"fine_tune_epoch {fine_tune_epoch} is after the last epoch ({max(epochs)}) of the history: pass the index "
            f"of the first fine-tuning epoch (at most {max(epochs) + 1}), or None."
        )
    restart = _restart(history, epochs, fine_tune_epoch)
    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.4), squeeze=False)
    x = np.asarray(epochs) + 1
    for ax, name in zip(axes[0], shown):
        for key, style in ((name, "-o"), (f"val_{name}", "--o")):
            if key in logs:
                label = "validation" if key.startswith("val_") else "training"
                values = _curve(logs, key, len(epochs))
                if restart is None:
                    ax.plot(x, values, style, markersize=3, label=label)
                    continue
                kept, first = restart
                line, = ax.plot(x[:first], values[:first], style, markersize=3, label=label)
                colour = line.get_color()
                ax.plot(x[first:], values[first:], style, markersize=3, color=colour)
                ax.plot(x[[kept, first]], values[[kept, first]], ":", color=colour, linewidth=1)
                ax.plot(x[kept], values[kept], "*", color=colour, markersize=10,
                        label=KEPT_LABEL if key == name else None)
        if fine_tune_epoch is not None and min(epochs) < fine_tune_epoch:  # a run with no phase 1 gets no line
            ax.axvline(fine_tune_epoch + 0.5, color="gray", linestyle=":", label=FINE_TUNE_LABEL)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.legend(fontsize="small")
    fig.tight_layout()
    plt.close(fig)  # returned: shown once in a notebook, not also by the inline backend
    return fig


def plot_confusion_matrix(
    confusion: Union[Report, np.ndarray],
    class_names: Optional[Sequence[str]] = None,
    *,
    normalize: bool = False,
    title: Optional[str] = None,
) -> Figure:
    """Confusion matrix as an annotated heatmap (rows: true class, columns: predicted).

    Args:
        confusion: a :class:`daylib.evaluate.Report` or a ``(K, K)`` count matrix.
        class_names: labels; taken from the report when not given.
        normalize: show each row as fractions of that true class (recall on the diagonal).
        title: the figure's title; by default it says what the cells hold (and, for a report,
            the dataset and the number of images).

    Raises:
        ValueError: not a square ``(K, K)`` matrix of counts (whole numbers, at least 0), class
            names that are not one per class, or a ``normalize`` that is not True or False.

    Example:
        >>> fig = plot_confusion_matrix(np.array([[50, 10], [5, 35]]), ["normal", "pneumonia"])
    """
    where = ""
    if isinstance(confusion, Report):
        class_names = confusion.class_names if class_names is None else class_names
        where = f" on {confusion.n} {confusion.dataset} images" if confusion.dataset != "unspecified" else ""
        confusion = confusion.confusion
    counts = np.asarray(confusion)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise ValueError(
            f"A confusion matrix is square (K, K) with K >= 1; got shape {counts.shape}. For labels, use "
            "daylib.evaluate.confusion_matrix(y_true, y_pred) or pass the Report of evaluate()."
        )
    if counts.dtype == bool or not np.issubdtype(counts.dtype, np.number) or not np.all(np.isfinite(counts)) \
            or counts.min() < 0 or not np.array_equal(counts, np.round(counts)):
        raise ValueError(f"A confusion matrix holds counts (whole numbers, at least 0); got {counts.tolist()!r:.80}.")
    normalize = flag(normalize, "normalize")
    k = len(counts)
    labels = [str(i) for i in range(k)] if class_names is None else names(class_names, "class_names", k, "classes")
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    else:
        values = counts
    fig, ax = plt.subplots(figsize=(1.2 * k + 2.5, 1.2 * k + 1.8))
    image = ax.imshow(values, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ticks = np.arange(k)
    ax.set_xticks(ticks, labels, rotation=30, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    middle = values.max() / 2 if values.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalize else str(int(values[i, j]))
            ax.text(j, i, text, ha="center", va="center", color="white" if values[i, j] > middle else "black")
    if title is None:
        title = f"Confusion matrix{where}" + (": share of each true class" if normalize else ": counts")
    ax.set_title(title, fontsize=10, wrap=True)
    fig.tight_layout()
    plt.close(fig)  # returned: shown once in a notebook, not also by the inline backend
    return fig


def plot_roc(
    y_true,
    scores,
    *,
    threshold: Optional[float] = None,
    class_names: Optional[Sequence[str]] = None,
    label: str = "model",
) -> Figure:
    """ROC curve(s) with their AUC; binary scores can mark the operating point of a threshold.

    For ``(N, K)`` multi-class scores one one-vs-rest curve is drawn per class.

    Args:
        y_true: class indices or one-hot rows.
        scores: model outputs (see :mod:`daylib.evaluate.inputs`).
        threshold: binary only: mark the (FPR, TPR) point of this decision threshold.
        class_names: legend names for the multi-class curves.
        label: legend name of the binary curve.

    Raises:
        UndefinedMetricError: a class is missing from ``y_true`` (no ROC curve exists).
        ValueError: labels and scores that do not fit, a threshold for multi-class scores (or
            outside [0, 1] for probabilities), or class names that are not one per class.

    Example:
        >>> fig = plot_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.5)
    """
    y, s, k = labels_and_scores(y_true, scores)
    if threshold is not None and s.ndim != 1:
        raise ValueError(f"threshold marks a binary operating point; these scores have {k} classes: drop threshold.")
    if s.ndim == 1:
        curves = [(y, s, label)]
    else:
        legend = [str(c) for c in range(k)] if class_names is None else names(class_names, "class_names", k, "classes")
        curves = [((y == c).astype(int), s[:, c], f"{name} vs rest") for c, name in enumerate(legend)]
        for (one_vs_rest, _, _), name in zip(curves, legend):
            if one_vs_rest.min() == one_vs_rest.max():
                raise UndefinedMetricError(f"Class {name!r} never occurs in y_true, so it has no ROC curve.")
    lines = [(*roc_curve(truth, score)[:2], f"{name} (AUC {roc_auc(truth, score):.3f})")
             for truth, score, name in curves]
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    for fpr, tpr, text in lines:
        ax.plot(fpr, tpr, label=text)
    if threshold is not None:
        pred = predicted_labels(s, threshold) == 1  # the one place a threshold is applied (and checked)
        point = (pred[y == 0].mean(), pred[y == 1].mean())
        ax.plot(*point, "o", color="crimson", label=f"threshold {float(threshold):.3g}")
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance")
    ax.set_xlabel("false-positive rate (1 - specificity)")
    ax.set_ylabel("true-positive rate (sensitivity)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    plt.close(fig)  # returned: shown once in a notebook, not also by the inline backend
    return fig
