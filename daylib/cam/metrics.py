"""Score heatmaps with numbers: localisation, faithfulness, robustness.

All functions are batched: heatmaps ``(B, H, W)`` in [0, 1], masks ``(B, H, W)``
(bool or 0/1) or boxes ``(B, 4)``, and they return one value per image. One mask
``(H, W)`` or one box ``(4,)`` is shared by all B heatmaps. Heatmaps of another size
than the masks are resized to the masks (bilinear). No result is ever NaN: the
degenerate cases are defined in each docstring. Inputs are checked at the door by
:mod:`daylib.cam.targets` (heatmaps, masks, boxes, class indices) and
:mod:`daylib.arguments` (counts and thresholds).

- Localisation, against a mask or a box (e.g. the phantom X-rays' lesion masks):
  :func:`pointing_game` (is the peak inside?), :func:`energy_pointing` (share of
  the heatmap's mass inside), :func:`heatmap_iou` (IoU of the thresholded map).
- Faithfulness, against the model itself: :func:`deletion_curve` /
  :func:`insertion_curve` remove / insert the most important pixels first and
  follow the class probability; a faithful map makes deletion fall fast (low AUC)
  and insertion rise fast (high AUC). :func:`faithfulness_table` compares methods
  with a random-map baseline.
- Robustness: :func:`heatmap_agreement` compares the heatmap of a transformed image
  with the transformed heatmap (flip, rotation, shift).

Boxes are ``(x0, y0, x1, y1)`` in pixels, end exclusive: the box covers
``mask[y0:y1, x0:x1]``. A ``(B, 4)`` array is read as B boxes, unless it has the
heatmaps' own ``(H, W)`` shape (then it is one mask).

Example:
    >>> from daylib.cam.metrics import pointing_game, deletion_curve
    >>> hits = pointing_game(heatmaps, masks)            # (B,) bool
    >>> hits = pointing_game(heatmaps, np.array([30, 20, 190, 210]))  # one box for all
    >>> curve = deletion_curve(model, images, heatmaps, classes)
    >>> curve.auc                                         # (B,), lower is better
"""
from __future__ import annotations

from typing import Callable, Mapping, NamedTuple, Optional, Sequence, Union

import cv2
import keras
import numpy as np

from daylib.cam.targets import as_heatmaps, boxes_to_masks, check_class_range, class_array, target_masks
from daylib.data.images import to_rgb_batch
from daylib.arguments import count, flag, fraction, number, optional_seed
from daylib.models.inference import predict

__all__ = ["Curve", "Agreement", "boxes_to_masks", "pointing_game", "energy_pointing", "heatmap_iou", "deletion_curve",
           "insertion_curve", "random_heatmaps", "faithfulness_table", "heatmap_agreement"]

Transform = Union[str, Callable[[np.ndarray], np.ndarray]]

TRANSFORMS = ("hflip", "vflip", "rotate", "shift")
BASELINES = ("black", "blur", "mean")


class Curve(NamedTuple):
    """A deletion or insertion curve per image.

    Attributes:
        fractions: ``(S + 1,)`` share of pixels removed / inserted, 0 to 1.
        scores: ``(B, S + 1)`` the class probability at each step.
        auc: ``(B,)`` area under each curve (trapezoid rule over fractions 0..1).
    """

    fractions: np.ndarray
    scores: np.ndarray
    auc: np.ndarray


class Agreement(NamedTuple):
    """How well the heatmap of a transformed image matches the transformed heatmap.

    Attributes:
        correlation: ``(B,)`` Pearson correlation over the pixels both maps cover (0 if one is constant).
        iou: ``(B,)`` IoU of the two maps thresholded at ``threshold`` (1 if both are empty).
    """

    correlation: np.ndarray
    iou: np.ndarray


