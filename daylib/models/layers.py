"""Find the layers of a Keras model that heatmaps and fine-tuning care about.

Transfer models usually *nest* their base (``Sequential([base, GAP, Dense])``
or ``x = base(inputs)``), so the conv layers a reader wants to look at are not
in ``model.layers``. These helpers walk into nested models and name each layer
by its path, e.g. ``"efficientnet_lite0/top_activation"``.

The rules about a model's structure live here, each once: listing and finding layers,
the layers worth showing (:func:`feature_layers`, :func:`stage_layers`), the nested base
(:func:`base_model`), and the head that :func:`daylib.models.build_classifier` creates and
training reads (:data:`HEAD_LAYERS`, :func:`head_layers`, :func:`augmentation_layers`).

Example:
    >>> from daylib.models.layers import conv_layers
    >>> names = conv_layers(model)        # early to late, nested bases included
    >>> layer = find_layer(model, names[-1])
"""
from __future__ import annotations

import numbers
from typing import Iterable, Iterator, Union

import keras

__all__ = [
    "LayerRef", "HEAD_LAYERS", "iter_layers", "is_4d", "conv_layers", "find_layer", "layer_ref", "require_model",
    "short_list",
    "feature_layers", "stage_layers", "base_model", "head_layers", "augmentation_layers",
]

LayerRef = Union[str, int, None]

HEAD_LAYERS = ("avg_pool", "head_dropout", "predictions")
"""The head :func:`daylib.models.build_classifier` puts on a base, by layer name, in order:
global average pooling, dropout, the dense classifier. Cached phase-1 training relies on it."""

BLOCK_STEPS = (
    keras.layers.BatchNormalization, keras.layers.LayerNormalization,
    keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU, keras.layers.PReLU, keras.layers.ELU,
    keras.layers.Add, keras.layers.Subtract, keras.layers.Concatenate, keras.layers.Multiply,
    keras.layers.Average, keras.layers.Maximum, keras.layers.Minimum,
)
"""Layers that finish what the layer before them started: normalisation, activation, merging."""

SHAPE_UTILITIES = (
    keras.layers.ZeroPadding2D, keras.layers.Cropping2D, keras.layers.Rescaling, keras.layers.Normalization,
    keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise, keras.layers.Identity,
)
"""4-D layers that only pad, crop, scale or (in training) perturb their input: no features of their own."""


def require_model(model: object) -> keras.Model:
    """``model`` itself when it is a Keras model; else a ValueError naming what was passed.

    Example:
        >>> require_model("efficientnet_lite0")
        Traceback (most recent call last):
        ValueError: Expected a keras.Model, got 'efficientnet_lite0'. Build one first, e.g. ...
    """
    if not isinstance(model, keras.Model):
        shown = repr(model) if isinstance(model, (str, type(None))) else f"a {type(model).__name__}"
        raise ValueError(
            f"Expected a keras.Model, got {shown:.80}. Build one first, e.g. "
            "daylib.models.efficientnet_lite0() or daylib.models.build_classifier(...)."
        )
    return model


def layer_ref(ref: object) -> LayerRef:
    """Check a layer reference: ``None``, an int index (NumPy ints too) or a name/path string.

    Raises:
        ValueError: a bool (``True`` would be index 1), a float (``1.5``), a list or any other
            type; the message says what a layer reference is.

    Example:
        >>> layer_ref(np.int64(-1)), layer_ref("top_activation")
        (-1, 'top_activation')
    """
    if ref is None or isinstance(ref, str):
        return ref
    if isinstance(ref, numbers.Integral) and not isinstance(ref, bool):
        return int(ref)
    raise ValueError(
        f"layer must be a layer name or path (e.g. 'top_activation'), an int index into the layers with 4-D "
        f"outputs (-1 is the last) or None for the last; got {ref!r} ({type(ref).__name__})."
    )


def iter_layers(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.layers.Layer]]:
    """Yield ``(path, layer)`` for every layer, depth first, entering nested models.

    A nested model is yielded itself (its path is its name) and then its layers
    with paths ``"<model name>/<layer name>"``.

    Raises:
        ValueError: ``model`` is not a Keras model (see :func:`require_model`).

    Example:
        >>> [path for path, _ in iter_layers(model)][:2]
        ['input_layer', 'mobilenetv2_1.00_224']
    """
    for layer in require_model(model).layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer, prefix=f"{path}/")


