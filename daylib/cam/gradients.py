"""Input-gradient attributions: which pixels move the class logit, and by how much.

These methods explain the input pixels, not a layer (``uses_layer = False``, except
Guided Grad-CAM), and share one small base, :class:`InputGradientBase`: the image check,
the class semantics of :class:`~daylib.cam.base.BaseCAM`, the class *logit* (read by the
model's :class:`~daylib.models.split.Head`, so a single sigmoid unit explains class 0 by
``-logit`` and class 1 by ``+logit``), and the gradient of that logit with respect to the
RGB 0-255 pixels the model takes (its preprocessing is inside it), batched in one compiled
graph for K classes per image. A method only says how its attribution ``(B, K, H, W, 3)``
is made, in :meth:`InputGradientBase.attributions`.

- :class:`Saliency` (Simonyan et al. 2014): the gradient itself.
- :class:`SmoothGrad` (Smilkov et al. 2017): the mean gradient over noisy copies of the
  image, noise standard deviation ``noise * (max - min)`` of the image's pixels.
- :class:`IntegratedGradients` (Sundararajan et al. 2017): ``(x - x') * `` the mean gradient
  along the straight path from a baseline ``x'`` to ``x`` (trapezoid rule); the attributions
  add up to ``logit(x) - logit(x')``.
- the guided methods, :class:`~daylib.cam.guided.GuidedBackprop` and
  :class:`~daylib.cam.guided.GuidedGradCAM`, in :mod:`daylib.cam.guided`.

The heatmap is ``sum over colour channels of |attribution|`` divided by its maximum, so it
lies in [0, 1]; ``last_signed_maps`` keeps the signed sum, ``last_attributions`` the raw
attributions.

Example:
    >>> from daylib.cam import IntegratedGradients, Saliency
    >>> maps = Saliency(model)(images)                      # (B, H, W) in [0, 1]
    >>> ig = IntegratedGradients(model, steps=64)
    >>> maps = ig(images, classes=[[285, 281]])             # (B, 2, H, W)
    >>> ig.last_attributions.sum(axis=(2, 3, 4))            # ~ ig.last_logits[...] - ig.last_baseline_logits[...]
"""
from __future__ import annotations

import functools
import warnings
from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.arguments import count, fraction, number
from daylib.cam.base import PREDICTED, BaseCAM, _normalize
from daylib.cam.registry import register
from daylib.cam.targets import Classes
from daylib.data.images import to_rgb_batch
from daylib.models.layers import LayerRef
from daylib.models.split import SplitModel, split_model

__all__ = ["InputGradientBase", "Saliency", "SmoothGrad", "IntegratedGradients"]


Baseline = Union[str, float, np.ndarray]


