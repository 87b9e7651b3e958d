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

Two smoothings, as pytorch-grad-cam defines them, are keyword arguments of every call:

- ``aug_smooth=True``: test-time augmentation with pytorch-grad-cam's own ttach set,
  horizontal flip (off, on) times pixel multiplication by (0.9, 1.0, 1.1), i.e. 6 copies
  of each image. The pixels are 0-255 here, so the multiplied copies are clipped to
  [0, 255]. All copies go through the model as one batch, each map is normalised, flipped
  back and the 6 are averaged; the mean is normalised again so it peaks at 1.
  ``classes=None`` means the class predicted on the original image, for every copy.
- ``eigen_smooth=True``: the map is the projection of the weighted activations
  (``A * w`` for a channel-weight method, :meth:`BaseCAM.weighted_activations`) on their
  first principal component, per image and class (positions are the samples, centred
  per channel, as pytorch-grad-cam's ``get_2d_projection``), instead of their sum over
  channels. SVD leaves the sign open: it is chosen so the projection correlates
  positively with the unsmoothed map (the channel sum).

Each setting of the two is compiled once (one graph per setting and batch shape).

Example:
    >>> from daylib.cam import GradCAM
    >>> cam = GradCAM(model)                      # last conv layer, found automatically
    >>> maps = cam(images)                        # (B, H, W) float32 in [0, 1]
    >>> maps = cam(images, classes=[[285, 281]])  # (B, 2, H, W), one forward pass
    >>> cam.last_probabilities.shape              # (B, n_classes), for top-k displays
    >>> smooth = cam(images, aug_smooth=True, eigen_smooth=True)
"""
from __future__ import annotations

import functools
import warnings
from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf

from daylib.cam.targets import Classes, check_class_range, class_array
from daylib.data.images import to_rgb_batch
from daylib.arguments import count, flag
from daylib.models.layers import LayerRef
from daylib.models.split import SplitModel, split_model

PREDICTED = -1
"""Class index placeholder meaning "the class the model predicts"."""

AUGMENTATIONS = tuple((flip, factor) for flip in (False, True) for factor in (1.0, 0.9, 1.1))
"""``aug_smooth``'s copies, as pytorch-grad-cam's default ttach set: (horizontal flip, pixel factor); identity first."""


class BaseCAM:
    """Heatmaps of ``model`` at ``layer`` for a batch of images; subclasses say how the map is made.

    Args:
        model: a built functional or Sequential classifier taking RGB 0-255 images
            (nested bases are fine). It is not modified.
        layer: a layer name or path (``"base/out_relu"``), an index into the layers with
            4-D outputs (``-1`` is the last), or ``None`` for the last one.

    Attributes:
        uses_layer: True: a CAM explains a layer (input-gradient methods set it False).
        layer_path: the path of the explained layer.
        n_classes: classes the model can be asked about (2 for a single sigmoid unit:
            0 = negative, scored by ``-logit``; 1 = positive, scored by ``+logit``).
        last_logits, last_probabilities: ``(B, n_classes)`` from the last call.
        last_classes: ``(B, K)`` class indices explained in the last call.
        last_zero_maps: ``(B, K)`` bool, True where a map was all zero (returned as zeros).
        last_signed_maps: ``(B, K, H, W)`` float32, the raw layer map (before ReLU and
            normalisation) upsampled to the input size; with ``aug_smooth`` the mean of the
            copies' raw maps, flipped back.

    Example:
        >>> cam = GradCAM(model, layer="top_activation")
        >>> maps = cam(images, classes=285)
    """

    needs_gradients: bool = True
    """Whether :meth:`layer_maps` uses the gradients (methods that do not skip the backward pass)."""

    uses_layer: bool = True
    """Whether the method explains a layer's feature map (every CAM) rather than the input pixels."""

    def __init__(self, model: keras.Model, layer: LayerRef = None):
        self.model = model
        self.split: SplitModel = split_model(model, layer)
        self.layer_path = self.split.layer_path
        self.n_classes = self.split.head.n_classes
        self.last_logits: Optional[np.ndarray] = None
        self.last_probabilities: Optional[np.ndarray] = None
        self.last_classes: Optional[np.ndarray] = None
        self.last_zero_maps: Optional[np.ndarray] = None
        self.last_signed_maps: Optional[np.ndarray] = None
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

    def __call__(
        self, images: np.ndarray, classes: Classes = None, aug_smooth: bool = False, eigen_smooth: bool = False
    ) -> np.ndarray:
        """Heatmaps ``(B, [K,] H, W)`` float32 in [0, 1]; see the module docstring for shapes and smoothing.

        Raises:
            ImageError: images the model cannot take (shape, size, values; see
                :func:`daylib.data.images.to_rgb_batch`). It is a ValueError.
            ValueError: class indices that are not ints, do not fit the batch, or are out of range
                (see :func:`daylib.cam.targets.class_array`).
            ValueError: ``aug_smooth`` or ``eigen_smooth`` that is not True or False.

        Example:
            >>> cam(images, classes=[285, 281]).shape     # one class per image
            (2, 224, 224)
            >>> cam(images, aug_smooth=True, eigen_smooth=True).shape
            (2, 224, 224)
        """
        aug_smooth, eigen_smooth = flag(aug_smooth, "aug_smooth"), flag(eigen_smooth, "eigen_smooth")
        batch = to_rgb_batch(images, single=True, input_shape=self.split.input_shape, role="images")
        class_array, has_class_axis = self._class_array(classes, len(batch))
        heatmaps, signed, zero, logits, used, unsuitable = self._explain(
            tf.constant(batch), tf.constant(class_array), aug_smooth, eigen_smooth
        )
        self.last_logits = logits.numpy()
        self.last_probabilities = self.split.head.probabilities(logits).numpy()
        self.last_classes = used.numpy()
        self.last_zero_maps = zero.numpy()
        self.last_signed_maps = signed.numpy()
        if bool(unsuitable):
            warnings.warn(self.layer_advice(), UserWarning, stacklevel=2)
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
        raise NotImplementedError(f"{type(self).__name__} must define channel_weights or weighted_activations.")

    def weighted_activations(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """The terms ``(B, K, h, w, C)`` whose sum over channels is the raw map; ``eigen_smooth`` projects them.

        The default is ``w_c * A_c`` with :meth:`channel_weights`; methods that weight each
        position (HiResCAM, LayerCAM) override this instead.

        Example:
            >>> cam.weighted_activations(features, grads, classes, images).shape
            TensorShape([2, 1, 7, 7, 1280])
        """
        weights = self.channel_weights(activations, gradients, classes)
        return activations[:, None] * weights[:, :, None, None, :]

    def layer_maps(
        self, activations: tf.Tensor, gradients: Optional[tf.Tensor], classes: tf.Tensor, images: tf.Tensor
    ) -> tf.Tensor:
        """Raw maps ``(B, K, h, w)`` at the layer's resolution, before ReLU and normalisation.

        The default is the sum over channels of :meth:`weighted_activations` (``sum_c w_c * A_c``).

        Example:
            >>> cam.layer_maps(features, grads, classes, images).shape
            TensorShape([2, 1, 7, 7])
        """
        return tf.reduce_sum(self.weighted_activations(activations, gradients, classes, images), axis=-1)

    def layer_unsuitable(self, activations: tf.Tensor) -> tf.Tensor:
        """Scalar bool: True when this batch's feature map makes the method ill-conditioned.

        Then the call warns with :meth:`layer_advice`. No method is, by default.

        Example:
            >>> bool(GradCAM(model).layer_unsuitable(tf.ones((1, 7, 7, 8))))
            False
        """
        return tf.constant(False)

    def layer_advice(self) -> str:
        """The warning given when :meth:`layer_unsuitable` is True.

        Example:
            >>> GradCAMPlusPlus(model, layer="add").layer_advice()[:40]
            "GradCAMPlusPlus at layer 'add' (its out"
        """
        return f"{type(self).__name__} is ill-conditioned at layer {self.layer_path!r}; try another layer."

    def _explain_graph(self, images: tf.Tensor, classes: tf.Tensor, aug_smooth: bool, eigen_smooth: bool):
        transforms = AUGMENTATIONS if aug_smooth else AUGMENTATIONS[:1]
        copies = len(transforms)
        batch = tf.shape(images)[0]
        inputs = tf.concat([_augment(images, flip, factor) for flip, factor in transforms], axis=0)
        with tf.GradientTape(persistent=True) as tape:
            features, logits = self.split(inputs)
            predicted = tf.argmax(logits[:batch], axis=-1, output_type=tf.int32)[:, None]
            classes = tf.where(classes == PREDICTED, predicted, classes)
            every_copy = tf.tile(classes, [copies, 1])
            scores = tf.gather(logits, every_copy, batch_dims=1)
        gradients = self._gradients(tape, scores, features) if self.needs_gradients else None
        del tape
        if eigen_smooth:
            raw = first_component(self.weighted_activations(features, gradients, every_copy, inputs))
        else:
            raw = self.layer_maps(features, gradients, every_copy, inputs)
        size = tf.shape(images)[1:3]
        signed = _upsample(raw, size)
        heatmaps, zero = _normalize(_upsample(tf.nn.relu(raw), size))
        if copies > 1:
            signed = _mean_of_copies(signed, transforms)
            heatmaps, zero = _normalize(_mean_of_copies(heatmaps, transforms))
        return heatmaps, signed, zero, logits[:batch], classes, self.layer_unsuitable(features)

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


def first_component(terms: tf.Tensor) -> tf.Tensor:
    """Projection ``(B, K, h, w)`` of ``terms`` ``(B, K, h, w, C)`` on their first principal component.

    As pytorch-grad-cam's ``get_2d_projection``: per image and class, the ``h * w``
    positions are samples of ``C`` features, centred per feature; the map is their
    projection on the first right singular vector. Its sign, which SVD leaves open, is
    chosen so the map correlates positively with ``sum_c terms`` (the unsmoothed map).

    Example:
        >>> first_component(activations[:, None]).shape    # Eigen-CAM's map, (B, 1, h, w)
        TensorShape([2, 1, 7, 7])
    """
    shape = tf.shape(terms)
    samples = tf.reshape(terms, tf.stack([shape[0] * shape[1], shape[2] * shape[3], shape[4]]))
    centred = samples - tf.reduce_mean(samples, axis=1, keepdims=True)
    _, _, v = tf.linalg.svd(centred, full_matrices=False)
    projection = tf.linalg.matvec(centred, v[:, :, 0])
    agreement = tf.reduce_sum(projection * tf.reduce_sum(samples, axis=2), axis=1, keepdims=True)
    projection = tf.where(agreement < 0.0, -projection, projection)
    return tf.reshape(projection, shape[:4])


def head_after_layer(split: SplitModel) -> Callable[[tf.Tensor], tf.Tensor]:
    """The part of the split network after its layer: ``features (N, h, w, C) -> logits (N, n_classes)``.

    It shares the model's weights and runs in inference mode; Ablation-CAM runs it on
    copies of the feature map instead of running the whole network again.

    Raises:
        ValueError: the output also depends on the image through a path that skips the
            layer (e.g. a residual connection around it); pick a layer that ends a block.

    Example:
        >>> head = head_after_layer(split_model(model, "top_activation"))
        >>> head(features).shape
        TensorShape([2, 1000])
    """
    features, head_input = split.model.outputs
    skips = ValueError(
        f"The model's output also depends on the image through a path that skips layer {split.layer_path!r} "
        "(a residual connection around it), so the network after that layer cannot run on the feature map alone. "
        "Pick a layer that ends a block, e.g. an Add or activation layer after it."
    )
    try:
        after = keras.Model(features, head_input, name=f"{split.model.name}_after")
    except ValueError as error:  # Keras 3.15 refuses such a graph
        raise skips from error
    if any(isinstance(layer, keras.layers.InputLayer) and all(layer.output is not t for t in after.inputs)
           for layer in after.layers):  # Keras 3.8 builds it, with the image input left dangling inside
        raise skips

    def head(activations: tf.Tensor) -> tf.Tensor:
        return split.head.logits(after(activations, training=False))

    return head


def _augment(images: tf.Tensor, flip: bool, factor: float) -> tf.Tensor:
    out = images if factor == 1.0 else tf.clip_by_value(images * factor, 0.0, 255.0)
    return out[:, :, ::-1] if flip else out


def _mean_of_copies(maps: tf.Tensor, transforms: tuple) -> tf.Tensor:
    """Average ``(copies * B, K, H, W)`` maps over the copies, each flipped back first."""
    shape = tf.shape(maps)
    copies = tf.reshape(maps, tf.concat([[len(transforms), -1], shape[1:]], axis=0))
    restored = [copies[i, :, :, :, ::-1] if flip else copies[i] for i, (flip, _) in enumerate(transforms)]
    return tf.add_n(restored) / float(len(transforms))


def _upsample(maps: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Resize ``(B, K, h, w)`` maps to ``size`` bilinearly (half-pixel centres)."""
    shape = tf.shape(maps)
    flat = tf.reshape(maps, tf.concat([[-1], shape[2:4], [1]], axis=0))
    resized = tf.image.resize(flat, size, method="bilinear")
    return tf.reshape(resized, tf.concat([shape[:2], size], axis=0))


def _normalize(maps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Divide each non-negative ``(B, K, H, W)`` map by its max; all-zero maps stay zero and are flagged."""
    peak = tf.reduce_max(maps, axis=(2, 3), keepdims=True)
    normalized = tf.clip_by_value(tf.math.divide_no_nan(maps, peak), 0.0, 1.0)
    return normalized, peak[:, :, 0, 0] <= 0.0