def pointing_game(heatmaps: np.ndarray, targets: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Is each heatmap's peak inside its mask/box (grown by ``tolerance`` pixels)? ``(B,)`` bool.

    ``targets``: masks ``(B, H, W)``, boxes ``(B, 4)``, or one mask ``(H, W)`` / box ``(4,)``
    for every heatmap. An all-zero heatmap has no peak and counts as a miss; so does an empty mask.

    Example:
        >>> pointing_game(masks.astype(float), masks).all()
        True
        >>> pointing_game(np.eye(4)[None].repeat(2, axis=0), np.array([0, 0, 2, 2]))  # one box
        array([ True,  True])
    """
    tolerance = count(tolerance, "tolerance", minimum=0)
    heat, masks = _heat_and_masks(heatmaps, targets)
    if tolerance > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
        masks = np.stack([cv2.dilate(m.astype(np.uint8), kernel).astype(bool) for m in masks])
    flat = heat.reshape(len(heat), -1)
    peaks = flat.argmax(axis=1)
    inside = masks.reshape(len(masks), -1)[np.arange(len(masks)), peaks]
    return inside & (flat.max(axis=1) > 0)


def energy_pointing(heatmaps: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Share of each heatmap's total mass that falls inside its mask/box: ``(B,)`` in [0, 1].

    ``targets`` as for :func:`pointing_game` (one mask or box may serve the whole batch).
    An all-zero heatmap scores 0. A uniform map scores the mask's share of the image (chance).

    Example:
        >>> energy_pointing(masks.astype(float), masks)
        array([1., 1.], dtype=float32)
        >>> energy_pointing(np.ones((2, 4, 4)), np.array([0, 0, 2, 4]))  # one box, half the image
        array([0.5, 0.5], dtype=float32)
    """
    heat, masks = _heat_and_masks(heatmaps, targets)
    total = heat.sum(axis=(1, 2))
    inside = (heat * masks).sum(axis=(1, 2))
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)