class InputGradientBase:
    """Attributions of the class logit to the input pixels; subclasses say how they are made.

    Args:
        model: a built functional or Sequential classifier taking RGB 0-255 images (nested
            bases are fine). It is not modified.
        layer: must be ``None``: these methods explain the input pixels, not a layer.
        batch_size: images (or noisy copies, or path points) per forward and backward pass.

    Attributes:
        uses_layer: False: the maps explain the input pixels; ``layer_path`` is None.
        n_classes: classes that can be explained (2 for a single sigmoid unit: 0 = negative,
            scored by ``-logit``; 1 = positive, scored by ``+logit``).
        last_logits, last_probabilities: ``(B, n_classes)`` of the images of the last call.
        last_classes: ``(B, K)`` class indices explained in the last call.
        last_attributions: ``(B, K, H, W, 3)`` float32, the raw attribution per pixel and channel.
        last_signed_maps: ``(B, K, H, W)`` float32, the attribution summed over the colour channels.
        last_zero_maps: ``(B, K)`` bool, True where a map was all zero (returned as zeros).

    Example:
        >>> class GradientTimesInput(InputGradientBase):
        ...     def attributions(self, images, classes):
        ...         gradients, logits, classes = self.input_gradients(images, classes)
        ...         return gradients * images[:, None], logits, classes
        >>> maps = GradientTimesInput(model)(images)
    """

    uses_layer: bool = False
    """Whether the method explains a layer (Guided Grad-CAM) or only the input pixels."""

    _zero_reason = "no input pixel changes that class's logit (its gradient is zero everywhere)"

    def __init__(self, model: keras.Model, layer: LayerRef = None, batch_size: int = 32):
        if layer is not None and not self.uses_layer:
            raise ValueError(
                f"{type(self).__name__} explains the input pixels, not a layer: build it without layer= "
                f"(got layer={layer!r}). For a layer's heatmap use a CAM, e.g. GradCAM(model, layer={layer!r})."
            )
        self.batch_size = count(batch_size, "batch_size", example=32)
        self.model = model
        self.split: SplitModel = split_model(model)
        self.layer_path: Optional[str] = None
        self.n_classes = self.split.head.n_classes
        self.last_logits: Optional[np.ndarray] = None
        self.last_probabilities: Optional[np.ndarray] = None
        self.last_classes: Optional[np.ndarray] = None
        self.last_attributions: Optional[np.ndarray] = None
        self.last_signed_maps: Optional[np.ndarray] = None
        self.last_zero_maps: Optional[np.ndarray] = None
        # A partial (no __code__) counts traces per instance, as in BaseCAM.
        self._explain = tf.function(functools.partial(self._explain_graph), autograph=False)

    # The class semantics, the compile count and the top-k reading are BaseCAM's own, used as they are.
    tracing_count = BaseCAM.tracing_count
    top_classes = BaseCAM.top_classes
    _class_array = BaseCAM._class_array

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.name!r})"

    def __call__(self, images: np.ndarray, classes: Classes = None) -> np.ndarray:
        """Heatmaps ``(B, [K,] H, W)`` float32 in [0, 1], with the class semantics of BaseCAM.

        Raises:
            ImageError: images the model cannot take (see :func:`daylib.data.images.to_rgb_batch`).
            ValueError: class indices that are not ints, do not fit the batch, or are out of range.

        Example:
            >>> Saliency(model)(images, classes=[[285, 281]]).shape
            (2, 2, 224, 224)
        """
        batch = to_rgb_batch(images, single=True, input_shape=self.split.input_shape, role="images")
        class_array, has_class_axis = self._class_array(classes, len(batch))
        attributions, logits, used = self._attribute(batch, class_array)
        self.last_logits = logits
        self.last_probabilities = self.split.head.probabilities(tf.constant(logits)).numpy()
        self.last_classes = used
        self.last_attributions = attributions
        self.last_signed_maps = attributions.sum(axis=-1)
        heatmaps, zero = _normalize(tf.constant(np.abs(attributions).sum(axis=-1)))
        self.last_zero_maps = zero.numpy()
        self._warn_zero_maps()
        heatmaps = heatmaps.numpy()
        return heatmaps if has_class_axis else heatmaps[:, 0]

    def attributions(self, images: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Attributions ``(B, K, H, W, 3)``, logits ``(B, n_classes)`` and classes ``(B, K)`` of ``images``.

        ``classes`` may hold :data:`~daylib.cam.base.PREDICTED`; the classes returned are resolved.

        Example:
            >>> class GradientTimesInput(InputGradientBase):
            ...     def attributions(self, images, classes):
            ...         gradients, logits, classes = self.input_gradients(images, classes)
            ...         return gradients * images[:, None], logits, classes
        """
        raise NotImplementedError(f"{type(self).__name__} must define attributions.")

    def class_logits(self, images: tf.Tensor) -> tf.Tensor:
        """Class logits ``(N, n_classes)`` of a batch, in inference mode; the function the gradients go through.

        Example:
            >>> saliency.class_logits(tf.zeros((1, 224, 224, 3))).shape
            TensorShape([1, 1000])
        """
        return self.split(images)[1]

    def predicted_classes(self, images: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Logits ``(B, n_classes)`` of ``images`` and ``classes`` ``(B, K)``, PREDICTED replaced; one forward pass.

        For methods whose gradients are taken elsewhere than at the image (noisy copies, a path).

        Example:
            >>> logits, classes = saliency.predicted_classes(tf.constant(images), tf.constant([[-1]] * len(images)))
        """
        logits = self.class_logits(images)
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)[:, None]
        return logits, tf.where(classes == PREDICTED, predicted, classes)

    def input_gradients(self, points: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Gradients ``(N, K, H, W, 3)`` of the logits of ``classes`` ``(N, K)`` with respect to ``points``.

        ``points`` are ``(N, H, W, 3)`` inputs (images, noisy copies, path points); they go
        through :meth:`class_logits` ``batch_size`` at a time, one backward pass per class.
        Also returns the points' logits ``(N, n_classes)`` and the classes, PREDICTED replaced
        by each point's own predicted class.

        Example:
            >>> points, classes = tf.zeros((4, 32, 32, 3)), tf.zeros((4, 2), tf.int32)
            >>> gradients, logits, classes = saliency.input_gradients(points, classes)
            >>> gradients.shape
            TensorShape([4, 2, 32, 32, 3])
        """
        total = points.shape[0]
        size = min(self.batch_size, total)
        chunks = -(-total // size)
        if chunks == 1:
            return self._gradient_batch((points, classes))
        padding = chunks * size - total
        points = tf.pad(points, [[0, padding], [0, 0], [0, 0], [0, 0]])
        classes = tf.pad(classes, [[0, padding], [0, 0]])
        batches = (
            tf.reshape(points, (chunks, size, *points.shape[1:])),
            tf.reshape(classes, (chunks, size, classes.shape[1])),
        )
        signature = (tf.float32, tf.float32, tf.int32)
        # One chunk at a time: with chunks running the model in parallel loop iterations, TensorFlow 2.21 crashed
        # twice on a 2-core CPU (a segmentation fault inside the compiled function), so they run in sequence.
        results = tf.map_fn(self._gradient_batch, batches, fn_output_signature=signature, parallel_iterations=1)
        return tuple(tf.reshape(result, (chunks * size, *result.shape[2:]))[:total] for result in results)

    def _gradient_batch(self, batch: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        points, classes = batch
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(points)
            logits = self.class_logits(points)
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)[:, None]
            classes = tf.where(classes == PREDICTED, predicted, classes)
            scores = tf.gather(logits, classes, batch_dims=1)
        per_class = []
        for k in range(classes.shape[1]):
            only_class_k = tf.one_hot(tf.fill(tf.shape(scores)[:1], k), classes.shape[1])
            gradient = tape.gradient(
                scores, points, output_gradients=only_class_k, unconnected_gradients=tf.UnconnectedGradients.ZERO
            )
            per_class.append(gradient)
        del tape
        return tf.stack(per_class, axis=1), logits, classes

    def _attribute(self, batch: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        attributions, logits, used = self._explain(tf.constant(batch), tf.constant(classes))
        return attributions.numpy(), logits.numpy(), used.numpy()

    def _explain_graph(self, images: tf.Tensor, classes: tf.Tensor):
        return self.attributions(images, classes)

    def _warn_zero_maps(self) -> None:
        where = np.argwhere(self.last_zero_maps)
        if not len(where):
            return
        listed = ", ".join(f"image {b} class {self.last_classes[b, k]}" for b, k in where[:10])
        more = f" and {len(where) - 10} more" if len(where) > 10 else ""
        warnings.warn(
            f"{type(self).__name__}: {len(where)} heatmap(s) are all zero ({listed}{more}): {self._zero_reason}. "
            "They are returned as zeros; see .last_zero_maps. Try another class.",
            RuntimeWarning,
            stacklevel=3,
        )


@register("saliency", "Saliency")
class Saliency(InputGradientBase):
    """The vanilla gradient of the class logit with respect to the pixels (Simonyan et al. 2014).

    Example:
        >>> maps = Saliency(model)(images, classes=285)
    """

    def attributions(self, images: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """``d logit / d pixel``: ``(B, K, H, W, 3)``, with the logits and classes."""
        return self.input_gradients(images, classes)


@register("smoothgrad", "SmoothGrad")
class SmoothGrad(InputGradientBase):
    """SmoothGrad: the gradient averaged over noisy copies of the image (Smilkov et al. 2017).

    Each copy adds Gaussian noise of standard deviation ``noise * (max - min)`` of the
    image's pixel values (Smilkov et al.'s noise level; tf-keras-vis uses the same
    spread, with 0.2 as its default). The signed gradients are averaged, as in the paper
    (tf-keras-vis averages their absolute values by default), so ``last_signed_maps`` has a sign.
    The noise is drawn once from ``seed`` and shared by every image of a batch, so an
    image's map does not depend on the batch it comes in, and repeated calls agree.

    Args:
        model, layer, batch_size: as for every input-gradient method (``batch_size`` noisy
            copies go through the model at a time).
        samples: noisy copies per image.
        noise: noise level, a fraction of the image's value range, within [0, 1]
            (0 gives the plain gradient).
        seed: seed of the noise.

    Example:
        >>> maps = SmoothGrad(model, samples=50, noise=0.1)(images)
    """

    def __init__(
        self, model: keras.Model, layer: LayerRef = None, samples: int = 25, noise: float = 0.15, seed: int = 0,
        batch_size: int = 32,
    ):
        self.samples = count(samples, "samples", example=25)
        self.noise = fraction(noise, "noise", example="0.15")
        self.seed = count(seed, "seed", minimum=0, example=0)
        super().__init__(model, layer, batch_size)

    def noisy_copies(self, images: tf.Tensor) -> tf.Tensor:
        """The ``samples`` noisy copies ``(B, samples, H, W, 3)`` of images ``(B, H, W, 3)`` (float32, 0-255).

        Example:
            >>> SmoothGrad(model, samples=8).noisy_copies(tf.constant(images)).shape
            TensorShape([2, 8, 224, 224, 3])
        """
        spread = tf.reduce_max(images, axis=(1, 2, 3)) - tf.reduce_min(images, axis=(1, 2, 3))
        sigma = self.noise * spread[:, None, None, None, None]
        seed = tf.constant([self.seed, 0], tf.int64)
        noise = tf.random.stateless_normal((self.samples, *images.shape[1:]), seed=seed)
        return images[:, None] + sigma * noise[None]

    def attributions(self, images: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Mean gradient over the :meth:`noisy_copies` of each image ``(B, K, H, W, 3)``, with logits and classes."""
        batch, shape = images.shape[0], images.shape[1:]
        logits, classes = self.predicted_classes(images, classes)
        noisy = tf.reshape(self.noisy_copies(images), (batch * self.samples, *shape))
        gradients = self.input_gradients(noisy, tf.repeat(classes, self.samples, axis=0))[0]
        mean = tf.reduce_mean(tf.reshape(gradients, (batch, self.samples, *gradients.shape[1:])), axis=1)
        return mean, logits, classes


