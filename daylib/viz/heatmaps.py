"""Draw heatmaps: colour them, lay them over images, and show grids of them.

OpenCV colour maps (``cv2.applyColorMap``) return **BGR** images; everything
here converts to RGB, the order the course uses everywhere (matplotlib, Keras).

Example:
    >>> from daylib.viz.heatmaps import overlay, show_heatmaps
    >>> blended = overlay(image, heatmap, alpha=0.4, colormap="jet")   # (H, W, 3) uint8 RGB
    >>> show_heatmaps(images, {"Grad-CAM": g, "Score-CAM": s}, classes=cam.last_classes[:, 0],
    ...               class_names=imagenet.class_names())
"""
from __future__ import annotations

import textwrap
from typing import Callable, Mapping, Sequence, Union

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

__all__ = ["COLORMAPS", "TITLE_MARGIN", "colorize", "fit_title", "overlay", "show_heatmaps", "title_height"]

COLORMAPS: dict[str, int] = {
    name[len("COLORMAP_"):].lower(): getattr(cv2, name) for name in dir(cv2) if name.startswith("COLORMAP_")
}
"""OpenCV colour maps by lower-case name: ``"jet"``, ``"turbo"``, ``"inferno"``, ``"viridis"``..."""

Heatmaps = Union[np.ndarray, Mapping[str, np.ndarray]]

TITLE_MARGIN = 0.3
"""Inches of a panel's width that ``fig.tight_layout()`` takes for gaps: titles are fitted to the rest."""


