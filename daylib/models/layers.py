"""Find the layers of a Keras model that heatmaps and fine-tuning care about.

Transfer models usually *nest* their base (``Sequential([base, GAP, Dense])``
or ``x = base(inputs)``), so the conv layers a reader wants to look at are not
in ``model.layers``. These helpers walk into nested models and name each layer
by its path, e.g. ``"efficientnet_lite0/top_activation"``.

Example:
    >>> from daylib.models.layers import conv_layers
    >>> names = conv_layers(model)        # early to late, nested bases included
    >>> layer = find_layer(model, names[-1])
"""
from __future__ import annotations

from typing import Iterator, Union

import keras

LayerRef = Union[str, int, None]


def iter_layers(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.layers.Layer]]:
    """Yield ``(path, layer)`` for every layer, depth first, entering nested models.

    A nested model is yielded itself (its path is its name) and then its layers
    with paths ``"<model name>/<layer name>"``.

    Example:
        >>> [path for path, _ in iter_layers(model)][:2]
        ['input_layer', 'mobilenetv2_1.00_224']
    """
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer, prefix=f"{path}/")


def is_4d(layer: keras.layers.Layer) -> bool:
    """True when the layer outputs a feature map ``(batch, H, W, C)``."""
    if isinstance(layer, keras.Model) or isinstance(layer, keras.layers.InputLayer):
        return False
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return False
    return len(shape) == 4


def conv_layers(model: keras.Model) -> list[str]:
    """Paths of all layers with a 4-D output, from input side to output side.

    These are the layers a heatmap can be computed on (also inside a nested base).

    Example:
        >>> conv_layers(model)[-1]
        'efficientnet_lite0/top_activation'
    """
    return [path for path, layer in iter_layers(model) if is_4d(layer)]


def find_layer(model: keras.Model, ref: LayerRef) -> tuple[str, keras.layers.Layer]:
    """Return ``(path, layer)`` for a name, a path, an index or ``None``.

    - ``None``: the last layer with a 4-D output larger than 1x1 (the usual Grad-CAM layer;
      a 1x1 map, like the ``conv_preds`` head of keras MobileNet, would give a flat heatmap).
    - ``int``: an index into :func:`conv_layers` (``-1`` is the last conv layer).
    - ``str``: a path like ``"base/top_activation"`` or a plain name, searched in nested models too.

    Raises:
        ValueError: no such layer (the message lists the valid ones), or the model has no 4-D layer.

    Example:
        >>> find_layer(model, None)[0]
        'top_activation'
    """
    candidates = conv_layers(model)
    if not candidates:
        raise ValueError(
            f"Model {model.name!r} has no layer with a 4-D (batch, height, width, channels) output, "
            "so there is no feature map to explain. Heatmaps need a convolutional model."
        )
    if ref is None:
        spatial = [path for path in candidates if _spatial_size(dict(iter_layers(model))[path]) > 1]
        ref = (spatial or candidates)[-1]
    if isinstance(ref, int):
        if not -len(candidates) <= ref < len(candidates):
            raise ValueError(f"Layer index {ref} is out of range: the model has {len(candidates)} conv layers (0..{len(candidates) - 1}).")
        ref = candidates[ref]
    layers = dict(iter_layers(model))
    if ref in layers:
        return ref, layers[ref]
    matches = [path for path in layers if path.split("/")[-1] == ref]
    if len(matches) == 1:
        return matches[0], layers[matches[0]]
    if len(matches) > 1:
        raise ValueError(f"Layer name {ref!r} is ambiguous; use one of the full paths {matches}.")
    shown = candidates if len(candidates) <= 40 else candidates[:10] + ["..."] + candidates[-25:]
    raise ValueError(f"No layer named {ref!r} in model {model.name!r}. Layers with 4-D outputs: {', '.join(shown)}")


def _spatial_size(layer: keras.layers.Layer) -> int:
    height, width = layer.output.shape[1:3]
    return (height or 2) * (width or 2)  # unknown (None) sizes count as spatial
