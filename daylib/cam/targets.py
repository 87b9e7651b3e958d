"""Heatmaps, lesion masks, boxes and class indices checked at the door, for the metrics, CAMs and pictures.

Every function that takes heatmaps (the metrics in :mod:`daylib.cam.metrics`, the overlays
of :mod:`daylib.viz.heatmaps`, the snapshot explorer) reads them with :func:`as_heatmaps`,
every one that takes masks or boxes with :func:`target_masks`, and every one that takes
class indices with :func:`class_array`, so a bad input gets the same clear message everywhere
instead of a NumPy or OpenCV error, a NaN, or a quietly different number.

- heatmaps: numbers, ``(B, H, W)`` (or one ``(H, W)``), at least one map of at least one
  pixel, finite, within [0, 1] (what every daylib CAM returns);
- masks: bool, or numbers that are 0 and 1 (or 0 and 255, as 8-bit mask files are);
- boxes: ``(x0, y0, x1, y1)`` in whole pixels, end exclusive, each covering part of the image;
- class indices: ints (not bools, floats or names), one for all images, one per image or,
  where allowed, a ``(B, K)`` array.

Example:
    >>> from daylib.cam.targets import as_heatmaps, target_masks
    >>> as_heatmaps(np.ones((4, 4))).shape          # one map is a batch of one
    (1, 4, 4)
    >>> target_masks(np.array([0, 0, 2, 2]), (3, 4, 4)).shape   # one box for three maps
    (3, 4, 4)
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = ["Classes", "as_heatmaps", "boxes_to_masks", "target_masks", "class_array", "check_class_range"]

Classes = Union[None, int, Sequence[int], Sequence[Sequence[int]], np.ndarray]

TOLERANCE = 1e-5
"""How far outside [0, 1] a heatmap value may stray by rounding (it is clipped); anything further is refused."""

_RANGE_FIX = "divide each map by its maximum (h / h.max()) after clipping negatives (np.maximum(h, 0)), as daylib.cam does"


def as_heatmaps(heatmaps, what: str = "heatmaps", *, single: bool = False) -> np.ndarray:
    """Heatmaps as float32 ``(B, H, W)`` in [0, 1]; with ``single=True`` one ``(H, W)`` map.

    One ``(H, W)`` map is a batch of one (unless ``single``).

    Raises:
        ValueError: not numbers, another shape, no map or no pixel, NaN/inf (the first bad map
            is named), or values outside [0, 1] (with how to bring them there).

    Example:
        >>> as_heatmaps(np.zeros((2, 7, 7))).shape
        (2, 7, 7)
    """
    name = what[:1].upper() + what[1:]
    have, are, contain = ("has", "is", "contains") if single else ("have", "are", "contain")
    array = _numbers(heatmaps, name, "numbers in [0, 1], e.g. the output of a daylib.cam method", have)
    wanted = 2 if single else 3
    if not single and array.ndim == 2:
        array = array[None]
    if array.ndim != wanted:
        shape = "one map (H, W)" if single else "a batch (B, H, W) or one map (H, W)"
        hint = " For a batch, pass one map at a time." if single and array.ndim == 3 else ""
        raise ValueError(f"{name} {have} shape {np.shape(heatmaps)}; expected {shape}.{hint}")
    if array.size == 0:
        raise ValueError(f"{name} {are} empty (shape {array.shape}): pass at least one map of at least 1x1 pixel.")
    heat = array.astype(np.float32, copy=False)
    finite = np.isfinite(heat.reshape(1 if single else len(heat), -1)).all(axis=1)
    if not finite.all():
        first = "" if single else f" (the first is map {int(np.argmin(finite))})"
        raise ValueError(
            f"{name} {contain} NaN or infinite values{first}: a map divided by a maximum of 0 turns NaN. "
            "Use a daylib.cam method (its all-zero maps stay zero), or np.nan_to_num(h)."
        )
    low, high = float(heat.min()), float(heat.max())
    if low < -TOLERANCE or high > 1 + TOLERANCE:
        raise ValueError(f"{name} {have} values in [{low:.4g}, {high:.4g}] but must lie in [0, 1]: {_RANGE_FIX}.")
    return np.clip(heat, 0.0, 1.0) if low < 0 or high > 1 else heat


def boxes_to_masks(boxes, shape: tuple[int, int]) -> np.ndarray:
    """Turn ``(B, 4)`` boxes ``(x0, y0, x1, y1)`` (whole pixels, end exclusive) into ``(B, H, W)`` bool masks.

    A box may reach past the image's edges (that part is cut off), but it must cover at
    least one pixel of it.

    Raises:
        ValueError: ``shape`` is not ``(H, W)``; boxes that are not ``(B, 4)`` whole numbers
            (fractions of the image size are named as such); an empty box; a box outside the image.

    Example:
        >>> boxes_to_masks(np.array([[1, 0, 3, 2]]), (2, 4)).astype(int)
        array([[[0, 1, 1, 0],
                [0, 1, 1, 0]]])
    """
    height, width = _mask_shape(shape)
    array = _numbers(boxes, "Boxes", "(x0, y0, x1, y1) in pixels")
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"Expected boxes of shape (B, 4) as (x0, y0, x1, y1) in pixels, got shape {array.shape}.")
    _whole_pixels(array)
    masks = np.zeros((len(array), height, width), dtype=bool)
    for mask, box in zip(masks, array.astype(np.int64)):
        x0, y0, x1, y1 = (int(v) for v in box)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"Box {(x0, y0, x1, y1)} is empty: it needs x0 < x1 and y0 < y1 (x0, y0, x1, y1 order).")
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            raise ValueError(
                f"Box {(x0, y0, x1, y1)} lies outside the {height}x{width} image: boxes are (x0, y0, x1, y1) in "
                "pixels of the heatmaps' size; scale boxes drawn at another size to it."
            )
        mask[max(y0, 0):y1, max(x0, 0):x1] = True
    return masks


def target_masks(targets, heat_shape: tuple[int, ...]) -> np.ndarray:
    """Masks ``(B, H, W)`` bool for heatmaps of shape ``(B, h, w)``, from masks or boxes.

    ``targets``: masks ``(B, H, W)``, boxes ``(B, 4)``, or one mask ``(H, W)`` / one box ``(4,)``
    shared by every heatmap. A ``(B, 4)`` array is read as B boxes, unless it has the
    heatmaps' own ``(h, w)`` shape (then it is one mask). Boxes are drawn at the heatmaps' size.

    Raises:
        ValueError: a count or shape that does not fit, mask values other than 0/1 (or 0/255),
            NaN, or bad boxes (see :func:`boxes_to_masks`).

    Example:
        >>> target_masks(np.ones((4, 4), bool), (2, 4, 4)).shape
        (2, 4, 4)
    """
    count, size = heat_shape[0], tuple(heat_shape[1:])
    target = _numbers(targets, "Masks or boxes", "bool masks or (x0, y0, x1, y1) boxes")
    boxes = target.ndim == 2 and target.shape[1] == 4 and target.shape != size
    if target.shape == (4,) or (boxes and len(target) == count):
        return boxes_to_masks(np.broadcast_to(target, (count, 4)), size)
    if (target.ndim == 2 and not boxes) or (target.ndim == 3 and len(target) == count):
        masks = _binary(target)
        return np.broadcast_to(masks, (count, *masks.shape)) if masks.ndim == 2 else masks
    raise ValueError(
        f"Expected {count} masks or boxes for heatmaps of shape {tuple(heat_shape)}, got targets of shape {target.shape}. "
        f"Pass one box (4,) as (x0, y0, x1, y1) or one mask (H, W) for all the heatmaps, "
        f"or one per heatmap: boxes ({count}, 4) or masks ({count}, H, W)."
    )


def class_array(classes: Classes, batch: int, *, allow_2d: bool = True) -> tuple[np.ndarray, bool]:
    """Class indices as an int32 ``(batch, K)`` array, and whether the caller asked for a class axis.

    ``classes``: an int (the same class for every image), one int per image ``(batch,)``, or,
    with ``allow_2d``, ``(batch, K)`` / ``(1, K)`` (K classes per image; then the axis is kept).
    Ranges are checked by :func:`check_class_range`, once the number of classes is known.

    Raises:
        ValueError: None, bools, floats or names instead of ints, a ragged or empty list, or a
            count or shape that does not fit ``batch`` images.

    Example:
        >>> class_array(285, 2)[0].tolist(), class_array([[1, 2]], 2)[1]
        ([[285], [285]], True)
    """
    if classes is None:
        raise ValueError(
            "classes is None: pass the class each heatmap explains, e.g. cam.last_classes[:, 0] after cam(images), "
            "or one int for all images."
        )
    try:
        array = np.asarray(classes)
    except ValueError:
        array = np.asarray(classes, dtype=object)
    ragged = array.dtype == object and array.ndim >= 1
    if ragged or array.size == 0:
        problem = "a ragged list (rows of different lengths)" if ragged else "empty"
        raise ValueError(f"classes is {problem}: {classes!r}. {_class_shapes(allow_2d)}")
    if array.dtype.kind in "USO":
        raise ValueError(
            f"Class indices must be integers, got {classes!r}. For an ImageNet name use "
            "daylib.models.imagenet.class_index(name); for your own classes, their position in class_names."
        )
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"Class indices must be integers (not bools or floats), got {classes!r}: pass e.g. classes=1.")
    if array.ndim == 0:
        return np.full((batch, 1), int(array), np.int32), False
    if array.ndim == 1 and len(array) == batch:
        return np.ascontiguousarray(array[:, None], dtype=np.int32), False
    if allow_2d and array.ndim == 2 and array.shape[0] in (1, batch):
        return np.ascontiguousarray(np.broadcast_to(array, (batch, array.shape[1])), dtype=np.int32), True
    got = f"{len(array)} classes" if array.ndim == 1 else f"classes of shape {array.shape}"
    raise ValueError(f"Got {got} for {batch} images. {_class_shapes(allow_2d)}")


def check_class_range(classes: np.ndarray, n_classes: int, binary: bool = False) -> None:
    """Refuse class indices outside ``0..n_classes - 1``, naming the first one.

    Example:
        >>> check_class_range(np.array([[0, 2]]), 3)
    """
    bad = classes[(classes < 0) | (classes >= n_classes)]
    if bad.size:
        hint = " (a single sigmoid unit: 0 = negative, 1 = positive)" if binary else ""
        raise ValueError(
            f"Class index {int(bad.flat[0])} is out of range: the model has {n_classes} classes, 0..{n_classes - 1}{hint}."
        )


def _class_shapes(allow_2d: bool) -> str:
    if allow_2d:
        return "Pass one int for all images, one int per image, or a 2-D list like [[285, 281]] for several per image."
    return "Pass one int for all images or one int per image."


def _numbers(values, name: str, expected: str, have: str = "have") -> np.ndarray:
    try:
        array = np.asarray(values)
    except ValueError:
        raise ValueError(f"{name}: a ragged list (items of different shapes); expected {expected}.") from None
    if array.dtype != bool and not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} {have} dtype {array.dtype} ({type(values).__name__}); expected {expected}.")
    return array


def _mask_shape(shape) -> tuple[int, int]:
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else ()
    ok = len(dims) == 2 and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in dims)
    if not ok:
        raise ValueError(f"shape must be (height, width) in pixels, two positive ints; got {shape!r}.")
    return int(dims[0]), int(dims[1])


def _whole_pixels(boxes: np.ndarray) -> None:
    if not np.all(np.isfinite(boxes)):
        raise ValueError("Boxes contain NaN or infinite values: every box needs four pixel coordinates.")
    if not np.array_equal(boxes, np.round(boxes)):
        if boxes.min() >= 0 and boxes.max() <= 1:
            raise ValueError(
                "Boxes look like fractions of the image size (all within [0, 1]); they are in pixels: "
                "multiply x0 and x1 by the width and y0 and y1 by the height."
            )
        raise ValueError("Boxes must be whole pixels; round them first, e.g. np.round(boxes).astype(int).")


def _binary(masks: np.ndarray) -> np.ndarray:
    if masks.dtype == bool:
        return masks
    if not np.all(np.isfinite(masks)):
        raise ValueError("Masks contain NaN or infinite values; masks are bool, or 0 and 1.")
    zero = masks == 0
    if not (np.all(zero | (masks == 1)) or np.all(zero | (masks == 255))):
        raise ValueError(
            f"Masks must be bool, or 0 and 1 (or 0 and 255), got values like {np.unique(masks)[:5].tolist()}: "
            "threshold soft masks first, e.g. mask > 0.5."
        )
    return masks > 0
