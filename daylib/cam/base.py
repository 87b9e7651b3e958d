"""The shared machinery of every class-activation-map method.

:class:`BaseCAM` does, for a whole batch and in one compiled TensorFlow graph:
one forward pass to the chosen layer and on to the class logits, the gradients of
the requested class scores with respect to the feature map (one backward pass
per requested class, none for methods that need no gradients), the method's
map, ReLU, bilinear upsampling to the input size and normalisation to [0, 1].
A method only says how its map is made from the feature map, as in
pytorch-grad-cam's ``BaseCAM.get_cam_weights``: most override
:meth:`BaseCAM.channel_weights`.

Shapes returned by ``cam(images, classes)``:

====================================  ==================  ===========================
``classes``                           meaning             heatmaps
====================================  ==================  ===========================
``None``                              predicted class     ``(B, H, W)``
``int``                               same for all        ``(B, H, W)``
1-D, length B                         one per image       ``(B, H, W)``
2-D ``(B, K)`` (or ``(1, K)``)        K per image         ``(B, K, H, W)``
====================================  ==================  ===========================

The class axis is present exactly when ``classes`` is 2-D (a list of lists or a
2-D array); ``(1, K)`` asks for the same K classes on every image. Images go through
:func:`daylib.data.images.to_rgb_batch` (the one image check): a single image
``(H, W, 3)`` is a batch of one, and grayscale films are repeated into three channels.

Example:
    >>> from daylib.cam import GradCAM
    >>> cam = GradCAM(model)                      # last conv layer, found automatically
    >>> maps = cam(images)                        # (B, H, W) float32 in [0, 1]
    >>> maps = cam(images, classes=[[285, 281]])  # (B, 2, H, W), one forward pass
    >>> cam.last_probabilities.shape              # (B, n_classes), for top-k displays
"""
from __future__ import annotations

import functools
import warnings
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from daylib.cam.targets import Classes, check_class_range, class_array
from daylib.data.images import to_rgb_batch
from daylib.arguments import count
from daylib.models.layers import LayerRef
from daylib.models.split import SplitModel, split_model

PREDICTED = -1
"""Class index placeholder meaning "the class the model predicts"."""


