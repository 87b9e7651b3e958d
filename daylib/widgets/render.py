"""The plain functions behind the explorers: heatmap overlays, feature-map grids, static figures.

Every widget in :mod:`daylib.widgets.explorers` only wires controls to these, so
tests (and readers without a live kernel) get the same pictures from a function call.

- :func:`feature_layers`: the layers a slider offers (outputs of conv blocks, not every BN).
- :class:`HeatmapRenderer`: heatmaps of one model for a few images, with the two caches
  the explorer relies on (one CAM object per method and layer, so its compiled graph is
  reused; one heatmap per image, layer, class and method, so alpha only re-blends).
- :func:`render_heatmap`, :func:`heatmap_grid`: one overlay, or a static figure across layers.
- :class:`FeatureMaps`, :func:`render_feature_maps`, :func:`plot_feature_maps`: what the
  channels of a layer respond to.

Example:
    >>> from daylib.widgets.render import render_heatmap, heatmap_grid
    >>> rgb = render_heatmap(model, image, layer="top_activation", class_index=285, method="gradcam")
    >>> fig = heatmap_grid(model, image, class_index=285)     # early to late layers, for a static page
"""
from __future__ import annotations

import textwrap
from typing import Iterable, Optional, Sequence, Union

import cv2
import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from daylib.cam import METHODS, BaseCAM, split_model
from daylib.models.layers import LayerRef, conv_layers, feature_layers, find_layer, iter_layers, stage_layers
from daylib.viz.heatmaps import TITLE_MARGIN, colorize, fit_title, overlay, title_height

__all__ = [
    "METHOD_LABELS", "MAX_CHANNELS", "FeatureMaps", "HeatmapRenderer", "as_image_batch", "default_class_names",
    "feature_grid", "feature_layers", "heatmap_grid", "method_key", "plot_feature_maps", "png_bytes",
    "render_feature_maps", "render_heatmap", "spaced", "stage_layers",
]

METHOD_LABELS: dict[str, str] = {
    "cam": "CAM", "gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "scorecam": "Score-CAM", "layercam": "LayerCAM",
}
"""Method keys (what the explorer's toggle holds) and their display names in :data:`daylib.cam.METHODS`."""

MAX_CHANNELS = 64
"""Most feature-map channels drawn at once (more would be too small to see)."""

ROW_LABEL_WIDTH = 0.3
"""Inches added to the left of :func:`heatmap_grid` for the method names that label its rows."""

MAX_CACHED_HEATMAPS = 512
"""Heatmaps a :class:`HeatmapRenderer` keeps (about 200 kB each at 224 px); the oldest go first."""

Channels = Union[int, Sequence[int], range]


def method_key(method: str) -> str:
    """The key of a heatmap method from any usual spelling: ``"Grad-CAM++"``, ``"gradcam_plusplus"``...

    Raises:
        ValueError: an unknown method (the message lists the known ones).

    Example:
        >>> method_key("Grad-CAM"), method_key("score_cam"), method_key("GradCAMPlusPlus")
        ('gradcam', 'scorecam', 'gradcam++')
    """
    key = str(method).lower()
    for old, new in (("-", ""), ("_", ""), (" ", ""), ("plusplus", "++"), ("pp", "++")):
        key = key.replace(old, new)
    if key not in METHOD_LABELS:
        raise ValueError(f"Unknown heatmap method {method!r}; choose one of: {', '.join(METHOD_LABELS)}.")
    return key


def spaced(items: Sequence[str], count: int) -> list[str]:
    """``count`` items evenly spread from first to last (all of them when there are fewer).

    Example:
        >>> spaced(["a", "b", "c", "d", "e"], 3)
        ['a', 'c', 'e']
    """
    if count >= len(items):
        return list(items)
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}.")
    if count == 1:
        return [items[-1]]
    return [items[int(round(i))] for i in np.linspace(0, len(items) - 1, count)]


