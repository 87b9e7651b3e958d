"""Static figures of heatmaps and feature maps, for pages read without a kernel (GitHub, nbviewer).

Each is the still twin of an explorer in :mod:`daylib.widgets.explorers` and draws the
same pictures, from :mod:`daylib.widgets.render`:

- :func:`heatmap_grid`: overlays, one row per method and one column per layer.
- :func:`plot_feature_maps`: the most active channels of a few layers, early to late.

Example:
    >>> from daylib.widgets.figures import heatmap_grid, plot_feature_maps
    >>> fig = heatmap_grid(model, image, class_index=285)     # early to late layers
    >>> fig = plot_feature_maps(model, image, channels=6)
"""
from __future__ import annotations

import textwrap
from typing import Optional, Sequence, Union

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from daylib.cam import METHOD_LABELS, method_key
from daylib.cam.targets import check_class_range
from daylib.arguments import count, positive
from daylib.models.layers import LayerRef, find_layer, stage_layers
from daylib.viz.heatmaps import TITLE_MARGIN, fit_title, title_height
from daylib.widgets.render import (
    Channels, FeatureMaps, HeatmapRenderer, channel_list, chosen_layers, default_class_names, one_class,
)

__all__ = ["heatmap_grid", "plot_feature_maps", "spaced"]

ROW_LABEL_WIDTH = 0.3
"""Inches added to the left of :func:`heatmap_grid` for the method names that label its rows."""


def spaced(items: Sequence[str], wanted: int) -> list[str]:
    """``wanted`` items evenly spread from first to last (all of them when there are fewer).

    Example:
        >>> spaced(["a", "b", "c", "d", "e"], 3)
        ['a', 'c', 'e']
    """
    wanted = count(wanted, "count")
    if wanted >= len(items):
        return list(items)
    if wanted == 1:
        return [items[-1]]
    return [items[int(round(i))] for i in np.linspace(0, len(items) - 1, wanted)]


