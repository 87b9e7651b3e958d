"""The heatmap methods: each says only how its map is made from the feature map.

Notation: ``A`` is the feature map ``(B, h, w, C)`` of the chosen layer, ``g`` the
gradient of a class logit with respect to it ``(B, K, h, w, C)``, one per requested
class. :class:`~daylib.cam.base.BaseCAM` does everything else (forward pass,
gradients, ReLU, upsampling, normalisation).

- :class:`CAM` (Zhou et al. 2016): ``w = `` the final Dense weights of the class;
  only for models whose layer feeds global average pooling and that Dense.
- :class:`GradCAM` (Selvaraju et al. 2017): ``w = mean over positions of g``.
- :class:`GradCAMPlusPlus` (Chattopadhay et al. 2018): positive gradients weighted
  per position by ``g^2 / (2 g^2 + sum(A) g^3)``.
- :class:`ScoreCAM` (Wang et al. 2020): no gradients; each channel, upsampled and
  scaled to [0, 1], masks the image, and the class probability of the masked image
  is that channel's weight. Only the highest-variance channels are used
  ("Faster Score-CAM"), and the masked images go through the model in batches.
- :class:`LayerCAM` (Jiang et al. 2021): ``map = sum_c relu(g) * A``, no pooling,
  so earlier layers give sharp maps.
- :class:`HiResCAM` (Draelos & Carin 2020): ``map = sum_c g * A``, element-wise, so
  the map shows exactly what the logit's gradient sees (Grad-CAM pools ``g`` first).
- :class:`XGradCAM` (Fu et al. 2020): ``w = sum_{h,w}(g * A) / (sum_{h,w} A + eps)``.
- :class:`EigenCAM` (Muhammad & Yeasin 2020): no gradients and no class; the projection
  of the centred activations on their first principal component.
- :class:`AblationCAM` (Desai & Ramaswamy 2020): no gradients; ``w_c = (s - s_c) / s``,
  the relative drop of the class logit ``s`` when channel ``c`` is zeroed, computed by
  running only the network after the layer on the ablated feature maps, in batches.

Each class carries ``@register(key, label)`` (:mod:`daylib.cam.registry`): that one
line puts a new method in ``daylib.cam``, ``daylib.cam.METHODS``, the explorer's
method toggle and the tests that run every method.

Example:
    >>> from daylib.cam import GradCAM, ScoreCAM
    >>> maps = GradCAM(model)(images)
    >>> maps = ScoreCAM(model, max_channels=16)(images, classes=285)
    >>> maps = AblationCAM(model, max_channels=128)(images, aug_smooth=True)
"""
from __future__ import annotations

from typing import Callable, Optional

import keras
import tensorflow as tf

from daylib.cam.base import BaseCAM, first_component, head_after_layer
from daylib.cam.registry import register
from daylib.arguments import count
from daylib.models.layers import LayerRef, conv_layers

EPSILON = 1e-7


@register("cam", "CAM")
class CAM(BaseCAM):
    """The original class activation map: the feature map weighted by the classifier's Dense weights.

    Only defined for models shaped ``layer -> GlobalAveragePooling2D -> [Dropout] -> Dense``
    (e.g. ``Sequential([base, GlobalAveragePooling2D(), Dense(n)])``), explained at the
    layer that feeds the pooling. On such models it equals Grad-CAM up to scale.

    Raises:
        ValueError: the model (or the chosen layer) does not have that shape; use GradCAM.

    Example:
        >>> maps = CAM(model)(images, classes=285)
    """

    needs_gradients = False

    def __init__(self, model: keras.Model, layer: LayerRef = None):
        super().__init__(model, layer)
        if not self.split.pooled_dense:
            raise ValueError(
                f"CAM needs the layer {self.layer_path!r} to feed GlobalAveragePooling2D and then the final Dense "
                "layer directly (dropout in between is fine), e.g. Sequential([base, GlobalAveragePooling2D(), Dense(n)]). "
                "This model or layer is not shaped like that: use GradCAM, which equals CAM on such models and works on any."
            )

    def channel_weights(self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor) -> tf.Tensor:
        """Rows of the Dense kernel for the requested classes: ``(B, K, C)``."""
        return tf.gather(tf.transpose(self.split.head.class_weights()), classes)


