"""Draw heatmaps: colour them, lay them over images, and show grids of them.

OpenCV colour maps (``cv2.applyColorMap``) return **BGR** images; everything
here converts to RGB, the order the course uses everywhere (matplotlib, Keras).
Images are checked by :func:`daylib.data.images.to_rgb_batch` (RGB 0-255; a [0, 1] image
warns, as it would come out almost black) and heatmaps by
:func:`daylib.cam.targets.as_heatmaps` (finite, in [0, 1]): nothing is clipped quietly.

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
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

from daylib.cam.targets import as_heatmaps, class_array
from daylib.data.images import to_rgb_batch
from daylib.arguments import fraction, positive

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

    Raises:
        ValueError: unknown colour map (the message lists them), a heatmap that is not one
            ``(H, W)`` map in [0, 1] (see :func:`daylib.cam.targets.as_heatmaps`).

    Example:
        >>> colorize(np.linspace(0, 1, 16).reshape(4, 4), "jet")[0, 0]   # low values are blue
        array([  0,   0, 128], dtype=uint8)
    """
    code = _colormap_code(colormap)
    levels = np.round(as_heatmaps(heatmap, "the heatmap", single=True) * 255.0).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, code), cv2.COLOR_BGR2RGB)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
    """Blend a coloured heatmap over an image: ``(1 - alpha) * image + alpha * colour``.

    Args:
        image: one ``(H, W, 3)`` RGB or ``(H, W)`` gray image, uint8 or float with values 0-255.
        heatmap: ``(h, w)`` in [0, 1]; resized (bilinear) to the image when sizes differ.
        alpha: weight of the heatmap colour, in [0, 1].
        colormap: an OpenCV colour map name (see :data:`COLORMAPS`).

    Returns:
        ``(H, W, 3)`` uint8 RGB.

    Raises:
        ImageError: an image that is not one RGB/gray picture with values 0-255.
        ValueError: a heatmap that is not one ``(h, w)`` map in [0, 1], an alpha outside [0, 1],
            or an unknown colour map.

    Example:
        >>> overlay(np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), alpha=0.5)[0, 0]   # half of jet's red
        array([64,  0,  0], dtype=uint8)
    """
    alpha = fraction(alpha, "alpha", example="0.4")
    shape = np.shape(image)
    if len(shape) == 4 or (len(shape) == 3 and shape[-1] not in (1, 3)):
        raise ValueError(
            f"overlay draws one (H, W, 3) RGB or (H, W) gray image, got shape {shape}: pass images[i] for one image "
            "of a batch (show_heatmaps draws many), or image[..., :3] to drop an alpha channel."
        )
    rgb = to_rgb_batch(image, single=True)[0]
    return _blend(rgb, as_heatmaps(heatmap, "the heatmap", single=True), alpha, colormap)


def _blend(rgb: np.ndarray, heat: np.ndarray, alpha: float, colormap: str) -> np.ndarray:
    """:func:`overlay` on inputs checked already: ``rgb`` ``(H, W, 3)`` 0-255, ``heat`` ``(h, w)`` in [0, 1]."""
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