def _figure(rows: int, columns: int, figsize: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """A figure with a grid of axes, made through pyplot (which switches on a notebook's inline
    display) but closed at once: a notebook shows it once, as the cell's result, not twice."""
    fig, axes = plt.subplots(rows, columns, figsize=figsize, squeeze=False)
    plt.close(fig)
    return fig, axes


def heatmap_grid(
    model: keras.Model,
    image: np.ndarray,
    layers: Optional[Sequence[LayerRef]] = None,
    class_index: Optional[int] = None,
    method: Union[str, Sequence[str]] = "gradcam",
    alpha: float = 0.4,
    class_names: Optional[Sequence[str]] = None,
    colormap: str = "jet",
    size: float = 2.4,
) -> Figure:
    """A static figure of overlays: one row per method, one column per layer (early to late).

    The explorer's picture for a page read without a kernel (GitHub, nbviewer). A panel
    where a method is not defined (CAM away from the last conv layer) says why instead.
    Laid out as a table: method names label the rows, layer names (and map sizes) head the
    columns, the class explained is the figure's title; long names wrap and their font
    shrinks a little so they fit small panels (see :func:`daylib.viz.heatmaps.fit_title`).

    Args:
        layers: layers to show; default :func:`stage_layers` (at most five, evenly spaced, the last included).
        method: one method or several (one row each).
        class_names: names for the title (default: ImageNet names for 1000 classes).

    Raises:
        ValueError: a batch of several images, a bad layer, method (or empty list of them),
            class index, alpha or size.

    Example:
        >>> fig = heatmap_grid(model, cat, class_index=285, method=["gradcam", "layercam"])
    """
    size = positive(size, "size", example="2.4")
    renderer = HeatmapRenderer(model, image, colormap)
    if len(renderer.images) != 1:
        raise ValueError(f"heatmap_grid draws one image, got a batch of {len(renderer.images)}: pass images[i].")
    paths = chosen_layers(model, layers, lambda m: spaced(stage_layers(m), 5))
    if not isinstance(method, str) and (not isinstance(method, Sequence) or not method):
        raise ValueError(f"method must be a method name or a non-empty list of them, e.g. ['gradcam']; got {method!r}.")
    methods = [method_key(name) for name in ([method] if isinstance(method, str) else method)]
    probabilities = renderer.probabilities()[0]
    if class_index is None:
        class_index = int(np.argmax(probabilities))
    class_index = one_class(class_index)
    check_class_range(np.array([class_index]), len(probabilities), renderer.split.head.binary)
    names = default_class_names(len(probabilities), class_names)
    pictures = [[_overlay_or_why(renderer, name, path, class_index, alpha) for path in paths] for name in methods]
    width = max(size - TITLE_MARGIN, size / 2)
    headers = [_layer_header(model, path) for path in paths]
    fontsize = min(fit_title(header, width, 8.0)[1] for header in headers)  # one size for all columns
    headers = [fit_title(header, width, fontsize)[0] for header in headers]
    title = f"Explaining class {class_index} \"{names[class_index]}\" (p = {probabilities[class_index]:.2f})"
    title, title_size = fit_title(title, size * len(paths) - TITLE_MARGIN, 10.0)
    height = size * len(methods) + max(title_height(header, fontsize) for header in headers)
    fig, axes = _figure(
        len(methods), len(paths), figsize=(size * len(paths) + ROW_LABEL_WIDTH, height + title_height(title, title_size))
    )
    lines = int(width * 72 / (7.0 * 1.2))  # lines of 7 pt text a square panel holds
    for row, name in enumerate(methods):
        label, label_size = fit_title(METHOD_LABELS[name], width, 9.0, max_lines=1)
        axes[row, 0].set_ylabel(label, fontsize=label_size)
        for ax, picture in zip(axes[row], pictures[row]):
            ax.set(xticks=[], yticks=[], frame_on=False)  # no axis lines, but room for the row's label
            if isinstance(picture, str):
                message, message_size = fit_title(picture, width, 7.0, min_fontsize=5.5, max_lines=lines)
                ax.text(0.5, 0.5, message, fontsize=message_size, ha="center", va="center", in_layout=False)
            else:
                ax.imshow(picture)
    for ax, header in zip(axes[0], headers):
        ax.set_title(header, fontsize=fontsize)
    fig.suptitle(title, fontsize=title_size)
    fig.tight_layout()
    fig.tight_layout()  # again: the first pass resizes fixed-aspect images, which moves their titles
    return fig


def _overlay_or_why(
    renderer: HeatmapRenderer, method: str, path: str, class_index: int, alpha: float
) -> Union[np.ndarray, str]:
    """The overlay of one grid panel, or why the method is not defined at this layer."""
    try:
        renderer.cam(method, path)
    except ValueError as error:
        return textwrap.shorten(str(error), 110)
    return renderer.overlay(0, path, class_index, method, alpha)


def _layer_header(model: keras.Model, path: str) -> str:
    """A column header: the layer's own name and its map size, e.g. ``"top_activation (7x7)"``."""
    shape = find_layer(model, path)[1].output.shape
    return f"{path.split('/')[-1]} ({shape[1]}x{shape[2]})"


def plot_feature_maps(
    model: keras.Model,
    image: np.ndarray,
    layers: Optional[Sequence[LayerRef]] = None,
    channels: Channels = 6,
    size: float = 1.6,
) -> Figure:
    """A static figure: one row per layer, early to late: the image (titled with the layer), then its maps.

    With ``channels`` an int n, each row shows that layer's n most active channels (largest
    mean activation): early rows light up at edges and colours, late rows at object parts.

    Args:
        layers: default :func:`stage_layers` (at most five, evenly spaced, the last included).
        channels: an int (most active n per layer) or the same channel indices for every layer.

    Raises:
        ValueError: a bad image, layer (or empty list), channels or size.

    Example:
        >>> fig = plot_feature_maps(model, cat, channels=6)
    """
    size = positive(size, "size", example="1.6")
    features = FeatureMaps(model, image)
    paths = chosen_layers(model, layers, lambda m: spaced(stage_layers(m), 5))
    if isinstance(channels, int) and not isinstance(channels, bool):
        channels = count(channels, "channels", example=6)
    rows = []
    for path in paths:
        maps = features(path)
        if isinstance(channels, int) and not isinstance(channels, bool):
            chosen = [int(c) for c in np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[: min(channels, maps.shape[-1])]]
        else:
            chosen = channel_list(channels, maps.shape[-1])
        rows.append((path, maps, chosen))
    columns = 1 + max(len(chosen) for _, _, chosen in rows)
    fig, axes = _figure(len(rows), columns, figsize=(size * columns, size * len(rows) + 0.2))
    for ax in axes.flat:
        ax.axis("off")
    for row, (path, maps, chosen) in enumerate(rows):
        axes[row, 0].imshow(features.image.astype(np.uint8))
        axes[row, 0].set_title(f"{path.split('/')[-1]}\n{maps.shape[0]}x{maps.shape[1]}x{maps.shape[2]}", fontsize=7)
        for column, channel in enumerate(chosen, start=1):
            axes[row, column].imshow(maps[..., channel], cmap="viridis")
            axes[row, column].set_title(f"channel {channel}", fontsize=7)
    fig.tight_layout()
    return fig
