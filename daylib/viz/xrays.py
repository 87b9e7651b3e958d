"""Grids of chest X-rays with their labels and lesion outlines.

Example:
    >>> from daylib.data.phantom import make_phantom
    >>> from daylib.viz.xrays import show_xrays
    >>> images, labels, masks = make_phantom(8, size=128)
    >>> fig = show_xrays(images, labels, masks)
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from daylib.cam.targets import target_masks
from daylib.data.images import to_rgb_batch
from daylib.data.phantom import CLASS_NAMES
from daylib.evaluate.inputs import as_labels
from daylib.arguments import count, names, positive


def show_xrays(
    images: np.ndarray,
    labels: Optional[Sequence[int]] = None,
    masks: Optional[np.ndarray] = None,
    class_names: Sequence[str] = CLASS_NAMES,
    ncols: int = 4,
    titles: Optional[Sequence[str]] = None,
    panel_size: float = 2.6,
) -> Figure:
    """Show X-rays in a grid, titled with their class, lesion masks outlined in red.

    Args:
        images: ``(n, H, W)`` grayscale or ``(n, H, W, 1|3)``; uint8, or float 0-255.
        labels: class index per image; the title is ``class_names[label]``.
        masks: ``(n, H, W)`` bool masks; each lesion's outline is drawn.
        class_names: names for the label indices.
        ncols: panels per row (fewer when there are fewer images).
        titles: one title per image, instead of the class names.
        panel_size: inches per panel.

    Returns:
        The matplotlib Figure (shown inline in a notebook; ``fig.savefig`` to keep it).

    Raises:
        ImageError: images that are not a batch of gray or RGB pictures 0-255 (a [0, 1] batch
            warns: it would show black); see :func:`daylib.data.images.to_rgb_batch`.
        ValueError: images, labels, masks or titles disagree in number or size; labels that
            are not class indices of ``class_names``; masks that are not bool (or 0/1); one
            string as titles or class names; a bad ``ncols`` or ``panel_size``.

    Example:
        >>> fig = show_xrays(images[:4], titles=["a", "b", "c", "d"], ncols=2)
    """
    n = len(to_rgb_batch(images))  # the one image check: shape, 0-255, NaN
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    class_names = names(class_names, "class_names")
    titles = None if titles is None else names(titles, "titles", expected=n, what="images")
    ncols, panel_size = count(ncols, "ncols", example=4), positive(panel_size, "panel_size", example="2.6")
    if labels is not None:
        labels = as_labels(labels, "labels")
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} entries for {n} images: pass one per image.")
        if labels.max() >= len(class_names):
            raise ValueError(
                f"Label {labels.max()} has no name: class_names has {len(class_names)} ({class_names}); "
                "pass class_names with a name for every label."
            )
    if masks is not None:
        if np.ndim(masks) != 3 or len(masks) != n:
            raise ValueError(f"masks has shape {np.shape(masks)} for {n} images: pass one (H, W) mask per image.")
        if np.shape(masks)[1:3] != images.shape[1:3]:
            raise ValueError(f"masks are {np.shape(masks)[1:3]} but images are {images.shape[1:3]}: resize them alike.")
        masks = target_masks(masks, (n, *images.shape[1:3]))

    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.3 * nrows),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        shown = images[k].astype(np.uint8)  # within 0-255: checked above
        ax.imshow(shown, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
        if masks is not None and np.any(masks[k]):
            ax.contour(np.asarray(masks[k], np.float32), levels=[0.5], colors="red", linewidths=1.2)
        if titles is not None:
            ax.set_title(titles[k], fontsize=10)
        elif labels is not None:
            ax.set_title(class_names[int(labels[k])], fontsize=10)
    fig.tight_layout()
    plt.close(fig)  # returned: shown once in a notebook, not also by the inline backend
    return fig