def heatmap_iou(heatmaps: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """IoU of ``heatmap >= threshold`` with each mask/box: ``(B,)`` in [0, 1] (1 when both are empty).

    ``targets`` as for :func:`pointing_game` (one mask or box may serve the whole batch).

    Example:
        >>> heatmap_iou(masks.astype(float), masks)
        array([1., 1.])
        >>> heatmap_iou(np.ones((2, 4, 4)), np.ones((4, 4), bool))  # one mask
        array([1., 1.])
    """
    threshold = fraction(threshold, "threshold")
    heat, masks = _heat_and_masks(heatmaps, targets)
    return _iou(heat >= threshold, masks)


def deletion_curve(
    model: keras.Model,
    images: np.ndarray,
    heatmaps: np.ndarray,
    classes: Union[int, Sequence[int], np.ndarray],
    steps: int = 20,
    baseline: str = "black",
    batch_size: int = 32,
    seed: int = 0,
) -> Curve:
    """Remove the most important pixels first and follow the class probability (lower AUC = more faithful).

    At step ``i`` the top ``i / steps`` of the pixels, ranked by the heatmap (ties in a
    fixed random order), are replaced by the ``baseline`` (``"black"``, ``"blur"`` or
    ``"mean"``). The score is the model's output for the class (its probability for
    softmax and sigmoid models; ``[1 - p, p]`` for a single sigmoid unit). The perturbed
    images of each image go through the model in batches.

    Example:
        >>> deletion_curve(model, images, GradCAM(model)(images, classes), classes).auc
    """
    return _perturbation_curve(model, images, heatmaps, classes, steps, baseline, batch_size, seed, insert=False)


def insertion_curve(
    model: keras.Model,
    images: np.ndarray,
    heatmaps: np.ndarray,
    classes: Union[int, Sequence[int], np.ndarray],
    steps: int = 20,
    baseline: str = "blur",
    batch_size: int = 32,
    seed: int = 0,
) -> Curve:
    """Start from the ``baseline`` (a blurred image by default) and put back the most important pixels first.

    Higher AUC = more faithful. Same ranking and batching as :func:`deletion_curve`.

    Example:
        >>> insertion_curve(model, images, heatmaps, classes).auc
    """
    return _perturbation_curve(model, images, heatmaps, classes, steps, baseline, batch_size, seed, insert=True)


def random_heatmaps(shape: tuple[int, int, int], seed: int = 0, cells: int = 7) -> np.ndarray:
    """Smooth random heatmaps ``(B, H, W)``: the chance baseline for the faithfulness curves.

    Uniform noise on a ``cells x cells`` grid, upsampled bilinearly, so a random map has
    blobs like a real heatmap (7 x 7 is the last conv layer at 224 px). Pixel-level noise
    would be an unfair baseline: deleting scattered pixels wrecks any image fast.

    Raises:
        ValueError: ``shape`` is not three positive ints ``(B, H, W)``, or ``cells`` is not a positive int.

    Example:
        >>> random_heatmaps((2, 8, 8)).shape
        (2, 8, 8)
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise ValueError(f"shape must be (B, H, W), three positive ints, e.g. (4, 224, 224); got {shape!r}.")
    batch, height, width = (count(size, f"shape[{i}]") for i, size in enumerate(shape))
    cells = count(cells, "cells")
    rng = np.random.default_rng(optional_seed(seed))
    coarse = rng.random((batch, cells, cells), dtype=np.float32)
    return np.stack([cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR) for grid in coarse])


def faithfulness_table(
    model: keras.Model,
    images: np.ndarray,
    heatmaps: Mapping[str, np.ndarray],
    classes: Union[int, Sequence[int], np.ndarray],
    steps: int = 20,
    seed: int = 0,
    random_repeats: int = 5,
    road: bool = False,
) -> dict[str, dict[str, float]]:
    """Mean deletion and insertion AUC per method, plus a ``"random"`` row for chance.

    With ``road=True`` each row also has ``"road_morf"`` and ``"road_lerf"``: the mean AUC of
    :func:`daylib.cam.road.road_curve` in both orders (default fractions and noise; lower MoRF and
    higher LeRF are more faithful). It solves one sparse system per image and fraction (about
    a second per image at 224 px on a laptop CPU), hence off by default.

    The ``"random"`` row averages ``random_repeats`` smooth random maps per image, so the
    chance level does not hinge on one draw: the maps are
    ``random_heatmaps((random_repeats * B, H, W), seed)``, repeat ``r`` being maps
    ``r * B`` to ``(r + 1) * B`` (``random_repeats=1`` is one map per image). Each random
    map costs as much as one method's map: lower ``random_repeats`` for a quicker table.

    Example:
        >>> faithfulness_table(model, images, {"Grad-CAM": g, "Score-CAM": s}, classes)
        {'Grad-CAM': {'deletion': 0.21, 'insertion': 0.63}, ..., 'random': {...}}
        >>> faithfulness_table(model, images, {"Grad-CAM": g}, classes, road=True)["Grad-CAM"]["road_morf"]
    """
    random_repeats = count(random_repeats, "random_repeats")
    road = flag(road, "road")
    if not isinstance(heatmaps, Mapping) or not heatmaps:
        raise ValueError(f'heatmaps must be a non-empty dict, e.g. {{"Grad-CAM": maps}}; got {heatmaps!r:.60}.')
    batch = to_rgb_batch(images, single=True)
    targets = class_array(classes, len(batch), allow_2d=False)[0][:, 0]
    table = {name: _mean_aucs(model, batch, maps, targets, steps, seed, road) for name, maps in heatmaps.items()}
    first = as_heatmaps(next(iter(heatmaps.values())))
    random_maps = random_heatmaps((random_repeats * len(first), *first.shape[1:]), seed)
    repeated_classes = np.tile(targets, random_repeats)
    repeated_images = np.tile(batch, (random_repeats, 1, 1, 1))
    table["random"] = _mean_aucs(model, repeated_images, random_maps, repeated_classes, steps, seed, road)
    return table


def heatmap_agreement(
    cam: Callable[..., np.ndarray],
    images: np.ndarray,
    classes: Union[None, int, Sequence[int], np.ndarray] = None,
    transform: Transform = "hflip",
    amount: Optional[float] = None,
    threshold: float = 0.5,
) -> Agreement:
    """Compare ``cam(transform(image))`` with ``transform(cam(image))`` for each image.

    A heatmap that follows the object (and not the pixel grid) agrees well. Pixels that
    a rotation or shift brings in from outside the image are left out of the comparison.

    Args:
        cam: a CAM object (or any ``f(images, classes) -> (B, H, W)``).
        images: ``(B, H, W, 3)`` 0-255.
        classes: as for the CAM; ``None`` explains the class predicted for the original
            images in both passes (so the two maps explain the same class).
        transform: ``"hflip"``, ``"vflip"``, ``"rotate"`` (``amount`` degrees, default 10),
            ``"shift"`` (``amount`` as a share of the size, default 0.1, right and down),
            or a function applied to ``(H, W, C)`` arrays (images and heatmaps alike).
        threshold: for the IoU of the two maps.

    Raises:
        ValueError: ``cam`` is not a CAM or function, a 2-D ``classes``, an unknown transform,
            an ``amount`` that is not a finite number (or given for a flip), a transform that
            changes the image's shape, or a threshold outside [0, 1].

    Example:
        >>> heatmap_agreement(GradCAM(model), images, transform="rotate", amount=15).correlation
    """
    if isinstance(cam, keras.Model) or not callable(cam):
        raise ValueError(
            f"cam must be a CAM object (e.g. daylib.cam.GradCAM(model)) or a function f(images, classes) -> "
            f"heatmaps (B, H, W); got {type(cam).__name__}."
        )
    threshold = fraction(threshold, "threshold")
    batch = to_rgb_batch(images, single=True)
    apply = _transform_fn(transform, amount)
    original = cam(batch, classes)
    if np.ndim(original) != 3:
        raise ValueError("heatmap_agreement compares one heatmap per image: pass one class per image, not a 2-D list.")
    original = as_heatmaps(original, "the heatmaps cam returned")
    if classes is None:
        last = getattr(cam, "last_classes", None)
        classes = None if last is None else last[:, 0]
    moved_images = np.stack([apply(image) for image in batch])
    if moved_images.shape != batch.shape:
        raise ValueError(
            f"The transform turned images {batch.shape[1:]} into {moved_images.shape[1:]}: it must keep their shape "
            "(flip, rotate or shift in place, filling the border)."
        )
    moved = as_heatmaps(cam(moved_images, classes), "the heatmaps cam returned")
    expected = np.stack([apply(h[..., None])[..., 0] for h in original])
    valid = np.stack([apply(np.ones(h.shape + (1,), np.float32))[..., 0] > 0.999 for h in original])
    correlations = np.array([correlation(a[v], b[v]) for a, b, v in zip(expected, moved, valid)])
    iou = np.array([_iou((a >= threshold)[v][None], (b >= threshold)[v][None])[0] for a, b, v in zip(expected, moved, valid)])
    return Agreement(correlation=correlations, iou=iou)


def _heat_and_masks(heatmaps, targets) -> tuple[np.ndarray, np.ndarray]:
    heat = as_heatmaps(heatmaps)
    masks = target_masks(targets, heat.shape)
    if masks.shape[1:] != heat.shape[1:]:
        heat = np.stack([cv2.resize(h, (masks.shape[2], masks.shape[1]), interpolation=cv2.INTER_LINEAR) for h in heat])
    return heat, masks


def _mean_aucs(model, images, heatmaps, classes, steps: int, seed: int, road: bool = False) -> dict[str, float]:
    deletion = deletion_curve(model, images, heatmaps, classes, steps=steps, seed=seed)
    insertion = insertion_curve(model, images, heatmaps, classes, steps=steps, seed=seed)
    row = {"deletion": float(deletion.auc.mean()), "insertion": float(insertion.auc.mean())}
    if road:
        from daylib.cam.road import road_curve  # road.py builds on this module's Curve

        for order in ("morf", "lerf"):
            row[f"road_{order}"] = float(road_curve(model, images, heatmaps, classes, order=order, seed=seed).auc.mean())
    return row


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    axes = tuple(range(1, a.ndim))
    union = (a | b).sum(axis=axes)
    inter = (a & b).sum(axis=axes)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two arrays; 0 when either is constant (never NaN).

    Example:
        >>> correlation(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))
        0.993...
    """
    a = a - a.mean()
    b = b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 0 else 0.0


def perturbation_inputs(images, heatmaps, classes, seed) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The checked inputs of a pixel-removal curve: images, one heatmap each at their size, one class each,
    and the seeded random numbers that break ties between equally important pixels.

    Used by deletion/insertion here and by ROAD (:mod:`daylib.cam.road`).

    Example:
        >>> batch, heat, targets, tie_break = perturbation_inputs(images, heatmaps, 285, seed=0)
    """
    batch = to_rgb_batch(images, single=True)
    heat = as_heatmaps(heatmaps)
    if heat.shape != batch.shape[:3]:
        raise ValueError(
            f"Expected one heatmap (B, H, W) per image, at the images' size: got heatmaps {heat.shape} for images "
            f"{batch.shape}. Pass cam(images) for the same images (daylib's CAMs return the input size)."
        )
    targets = class_array(classes, len(batch), allow_2d=False)[0][:, 0]
    tie_break = np.random.default_rng(optional_seed(seed)).random(heat.shape[1] * heat.shape[2])
    return batch, heat, targets, tie_break


def importance_order(heatmap: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """Pixel indices (into the flattened map) from the most to the least important, ties broken by ``tie_break``.

    Example:
        >>> importance_order(np.array([[0.1, 0.9]]), np.zeros(2))
        array([1, 0])
    """
    return np.lexsort((tie_break, -heatmap.ravel()))


def _perturbation_curve(model, images, heatmaps, classes, steps, baseline, batch_size, seed, insert: bool) -> Curve:
    steps, batch_size = count(steps, "steps", example=20), count(batch_size, "batch_size", example=32)
    if baseline not in BASELINES:
        raise ValueError(f"Unknown baseline {baseline!r}; use one of {', '.join(map(repr, BASELINES))}.")
    batch, heat, targets, tie_break = perturbation_inputs(images, heatmaps, classes, seed)
    pixels = heat.shape[1] * heat.shape[2]
    counts = np.round(np.linspace(0, pixels, steps + 1)).astype(int)
    scores = np.empty((len(batch), steps + 1), np.float64)
    for b, image in enumerate(batch):
        fill = _baseline(image, baseline)
        start, end = (fill, image) if insert else (image, fill)
        order = importance_order(heat[b], tie_break)
        rank = np.empty(pixels, int)
        rank[order] = np.arange(pixels)
        rank = rank.reshape(heat.shape[1:])[..., None]
        perturbed = np.stack([np.where(rank < count, end, start) for count in counts])
        probabilities = class_probabilities(model, perturbed, batch_size)
        if b == 0:
            check_class_range(targets, probabilities.shape[-1])
        scores[b] = probabilities[:, targets[b]]
    fractions = counts / pixels
    auc = ((scores[:, 1:] + scores[:, :-1]) / 2 * np.diff(fractions)).sum(axis=1)
    return Curve(fractions=fractions, scores=scores, auc=auc)


def _baseline(image: np.ndarray, kind: str) -> np.ndarray:
    if kind == "black":
        return np.zeros_like(image)
    if kind == "mean":
        return np.broadcast_to(image.mean(axis=(0, 1)), image.shape).astype(np.float32)
    sigma = max(image.shape[:2]) / 16  # "blur"
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)


def class_probabilities(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's class probabilities ``(B, K)``; one sigmoid unit gives the two columns ``[1 - p, p]``.

    Example:
        >>> class_probabilities(binary_model, images, 32).shape
        (8, 2)
    """
    outputs, _ = predict(model, images, batch_size=batch_size)
    if outputs.ndim != 2:
        raise ValueError(f"The model outputs shape {outputs.shape}; the curves need (batch, classes) probabilities.")
    return np.concatenate([1 - outputs, outputs], axis=1) if outputs.shape[1] == 1 else outputs


def _transform_fn(transform: Transform, amount: Optional[float]) -> Callable[[np.ndarray], np.ndarray]:
    if callable(transform):
        return transform
    if amount is not None:
        if transform in ("hflip", "vflip"):
            raise ValueError(f"amount applies to 'rotate' and 'shift' only; {transform!r} takes none: drop amount.")
        amount = number(amount, "amount", "10")
    if transform == "hflip":
        return lambda a: a[:, ::-1]
    if transform == "vflip":
        return lambda a: a[::-1]
    if transform == "rotate":
        degrees = 10.0 if amount is None else float(amount)
        return lambda a: _warp(a, cv2.getRotationMatrix2D(((a.shape[1] - 1) / 2, (a.shape[0] - 1) / 2), degrees, 1.0))
    if transform == "shift":
        share = 0.1 if amount is None else float(amount)
        return lambda a: _warp(a, np.float32([[1, 0, share * a.shape[1]], [0, 1, share * a.shape[0]]]))
    raise ValueError(f"Unknown transform {transform!r}; use one of {TRANSFORMS} or a function.")


def _warp(array: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    size = (array.shape[1], array.shape[0])
    warped = cv2.warpAffine(array.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)
    return warped.reshape(array.shape)