def is_4d(layer: keras.layers.Layer) -> bool:
    """True when the layer outputs a feature map ``(batch, H, W, C)``.

    Example:
        >>> is_4d(keras.layers.Conv2D(8, 3))    # never called: no output yet
        False
    """
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
        ValueError: no such layer (the message lists the valid ones), a reference that is not
            one of the three kinds (see :func:`layer_ref`), or the model has no 4-D layer.

    Example:
        >>> find_layer(model, None)[0]
        'top_activation'
    """
    ref = layer_ref(ref)
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
    raise ValueError(f"No layer named {ref!r} in model {model.name!r}. Layers with 4-D outputs: {short_list(candidates)}")


def short_list(names: list[str]) -> str:
    """A list of layer paths for an error message: all of them, or the first 10 and last 25.

    Example:
        >>> short_list(["a", "b"])
        'a, b'
    """
    shown = names if len(names) <= 40 else names[:10] + ["..."] + names[-25:]
    return ", ".join(shown)


def _spatial_size(layer: keras.layers.Layer) -> int:
    height, width = layer.output.shape[1:3]
    return (height or 2) * (width or 2)  # unknown (None) sizes count as spatial


def feature_layers(model: keras.Model) -> list[str]:
    """Paths of the layers worth looking at, early to late: where a block hands its features on.

    Of all layers with a 4-D output (:func:`daylib.models.layers.conv_layers`) a layer is
    left out when it is an unfinished step, i.e. every layer that reads it normalises,
    activates or merges it (a linear conv before its BatchNormalization, that BatchNormalization
    before its ReLU, the last BN of a residual branch before its Add), or when it only pads,
    crops, rescales or drops out. What stays are activations, pooling layers, residual
    adds, and the linear outputs of blocks without a shortcut (e.g. ``block1a_project_bn``).
    The last 4-D layer, the usual Grad-CAM layer, is always included.

    Example:
        >>> layers = feature_layers(efficientnet_lite0())
        >>> layers[0], layers[-1], len(layers)
        ('stem_activation', 'top_activation', 49)
    """
    layers = dict(iter_layers(model))
    readers = _readers(layers.values())
    every = conv_layers(model)
    kept = []
    for path in every:
        layer = layers[path]
        unfinished = bool(readers[id(layer)]) and all(isinstance(reader, BLOCK_STEPS) for reader in readers[id(layer)])
        if path == every[-1] or not (unfinished or isinstance(layer, SHAPE_UTILITIES)):
            kept.append(path)
    return kept


def _readers(layers: Iterable[keras.layers.Layer]) -> dict[int, list[keras.layers.Layer]]:
    """For each layer (by id), the layers of the same (nested) model that read its output."""
    layers = list(layers)
    producers = {}
    for layer in layers:
        for tensor in _node_tensors(layer, "output"):
            producers[id(tensor)] = layer
    readers: dict[int, list[keras.layers.Layer]] = {id(layer): [] for layer in layers}
    for layer in layers:
        for tensor in _node_tensors(layer, "input"):
            if id(tensor) in producers:
                readers[id(producers[id(tensor)])].append(layer)
    return readers


def _node_tensors(layer: keras.layers.Layer, which: str) -> list:
    """The input or output tensors of a layer's first call (none for a layer never called)."""
    try:
        return keras.tree.flatten(getattr(layer, which))
    except (AttributeError, ValueError):
        return []


def stage_layers(model: keras.Model) -> list[str]:
    """The last feature layer at each spatial resolution, early to late: one per stage of the network.

    A good default for static figures: each step halves the resolution and sees a larger
    part of the image (edges, textures, parts, objects).

    Example:
        >>> stage_layers(efficientnet_lite0())
        ['block2a_expand_activation', 'block3a_expand_activation', 'block4a_expand_activation',
         'block6a_expand_activation', 'top_activation']
    """
    layers = dict(iter_layers(model))
    paths = feature_layers(model)
    sizes = [tuple(layers[path].output.shape[1:3]) for path in paths]
    return [path for path, size, after in zip(paths, sizes, sizes[1:] + [None]) if size != after]


def base_model(model: keras.Model) -> keras.Model:
    """Return the nested pretrained base of a transfer model (the largest nested model).

    Raises:
        ValueError: the model has no nested base (it was not built by :func:`build_classifier`
            or the usual ``x = base(inputs)`` pattern).

    Example:
        >>> base_model(model).name
        'efficientnet_lite0'
    """
    base = _largest_nested(require_model(model))
    if base is None:
        raise ValueError(
            f"Model {model.name!r} has no nested base model to freeze or unfreeze. Build it with "
            "daylib.models.build_classifier, or as x = base(inputs, training=False)."
        )
    return base


def _largest_nested(model: keras.Model):
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return max(nested, key=lambda m: len(m.layers)) if nested else None


def head_layers(model: keras.Model) -> tuple[keras.layers.Layer, keras.layers.Layer, keras.layers.Layer]:
    """The ``avg_pool``, ``head_dropout`` and ``predictions`` layers of a :func:`build_classifier` model.

    Raises:
        ValueError: the model lacks one of them (the message says to train with ``cached=False``).

    Example:
        >>> pool, dropout, dense = head_layers(model)
    """
    names = [layer.name for layer in require_model(model).layers]
    missing = [name for name in HEAD_LAYERS if name not in names]
    if missing:
        raise ValueError(
            f"Model {model.name!r} has no {missing} layer(s): cached features need the head of "
            "daylib.models.build_classifier (avg_pool -> head_dropout -> predictions). "
            "Train this model with cached=False."
        )
    return tuple(model.get_layer(name) for name in HEAD_LAYERS)


RANDOM_AUGMENTATIONS = (
    keras.layers.RandomFlip, keras.layers.RandomRotation, keras.layers.RandomZoom, keras.layers.RandomTranslation,
    keras.layers.RandomContrast, keras.layers.RandomBrightness,
)
"""Keras's random augmentation layers that pass images through unchanged at inference."""


def is_random_augmentation(layer: keras.layers.Layer) -> bool:
    """True for a random augmentation layer, or a Sequential made only of them (identity at inference).

    Example:
        >>> is_random_augmentation(daylib.data.pipeline.augmentation())
        True
    """
    if isinstance(layer, keras.Sequential):
        return bool(layer.layers) and all(is_random_augmentation(inner) for inner in layer.layers)
    return isinstance(layer, RANDOM_AUGMENTATIONS)


def augmentation_layers(model: keras.Model) -> list[str]:
    """Names of the layers between the input and the base (augmentation, active in training only).

    Example:
        >>> augmentation_layers(build_classifier(base, 2, augmentation=augmentation()))
        ['augmentation']
    """
    base = _largest_nested(require_model(model))
    return [
        layer.name for layer in model.layers
        if layer is not base and layer.name not in HEAD_LAYERS and not isinstance(layer, keras.layers.InputLayer)
    ]
