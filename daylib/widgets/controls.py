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

import numbers
from typing import Optional, Sequence, Union

import ipywidgets as widgets
import keras
import numpy as np

from daylib.arguments import fraction, names
from daylib.cam.registry import METHOD_LABELS, method_key
from daylib.models.layers import LayerRef, feature_layers
from daylib.viz.heatmaps import colorize
from daylib.widgets.render import chosen_layers, png_bytes

__all__ = [
    "LABEL_STYLE", "WIDE", "Explorer", "alpha_slider", "colour_bar", "image_picker", "image_view", "layer_paths",
    "layer_slider", "method_picker",
]

WIDE = "95%"
"""Width of the sliders that span an explorer."""

LABEL_STYLE = {"description_width": "60px"}
"""Room for a control's label ("layer", "class"...), the same in every explorer."""


def image_view(width: Union[str, int], height: Union[str, int]) -> widgets.Image:
    """An empty PNG picture of a fixed CSS size (so it cannot push the controls off-screen); a number is pixels.

    Example:
        >>> image_view("320px", 320).layout.height
        '320px'
    """
    width, height = (f"{size}px" if isinstance(size, numbers.Real) and not isinstance(size, bool) else size
                     for size in (width, height))
    return widgets.Image(format="png", layout=widgets.Layout(width=width, height=height, object_fit="contain"))


def image_picker(count: int, titles: Optional[Sequence[str]] = None) -> Optional[widgets.Dropdown]:
    """A drop-down of ``count`` images (values 0..count-1), or ``None`` for a single image.

    Raises:
        ValueError: the number of titles is not ``count``, or one string instead of a list.

    Example:
        >>> image_picker(2).options
        (('image 0', 0), ('image 1', 1))
    """
    if count == 1:
        return None
    labels = [f"image {i}" for i in range(count)] if titles is None else names(titles, "image_titles", count, "images")
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

    Raises:
        ValueError: ``value`` outside [0, 1] (a slider would move it to the nearest end without a word).

    Example:
        >>> alpha_slider(0.4).max
        1.0
    """
    return widgets.FloatSlider(
        value=fraction(value, "alpha", example="0.4"), min=0.0, max=1.0, step=0.05, description="alpha", readout_format=".2f", style=LABEL_STYLE
    ).add_class("daylib-alpha")


def method_picker(method: str) -> widgets.Dropdown:
    """A drop-down of every registered heatmap method, by its full label (values are the keys).

    Raises:
        ValueError: an unknown method (the message lists the known ones).

    Example:
        >>> method_picker("Grad-CAM++").value
        'gradcam++'
    """
    return widgets.Dropdown(
        options=[(label, key) for key, label in METHOD_LABELS.items()], value=method_key(method),
        description="method", layout=widgets.Layout(width="300px"), style=LABEL_STYLE,
    ).add_class("daylib-method")


def colour_bar(colormap: str = "jet", width: int = 200) -> widgets.HBox:
    """The heatmap colour scale: a strip from 0 (left) to 1 (right) in ``colormap``, with its ends labelled.

    Raises:
        ValueError: an unknown colour map (see :func:`daylib.viz.heatmaps.colorize`).

    Example:
        >>> colour_bar("jet").children[0].value
        '0'
    """
    strip = colorize(np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (12, 1)), colormap)
    image = widgets.Image(value=png_bytes(strip), format="png",
                          layout=widgets.Layout(width=f"{int(width)}px", height="12px"))
    return widgets.HBox(
        [widgets.Label("0"), image, widgets.Label("1 (highest heat)")],
        layout=widgets.Layout(align_items="center"),
    ).add_class("daylib-colour-bar")


def layer_paths(model: keras.Model, layers: Optional[Sequence[LayerRef]]) -> list[str]:
    """The layer paths a slider offers: ``layers`` resolved, or :func:`~daylib.models.layers.feature_layers`.

    Raises:
        ValueError: see :func:`~daylib.widgets.render.chosen_layers`.

    Example:
        >>> layer_paths(model, ["conv1", -1])
        ['base/conv1', 'base/top']
    """
    return chosen_layers(model, layers, feature_layers)


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
