"""Interactive explorers (ipywidgets 8): controls wired to the plain functions of :mod:`daylib.widgets.render`.

Each explorer is an ``ipywidgets.VBox``, so a notebook cell that ends with it shows it
(JupyterLab 4, Colab) and it can sit inside other boxes. Its controls are attributes,
so code and tests can drive it (``explorer.layer.value = ...``), and
``current_array()`` returns the picture it shows. Widgets do not render on GitHub or
nbviewer: show a static figure beside them (:func:`daylib.widgets.figures.heatmap_grid`,
:func:`daylib.widgets.figures.plot_feature_maps`).

Example:
    >>> from daylib.widgets import heatmap_explorer, layer_explorer
    >>> heatmap_explorer(model, images)      # layer, class, method, alpha, image
    >>> layer_explorer(model, image)         # feature maps of any layer
"""
from __future__ import annotations

import html
import warnings
from typing import Optional, Sequence

import ipywidgets as widgets
import keras
import numpy as np

from daylib.cam import METHOD_LABELS, method_class
from daylib.cam.targets import as_heatmaps
from daylib.data.images import to_rgb_batch
from daylib.arguments import count, names
from daylib.models.layers import LayerRef, find_layer
from daylib.viz.heatmaps import overlay
from daylib.widgets.controls import (
    LABEL_STYLE, WIDE, Explorer, alpha_slider, colour_bar, image_picker, image_view, layer_paths, layer_slider,
    method_picker,
)
from daylib.widgets.render import MAX_CHANNELS, FeatureMaps, HeatmapRenderer, default_class_names, feature_grid

__all__ = [
    "HeatmapExplorer", "LayerExplorer", "SnapshotExplorer", "heatmap_explorer", "layer_explorer", "snapshot_explorer",
]