def as_image_batch(images: np.ndarray) -> np.ndarray:
    """Images as a float32 batch ``(B, H, W, 3)`` with values 0-255, from one image, a batch or a list.

    Raises:
        ValueError: not RGB images, or values outside 0-255 or not finite.

    Example:
        >>> as_image_batch(np.zeros((64, 64, 3), np.uint8)).shape
        (1, 64, 64, 3)
    """
    batch = np.asarray(images if not isinstance(images, (list, tuple)) else np.stack(images), dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[-1] != 3 or len(batch) == 0:
        raise ValueError(f"Expected one RGB image (H, W, 3) or a batch (B, H, W, 3), got shape {np.shape(images)}.")
    if not np.all(np.isfinite(batch)) or batch.min() < 0 or batch.max() > 255:
        raise ValueError("Image values must be finite and within 0-255 (RGB, not preprocessed).")
    return batch


def _check_size(images: np.ndarray, input_shape: tuple) -> None:
    expected = tuple(input_shape[:2])
    if any(want is not None and got != want for got, want in zip(images.shape[1:3], expected)):
        raise ValueError(
            f"Images are {images.shape[1]}x{images.shape[2]} but the model expects {expected[0]}x{expected[1]}: "
            "resize them first, e.g. with daylib.data.images.resize(image, size)."
        )


def default_class_names(n_classes: int, class_names: Optional[Sequence[str]] = None) -> list[str]:
    """Class names for labels: the given ones, the ImageNet names for 1000 classes, else ``"class i"``.

    Raises:
        ValueError: the number of names does not match the model's classes.

    Example:
        >>> default_class_names(2, ["normal", "pneumonia"])
        ['normal', 'pneumonia']
    """
    if class_names is not None:
        names = [str(name) for name in class_names]
        if len(names) != n_classes:
            raise ValueError(
                f"Got {len(names)} class names for a model with {n_classes} classes"
                " (a single sigmoid unit has 2: negative, positive)."
            )
        return names
    if n_classes == 1000:
        from daylib.models.imagenet import class_names as imagenet_names

        return imagenet_names()
    return [f"class {index}" for index in range(n_classes)]


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an RGB uint8 image as PNG bytes (for an ``ipywidgets.Image``).

    Example:
        >>> png_bytes(np.zeros((4, 4, 3), np.uint8))[:4]
        b'\\x89PNG'
    """
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image, dtype=np.uint8), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"Could not encode an image of shape {np.shape(image)} as PNG.")
    return encoded.tobytes()


class HeatmapRenderer:
    """Heatmaps and overlays of one model for a fixed set of images, computed lazily and cached.

    Two caches make an explorer fast: CAM objects per ``(method, layer)`` (each compiles
    its graph once and reuses it for every image and class), and heatmaps per
    ``(image, layer, class, method)`` (so changing alpha only re-blends).

    Args:
        model: a classifier taking RGB 0-255 images (nested bases are fine).
        images: one image ``(H, W, 3)`` or a batch ``(B, H, W, 3)``, at the model's input size.
        colormap: OpenCV colour map name for overlays.

    Example:
        >>> renderer = HeatmapRenderer(model, images)
        >>> heat = renderer.heatmap(0, layer=None, class_index=None, method="gradcam")   # (H, W) in [0, 1]
        >>> rgb = renderer.overlay(0, None, None, "gradcam", alpha=0.5)
    """

    def __init__(self, model: keras.Model, images: np.ndarray, colormap: str = "jet"):
        self.model = model
        self.images = as_image_batch(images)
        self.colormap = colormap
        self._cams: dict[tuple[str, str], Union[BaseCAM, ValueError]] = {}
        self._maps: dict[tuple[int, str, int, str], np.ndarray] = {}
        self._paths: dict[LayerRef, str] = {}
        self._probabilities: Optional[np.ndarray] = None

    def layer_path(self, layer: LayerRef) -> str:
        """The path of a layer given by name, path, index or ``None`` (the last conv layer).

        Example:
            >>> renderer.layer_path(None)
            'top_activation'
        """
        if layer not in self._paths:
            self._paths[layer] = find_layer(self.model, layer)[0]
        return self._paths[layer]

    def cam(self, method: str, layer: LayerRef) -> BaseCAM:
        """The CAM object for ``method`` at ``layer``, built on first use and kept.

        Raises:
            ValueError: the method does not apply here (CAM away from the layer feeding
                global average pooling and the final Dense); the same error every time.

        Example:
            >>> renderer.cam("gradcam", None) is renderer.cam("Grad-CAM", -1)
            True
        """
        key = (method_key(method), self.layer_path(layer))
        if key not in self._cams:
            build = METHODS[METHOD_LABELS[key[0]]]
            try:
                self._cams[key] = build(self.model, key[1])
            except ValueError as error:
                self._cams[key] = error
        found = self._cams[key]
        if isinstance(found, ValueError):
            raise type(found)(*found.args)
        return found

    def probabilities(self) -> np.ndarray:
        """Class probabilities ``(B, n_classes)`` of every image (one forward pass, kept).

        A single sigmoid unit gives two columns: ``[1 - p, p]``.

        Example:
            >>> renderer.probabilities().argmax(axis=1)
            array([285])
        """
        if self._probabilities is None:
            split = split_model(self.model)
            _check_size(self.images, split.input_shape)
            _, logits = split(self.images)
            self._probabilities = np.asarray(split.head.probabilities(logits))
        return self._probabilities

    def top_classes(self, image_index: int, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` most probable classes of one image, best first, as ``(index, probability)``.

        Example:
            >>> renderer.top_classes(0, 2)
            [(285, 0.78...), (282, 0.09...)]
        """
        row = self.probabilities()[self._index(image_index)]
        order = np.argsort(-row, kind="stable")[:k]
        return [(int(i), float(row[i])) for i in order]

    def heatmap(self, image_index: int, layer: LayerRef, class_index: Optional[int], method: str) -> np.ndarray:
        """The ``(H, W)`` heatmap in [0, 1] of one image; ``class_index=None`` means the top prediction.

        Computed once per ``(image, layer, class, method)``; an all-zero map is returned as
        zeros (the CAM warns).

        Example:
            >>> renderer.heatmap(0, "top_activation", 285, "gradcam").shape
            (224, 224)
        """
        index = self._index(image_index)
        if class_index is None:
            class_index = self.top_classes(index, 1)[0][0]
        key = (index, self.layer_path(layer), int(class_index), method_key(method))
        if key not in self._maps:
            cam = self.cam(key[3], key[1])
            if len(self._maps) >= MAX_CACHED_HEATMAPS:
                self._maps.pop(next(iter(self._maps)))
            self._maps[key] = cam(self.images[index : index + 1], classes=key[2])[0]
        return self._maps[key]

    def overlay(
        self, image_index: int, layer: LayerRef, class_index: Optional[int], method: str, alpha: float = 0.4
    ) -> np.ndarray:
        """The heatmap blended over its image: ``(H, W, 3)`` RGB uint8 (alpha 0: the image, 1: the colour map).

        Example:
            >>> renderer.overlay(0, None, None, "layercam", alpha=0.5).dtype
            dtype('uint8')
        """
        heat = self.heatmap(image_index, layer, class_index, method)
        return overlay(self.images[self._index(image_index)], heat, alpha=alpha, colormap=self.colormap)

    def _index(self, image_index: int) -> int:
        if not -len(self.images) <= image_index < len(self.images):
            raise ValueError(f"Image index {image_index} is out of range for {len(self.images)} image(s).")
        return int(image_index) % len(self.images)


def _figure(rows: int, columns: int, figsize: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """A figure with a grid of axes, made through pyplot (which switches on a notebook's inline
    display) but closed at once: a notebook shows it once, as the cell's result, not twice."""
    fig, axes = plt.subplots(rows, columns, figsize=figsize, squeeze=False)
    plt.close(fig)
    return fig, axes


def render_heatmap(
    model: keras.Model,
    image: np.ndarray,
    layer: LayerRef = None,
    class_index: Optional[int] = None,
    method: str = "gradcam",
    alpha: float = 0.4,
    colormap: str = "jet",
) -> np.ndarray:
    """One heatmap overlay ``(H, W, 3)`` RGB uint8: what the explorer shows for these settings.

    Args:
        model: a classifier taking RGB 0-255 images.
        image: ``(H, W, 3)`` at the model's input size.
        layer: name, path, index into the conv layers, or ``None`` (the last conv layer).
        class_index: the class to explain; ``None`` is the top prediction.
        method: ``"cam"``, ``"gradcam"``, ``"gradcam++"``, ``"scorecam"`` or ``"layercam"``.
        alpha: heatmap weight, 0 (the image) to 1 (the colour map alone).
        colormap: OpenCV colour map name.

    Raises:
        ValueError: bad image, layer, class or method, or CAM on a layer where it is not defined.

    Example:
        >>> rgb = render_heatmap(model, cat, layer="top_activation", class_index=285, method="scorecam")
    """
    return HeatmapRenderer(model, image, colormap).overlay(0, layer, class_index, method, alpha)


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

    Example:
        >>> fig = heatmap_grid(model, cat, class_index=285, method=["gradcam", "layercam"])
    """
    renderer = HeatmapRenderer(model, image, colormap)
    paths = [renderer.layer_path(layer) for layer in layers] if layers is not None else spaced(stage_layers(model), 5)
    methods = [method_key(name) for name in ([method] if isinstance(method, str) else method)]
    probabilities = renderer.probabilities()[0]
    if class_index is None:
        class_index = int(np.argmax(probabilities))
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


class FeatureMaps:
    """The feature maps of one image at any layer, computed on first use and kept.

    Example:
        >>> maps = FeatureMaps(model, cat)("block2a_activation")
        >>> maps.shape
        (56, 56, 96)
    """

    def __init__(self, model: keras.Model, image: np.ndarray):
        self.model = model
        batch = as_image_batch(image)
        if len(batch) != 1:
            raise ValueError(f"FeatureMaps takes one image (H, W, 3), got a batch of {len(batch)}.")
        self.image = batch[0]
        self._maps: dict[str, np.ndarray] = {}

    def __call__(self, layer: LayerRef) -> np.ndarray:
        """Maps ``(h, w, C)`` float32 of ``layer`` (name, path, index or ``None`` for the last).

        Example:
            >>> FeatureMaps(model, cat)(None).shape
            (7, 7, 1280)
        """
        path = find_layer(self.model, layer)[0]
        if path not in self._maps:
            split = split_model(self.model, path)
            _check_size(self.image[None], split.input_shape)
            features, _ = split.model(self.image[None], training=False)
            self._maps[path] = np.asarray(features[0], dtype=np.float32)
        return self._maps[path]


def feature_grid(maps: np.ndarray, channels: Channels, columns: int = 8, cell: int = 48) -> np.ndarray:
    """Draw chosen channels of ``(h, w, C)`` maps as a grid of coloured tiles: RGB uint8.

    Each channel is scaled to its own min..max (a constant channel is drawn dark) and
    coloured with viridis; tiles are ``cell`` pixels high (nearest-neighbour, so a 7x7
    map shows its 49 cells) with a white 2-pixel gap.

    Raises:
        ValueError: channel indices out of range, none, or more than :data:`MAX_CHANNELS`.

    Example:
        >>> feature_grid(np.random.rand(7, 7, 32), range(16), columns=8).shape
        (98, 390, 3)
    """
    chosen = _channel_list(channels, maps.shape[-1])
    columns = max(1, min(columns, len(chosen)))
    rows = -(-len(chosen) // columns)
    height, width = cell, max(1, int(round(cell * maps.shape[1] / maps.shape[0])))
    gap = 2
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for n, channel in enumerate(chosen):
        tile = maps[..., channel].astype(np.float32)
        low, high = float(tile.min()), float(tile.max())
        scaled = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
        coloured = cv2.resize(colorize(scaled, "viridis"), (width, height), interpolation=cv2.INTER_NEAREST)
        top, left = (n // columns) * (height + gap), (n % columns) * (width + gap)
        grid[top : top + height, left : left + width] = coloured
    return grid


def _channel_list(channels: Channels, count: int) -> list[int]:
    chosen = list(range(min(channels, count))) if isinstance(channels, int) else [int(c) for c in channels]
    if not chosen:
        raise ValueError("No channels chosen: pass e.g. range(16).")
    if len(chosen) > MAX_CHANNELS:
        raise ValueError(f"{len(chosen)} channels are too many to see at once; choose at most {MAX_CHANNELS}.")
    bad = [c for c in chosen if not 0 <= c < count]
    if bad:
        raise ValueError(f"Channel {bad[0]} is out of range: this layer has {count} channels (0..{count - 1}).")
    return chosen


def render_feature_maps(
    model: keras.Model, image: np.ndarray, layer: LayerRef = None, channels: Channels = 16, columns: int = 8, cell: int = 48
) -> np.ndarray:
    """A grid of the feature maps of ``image`` at ``layer``: RGB uint8 (see :func:`feature_grid`).

    Args:
        channels: channel indices (e.g. ``range(16, 32)``), or an int n for the first n.

    Example:
        >>> grid = render_feature_maps(model, cat, "stem_activation", channels=range(8))
    """
    return feature_grid(FeatureMaps(model, image)(layer), channels, columns, cell)


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

    Example:
        >>> fig = plot_feature_maps(model, cat, channels=6)
    """
    features = FeatureMaps(model, image)
    paths = [find_layer(model, layer)[0] for layer in layers] if layers is not None else spaced(stage_layers(model), 5)
    rows = []
    for path in paths:
        maps = features(path)
        if isinstance(channels, int):
            chosen = [int(c) for c in np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[: min(channels, maps.shape[-1])]]
        else:
            chosen = _channel_list(channels, maps.shape[-1])
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
