"""How alike two batches of heatmaps are: the four similarities of the sanity checks (Adebayo et al., 2018).

``spearman_abs`` (Spearman rank correlation of the [0, 1] maps), ``spearman_signed`` (of the
signed maps, where a method has them), ``ssim`` (:func:`skimage.metrics.structural_similarity`,
``data_range=1``) and ``hog`` (Pearson correlation of :func:`skimage.feature.hog` of both maps,
8 x 8 cells per map, 2 x 2 cells per block). A correlation between two constant maps (e.g. two
all-zero maps) is 1 if they are equal and 0 otherwise; a constant map against a varying one is 0.

Example:
    >>> from daylib.cam.similarity import map_similarity
    >>> map_similarity(maps, maps)[0]
    {'spearman_abs': 1.0, 'spearman_signed': None, 'ssim': 1.0, 'hog': 1.0}
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.stats import rankdata
from skimage.feature import hog
from skimage.metrics import structural_similarity

from daylib.cam.metrics import correlation
from daylib.cam.targets import as_heatmaps

__all__ = ["SIMILARITIES", "MIN_SIZE", "map_similarity"]

SIMILARITIES = ("spearman_abs", "spearman_signed", "ssim", "hog")
"""The similarity columns of every row, in order."""

MIN_SIZE = 16
"""The smallest map side the similarities accept (SSIM's 7 x 7 window, HOG's 8 x 8 cells)."""


def map_similarity(
    first: np.ndarray,
    second: np.ndarray,
    first_signed: Optional[np.ndarray] = None,
    second_signed: Optional[np.ndarray] = None,
) -> list[dict[str, Optional[float]]]:
    """The four :data:`SIMILARITIES` of two batches of maps ``(B, H, W)`` in [0, 1], one dict per image.

    ``first_signed`` / ``second_signed``: the signed maps ``(B, H, W)``; without both,
    ``spearman_signed`` is ``None``. Maps need at least 16 x 16 pixels (for HOG and SSIM).

    Raises:
        ValueError: maps outside [0, 1] or of different shapes, or smaller than 16 x 16.

    Example:
        >>> map_similarity(maps, maps)[0]
        {'spearman_abs': 1.0, 'spearman_signed': None, 'ssim': 1.0, 'hog': 1.0}
    """
    a = as_heatmaps(first, "the first maps")
    b = as_heatmaps(second, "the second maps")
    if a.shape != b.shape:
        raise ValueError(
            f"The two batches of maps differ in shape: {a.shape} and {b.shape}; compare maps of the same images."
        )
    if min(a.shape[1:]) < MIN_SIZE:
        raise ValueError(
            f"Maps of {a.shape[1]}x{a.shape[2]} pixels are too small for SSIM and HOG: use at least {MIN_SIZE}x{MIN_SIZE}."
        )
    signed = first_signed is not None and second_signed is not None
    if signed:
        first_signed, second_signed = np.asarray(first_signed, np.float64), np.asarray(second_signed, np.float64)
        if first_signed.shape != a.shape or second_signed.shape != a.shape:
            raise ValueError(
                f"Signed maps must match the maps' shape {a.shape}; got {first_signed.shape} and {second_signed.shape}."
            )
    cell = max(2, min(a.shape[1:]) // 8)
    rows = []
    for i, (x, y) in enumerate(zip(a, b)):
        rows.append({
            "spearman_abs": _rank_correlation(x, y),
            "spearman_signed": _rank_correlation(first_signed[i], second_signed[i]) if signed else None,
            "ssim": float(structural_similarity(x, y, data_range=1.0)),
            "hog": _pearson(_hog(x, cell), _hog(y, cell)),
        })
    return rows


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return _pearson(rankdata(a.ravel()), rankdata(b.ravel()))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float(np.array_equal(a, b))
    return correlation(a, b)


def _hog(heat: np.ndarray, cell: int) -> np.ndarray:
    return hog(heat, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2), feature_vector=True)