ZERO_MAP_WARNING = r".*heatmap\(s\) are all zero"
class HeatmapExplorer(Explorer):
    """Heatmaps of a classifier, live: layer slider, class selector, method picker, alpha, image picker.

    Changing the layer, class, method or image computes a heatmap (once: they are cached
    per image, layer, class and method); changing alpha only re-blends. Picking another
    image keeps the chosen class; the class list then shows that image's top-k first.
    CAM where it is not defined (any layer but the one feeding pooling and the final
    Dense) shows the plain image and says why in the status line.

    Attributes:
        layer: ``SelectionSlider`` of layer paths (class ``daylib-layer``), default the last conv layer.
        klass: ``Dropdown`` of ``(label, class index)`` (``daylib-class``): the top-k classes first,
            labelled with their probability ("Egyptian cat (0.78)"), then every other class by name.
        alpha: ``FloatSlider`` (``daylib-alpha``); method: ``Dropdown`` of every registered method by its
            full label (``daylib-method``); the layer slider is disabled for methods that use no layer.
        colour_bar: the colour scale of the heatmap, 0 to 1 (``daylib-colour-bar``).
        image_picker: ``Dropdown`` (``daylib-image``), or ``None`` for one image.
        view: the ``Image`` showing the overlay PNG (``daylib-heatmap``); status: an ``HTML`` line.
        renderer: the :class:`~daylib.widgets.render.HeatmapRenderer` doing the work.

    Example:
        >>> explorer = HeatmapExplorer(model, cat)
        >>> explorer.method.value = "layercam"
        >>> explorer.current_array().shape
        (224, 224, 3)
    """

    def __init__(
        self,
        model: keras.Model,
        images: np.ndarray,
        class_names: Optional[Sequence[str]] = None,
        method: str = "gradcam",
        *,
        layers: Optional[Sequence[LayerRef]] = None,
        top_k: int = 5,
        alpha: float = 0.4,
        colormap: str = "jet",
        size: str = "320px",
        image_titles: Optional[Sequence[str]] = None,
    ):
        self.renderer = HeatmapRenderer(model, images, colormap)
        paths = layer_paths(model, layers)
        self.top_k = count(top_k, "top_k", example=5)
        self.class_names = default_class_names(self.renderer.probabilities().shape[1], class_names)
        self.layer = layer_slider(paths, paths[-1])
        self.layer_info = widgets.HTML().add_class("daylib-layer-info")
        self.image_picker = image_picker(len(self.renderer.images), image_titles)
        self.klass = widgets.Dropdown(
            options=self._class_options(0), value=self.renderer.top_classes(0, 1)[0][0], description="class",
            layout=widgets.Layout(width="360px"), style=LABEL_STYLE,
        ).add_class("daylib-class")
        self.method = method_picker(method)
        self.alpha = alpha_slider(alpha)
        self.view = image_view(size, size).add_class("daylib-heatmap")
        self.colour_bar = colour_bar(colormap)
        self.status = widgets.HTML().add_class("daylib-status")
        self._heatmap: Optional[np.ndarray] = None
        top_row = [w for w in (self.image_picker, self.klass) if w is not None]
        super().__init__(
            [self.method, widgets.HBox(top_row), self.layer, self.layer_info, self.alpha, self.view, self.colour_bar,
             self.status]
        )
        for control in (self.layer, self.klass, self.method):
            control.observe(self._recompute, names="value")
        if self.image_picker is not None:
            self.image_picker.observe(self._image_changed, names="value")
        self.alpha.observe(self._blend, names="value")
        self._recompute()

    @property
    def image_index(self) -> int:
        """Index of the image shown.

        Example:
            >>> explorer.image_index
            0
        """
        return 0 if self.image_picker is None else int(self.image_picker.value)

    def _class_options(self, image_index: int) -> list[tuple[str, int]]:
        top = self.renderer.top_classes(image_index, self.top_k)
        shown = {index for index, _ in top}
        options = [(f"{self.class_names[index]} ({probability:.2f})", index) for index, probability in top]
        names = self.class_names
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        rest = sorted((index for index in range(len(names)) if index not in shown), key=lambda i: names[i].lower())
        options += [(names[i] if counts[names[i]] == 1 else f"{names[i]} #{i}", i) for i in rest]
        return options

    def _image_changed(self, _change: Optional[dict] = None) -> None:
        chosen = self.klass.value
        self.klass.unobserve(self._recompute, names="value")
        try:
            self.klass.options = self._class_options(self.image_index)
            self.klass.value = chosen
        finally:
            self.klass.observe(self._recompute, names="value")
        self._recompute()

    def _recompute(self, _change: Optional[dict] = None) -> None:
        method = self.method.value
        layer = self.layer.value
        self.status.value = f"computing {METHOD_LABELS[method]}..."
        note = ""
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=ZERO_MAP_WARNING, category=RuntimeWarning)
                self._heatmap = self.renderer.heatmap(self.image_index, layer, self.klass.value, method)
            if not self._heatmap.any():
                note = (
                    f"All zero: no part of layer <code>{html.escape(layer)}</code> speaks for this class "
                    "(nothing is left after ReLU). Try another layer or class."
                )
        except ValueError as error:
            self._heatmap = None
            note = f"<span style='color:#b00'>{html.escape(str(error))}</span>"
        self.status.value = note
        self.layer.disabled = not method_class(method).uses_layer
        if self.layer.disabled:
            self.layer_info.value = f"{html.escape(METHOD_LABELS[method])} explains the input pixels: it uses no layer."
        else:
            index = self.layer.index
            shape = find_layer(self.renderer.model, layer)[1].output.shape
            self.layer_info.value = (
                f"<code>{html.escape(layer)}</code> &middot; {shape[1]}&times;{shape[2]}&times;{shape[3]} "
                f"&middot; layer {index + 1} of {len(self.layer.options)}"
            )
        self._blend()

    def _blend(self, _change: Optional[dict] = None) -> None:
        image = self.renderer.images[self.image_index]
        if self._heatmap is None:
            self._show(image.astype(np.uint8))
        else:
            self._show(overlay(image, self._heatmap, alpha=self.alpha.value, colormap=self.renderer.colormap))


