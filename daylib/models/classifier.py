"""Transfer models: a pretrained base with a new head, and the freeze/unfreeze recipe.

The model is built the way the Keras guide does it, with the base *nested* and
called in inference mode::

    inputs -> [augmentation] -> base(x, training=False) -> GAP -> Dropout -> Dense

``training=False`` keeps every BatchNormalization layer of the base on its
ImageNet statistics even after :func:`unfreeze`, which is what stops
fine-tuning from wrecking the features in its first steps. After changing
``trainable`` a model must be compiled again (``daylib.training`` does it).

Example:
    >>> model = build_classifier("efficientnet_lite0", num_classes=2, input_shape=(224, 224, 3))
    >>> freeze(model)                      # phase 1: train the head only
    >>> unfreeze(model, top_n=20)          # phase 2: fine-tune the top 20 layers of the base
"""
from __future__ import annotations

import numbers
from typing import Optional, Union

import keras

from daylib.arguments import count, fraction, image_shape
from daylib.models.backbones import BACKBONES, get_spec
from daylib.models.backbones import backbone as build_backbone
from daylib.models.layers import base_model, iter_layers

__all__ = ["build_classifier", "base_model", "freeze", "unfreeze", "trainable_layer_names"]


def build_classifier(
    base: Union[str, keras.Model],
    num_classes: int,
    *,
    input_shape: Optional[tuple[int, int, int]] = None,
    weights: Optional[str] = "imagenet",
    dropout: float = 0.2,
    augmentation: Optional[keras.layers.Layer] = None,
    name: Optional[str] = None,
) -> keras.Model:
    """Put a new classification head on a pretrained (or fresh) base; the base starts frozen.

    Head: global average pooling (``avg_pool``), dropout (``head_dropout``), dense
    (``predictions``). With ``num_classes == 2`` the head is **one sigmoid unit**
    (output = P(class 1)); otherwise ``num_classes`` softmax units.

    Args:
        base: a registry name (see ``daylib.models.backbones.BACKBONES``) or a Keras model
            that maps RGB 0-255 images to a 4-D feature map.
        num_classes: number of classes (>= 2).
        input_shape: image shape; default: the base's.
        weights: ``"imagenet"`` or ``None``, used when ``base`` is a name.
        dropout: dropout rate before the dense layer.
        augmentation: optional layer/model applied to the images (active in training only).
        name: model name; default ``"<base>_classifier"``.

    Raises:
        ValueError: ``num_classes`` below 2 or not a whole number, ``dropout`` outside [0, 1),
            a base that is neither a registry name nor a Keras model with a 4-D output, an
            ``input_shape`` that is not ``(H, W, 3)`` or differs from a base built at a fixed
            size, or an ``augmentation`` that is not a layer.

    Example:
        >>> model = build_classifier("mobilenet_v2", 3, input_shape=(96, 96, 3), weights=None)
        >>> model.output_shape
        (None, 3)
    """
    num_classes = count(num_classes, "num_classes", minimum=2)
    dropout = fraction(dropout, "dropout", open_high=True, example="0.2")
    input_shape = None if input_shape is None else image_shape(input_shape)
    if augmentation is not None and not callable(augmentation):
        raise ValueError(
            f"augmentation must be a Keras layer or model (e.g. daylib.data.pipeline's augmentation), got {augmentation!r:.60}."
        )
    if isinstance(base, str):
        spec = get_spec(base)
        shape = input_shape or (spec.default_size, spec.default_size, 3)
        base = build_backbone(base, weights=weights, input_shape=shape, include_top=False)
    if not isinstance(base, keras.Model):
        raise ValueError(
            f"base must be a backbone name ({', '.join(BACKBONES)}) or a keras.Model, got {base!r:.60}."
        )
    if not getattr(base, "outputs", None):
        raise ValueError(
            f"The base model {base.name!r} has never been called, so its output shape is unknown. Give a "
            "Sequential base an input first: keras.Sequential([keras.Input((160, 160, 3)), ...])."
        )
    output_shape = base.outputs[0].shape
    if len(output_shape) != 4:
        raise ValueError(
            f"The base model {base.name!r} outputs shape {output_shape}; it must output a 4-D feature map. "
            "Build it with include_top=False and pooling=None."
        )
    fixed = tuple(base.inputs[0].shape[1:])
    if input_shape is not None and any(f is not None and f != s for f, s in zip(fixed, input_shape)):
        raise ValueError(
            f"The base {base.name!r} takes images {fixed}, but input_shape is {input_shape}: build the base at "
            "that size (e.g. daylib.models.backbone(name, input_shape=...)) or leave input_shape out."
        )
    shape = tuple(input_shape or fixed)
    base.trainable = False
    inputs = keras.Input(shape=shape, name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    units, activation = (1, "sigmoid") if num_classes == 2 else (num_classes, "softmax")
    outputs = keras.layers.Dense(units, activation=activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"{base.name}_classifier")


def freeze(model: keras.Model) -> keras.Model:
    """Freeze the whole base (phase 1, feature extraction); the head stays trainable.

    Compile the model again afterwards: Keras reads ``trainable`` at compile time.

    Example:
        >>> freeze(model).get_layer("predictions").trainable
        True
    """
    base_model(model).trainable = False
    return model


def unfreeze(
    model: keras.Model,
    fine_tune_at: Union[int, str, None] = None,
    top_n: Optional[int] = None,
) -> list[str]:
    """Unfreeze the top of the base for fine-tuning (phase 2). Returns the unfrozen layer names.

    Give exactly one of:
        fine_tune_at: index into ``base.layers`` (or a layer name) of the first layer to train;
            everything from it to the end of the base is unfrozen.
        top_n: unfreeze the last ``top_n`` layers of ``base.layers``.

    BatchNormalization layers always stay frozen (and, because the base is called with
    ``training=False``, in inference mode), as the Keras fine-tuning guide recommends.
    Note that layer counts include layers without weights (activations, adds, padding):
    on Keras's MobileNetV2 (154 layers), ``layers[100:]`` is 54 layers, not "the last 20";
    here BN layers are skipped too, so the returned list is shorter still.
    Compile again afterwards, with a low learning rate.

    Example:
        >>> names = unfreeze(model, top_n=20)
        >>> len(names) <= 20
        True
    """
    if (fine_tune_at is None) == (top_n is None):
        raise ValueError("Give exactly one of fine_tune_at (first layer to train) or top_n (how many top layers).")
    base = base_model(model)
    layers = base.layers
    if top_n is not None:
        start = len(layers) - count(top_n, "top_n", maximum=len(layers), example=20)
    elif isinstance(fine_tune_at, str):
        names = [layer.name for layer in layers]
        if fine_tune_at not in names:
            raise ValueError(f"No layer {fine_tune_at!r} in base {base.name!r}; see base_model(model).summary().")
        start = names.index(fine_tune_at)
    else:
        if isinstance(fine_tune_at, bool) or not isinstance(fine_tune_at, numbers.Integral):
            raise ValueError(
                f"fine_tune_at must be a layer index of the base (an int) or a layer name, got {fine_tune_at!r}."
            )
        if not -len(layers) <= fine_tune_at < len(layers):
            raise ValueError(f"fine_tune_at={fine_tune_at} is outside the base's {len(layers)} layers.")
        start = int(fine_tune_at) % len(layers)
    base.trainable = True
    unfrozen = []
    for index, layer in enumerate(layers):
        train = index >= start and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = train
        if train:
            unfrozen.append(layer.name)
    return unfrozen


def trainable_layer_names(model: keras.Model) -> list[str]:
    """Names (paths) of layers that own trainable weights, nested base included.

    Example:
        >>> trainable_layer_names(freeze(model))
        ['predictions']
    """
    return [
        path
        for path, layer in iter_layers(model)
        if not isinstance(layer, keras.Model) and layer.trainable_weights
    ]
