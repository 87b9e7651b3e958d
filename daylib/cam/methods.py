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

Each class carries ``@register(key, label)`` (:mod:`daylib.cam.registry`): that one
line puts a new method in ``daylib.cam``, ``daylib.cam.METHODS``, the explorer's
method toggle and the tests that run every method.

Example:
    >>> from daylib.cam import GradCAM, ScoreCAM
    >>> maps = GradCAM(model)(images)
    >>> maps = ScoreCAM(model, max_channels=16)(images, classes=285)
"""
from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from daylib.cam.base import BaseCAM
from daylib.cam.registry import register
from daylib.arguments import count
from daylib.models.layers import LayerRef

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


@register("scorecam", "Score-CAM")
class ScoreCAM(BaseCAM):
    """Score-CAM without gradients, capped to the most varied channels and batched.

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

    def layer_maps(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """Channels weighted by the class probability of the image masked with each: ``(B, K, h, w)``."""
        return tf.map_fn(self._one_image, (images, activations, classes), fn_output_signature=tf.float32)

    def _one_image(self, args: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
        image, activation, classes = args
        channels = activation.shape[-1]
        keep = channels if self.max_channels is None else min(self.max_channels, channels)
        top = tf.math.top_k(tf.math.reduce_variance(activation, axis=(0, 1)), k=keep).indices
        chosen = tf.gather(activation, top, axis=-1)
        masks = tf.image.resize(chosen[None], tf.shape(image)[:2], method="bilinear")[0]
        low = tf.reduce_min(masks, axis=(0, 1))
        masks = tf.math.divide_no_nan(masks - low, tf.reduce_max(masks, axis=(0, 1)) - low)
        masked = tf.transpose(masks, (2, 0, 1))[..., None] * image[None]
        probabilities = self._probabilities(masked, keep)
        weights = tf.gather(probabilities, classes, axis=1)
        return tf.einsum("hwn,nk->khw", chosen, weights)

    def _probabilities(self, masked: tf.Tensor, count: int) -> tf.Tensor:
        size = min(self.batch_size, count)
        chunks = -(-count // size)
        padded = tf.pad(masked, [[0, chunks * size - count], [0, 0], [0, 0], [0, 0]])
        batches = tf.reshape(padded, tf.concat([[chunks, size], tf.shape(masked)[1:]], axis=0))

        def forward(batch: tf.Tensor) -> tf.Tensor:
            return self.split.head.probabilities(self.split(batch)[1])

        probabilities = tf.map_fn(forward, batches, fn_output_signature=tf.float32)
        return tf.reshape(probabilities, (chunks * size, -1))[:count]


@register("layercam", "LayerCAM")
class LayerCAM(BaseCAM):
    """LayerCAM: each position weighted by its own positive gradient, good for early layers.

    Example:
        >>> maps = LayerCAM(model, layer=conv_layers(model)[-10])(images)
    """

    def layer_maps(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """``sum_c relu(g) * A``: ``(B, K, h, w)``."""
        return tf.reduce_sum(tf.nn.relu(gradients) * activations[:, None], axis=-1)