class BaseCAM:
    """Heatmaps of ``model`` at ``layer`` for a batch of images; subclasses say how the map is made.

    Args:
        model: a built functional or Sequential classifier taking RGB 0-255 images
            (nested bases are fine). It is not modified.
        layer: a layer name or path (``"base/out_relu"``), an index into the layers with
            4-D outputs (``-1`` is the last), or ``None`` for the last one.

    Attributes:
        layer_path: the path of the explained layer.
        n_classes: classes the model can be asked about (2 for a single sigmoid unit:
            0 = negative, scored by ``-logit``; 1 = positive, scored by ``+logit``).
        last_logits, last_probabilities: ``(B, n_classes)`` from the last call.
        last_classes: ``(B, K)`` class indices explained in the last call.
        last_zero_maps: ``(B, K)`` bool, True where a map was all zero (returned as zeros).

    Example:
        >>> cam = GradCAM(model, layer="top_activation")
        >>> maps = cam(images, classes=285)
    """

    needs_gradients: bool = True
    """Whether :meth:`layer_maps` uses the gradients (methods that do not skip the backward pass)."""

    def __init__(self, model: keras.Model, layer: LayerRef = None):
        self.model = model
        self.split: SplitModel = split_model(model, layer)
        self.layer_path = self.split.layer_path
        self.n_classes = self.split.head.n_classes
        self.last_logits: Optional[np.ndarray] = None
        self.last_probabilities: Optional[np.ndarray] = None
        self.last_classes: Optional[np.ndarray] = None
        self.last_zero_maps: Optional[np.ndarray] = None
        # A partial (no __code__) makes TensorFlow count traces per CAM instance, so building many
        # CAMs (a layer slider does) does not trigger its "frequent retracing" warning.
        self._explain = tf.function(functools.partial(self._explain_graph), autograph=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.name!r}, layer={self.layer_path!r})"

    @property
    def tracing_count(self) -> int:
        """How many times the computation was compiled; repeated calls with one shape reuse it.

        Example:
            >>> cam(images); cam(images); cam.tracing_count
            1
        """
        return int(self._explain.experimental_get_tracing_count())

    def __call__(self, images: np.ndarray, classes: Classes = None) -> np.ndarray:
        """Heatmaps ``(B, [K,] H, W)`` float32 in [0, 1]; see the module docstring for shapes.

        Raises:
            ImageError: images the model cannot take (shape, size, values; see
                :func:`daylib.data.images.to_rgb_batch`). It is a ValueError.
            ValueError: class indices that are not ints, do not fit the batch, or are out of range
                (see :func:`daylib.cam.targets.class_array`).

        Example:
            >>> cam(images, classes=[285, 281]).shape     # one class per image
            (2, 224, 224)
        """
        batch = to_rgb_batch(images, single=True, input_shape=self.split.input_shape, role="images")
        class_array, has_class_axis = self._class_array(classes, len(batch))
        heatmaps, zero, logits, used = self._explain(tf.constant(batch), tf.constant(class_array))
        self.last_logits = logits.numpy()
        self.last_probabilities = self.split.head.probabilities(logits).numpy()
        self.last_classes = used.numpy()
        self.last_zero_maps = zero.numpy()
        self._warn_zero_maps()
        heatmaps = heatmaps.numpy()
        return heatmaps if has_class_axis else heatmaps[:, 0]

    def top_classes(self, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Indices and probabilities ``(B, k)`` of the k most probable classes of the last call.

        Example:
            >>> cam(images); idx, prob = cam.top_classes(3)
        """
        k = count(k, "k")
        if self.last_probabilities is None:
            raise ValueError("No heatmaps computed yet: call the CAM on images first.")
        order = np.argsort(-self.last_probabilities, axis=1)[:, :k]
        return order, np.take_along_axis(self.last_probabilities, order, axis=1)

    def channel_weights(self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor) -> tf.Tensor:
        """Weights ``(B, K, C)`` of the feature-map channels, one set per requested class.

        ``activations`` is ``(B, h, w, C)``, ``gradients`` ``(B, K, h, w, C)`` (``None``
        when :attr:`needs_gradients` is False) and ``classes`` ``(B, K)``.

        Example:
            >>> class MeanGradient(BaseCAM):
            ...     def channel_weights(self, activations, gradients, classes):
            ...         return tf.reduce_mean(gradients, axis=(2, 3))
        """
        raise NotImplementedError(f"{type(self).__name__} must define channel_weights or layer_maps.")

    def layer_maps(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """Raw maps ``(B, K, h, w)`` at the layer's resolution, before ReLU and normalisation.

        The default is the weighted sum of channels, ``sum_c w_c * A_c``.

        Example:
            >>> cam.layer_maps(features, grads, classes, images).shape
            TensorShape([2, 1, 7, 7])
        """
        weights = self.channel_weights(activations, gradients, classes)
        return tf.einsum("bhwc,bkc->bkhw", activations, weights)

    def _explain_graph(self, images: tf.Tensor, classes: tf.Tensor):
        with tf.GradientTape(persistent=True) as tape:
            features, logits = self.split(images)
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)[:, None]
            classes = tf.where(classes == PREDICTED, predicted, classes)
            scores = tf.gather(logits, classes, batch_dims=1)
        gradients = self._gradients(tape, scores, features) if self.needs_gradients else None
        del tape
        maps = tf.nn.relu(self.layer_maps(features, gradients, classes, images))
        heatmaps, zero = _upsample_and_normalize(maps, tf.shape(images)[1:3])
        return heatmaps, zero, logits, classes

    def _gradients(self, tape: tf.GradientTape, scores: tf.Tensor, features: tf.Tensor) -> tf.Tensor:
        per_class = []
        for k in range(scores.shape[1]):
            only_class_k = tf.one_hot(tf.fill(tf.shape(scores)[:1], k), scores.shape[1])
            gradient = tape.gradient(scores, features, output_gradients=only_class_k)
            if gradient is None:
                raise ValueError(
                    f"The class scores do not depend on layer {self.layer_path!r}; pick a layer on the path to the output."
                )
            per_class.append(gradient)
        return tf.stack(per_class, axis=1)

    def _class_array(self, classes: Classes, batch: int) -> tuple[np.ndarray, bool]:
        if classes is None:
            return np.full((batch, 1), PREDICTED, np.int32), False
        array, has_axis = class_array(classes, batch)
        check_class_range(array, self.n_classes, self.split.head.binary)
        return array, has_axis

    def _warn_zero_maps(self) -> None:
        where = np.argwhere(self.last_zero_maps)
        if not len(where):
            return
        listed = ", ".join(f"image {b} class {self.last_classes[b, k]}" for b, k in where[:10])
        more = f" and {len(where) - 10} more" if len(where) > 10 else ""
        warnings.warn(
            f"{type(self).__name__}: {len(where)} heatmap(s) are all zero ({listed}{more}): no part of layer "
            f"{self.layer_path!r} speaks for that class (after ReLU nothing is left). They are returned as zeros; "
            "see .last_zero_maps. Try another layer or class.",
            RuntimeWarning,
            stacklevel=3,
        )


def _upsample_and_normalize(maps: tf.Tensor, size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Resize ``(B, K, h, w)`` maps to ``size`` and divide each by its max; all-zero maps stay zero."""
    shape = tf.shape(maps)
    flat = tf.reshape(maps, tf.concat([[-1], shape[2:4], [1]], axis=0))
    resized = tf.image.resize(flat, size, method="bilinear")
    resized = tf.reshape(resized, tf.concat([shape[:2], size], axis=0))
    peak = tf.reduce_max(resized, axis=(2, 3), keepdims=True)
    normalized = tf.clip_by_value(tf.math.divide_no_nan(resized, peak), 0.0, 1.0)
    return normalized, peak[:, :, 0, 0] <= 0.0
