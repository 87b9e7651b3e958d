"""The plain functions behind the explorers: heatmap overlays and feature-map grids as RGB arrays.

Every widget in :mod:`daylib.widgets.explorers` only wires controls to these, so
tests (and readers without a live kernel) get the same pictures from a function call.
The static matplotlib figures built on them are in :mod:`daylib.widgets.figures`.

- :class:`HeatmapRenderer`: heatmaps of one model for a few images, with the two caches
  the explorer relies on (one CAM object per method and layer, so its compiled graph is
  reused; one heatmap per image, layer, class and method, so alpha only re-blends).
- :func:`render_heatmap`: one overlay.
- :class:`FeatureMaps`, :func:`feature_grid`, :func:`render_feature_maps`: what the
  channels of a layer respond to.

Example:
    >>> from daylib.widgets.render import render_heatmap, render_feature_maps
    >>> rgb = render_heatmap(model, image, layer="top_activation", class_index=285, method="gradcam")
    >>> grid = render_feature_maps(model, image, "stem_activation", channels=range(8))
"""
from __future__ import annotations

import numbers
from typing import Callable, Optional, Sequence, Union

import cv2
import keras
import numpy as np

from daylib.cam import BaseCAM, method_class, method_key
from daylib.cam.targets import class_array
from daylib.data.images import to_rgb_batch
from daylib.arguments import count, names
from daylib.models.layers import LayerRef, find_layer, layer_ref
from daylib.models.split import split_model
from daylib.viz.heatmaps import colorize, overlay

__all__ = [
    "MAX_CHANNELS", "Channels", "FeatureMaps", "HeatmapRenderer", "channel_list", "chosen_layers", "default_class_names",
    "feature_grid", "one_class", "png_bytes", "render_feature_maps", "render_heatmap",
]

MAX_CHANNELS = 64
"""Most feature-map channels drawn at once (more would be too small to see)."""

MAX_CACHED_HEATMAPS = 512
"""Heatmaps a :class:`HeatmapRenderer` keeps (about 200 kB each at 224 px); the oldest go first."""

Channels = Union[int, Sequence[int], range]


def default_class_names(n_classes: int, class_names: Optional[Sequence[str]] = None) -> list[str]:
    """Class names for labels: the given ones, the ImageNet names for 1000 classes, else ``"class i"``.

    Raises:
        ValueError: one string instead of a list, or a number of names that does not match the
            model's classes.

    Example:
        >>> default_class_names(2, ["normal", "pneumonia"])
        ['normal', 'pneumonia']
    """
    if class_names is not None:
        listed = names(class_names, "class_names")
        if len(listed) != n_classes:
            raise ValueError(
                f"Got {len(listed)} class names for a model with {n_classes} classes"
                " (a single sigmoid unit has 2: negative, positive)."
            )
        return listed
    if n_classes == 1000:
        from daylib.models.imagenet import class_names as imagenet_names

        return imagenet_names()
    return [f"class {index}" for index in range(n_classes)]


def one_class(class_index: object) -> int:
    """A class index given to a renderer or figure: one int (not a bool, a float or a name); the CAM checks its range.

    Example:
        >>> one_class(np.int64(285))
        285
    """
    return int(class_array(class_index, 1, allow_2d=False)[0][0, 0])