@register("integrated_gradients", "Integrated Gradients")
class IntegratedGradients(InputGradientBase):
    """Integrated Gradients: the gradient integrated along the path from a baseline (Sundararajan et al. 2017).

    ``attribution = (x - x') * mean gradient on the straight path x' -> x``, the mean taken by
    the trapezoid rule over ``steps`` intervals (``steps + 1`` points, both ends included).
    Completeness: the attributions of a map add up to ``logit(x) - logit(x')`` up to the
    rule's error, which shrinks as ``steps`` grows; ``last_baseline_logits`` holds ``logit(x')``.

    Args:
        model, layer, batch_size: as for every input-gradient method (``batch_size`` path
            points go through the model at a time).
        steps: intervals of the path.
        baseline: ``"black"`` (all pixels 0), one value 0-255 for every pixel (e.g. 127.5 for
            gray), or an image ``(H, W[, 3])`` 0-255 for all images, or one per image
            ``(B, H, W[, 3])``.

    Example:
        >>> ig = IntegratedGradients(model, steps=64, baseline=127.5)
        >>> maps = ig(images)
    """

    def __init__(
        self, model: keras.Model, layer: LayerRef = None, steps: int = 32, baseline: Baseline = "black",
        batch_size: int = 32,
    ):
        self.steps = count(steps, "steps", example=32)
        super().__init__(model, layer, batch_size)
        self.baseline = self._check_baseline(baseline)
        self.last_baseline_logits: Optional[np.ndarray] = None

    def attributions(self, images: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """``(x - x') * sum_i w_i grad(x' + a_i (x - x'))``, trapezoid weights ``w``: ``(B, K, H, W, 3)``, and more.

        Also returns the images' logits and the classes, as every method does.
        """
        batch, shape = images.shape[0], images.shape[1:]
        logits, classes = self.predicted_classes(images, classes)
        points = self.steps + 1
        baseline = tf.broadcast_to(tf.constant(self.baseline), tf.shape(images))
        alphas = tf.linspace(0.0, 1.0, points)[None, :, None, None, None]
        path = baseline[:, None] + alphas * (images - baseline)[:, None]
        path = tf.reshape(path, (batch * points, *shape))
        gradients = self.input_gradients(path, tf.repeat(classes, points, axis=0))[0]
        gradients = tf.reshape(gradients, (batch, points, *gradients.shape[1:]))
        weights = tf.concat([[0.5], tf.ones(points - 2), [0.5]], axis=0) / self.steps
        mean_gradient = tf.einsum("bpkhwc,p->bkhwc", gradients, weights)
        return mean_gradient * (images - baseline)[:, None], logits, classes

    def _attribute(self, batch: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.baseline.ndim == 4:
            if len(self.baseline) not in (1, len(batch)) or self.baseline.shape[1:3] != batch.shape[1:3]:
                raise ValueError(
                    f"The baseline has shape {self.baseline.shape[1:]} x {len(self.baseline)} image(s) but the images "
                    f"are {batch.shape[1:]} x {len(batch)}: pass one baseline image of the images' size for all of "
                    "them, or one per image."
                )
        attributions, logits, used = super()._attribute(batch, classes)
        baseline = np.broadcast_to(self.baseline, batch.shape).astype(np.float32)
        self.last_baseline_logits = self.split(tf.constant(baseline))[1].numpy()
        return attributions, logits, used

    def _check_baseline(self, baseline: Baseline) -> np.ndarray:
        if isinstance(baseline, str):
            if baseline != "black":
                raise ValueError(
                    f"baseline={baseline!r} is not known: pass 'black', one value 0-255 (e.g. 127.5 for gray) "
                    "or an image (H, W, 3) 0-255."
                )
            return np.zeros((), np.float32)
        if np.ndim(baseline) == 0:
            value = number(baseline, "baseline", example="127.5")
            if not 0 <= value <= 255:
                raise ValueError(
                    f"baseline must be a pixel value within 0-255, got {value:g}. Pass e.g. baseline=127.5."
                )
            return np.float32(value)
        if np.ndim(baseline) not in (2, 3, 4):
            raise ValueError(
                f"baseline has shape {np.shape(baseline)}; expected 'black', one value 0-255, an image (H, W[, 3]) "
                "or one image per input (B, H, W[, 3])."
            )
        return to_rgb_batch(baseline, single=True, input_shape=self.split.input_shape, role="baseline")