@register("gradcam", "Grad-CAM")
class GradCAM(BaseCAM):
    """Grad-CAM: channels weighted by the spatial mean of the class logit's gradient.

    Example:
        >>> maps = GradCAM(model, layer="top_activation")(images)
    """

    def channel_weights(self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor) -> tf.Tensor:
        """``mean_{h,w} g``: ``(B, K, C)``."""
        return tf.reduce_mean(gradients, axis=(2, 3))


@register("gradcam++", "Grad-CAM++")
class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++: positive gradients, each position weighted so several objects all count.

    The weights assume a layer after a ReLU (non-negative activations). At a layer
    without one (an ``Add``, a linear conv, ``block5c_add``), ``sum(A)`` can be large and
    negative and ``g^2`` about the size of epsilon, so the map is mostly epsilon. The
    rule: when the layer's output has a negative value anywhere in the batch, the call
    warns (UserWarning) and suggests a layer after a ReLU, e.g. the last activation.

    Example:
        >>> maps = GradCAMPlusPlus(model)(images)
    """

    def channel_weights(self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor) -> tf.Tensor:
        """``sum_{h,w} relu(g) * g^2 / (2 g^2 + sum_{h,w}(A) g^3)``: ``(B, K, C)``."""
        squared = tf.square(gradients)
        activation_sum = tf.reduce_sum(activations, axis=(1, 2))[:, None, None, None, :]
        alpha = squared / (2.0 * squared + activation_sum * squared * gradients + EPSILON)
        alpha = tf.where(gradients != 0.0, alpha, 0.0)
        return tf.reduce_sum(tf.nn.relu(gradients) * alpha, axis=(2, 3))

    def layer_unsuitable(self, activations: tf.Tensor) -> tf.Tensor:
        """True when the layer's output has a negative value in this batch (no ReLU before it)."""
        return tf.reduce_any(activations < 0.0)

    def layer_advice(self) -> str:
        """Names the layer and suggests a layer after a ReLU."""
        return (
            f"GradCAMPlusPlus at layer {self.layer_path!r}: its output has negative values (no ReLU before it), so "
            "the activation sums can be large and negative, the squared gradients are about the size of epsilon and "
            "the map is mostly epsilon. Pick a layer after a ReLU, e.g. the last activation "
            f"{conv_layers(self.model)[-1]!r}, or use GradCAM here."
        )