def chosen_layers(model: keras.Model, layers: Optional[Sequence[LayerRef]], default: Callable[[keras.Model], list]) -> list[str]:
    """The paths of ``layers`` (names, paths or indices), or ``default(model)`` when ``layers`` is None.

    Raises:
        ValueError: one name or index instead of a list, an empty list, or a layer the model lacks.

    Example:
        >>> chosen_layers(model, ["conv1", -1], feature_layers)
        ['base/conv1', 'base/top']
    """
    if layers is None:
        paths = default(model)
    elif isinstance(layers, (str, numbers.Integral)) or not isinstance(layers, Sequence):
        raise ValueError(f"layers must be a list of layer names, paths or indices, e.g. layers=[{layers!r}]; got {layers!r}.")
    else:
        paths = [find_layer(model, layer)[0] for layer in layers]
    if not paths:
        raise ValueError("No layers to show: pass layers=[...] with at least one conv layer.")
    return paths


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
        images: one image ``(H, W, 3)`` or a batch ``(B, H, W, 3)``, at the model's input size
            (checked by :func:`daylib.data.images.to_rgb_batch`).
        colormap: OpenCV colour map name for overlays.

    Attributes:
        split: the model split at its last conv layer (:func:`daylib.models.split.split_model`),
            for the class probabilities.

    Example:
        >>> renderer = HeatmapRenderer(model, images)
        >>> heat = renderer.heatmap(0, layer=None, class_index=None, method="gradcam")   # (H, W) in [0, 1]
        >>> rgb = renderer.overlay(0, None, None, "gradcam", alpha=0.5)
    """

    def __init__(self, model: keras.Model, images: np.ndarray, colormap: str = "jet"):
        self.model = model
        self.split = split_model(model)
        self.images = to_rgb_batch(images, single=True, input_shape=self.split.input_shape)
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
        layer = layer_ref(layer)
        if layer not in self._paths:
            self._paths[layer] = find_layer(self.model, layer)[0]
        return self._paths[layer]

    def cam(self, method: str, layer: LayerRef) -> BaseCAM:
        """The CAM object for ``method`` at ``layer``, built on first use and kept.

        Methods that explain the input pixels (``uses_layer`` False, e.g. Saliency) ignore ``layer``.

        Raises:
            ValueError: the method does not apply here (CAM away from the layer feeding
                global average pooling and the final Dense); the same error every time.

        Example:
            >>> renderer.cam("gradcam", None) is renderer.cam("Grad-CAM", -1)
            True
        """
        cls = method_class(method)
        key = (method_key(method), self.layer_path(layer) if cls.uses_layer else None)
        if key not in self._cams:
            try:
                self._cams[key] = cls(self.model, key[1])
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
            _, logits = self.split(self.images)
            self._probabilities = np.asarray(self.split.head.probabilities(logits))
        return self._probabilities

    def top_classes(self, image_index: int, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` most probable classes of one image, best first, as ``(index, probability)``.

        Example:
            >>> renderer.top_classes(0, 2)
            [(285, 0.78...), (282, 0.09...)]
        """
        row = self.probabilities()[self._index(image_index)]
        order = np.argsort(-row, kind="stable")[:count(k, "k")]
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
        class_index = self.top_classes(index, 1)[0][0] if class_index is None else one_class(class_index)
        uses_layer = method_class(method).uses_layer
        key = (index, self.layer_path(layer) if uses_layer else None, class_index, method_key(method))
        if key not in self._maps:
            cam = self.cam(key[3], layer)
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
        if isinstance(image_index, bool) or not isinstance(image_index, numbers.Integral):
            raise ValueError(f"The image index must be an int, got {image_index!r} ({type(image_index).__name__}).")
        if not -len(self.images) <= image_index < len(self.images):
            raise ValueError(f"Image index {image_index} is out of range for {len(self.images)} image(s).")
        return int(image_index) % len(self.images)


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
        ValueError: bad image (or a batch of several), layer, class or method, or CAM on a layer
            where it is not defined.

    Example:
        >>> rgb = render_heatmap(model, cat, layer="top_activation", class_index=285, method="scorecam")
    """
    renderer = HeatmapRenderer(model, image, colormap)
    if len(renderer.images) != 1:
        raise ValueError(
            f"render_heatmap draws one image, got a batch of {len(renderer.images)}: pass images[i], "
            "or heatmap_explorer(model, images) to browse them."
        )
    return renderer.overlay(0, layer, class_index, method, alpha)


class FeatureMaps:
    """The feature maps of one image at any layer, computed on first use and kept.

    Example:
        >>> maps = FeatureMaps(model, cat)("block2a_activation")
        >>> maps.shape
        (56, 56, 96)
    """

    def __init__(self, model: keras.Model, image: np.ndarray):
        self.model = model
        batch = to_rgb_batch(image, single=True, input_shape=split_model(model).input_shape)
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
            features, _ = split_model(self.model, path).model(self.image[None], training=False)
            self._maps[path] = np.asarray(features[0], dtype=np.float32)
        return self._maps[path]


def feature_grid(maps: np.ndarray, channels: Channels, columns: int = 8, cell: int = 48) -> np.ndarray:
    """Draw chosen channels of ``(h, w, C)`` maps as a grid of coloured tiles: RGB uint8.

    Each channel is scaled to its own min..max (a constant channel is drawn dark) and
    coloured with viridis; tiles are ``cell`` pixels high (nearest-neighbour, so a 7x7
    map shows its 49 cells) with a white 2-pixel gap.

    Raises:
        ValueError: maps that are not finite ``(h, w, C)`` numbers; channel indices out of range,
            none, or more than :data:`MAX_CHANNELS`; ``columns`` or ``cell`` not a positive int.

    Example:
        >>> feature_grid(np.random.rand(7, 7, 32), range(16), columns=8).shape
        (98, 390, 3)
    """
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.size == 0 or not np.issubdtype(maps.dtype, np.number) or not np.all(np.isfinite(maps)):
        raise ValueError(
            f"Feature maps must be finite numbers of shape (h, w, channels), got {maps.dtype} {maps.shape}: "
            "pass FeatureMaps(model, image)(layer)."
        )
    chosen = channel_list(channels, maps.shape[-1])
    columns, cell = min(count(columns, "columns", example=8), len(chosen)), count(cell, "cell", example=48)
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


def channel_list(channels: Channels, available: int) -> list[int]:
    """The channel indices to draw of a layer with ``available`` channels: an int n is the first n.

    Raises:
        ValueError: no channels, more than :data:`MAX_CHANNELS`, an index out of range, or
            something other than a positive int or a list of ints.

    Example:
        >>> channel_list(3, 16), channel_list(range(4, 6), 16)
        ([0, 1, 2], [4, 5])
    """
    if isinstance(channels, numbers.Integral) and not isinstance(channels, bool):
        chosen = list(range(min(count(channels, "channels", example=16), available)))
    elif isinstance(channels, (str, bytes, bool)) or not isinstance(channels, (Sequence, range, np.ndarray)):
        raise ValueError(f"channels must be a positive int (the first n) or channel indices like range(16); got {channels!r}.")
    else:
        chosen = [_channel(c) for c in channels]
    if not chosen:
        raise ValueError("No channels chosen: pass e.g. range(16).")
    if len(chosen) > MAX_CHANNELS:
        raise ValueError(f"{len(chosen)} channels are too many to see at once; choose at most {MAX_CHANNELS}.")
    bad = [c for c in chosen if not 0 <= c < available]
    if bad:
        raise ValueError(f"Channel {bad[0]} is out of range: this layer has {available} channels (0..{available - 1}).")
    return chosen


def _channel(index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise ValueError(f"Channel indices must be ints, got {index!r} ({type(index).__name__}).")
    return int(index)


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
