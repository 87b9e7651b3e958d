"""Model copies with some blocks re-initialised: the randomizations behind the sanity checks.

:func:`randomization_blocks` names the default blocks (the logits, then one block per stage,
top-down), :func:`copy_model` makes a twin whose weights can be destroyed without touching the
user's model, and :func:`reinitialize` draws fresh weights for some layers of it, with each
layer's own initializer.

Example:
    >>> from daylib.cam.randomize import copy_model, randomization_blocks, reinitialize
    >>> twin = copy_model(model)
    >>> reinitialize(twin, randomization_blocks(twin)["head"], seed=0)
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import keras

from daylib.arguments import one_or_many
from daylib.models.layers import iter_layers, require_model, stage_layers

__all__ = ["randomization_blocks", "block_paths", "copy_model", "reinitialize"]


def randomization_blocks(model: keras.Model) -> dict[str, list[str]]:
    """The default blocks to re-initialise, top-down: block name -> paths of its layers with weights.

    The output layer (the logits) is the first block; then one block per stage of the network
    (:func:`daylib.models.layers.stage_layers`: the layers with weights up to the last layer of
    each resolution, named after that layer), from the top stage down to the first.

    Example:
        >>> randomization_blocks(model)
        {'head': ['head'], 'top': ['small_base/conv3'], 'add': ['small_base/conv1', 'small_base/bn1', ...]}
    """
    paths = [path for path, layer in iter_layers(require_model(model)) if _weighted(layer)]
    if not paths:
        raise ValueError(f"Model {model.name!r} has no layers with weights: there is nothing to randomise.")
    order = {path: i for i, (path, _) in enumerate(iter_layers(model))}
    try:
        stages = stage_layers(model)
    except ValueError:
        stages = []
    blocks: dict[str, list[str]] = {}
    for path in paths:
        name = next((stage.rsplit("/", 1)[-1] for stage in stages if order[stage] >= order[path]), "head")
        blocks.setdefault(name, []).append(path)
    return dict(reversed(list(blocks.items())))


def _weighted(layer: keras.layers.Layer) -> bool:
    return bool(layer.weights) and not isinstance(layer, keras.Model)


def block_paths(model: keras.Model, blocks) -> dict[str, list[str]]:
    """The blocks to re-initialise, resolved to layer paths: ``None`` gives :func:`randomization_blocks`.

    ``blocks``: a dict block name -> layer names or paths, or a list of layer names (one block
    each), top-down.

    Raises:
        ValueError: an empty list, a layer the model lacks, or a layer without weights.

    Example:
        >>> block_paths(model, ["head", "conv3"])
        {'head': ['head'], 'conv3': ['small_base/conv3']}
    """
    if blocks is None:
        return randomization_blocks(model)
    if isinstance(blocks, Mapping):
        named = {str(name): list(one_or_many(paths, f"block {name!r}")) for name, paths in blocks.items()}
    else:
        named = {str(path): [path] for path in one_or_many(blocks, "blocks")}
    if not named:
        raise ValueError("blocks is empty: pass None for the default blocks, or layer names top-down.")
    layers = dict(iter_layers(model))
    by_name = {path.rsplit("/", 1)[-1]: path for path in layers}
    out = {}
    for name, paths in named.items():
        resolved = []
        for path in paths:
            full = path if path in layers else by_name.get(str(path))
            if full is None:
                raise ValueError(
                    f"Block {name!r}: no layer {path!r} in model {model.name!r}; see randomization_blocks(model)."
                )
            if not _weighted(layers[full]):
                raise ValueError(f"Block {name!r}: layer {full!r} has no weights of its own to randomise.")
            resolved.append(full)
        if not resolved:
            raise ValueError(f"Block {name!r} names no layer.")
        out[name] = resolved
    return out


def copy_model(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with its own weights (from its config, weights copied), nested models included.

    ``keras.models.clone_model`` cannot replay some nested transfer models (see
    :mod:`daylib.models.compat`); rebuilding from the config can.

    Example:
        >>> twin = copy_model(model)
        >>> twin is not model and all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), model.get_weights()))
        True
    """
    model = require_model(model)
    twin = type(model).from_config(model.get_config())
    twin.set_weights(model.get_weights())
    return twin


def reinitialize(model: keras.Model, paths: Sequence[str], seed: Optional[int]) -> None:
    """Draw new weights, in place, for the layers at ``paths`` of ``model``, each with its own initializer.

    A layer's variable without an initializer attribute gets ``TruncatedNormal(stddev=0.01)``.
    ``seed``: the same seed gives the same weights; ``None`` draws new ones each call.

    Example:
        >>> reinitialize(twin, ["head"], seed=0)
    """
    layers = dict(iter_layers(model))
    for offset, path in enumerate(paths):
        layer = layers[path]
        for number, variable in enumerate(layer.weights):
            stream = None if seed is None else seed * 1009 + offset * 31 + number
            initializer = _initializer(layer, variable.name, stream)
            variable.assign(initializer(variable.shape, dtype=variable.dtype))


def _initializer(layer: keras.layers.Layer, name: str, seed: Optional[int]):
    base = name[: -len("_kernel")] if name.endswith("_kernel") and name != "kernel" else name
    found = getattr(layer, f"{name}_initializer", None) or getattr(layer, f"{base}_initializer", None)
    if found is None:
        return keras.initializers.TruncatedNormal(stddev=0.01, seed=seed)
    initializer = keras.initializers.get(found)
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = seed
        initializer = type(initializer).from_config(config)
    return initializer