def colorize(heatmap: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """Colour a ``(H, W)`` heatmap with values in [0, 1]: returns ``(H, W, 3)`` uint8 **RGB**.

    Values outside [0, 1] are clipped.

    Raises:
        ValueError: unknown colour map (the message lists them), a heatmap that is not 2-D or has NaN.

    Example:
        >>> colorize(np.linspace(0, 1, 16).reshape(4, 4), "jet")[0, 0]   # low values are blue
        array([  0,   0, 128], dtype=uint8)
    """
    code = _colormap_code(colormap)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"Expected one heatmap of shape (H, W), got shape {heat.shape}.")
    if not np.all(np.isfinite(heat)):
        raise ValueError("The heatmap contains NaN or infinite values.")
    levels = np.round(np.clip(heat, 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, code), cv2.COLOR_BGR2RGB)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
    """Blend a coloured heatmap over an image: ``(1 - alpha) * image + alpha * colour``.

    Args:
        image: ``(H, W, 3)`` RGB or ``(H, W)`` gray, uint8 or float with values 0-255.
        heatmap: ``(h, w)`` in [0, 1]; resized (bilinear) to the image when sizes differ.
        alpha: weight of the heatmap colour, in [0, 1].
        colormap: an OpenCV colour map name (see :data:`COLORMAPS`).

    Returns:
        ``(H, W, 3)`` uint8 RGB, clipped to [0, 255].

    Example:
        >>> overlay(np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), alpha=0.5)[0, 0]   # half of jet's red
        array([64,  0,  0], dtype=uint8)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}.")
    rgb = _as_rgb(image)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"Expected one heatmap of shape (H, W), got shape {heat.shape}.")
    if heat.shape != rgb.shape[:2]:
        heat = cv2.resize(heat, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    colour = colorize(heat, colormap).astype(np.float32)
    blended = (1.0 - alpha) * rgb + alpha * colour
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def fit_title(
    text: str, width: float, fontsize: float = 9.0, min_fontsize: float = 7.0, max_lines: int = 2
) -> tuple[str, float]:
    """A title and a font size with which it fits ``width`` inches: for ``ax.set_title(text, fontsize=size)``.

    Lines are measured in matplotlib's current font. A title that fits stays as it is;
    otherwise its lines wrap (at spaces, hyphens and after underscores, so a layer name
    like ``block2a_expand_activation`` breaks between words) and, while that takes more
    than ``max_lines`` lines, the font shrinks in half points down to ``min_fontsize``.

    Example:
        >>> fit_title("Grad-CAM++ · PNEUMONIA (1)", width=3.0)
        ('Grad-CAM++ · PNEUMONIA (1)', 9.0)
        >>> fit_title("Grad-CAM++ · PNEUMONIA (1)", width=1.0)
        ('Grad-CAM++ ·\\nPNEUMONIA (1)', 9.0)
        >>> fit_title("block2a_expand_activation (56x56)", width=0.9, fontsize=8.0)
        ('block2a_expand_\\nactivation (56x56)', 7.0)
    """
    size = float(fontsize)
    while True:
        lines = [wrapped for line in text.split("\n") for wrapped in _wrap(line, width * 72.0, size)]
        if len(lines) <= max_lines or size <= min_fontsize:
            return "\n".join(lines), size
        size = max(float(min_fontsize), size - 0.5)


def title_height(text: str, fontsize: float) -> float:
    """Inches a title takes above its panel: its lines and the gap below them.

    Example:
        >>> round(title_height("Grad-CAM++\\nPNEUMONIA (1)", 9.0), 2)
        0.4
    """
    return (text.count("\n") + 1) * fontsize * 1.2 / 72 + 0.1


def _wrap(line: str, points: float, fontsize: float) -> list[str]:
    """``line`` wrapped at the most characters per line that keeps every line within ``points``."""
    font = FontProperties(size=fontsize)
    chars = len(line)
    while True:
        # A space after each "_" lets textwrap break there; it is taken out again.
        lines = [part.replace("_ ", "_") for part in textwrap.wrap(line.replace("_", "_ "), max(chars, 1))] or [""]
        widest = max(text_to_path.get_text_width_height_descent(part, font, ismath=False)[0] for part in lines)
        if widest <= points or chars <= 1:
            return lines
        chars = min(chars - 1, int(chars * points / widest))


def show_heatmaps(
    images: np.ndarray,
    heatmaps: Heatmaps,
    *,
    classes: Union[None, int, Sequence[int], Sequence[Sequence[int]], np.ndarray] = None,
    class_names: Union[None, Sequence[str], Mapping[int, str], Callable[[int], str]] = None,
    alpha: float = 0.4,
    colormap: str = "jet",
    show_raw: bool = False,
    size: float = 2.6,
) -> Figure:
    """A grid: one row per image, the image first, then an overlay per class and/or method.

    Args:
        images: ``(B, H, W, 3)`` (or one ``(H, W, 3)`` image).
        heatmaps: ``(B, H, W)``, ``(B, K, H, W)`` (K classes, e.g. ``cam(images, [[a, b]])``),
            or a dict ``{"Grad-CAM": maps, "Score-CAM": maps}`` of those to compare methods.
        classes: what each heatmap explains, for the titles: an int, one per image ``(B,)``,
            or ``(B, K)`` (e.g. ``cam.last_classes``).
        class_names: names by index, as a list (``daylib.models.imagenet.class_names()``),
            a dict or a function ``index -> name``; titles read ``"Egyptian cat (285)"``.
        alpha, colormap: as in :func:`overlay`.
        show_raw: also show each heatmap on its own (colour map, no image).
        size: inches per panel. Titles that do not fit on one line put the method above the
            class, wrap, and shrink (one font size for the whole figure; see :func:`fit_title`).

    Example:
        >>> fig = show_heatmaps(img[None], cam(img[None], [[285, 281]]), classes=[[285, 281]],
        ...                     class_names=imagenet.class_names())
    """
    batch = np.asarray(images)
    batch = batch[None] if batch.ndim == 3 else batch
    panels = _panels(heatmaps, len(batch))
    labels = _class_labels(classes, len(batch), max(p[1].shape[1] for p in panels), class_names)
    width = max(size - TITLE_MARGIN, size / 2)
    rows = []
    for row, image in enumerate(batch):
        cells = [(_as_rgb(image).astype(np.uint8), ["image"])]
        for method, maps in panels:
            for k in range(maps.shape[1]):
                parts = [part for part in (method, labels[row][k]) if part]
                cells.append((overlay(image, maps[row, k], alpha=alpha, colormap=colormap), parts))
                if show_raw:
                    raw = [*parts[:-1], f"{parts[-1]} (heatmap)"] if parts else ["(heatmap)"]
                    cells.append((colorize(maps[row, k], colormap), raw))
        rows.append(cells)
    fontsize = min(_panel_title(parts, width)[1] for cells in rows for _, parts in cells)  # one size for all
    rows = [[(picture, _panel_title(parts, width, fontsize)) for picture, parts in cells] for cells in rows]
    heights = [size + max(title_height(*title) for _, title in cells) for cells in rows]
    fig, axes = plt.subplots(
        len(rows), len(rows[0]), figsize=(size * len(rows[0]), sum(heights)), squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for row, cells in enumerate(rows):
        for ax, (picture, (title, fontsize)) in zip(axes[row], cells):
            ax.imshow(picture)
            ax.set_title(title, fontsize=fontsize)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    fig.tight_layout()  # again: the first pass resizes fixed-aspect images, which moves their titles
    plt.close(fig)  # returned, not also drawn by the inline backend: shows once in a notebook
    return fig


def _panel_title(parts: Sequence[str], width: float, fontsize: float = 9.0) -> tuple[str, float]:
    """``"method · class"`` on one line where it fits ``width`` inches, else method above class."""
    title = fit_title(" · ".join(parts), width, fontsize)
    return title if "\n" not in title[0] else fit_title("\n".join(parts), width, fontsize)


def _colormap_code(name: str) -> int:
    key = str(name).lower()
    if key not in COLORMAPS:
        raise ValueError(f"Unknown colormap {name!r}; choose one of: {', '.join(sorted(COLORMAPS))}.")
    return COLORMAPS[key]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"Expected an (H, W, 3) RGB or (H, W) gray image, got shape {np.shape(image)}.")
    return np.clip(array, 0.0, 255.0)


def _panels(heatmaps: Heatmaps, batch: int) -> list[tuple[str, np.ndarray]]:
    items = heatmaps.items() if isinstance(heatmaps, Mapping) else [("", heatmaps)]
    panels = []
    for name, maps in items:
        array = np.asarray(maps, dtype=np.float32)
        if array.ndim == 2:
            array = array[None]
        if array.ndim == 3:
            array = array[:, None]
        if array.ndim != 4 or array.shape[0] != batch:
            raise ValueError(
                f"Heatmaps {name or ''} of shape {np.shape(maps)} do not match {batch} image(s): "
                "expected (B, H, W) or (B, K, H, W)."
            )
        panels.append((name, array))
    return panels


def _class_labels(classes, batch: int, width: int, class_names) -> list[list[str]]:
    if classes is None:
        return [[""] * width for _ in range(batch)]
    array = np.asarray(classes)
    if array.ndim == 0:
        array = np.full((batch, 1), int(array))
    elif array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] not in (1, batch) or array.shape[1] not in (1, width):
        raise ValueError(f"classes of shape {array.shape} do not match {batch} image(s) with {width} heatmap(s) each.")
    array = np.broadcast_to(array, (batch, width))
    return [[_class_label(int(c), class_names) for c in row] for row in array]


def _class_label(index: int, class_names) -> str:
    if class_names is None:
        return f"class {index}"
    name = class_names(index) if callable(class_names) else class_names[index]
    return f"{name} ({index})"
