"""Guided backpropagation and Guided Grad-CAM: gradients that pass back only through positive evidence.

- :class:`GuidedBackprop` (Springenberg et al. 2015): the gradient with every ReLU-family
  activation (ReLU, ReLU6, ``ReLU(max_value=...)``, ``Activation("relu" | "relu6")``,
  ``activation="relu" | "relu6"`` fused into a Conv or Dense layer, ``keras.ops.relu`` /
  ``relu6``) passing back only positive gradients, computed on a replayed copy of the graph.
- :class:`GuidedGradCAM` (Selvaraju et al. 2017): guided backprop times the Grad-CAM map
  of the same class, upsampled to the image.

Both are input-gradient methods (:class:`~daylib.cam.gradients.InputGradientBase`). The
sanity checks (:mod:`daylib.cam.sanity`) show why the course treats them with care: their maps
barely change when the model's weights are destroyed (Adebayo et al. 2018).

Example:
    >>> from daylib.cam import GuidedBackprop, GuidedGradCAM
    >>> maps = GuidedBackprop(model)(images)                 # (B, H, W) in [0, 1]
    >>> maps = GuidedGradCAM(model, layer="top_activation")(images)
"""
from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from daylib.cam.gradients import InputGradientBase
from daylib.cam.methods import GradCAM
from daylib.cam.registry import register
from daylib.models import compat
from daylib.models.layers import LayerRef

__all__ = ["GuidedBackprop", "GuidedGradCAM", "RELU_ACTIVATIONS", "RELU_OPERATIONS"]

RELU_ACTIVATIONS = ("relu", "relu6")
"""Names of the activation functions guided backprop treats (``Activation(...)`` or fused ``activation=``)."""

RELU_OPERATIONS = ("ReLU", "Relu", "Relu6")
"""Class names of the ReLU operations a functional graph can hold: the ``keras.layers.ReLU`` layer, and the
operations that ``keras.activations.relu``, ``keras.ops.relu`` and ``keras.ops.relu6`` record on symbolic tensors."""


@register("guided_backprop", "Guided Backprop")
class GuidedBackprop(InputGradientBase):
    """Guided backpropagation: only positive gradients pass back through each ReLU (Springenberg et al. 2015).

    At every ReLU-family activation (``ReLU``, ``ReLU6``, ``ReLU(max_value=...)``,
    ``Activation("relu" | "relu6")``, ``activation="relu" | "relu6"`` fused into a Conv or Dense
    layer, ``keras.ops.relu`` / ``relu6``) the gradient passed back is
    ``grad * (0 < input < max) * (grad > 0)``. The gradients are taken on a replayed copy of the
    model's graph (sharing its weights) with an identity after each such activation whose
    backward pass keeps ``grad > 0``; the activation's own derivative then gives the
    ``0 < input < max`` factor. The user's model is not changed. Unlike pytorch-grad-cam,
    which swaps only ``nn.ReLU``, ReLU6 networks (MobileNetV2, the bundled EfficientNet-Lite0)
    are guided too. Leaky ReLU, ELU, swish and other activations are left as they are.

    Attributes:
        guided_layers: names of the activations made guided, input side first.

    Raises:
        ValueError: the model has no ReLU-family activation (guided backprop would be Saliency).

    Example:
        >>> gb = GuidedBackprop(efficientnet_lite0())
        >>> maps = gb(images, classes=285)
        >>> len(gb.guided_layers)                    # every ReLU6 of the bundled model
        33
    """

    def __init__(self, model: keras.Model, layer: LayerRef = None, batch_size: int = 32):
        super().__init__(model, layer, batch_size)
        self._guided_model, self.guided_layers = _guided_replay(self.split.model)
        if not self.guided_layers:
            raise ValueError(
                f"Model {model.name!r} has no ReLU or ReLU6 activation, so guided backprop would equal the plain "
                "gradient: use Saliency instead."
            )

    def class_logits(self, images: tf.Tensor) -> tf.Tensor:
        """Class logits through the guided copy of the graph (the same values; guided gradients)."""
        return self.split.head.logits(self._guided_model(images, training=False)[1])

    def attributions(self, images: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The guided gradient: ``(B, K, H, W, 3)``, with the logits and classes."""
        return self.input_gradients(images, classes)

    _zero_reason = "no positive gradient reaches the image through the ReLUs"


@register("guided_gradcam", "Guided Grad-CAM")
class GuidedGradCAM(GuidedBackprop):
    """Guided Grad-CAM: guided backprop times the Grad-CAM map of the same class (Selvaraju et al. 2017).

    Per pixel and colour channel, the guided gradient is multiplied by the Grad-CAM heatmap
    (:class:`~daylib.cam.methods.GradCAM` at ``layer``, after ReLU, upsampled to the image
    and in [0, 1], as pytorch-grad-cam multiplies them), then summed as for every
    input-gradient method.

    Args:
        model, batch_size: as for :class:`GuidedBackprop`.
        layer: the Grad-CAM layer (name, path, index, or ``None`` for the last conv layer).

    Example:
        >>> maps = GuidedGradCAM(model, layer="top_activation")(images)
    """

    uses_layer = True

    def __init__(self, model: keras.Model, layer: LayerRef = None, batch_size: int = 32):
        super().__init__(model, None, batch_size)
        self.gradcam = GradCAM(model, layer)
        self.layer_path = self.gradcam.layer_path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.name!r}, layer={self.layer_path!r})"

    def _attribute(self, batch: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        guided, logits, used = super()._attribute(batch, classes)
        with warnings.catch_warnings():  # this call says it itself, once, about the images and the zero maps
            warnings.simplefilter("ignore")
            heatmaps = self.gradcam(batch, used)
        return guided * heatmaps[..., None], logits, used

    _zero_reason = (
        "Grad-CAM finds no positive evidence for that class at its layer, or no positive gradient reaches the image"
    )


class _PositiveGradient(keras.layers.Layer):
    """Identity forward; passes back only the positive part of the gradient."""

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return _positive_gradient(inputs)


@tf.custom_gradient
def _positive_gradient(x: tf.Tensor):
    return tf.identity(x), tf.nn.relu


def _is_relu(operation) -> bool:
    """A ReLU-family activation: a ReLU layer or operation without a negative slope, or relu / relu6 by name."""
    if type(operation).__name__ in RELU_OPERATIONS:
        return getattr(operation, "negative_slope", 0.0) == 0.0
    activation = getattr(operation, "activation", None)
    return getattr(activation, "__name__", None) in RELU_ACTIVATIONS


def _guided_replay(flat: keras.Model) -> tuple[keras.Model, tuple[str, ...]]:
    """A model computing ``flat``'s outputs with its own layers, each ReLU-family output followed by a guide."""
    spec = flat.inputs[0]
    image = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype)
    guided: list[str] = []

    def call(operation, *args, **kwargs):
        output = operation(*args, **kwargs)
        if not _is_relu(operation):
            return output
        guided.append(operation.name)
        return _PositiveGradient()(output)

    outputs = compat.run_through_graph(flat, image, call)
    return keras.Model(image, outputs, name=f"{flat.name}_guided"), tuple(guided)
