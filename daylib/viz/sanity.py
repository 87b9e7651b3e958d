"""Figures of the sanity checks (:mod:`daylib.cam.sanity`): the maps step by step, and similarity curves.

Example:
    >>> from daylib.viz.sanity import show_randomization, plot_similarity
    >>> show_randomization(result, image_index=0)      # rows: methods; columns: original, then each step
    >>> plot_similarity(result)                        # similarity vs step per method, with spread bands
"""
from __future__ import annotations

from typing import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from daylib.arguments import count, names, positive
from daylib.cam.sanity import SIMILARITIES, SanityResult
from daylib.viz.heatmaps import TITLE_MARGIN, fit_title

__all__ = ["show_randomization", "plot_similarity"]


def show_randomization(
    result: SanityResult, image_index: int = 0, *, colormap: str = "jet", size: float = 1.8
) -> Figure:
    """A grid of one image's maps: one row per method, the original map first, then one column per step.

    Every panel uses the same 0-1 colour scale (the bar on the right, a matplotlib colour map); a label under each
    randomised map gives its ``spearman_abs`` with the original.

    Raises:
        ValueError: ``result`` is not a :class:`daylib.cam.sanity.SanityResult`, an image index out of range,
            an unknown colour map or a bad size.

    Example:
        >>> fig = show_randomization(cascading_randomization(model, images, ["gradcam", "saliency"]), image_index=1)
    """
    _check_result(result)
    image_index = count(image_index, "image_index", minimum=0, maximum=len(result.classes) - 1, example=0)
    size = positive(size, "size", example="1.8")
    if colormap not in matplotlib.colormaps:
        raise ValueError(f"Unknown colour map {colormap!r}; use a matplotlib colour map such as 'jet' or 'viridis'.")
    first = "true labels" if result.test == "data" else "original"
    columns = [first, *result.steps]
    scores = result.similarity("spearman_abs")
    fig, axes = plt.subplots(
        len(result.methods), len(columns), figsize=(size * len(columns), (size + 0.4) * len(result.methods)),
        squeeze=False,
    )
    for row, method in enumerate(result.methods):
        maps = [result.original[method][image_index], *result.maps[method][:, image_index]]
        for col, heat in enumerate(maps):
            ax = axes[row, col]
            picture = ax.imshow(heat, cmap=colormap, vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                # the colour bar takes about a sixth of the width from the panels after layout
                title, fontsize = fit_title(columns[col], 0.8 * (size - TITLE_MARGIN), 8.0, min_fontsize=6.0,
                                            max_lines=3)
                ax.set_title(title, fontsize=fontsize)
            if col == 0:
                ax.set_ylabel(method, fontsize=8)
            else:
                ax.set_xlabel(f"ρ = {scores[method][col - 1, image_index]:.2f}", fontsize=7)
    fig.suptitle(f"{_title(result)}: image {image_index}, class {int(result.classes[image_index])}", fontsize=9)
    fig.tight_layout()
    fig.colorbar(picture, ax=axes, shrink=0.6, ticks=[0.0, 0.5, 1.0], label="heat")
    plt.close(fig)
    return fig


def plot_similarity(result: SanityResult, similarities: Sequence[str] = SIMILARITIES, *, size: float = 3.2) -> Figure:
    """Similarity with the original maps vs step, one curve per method: the mean over images, a band of ± 1 std.

    One panel per similarity; ``spearman_signed`` leaves out methods without signed maps. The
    dashed line in the ``spearman_abs`` panel is the pass threshold (``result.threshold``).

    Raises:
        ValueError: not a :class:`daylib.cam.sanity.SanityResult`, or an unknown similarity name.

    Example:
        >>> fig = plot_similarity(result, ["spearman_abs", "ssim"])
    """
    _check_result(result)
    wanted = names(similarities, "similarities", what="similarity names")
    unknown = [name for name in wanted if name not in SIMILARITIES]
    if unknown or not wanted:
        raise ValueError(f"Unknown similarities {unknown}; choose from {', '.join(SIMILARITIES)}.")
    size = positive(size, "size", example="3.2")
    fig, axes = plt.subplots(1, len(wanted), figsize=(size * len(wanted), size), squeeze=False)
    steps = np.arange(len(result.steps))
    for ax, name in zip(axes[0], wanted):
        ax.set_xticks(steps)
        ax.set_xticklabels(result.steps, rotation=45, ha="right", fontsize=7)
        ax.set_ylim(-1.05, 1.05)
        if name == "spearman_signed" and all(row[name] is None for row in result.rows):
            ax.set_title(f"{name}: no method has signed maps", fontsize=9)
            continue
        for method, grid in result.similarity(name).items():
            mean, spread = grid.mean(axis=1), grid.std(axis=1)
            (line,) = ax.plot(steps, mean, marker="o", label=method)
            ax.fill_between(steps, mean - spread, mean + spread, color=line.get_color(), alpha=0.2)
        if name == "spearman_abs":
            ax.axhline(result.threshold, color="grey", linestyle="--", linewidth=1, label="pass threshold")
        ax.set_title(name, fontsize=9)
        cascading = result.test == "cascading"
        ax.set_xlabel("blocks re-initialised, top down" if cascading else "step", fontsize=8)
    axes[0, 0].set_ylabel("similarity with the original maps", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(_title(result), fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _check_result(result: object) -> None:
    if not isinstance(result, SanityResult):
        raise ValueError(
            f"Expected the result of a sanity check (e.g. daylib.cam.sanity.cascading_randomization(...)), "
            f"got {type(result).__name__}."
        )


def _title(result: SanityResult) -> str:
    return {"cascading": "Cascading randomisation", "independent": "Independent randomisation",
            "data": "Data randomisation"}.get(result.test, result.test)