COLOUR_BAR_INCHES = 0.8
"""Width the colour scale of :func:`show_heatmaps` adds to the figure, right of the panels."""


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
    colour_bar: bool = True,
) -> Figure:
    """A grid: one row per image, the image first, then an overlay per class and/or method.

    A colour bar on the right gives the heatmap's scale (0 to 1, in the overlays' colours), so
    maps can be compared across panels; a panel whose map is all zero says so in its title.

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
        colour_bar: draw the colour scale (it is the figure's last axes).

    Raises:
        ImageError: images that are not RGB 0-255 (see :func:`daylib.data.images.to_rgb_batch`).
        ValueError: heatmaps that do not match the images or are not in [0, 1], classes that
            are not ints or do not match, a class without a name, or a bad alpha or size.

    Example:
        >>> fig = show_heatmaps(img[None], cam(img[None], [[285, 281]]), classes=[[285, 281]],
        ...                     class_names=imagenet.class_names())
    """
    alpha, size = fraction(alpha, "alpha", example="0.4"), positive(size, "size", example="2.6")
    colorize(np.zeros((1, 1)), colormap)  # an unknown colour map fails before any drawing
    batch = to_rgb_batch(images, single=True)
    panels = _panels(heatmaps, len(batch))
    labels = _class_labels(classes, len(batch), max(p[1].shape[1] for p in panels), class_names)
    width = max(size - TITLE_MARGIN, size / 2)
    rows = []
    for row, image in enumerate(batch):
        cells = [(image.astype(np.uint8), ["image"])]
        for method, maps in panels:
            for k in range(maps.shape[1]):
                parts = [part for part in (method, labels[row][k]) if part]
                parts = parts if maps[row, k].any() else [*parts, "all zero"]
                cells.append((_blend(image, maps[row, k], alpha, colormap), parts))
                if show_raw:
                    raw = [*parts[:-1], f"{parts[-1]} (heatmap)"] if parts else ["(heatmap)"]
                    cells.append((colorize(maps[row, k], colormap), raw))
        rows.append(cells)
    fontsize = min(_panel_title(parts, width)[1] for cells in rows for _, parts in cells)  # one size for all
    rows = [[(picture, _panel_title(parts, width, fontsize)) for picture, parts in cells] for cells in rows]
    heights = [size + max(title_height(*title) for _, title in cells) for cells in rows]
    bar_room = COLOUR_BAR_INCHES if colour_bar else 0.0
    fig, axes = plt.subplots(
        len(rows), len(rows[0]), figsize=(size * len(rows[0]) + bar_room, sum(heights)), squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    panels_right = 1.0 - bar_room / fig.get_size_inches()[0]
    for row, cells in enumerate(rows):
        for ax, (picture, (title, fontsize)) in zip(axes[row], cells):
            ax.imshow(picture)
            ax.set_title(title, fontsize=fontsize)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout(rect=(0.0, 0.0, panels_right, 1.0))
    fig.tight_layout(rect=(0.0, 0.0, panels_right, 1.0))  # again: the first pass resizes fixed-aspect images
    if colour_bar:
        _add_colour_bar(fig, colormap, panels_right)
    plt.close(fig)  # returned, not also drawn by the inline backend: shows once in a notebook
    return fig


def _add_colour_bar(fig: Figure, colormap: str, left: float) -> None:
    """A vertical 0-1 scale in the overlays' own (OpenCV) colours, in the strip right of ``left``."""
    width = 0.12 / fig.get_size_inches()[0]
    cax = fig.add_axes((left + width, 0.2, width, 0.6))
    colours = colorize(np.linspace(0.0, 1.0, 256, dtype=np.float32)[None], colormap)[0] / 255.0
    scale = ScalarMappable(Normalize(0.0, 1.0), ListedColormap(colours))
    bar = fig.colorbar(scale, cax=cax, ticks=[0.0, 0.5, 1.0])
    bar.ax.tick_params(labelsize=7)
    bar.set_label("heat", fontsize=7)


def _panel_title(parts: Sequence[str], width: float, fontsize: float = 9.0) -> tuple[str, float]:
    """``"method · class"`` on one line where it fits ``width`` inches, else method above class."""
    title = fit_title(" · ".join(parts), width, fontsize)
    return title if "\n" not in title[0] else fit_title("\n".join(parts), width, fontsize)


def _colormap_code(name: str) -> int:
    key = str(name).lower()
    if key not in COLORMAPS:
        raise ValueError(f"Unknown colormap {name!r}; choose one of: {', '.join(sorted(COLORMAPS))}.")
    return COLORMAPS[key]


def _panels(heatmaps: Heatmaps, batch: int) -> list[tuple[str, np.ndarray]]:
    items = heatmaps.items() if isinstance(heatmaps, Mapping) else [("", heatmaps)]
    if not items:
        raise ValueError('heatmaps is an empty dict: pass at least one method, e.g. {"Grad-CAM": maps}.')
    panels = []
    for name, maps in items:
        array = np.asarray(maps)
        array = array[None] if array.ndim == 2 else array
        array = array[:, None] if array.ndim == 3 else array
        if array.ndim != 4 or array.shape[0] != batch:
            raise ValueError(
                f"Heatmaps {name + ' ' if name else ''}of shape {np.shape(maps)} do not match {batch} image(s): "
                "expected (B, H, W) or (B, K, H, W)."
            )
        checked = as_heatmaps(array.reshape(-1, *array.shape[2:]), f"heatmaps {name}".strip())
        panels.append((name, checked.reshape(array.shape)))
    return panels


def _class_labels(classes, batch: int, width: int, class_names) -> list[list[str]]:
    if classes is None:
        return [[""] * width for _ in range(batch)]
    array = class_array(classes, batch)[0]
    if array.shape[1] not in (1, width):
        raise ValueError(f"classes of shape {np.shape(classes)} do not match {batch} image(s) with {width} heatmap(s) each.")
    array = np.broadcast_to(array, (batch, width))
    return [[_class_label(int(c), class_names) for c in row] for row in array]


def _class_label(index: int, class_names) -> str:
    if class_names is None:
        return f"class {index}"
    if isinstance(class_names, str):
        raise ValueError(f"class_names is one string, {class_names!r}: pass a list, a dict or a function index -> name.")
    try:
        if index < 0:
            raise IndexError(index)
        name = class_names(index) if callable(class_names) else class_names[index]
    except (IndexError, KeyError):
        raise ValueError(f"class_names has no name for class {index}: give a name for every class shown.") from None
    return f"{name} ({index})"