class LayerExplorer(Explorer):
    """The feature maps of one image at any layer, as a grid of tiles (one per channel).

    Attributes:
        layer: ``SelectionSlider`` of layer paths (``daylib-layer``), default the first (edges);
            slide right to reach object parts.
        channels: ``IntRangeSlider`` (``daylib-channels``) of the channels shown, at most
            :data:`~daylib.widgets.render.MAX_CHANNELS` at once (a wider range is narrowed,
            visibly, to that many from its start); a layer with fewer channels keeps the
            width of the range and moves it inside.
        view: the ``Image`` with the grid (``daylib-features``); info: an ``HTML`` line.
        feature_maps: the :class:`~daylib.widgets.render.FeatureMaps` cache.

    Example:
        >>> explorer = LayerExplorer(model, cat)
        >>> explorer.layer.value = explorer.layer.options[-1]
    """

    def __init__(
        self,
        model: keras.Model,
        image: np.ndarray,
        *,
        layers: Optional[Sequence[LayerRef]] = None,
        channels: int = 16,
        columns: int = 8,
        width: str = "640px",
    ):
        self.feature_maps = FeatureMaps(model, image)
        self.columns = count(columns, "columns", example=8)
        channels = count(channels, "channels", example=16)
        paths = layer_paths(model, layers)
        self.layer = layer_slider(paths, paths[0])
        available = self.feature_maps(paths[0]).shape[-1]
        self.channels = widgets.IntRangeSlider(
            value=(0, min(channels, available) - 1), min=0, max=available - 1, description="channels",
            continuous_update=False, layout=widgets.Layout(width=WIDE), style=LABEL_STYLE,
        ).add_class("daylib-channels")
        self.info = widgets.HTML().add_class("daylib-layer-info")
        self.view = image_view(width, "auto").add_class("daylib-features")
        super().__init__([self.layer, self.channels, self.info, self.view])
        self.layer.observe(self._layer_changed, names="value")
        self.channels.observe(self._render, names="value")
        self._render()

    def _layer_changed(self, _change: Optional[dict] = None) -> None:
        count = self.feature_maps(self.layer.value).shape[-1]
        low, high = self.channels.value
        span = min(high - low, count - 1)
        low = min(low, count - 1 - span)
        self.channels.unobserve(self._render, names="value")
        try:
            self.channels.max = count - 1
            self.channels.value = (low, low + span)
        finally:
            self.channels.observe(self._render, names="value")
        self._render()

    def _render(self, _change: Optional[dict] = None) -> None:
        low, high = self.channels.value
        if high - low + 1 > MAX_CHANNELS:
            self.channels.value = (low, low + MAX_CHANNELS - 1)
            return
        maps = self.feature_maps(self.layer.value)
        self._show(feature_grid(maps, range(low, high + 1), self.columns))
        self.info.value = (
            f"<code>{html.escape(self.layer.value)}</code> &middot; {maps.shape[0]}&times;{maps.shape[1]}, "
            f"{maps.shape[2]} channels &middot; showing {low}&ndash;{high} (each scaled to its own range)"
        )


