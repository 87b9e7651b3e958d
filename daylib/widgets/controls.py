"""The controls every explorer is built from, and the base class they share.

Each explorer in :mod:`daylib.widgets.explorers` is an :class:`Explorer` (a VBox with a
picture) made of these controls, so the layer slider, image picker and alpha slider
look and behave the same everywhere, and tests and the browser checks find them by
the same CSS classes (``daylib-layer``, ``daylib-image``, ``daylib-alpha``).

Example:
    >>> from daylib.widgets.controls import alpha_slider, layer_slider
    >>> layer_slider(["conv1", "conv2"], "conv2").value
    'conv2'
"""
from __future__ import annotations

from typing import Optional, Sequence

import ipywidgets as widgets
import keras
import numpy as np

from daylib.models.layers import LayerRef, feature_layers, find_layer
from daylib.widgets.render import png_bytes

__all__ = [
    "LABEL_STYLE", "WIDE", "Explorer", "alpha_slider", "image_picker", "image_view", "layer_paths", "layer_slider",
]

WIDE = "95%"
"""Width of the sliders that span an explorer."""

LABEL_STYLE = {"description_width": "60px"}
"""Room for a control's label ("layer", "class"...), the same in every explorer."""


def image_view(width: str, height: str) -> widgets.Image:
    """An empty PNG picture of a fixed CSS size (so it cannot push the controls off-screen).

    Example:
        >>> image_view("320px", "320px").format
        'png'
    """
    return widgets.Image(format="png", layout=widgets.Layout(width=width, height=height, object_fit="contain"))


def image_picker(count: int, titles: Optional[Sequence[str]] = None) -> Optional[widgets.Dropdown]:
    """A drop-down of ``count`` images (values 0..count-1), or ``None`` for a single image.

    Raises:
        ValueError: the number of titles is not ``count``.

    Example:
        >>> image_picker(2).options
        (('image 0', 0), ('image 1', 1))
    """
    if count == 1:
        return None
    labels = list(titles) if titles is not None else [f"image {i}" for i in range(count)]
    if len(labels) != count:
        raise ValueError(f"Got {len(labels)} image titles for {count} images.")
    picker = widgets.Dropdown(options=list(zip(labels, range(count))), value=0, description="image", style=LABEL_STYLE)
    return picker.add_class("daylib-image")


def layer_slider(paths: Sequence[str], value: str) -> widgets.SelectionSlider:
    """A slider over layer paths that acts on release (computing a heatmap per step would lag).

    Example:
        >>> layer_slider(["conv1", "conv2"], "conv1").continuous_update
        False
    """
    return widgets.SelectionSlider(
        options=list(paths), value=value, description="layer", continuous_update=False, readout=False,
        layout=widgets.Layout(width=WIDE), style=LABEL_STYLE,
    ).add_class("daylib-layer")


def alpha_slider(value: float) -> widgets.FloatSlider:
    """The heatmap's weight over the image, 0 (the image) to 1 (the colour map).

    Example:
        >>> alpha_slider(0.4).max
        1.0
    """
    return widgets.FloatSlider(
        value=value, min=0.0, max=1.0, step=0.05, description="alpha", readout_format=".2f", style=LABEL_STYLE
    ).add_class("daylib-alpha")


def layer_paths(model: keras.Model, layers: Optional[Sequence[LayerRef]]) -> list[str]:
    """The layer paths a slider offers: ``layers`` resolved, or :func:`~daylib.models.layers.feature_layers`.

    Raises:
        ValueError: an empty list, or a layer the model does not have.

    Example:
        >>> layer_paths(model, ["conv1", -1])
        ['base/conv1', 'base/top']
    """
    paths = feature_layers(model) if layers is None else [find_layer(model, layer)[0] for layer in layers]
    if not paths:
        raise ValueError("No layers to explore: pass layers=[...] with at least one conv layer.")
    return paths


class Explorer(widgets.VBox):
    """What every explorer shares: a picture in ``view`` and :meth:`current_array`.

    Its text form (what GitHub shows for a widget output) says how to see it live.

    Example:
        >>> isinstance(heatmap_explorer(model, cat), Explorer)
        True
    """

    view: widgets.Image

    def __init__(self, children: Sequence[widgets.Widget]):
        self._current = np.zeros((1, 1, 3), np.uint8)
        super().__init__(list(children))

    def __repr__(self) -> str:
        return f"{type(self).__name__}: an interactive widget, live when the notebook runs with a kernel."

    def current_array(self) -> np.ndarray:
        """The picture shown now: RGB uint8 (a copy).

        Example:
            >>> explorer.current_array().dtype
            dtype('uint8')
        """
        return self._current.copy()

    def _show(self, picture: np.ndarray) -> None:
        self._current = picture
        self.view.value = png_bytes(picture)
