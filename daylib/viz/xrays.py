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

from daylib.data.phantom import CLASS_NAMES


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
        ValueError: images, labels, masks or titles disagree in number or size.

    Example:
        >>> fig = show_xrays(images[:4], titles=["a", "b", "c", "d"], ncols=2)
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] in (1, 3):
        images = images[..., 0] if images.shape[-1] == 1 else images
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images has shape {images.shape}; expected (n, H, W) or (n, H, W, 1|3) with n >= 1.")
    n = len(images)
    for name, values in (("labels", labels), ("masks", masks), ("titles", titles)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} images: pass one per image.")
    if masks is not None and np.shape(masks)[1:3] != images.shape[1:3]:
        raise ValueError(f"masks are {np.shape(masks)[1:3]} but images are {images.shape[1:3]}: resize them alike.")

    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.3 * nrows),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        shown = np.clip(images[k], 0, 255).astype(np.uint8)
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