class SnapshotExplorer(Explorer):
    """Step through precomputed heatmaps, e.g. one set per epoch, to watch attention move.

    Args:
        images: ``(B, H, W, 3)`` or one image.
        heatmaps_by_step: one entry per step, each ``(B, h, w)`` (or ``(h, w)`` for one image) in [0, 1].
        titles: a label per step (default ``"step 0"``, ``"step 1"``...).

    Attributes:
        step: ``SelectionSlider`` over the steps (``daylib-step``); alpha, image_picker, view as in
            :class:`HeatmapExplorer`.

    Example:
        >>> SnapshotExplorer(images, [maps_epoch0, maps_epoch5], titles=["before", "after fine-tuning"])
    """

    def __init__(
        self,
        images: np.ndarray,
        heatmaps_by_step: Sequence[np.ndarray],
        titles: Optional[Sequence[str]] = None,
        *,
        alpha: float = 0.4,
        colormap: str = "jet",
        size: str = "320px",
    ):
        self.images = to_rgb_batch(images, single=True)
        self.heatmaps = self._checked(heatmaps_by_step)
        steps = len(self.heatmaps)
        labels = [f"step {i}" for i in range(steps)] if titles is None else names(titles, "titles", steps, "steps")
        self.colormap = colormap
        self.step = widgets.SelectionSlider(
            options=list(zip(labels, range(len(labels)))), value=0, description="step",
            layout=widgets.Layout(width=WIDE), style=LABEL_STYLE,
        ).add_class("daylib-step")
        self.image_picker = image_picker(len(self.images))
        self.alpha = alpha_slider(alpha)
        self.view = image_view(size, size).add_class("daylib-heatmap")
        controls = [w for w in (self.step, self.image_picker, self.alpha) if w is not None]
        super().__init__(controls + [self.view])
        for control in controls:
            control.observe(self._render, names="value")
        self._render()

    def _checked(self, heatmaps_by_step: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not isinstance(heatmaps_by_step, (Sequence, np.ndarray)):
            raise ValueError(f"heatmaps_by_step must be a list with one (B, h, w) array per step, got {heatmaps_by_step!r:.60}.")
        steps = []
        for step, maps in enumerate(heatmaps_by_step):
            array = as_heatmaps(maps, f"step {step}'s heatmaps")
            if len(array) != len(self.images):
                raise ValueError(
                    f"Step {step}: heatmaps of shape {np.shape(maps)} do not match {len(self.images)} image(s); expected "
                    "(B, h, w). heatmaps_by_step is a list with one such array per step."
                )
            steps.append(array)
        if not steps:
            raise ValueError("No heatmaps given: pass one (B, h, w) array per step.")
        return steps

    def _render(self, _change: Optional[dict] = None) -> None:
        index = 0 if self.image_picker is None else int(self.image_picker.value)
        heat = self.heatmaps[self.step.value][index]
        self._show(overlay(self.images[index], heat, alpha=self.alpha.value, colormap=self.colormap))


def heatmap_explorer(
    model: keras.Model,
    images: np.ndarray,
    class_names: Optional[Sequence[str]] = None,
    method: str = "gradcam",
    **options,
) -> HeatmapExplorer:
    """Explore heatmaps live: layer, class, method, alpha and image (see :class:`HeatmapExplorer`).

    Args:
        model: a classifier taking RGB 0-255 images.
        images: one ``(H, W, 3)`` image or a batch, at the model's input size.
        class_names: names by class index (default: ImageNet names for 1000 classes, else "class i").
        method: the method shown first, any key or label of :data:`daylib.cam.METHOD_LABELS` (``"gradcam"``,
            ``"Grad-CAM++"``, ``"guided_backprop"``...). Methods that explain the input pixels disable the layer slider.
        options: ``layers`` (default :func:`~daylib.models.layers.feature_layers`), ``top_k``,
            ``alpha``, ``colormap``, ``size`` (CSS size of the picture), ``image_titles``.

    Example:
        >>> heatmap_explorer(efficientnet_lite0(), cat)
    """
    return HeatmapExplorer(model, images, class_names, method, **options)


def layer_explorer(model: keras.Model, image: np.ndarray, **options) -> LayerExplorer:
    """Explore the feature maps of any layer for one image (see :class:`LayerExplorer`).

    Args:
        options: ``layers``, ``channels`` (how many shown first), ``columns``, ``width``.

    Example:
        >>> layer_explorer(efficientnet_lite0(), cat)
    """
    return LayerExplorer(model, image, **options)


def snapshot_explorer(
    images: np.ndarray, heatmaps_by_step: Sequence[np.ndarray], titles: Optional[Sequence[str]] = None, **options
) -> SnapshotExplorer:
    """Step through precomputed heatmaps with a slider (see :class:`SnapshotExplorer`).

    Example:
        >>> snapshot_explorer(images, maps_per_epoch, titles=[f"epoch {e}" for e in epochs])
    """
    return SnapshotExplorer(images, heatmaps_by_step, titles, **options)