@register("scorecam", "Score-CAM")
class ScoreCAM(BaseCAM):
    """Score-CAM without gradients, capped to the most varied channels and batched.

    Each kept channel, upsampled to the image and min-max scaled to [0, 1], masks the
    image; the class probability of the masked image is the channel's weight. The
    ``B * max_channels`` masked images of a batch go through the model ``batch_size`` at
    a time, each chunk built from its (image, channel) pairs when it runs.

    Args:
        model, layer: as for every CAM.
        max_channels: use only this many channels per image, those whose activation
            varies most over the image ("Faster Score-CAM"); ``None`` uses all (slow:
            one forward pass per channel and image).
        batch_size: masked images per forward pass.

    Example:
        >>> maps = ScoreCAM(model, max_channels=32)(images)   # 32 forward passes per image, batched
    """

    needs_gradients = False

    def __init__(self, model: keras.Model, layer: LayerRef = None, max_channels: Optional[int] = 32, batch_size: int = 32):
        max_channels = None if max_channels is None else count(max_channels, "max_channels")
        batch_size = count(batch_size, "batch_size", example=32)
        super().__init__(model, layer)
        self.max_channels, self.batch_size = max_channels, batch_size

    def weighted_activations(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """Kept channels times the class probability of the image masked with each: ``(B, K, h, w, kept)``."""
        top = _top_channels(tf.math.reduce_variance(activations, axis=(1, 2)), self.max_channels)
        chosen = tf.gather(activations, top, axis=-1, batch_dims=1)
        by_channel = tf.transpose(chosen, (0, 3, 1, 2))  # (B, kept, h, w)
        size = tf.shape(images)[1:3]

        def masked(image_index: tf.Tensor, channel: tf.Tensor) -> tf.Tensor:
            maps = tf.gather_nd(by_channel, tf.stack([image_index, channel], axis=1))[..., None]
            masks = tf.image.resize(maps, size, method="bilinear")
            low = tf.reduce_min(masks, axis=(1, 2), keepdims=True)
            masks = tf.math.divide_no_nan(masks - low, tf.reduce_max(masks, axis=(1, 2), keepdims=True) - low)
            return self.split.head.probabilities(self.split(masks * tf.gather(images, image_index))[1])

        probabilities = _per_channel(masked, activations.shape[0], chosen.shape[-1], self.batch_size)
        weights = tf.gather(probabilities, classes, axis=2, batch_dims=1)  # (B, kept, K)
        return chosen[:, None] * tf.transpose(weights, (0, 2, 1))[:, :, None, None, :]


@register("layercam", "LayerCAM")
class LayerCAM(BaseCAM):
    """LayerCAM: each position weighted by its own positive gradient, good for early layers.

    Example:
        >>> maps = LayerCAM(model, layer=conv_layers(model)[-10])(images)
    """

    def weighted_activations(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """``relu(g) * A``: ``(B, K, h, w, C)``; the map is its sum over channels."""
        return tf.nn.relu(gradients) * activations[:, None]


@register("hirescam", "HiResCAM")
class HiResCAM(BaseCAM):
    """HiResCAM: the gradient times the activation, element-wise, summed over channels.

    Unlike Grad-CAM it does not average the gradient over positions first, so the map
    is exactly what the class logit's gradient credits to each position (Draelos & Carin 2020).

    Example:
        >>> maps = HiResCAM(model)(images, classes=285)
    """

    def weighted_activations(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """``g * A``: ``(B, K, h, w, C)``; the map is its sum over channels."""
        return gradients * activations[:, None]


@register("xgradcam", "XGrad-CAM")
class XGradCAM(BaseCAM):
    """XGrad-CAM: channels weighted by the activation-weighted mean of their gradient (Fu et al. 2020).

    As pytorch-grad-cam's ``xgrad_cam.py``: ``w = sum_{h,w}(g * A) / (sum_{h,w} A + 1e-7)``.

    Example:
        >>> maps = XGradCAM(model)(images)
    """

    def channel_weights(self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor) -> tf.Tensor:
        """``sum_{h,w}(g * A) / (sum_{h,w} A + eps)``: ``(B, K, C)``."""
        activation_sum = tf.reduce_sum(activations, axis=(1, 2))[:, None]
        return tf.reduce_sum(gradients * activations[:, None], axis=(2, 3)) / (activation_sum + EPSILON)


@register("eigencam", "Eigen-CAM")
class EigenCAM(BaseCAM):
    """Eigen-CAM: the activations projected on their first principal component; no gradients, no class.

    As pytorch-grad-cam's ``get_2d_projection`` (positions are samples, centred per
    channel), with the sign chosen so the map correlates positively with the channel sum
    of the activations. The map is the same for every class: ``classes`` only say which
    class ``last_logits`` and ``last_probabilities`` are read for; ``eigen_smooth`` changes nothing.

    Example:
        >>> maps = EigenCAM(model)(images)
    """

    needs_gradients = False

    def weighted_activations(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """The activations themselves, once per requested class: ``(B, K, h, w, C)``."""
        return tf.broadcast_to(activations[:, None], tf.concat([tf.shape(classes)[:2], tf.shape(activations)[1:]], 0))

    def layer_maps(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """The first-component projection of the activations, for every class: ``(B, K, h, w)``."""
        projection = first_component(activations[:, None])
        return tf.tile(projection, tf.stack([1, tf.shape(classes)[1], 1, 1]))


@register("ablationcam", "Ablation-CAM")
class AblationCAM(BaseCAM):
    """Ablation-CAM: a channel's weight is how much the class logit drops without it (Desai & Ramaswamy 2020).

    As pytorch-grad-cam's ``ablation_cam.py``: ``w_c = (s - s_c) / s``, where ``s`` is the
    class logit and ``s_c`` the logit with channel ``c`` of the feature map set to zero.
    Only the network after the layer runs on the ablated copies
    (:func:`~daylib.cam.base.head_after_layer`), ``batch_size`` copies at a time, across the
    images of the batch; one set of ablations serves every requested class. A logit of
    exactly zero gives weights 0 (no NaN).

    Args:
        model, layer: as for every CAM; the output must reach the image only through the
            layer (no residual connection skipping it).
        max_channels: ablate only this many channels per image, those with the largest
            mean absolute activation (the others get weight 0, as pytorch-grad-cam gives the
            channels it skips); ``None`` ablates all (``B * C`` head passes).
        batch_size: ablated feature maps per pass of the network after the layer.

    Example:
        >>> maps = AblationCAM(model, max_channels=None)(images)     # every channel of top_activation
    """

    needs_gradients = False

    def __init__(
        self, model: keras.Model, layer: LayerRef = None, max_channels: Optional[int] = 128, batch_size: int = 128
    ):
        max_channels = None if max_channels is None else count(max_channels, "max_channels")
        batch_size = count(batch_size, "batch_size", example=128)
        super().__init__(model, layer)
        self.max_channels, self.batch_size = max_channels, batch_size
        self.head = head_after_layer(self.split)

    def channel_weights(self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor) -> tf.Tensor:
        """``(s - s_c) / s`` for the ablated channels, 0 for the others: ``(B, K, C)``."""
        channels = activations.shape[-1]
        top = _top_channels(tf.reduce_mean(tf.abs(activations), axis=(1, 2)), self.max_channels)

        def ablated(image_index: tf.Tensor, channel: tf.Tensor) -> tf.Tensor:
            keep = 1.0 - tf.one_hot(tf.gather_nd(top, tf.stack([image_index, channel], axis=1)), channels)
            return self.head(tf.gather(activations, image_index) * keep[:, None, None, :])

        scores = tf.gather(self.head(activations), classes, batch_dims=1)[:, :, None]  # (B, K, 1)
        logits = _per_channel(ablated, activations.shape[0], top.shape[-1], self.batch_size)
        ablated_scores = tf.transpose(tf.gather(logits, classes, axis=2, batch_dims=1), (0, 2, 1))  # (B, K, kept)
        drop = tf.math.divide_no_nan(scores - ablated_scores, scores)
        return tf.einsum("bkn,bnc->bkc", drop, tf.one_hot(top, channels))


def _top_channels(strength: tf.Tensor, max_channels: Optional[int]) -> tf.Tensor:
    """Indices ``(B, kept)`` of each image's strongest channels by ``strength`` ``(B, C)``; all when uncapped."""
    channels = strength.shape[-1]
    keep = channels if max_channels is None else min(max_channels, channels)
    return tf.math.top_k(strength, k=keep).indices


def _per_channel(
    run: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], images: int, channels: int, batch_size: int
) -> tf.Tensor:
    """``run(image_indices, channel_slots)`` over every (image, kept channel) pair, ``batch_size`` pairs at a time.

    The pairs of all images are chunked together, so only the last chunk is short (it is
    filled up with repeats, dropped after); returns the outputs ``(images, channels, ...)``.
    """
    total = images * channels
    size = min(batch_size, total)
    chunks = -(-total // size)
    pairs = tf.range(chunks * size) % total
    image_index, channel = tf.reshape(pairs // channels, (chunks, size)), tf.reshape(pairs % channels, (chunks, size))
    # One chunk at a time (see daylib.cam.gradients.InputGradientBase.input_gradients for why).
    outputs = tf.map_fn(lambda pair: run(*pair), (image_index, channel), fn_output_signature=tf.float32,
                        parallel_iterations=1)
    outputs = tf.reshape(outputs, (chunks * size, -1))[:total]
    return tf.reshape(outputs, (images, channels, -1))
