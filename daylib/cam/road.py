"""ROAD (Rong et al., ICML 2022): remove pixels by heatmap rank and fill them by noisy linear imputation.

Deletion curves fill removed pixels with black or blur: the holes are shapes the model never
saw, and their outline alone can tell the class (the "class information leakage" of the
paper). ROAD fills each removed pixel with the weighted mean of its 8 neighbours (the known
ones and the other removed ones alike), solved for all removed pixels at once as one sparse
linear system, plus a little Gaussian noise. The fill is smooth and carries no outline.

- :func:`noisy_linear_impute`: the imputer, one image and one mask.
- :func:`road_curve`: remove the most (``"morf"``) or least (``"lerf"``) relevant fraction of the
  pixels, impute, and follow the model's class probability, per image and per fraction.
  A faithful map makes the MoRF curve fall fast (low AUC) and the LeRF curve stay high (high AUC).

Parameters taken from the paper's code (``road/imputations.py`` and ``road/road.py`` of
github.com/tleemann/road_evaluation): the neighbour weights 1/6 for the 4 direct neighbours and
1/12 for the 4 diagonal ones (neighbours outside the image are dropped and the weights of the
others are not renormalised: the equation is ``sum_n w_n (x_n - x_i) = 0``); the noise
``noise=0.01`` as a standard deviation on images scaled to [0, 1] (here 0.01 x 255 on 0-255
images); the fractions 0.1, 0.2, ..., 0.9; the number removed ``int(fraction * H * W)``; ties in the
heatmap broken by a small fixed random order. One departure: here a fraction is always the share
of pixels *removed*, for LeRF too (the paper's code removes ``1 - fraction`` in LeRF order).

Example:
    >>> from daylib.cam.road import road_curve
    >>> curve = road_curve(model, images, GradCAM(model)(images, classes), classes, order="morf")
    >>> curve.auc                 # (B,), the mean probability over the curve; lower is more faithful for MoRF
"""
from __future__ import annotations

from typing import Sequence, Union

import keras
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

from daylib.arguments import count, fraction, number, optional_seed
from daylib.cam.metrics import Curve, class_probabilities, importance_order, perturbation_inputs
from daylib.cam.targets import check_class_range

__all__ = ["ORDERS", "NEIGHBOUR_WEIGHTS", "DEFAULT_FRACTIONS", "noisy_linear_impute", "road_curve"]

ORDERS = ("morf", "lerf")
"""Most relevant first, least relevant first."""

NEIGHBOUR_WEIGHTS = (
    ((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
    ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6),
)
"""``((dy, dx), weight)`` of the 8 neighbours, as in the paper's ``NoisyLinearImputer``."""

DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def noisy_linear_impute(
    image: np.ndarray, removed: np.ndarray, noise: float = 0.01, seed: Union[int, None] = 0
) -> np.ndarray:
    """Fill the ``removed`` pixels of one image by noisy linear imputation: float32 ``(H, W, C)``.

    Each removed pixel ``x_i`` solves ``sum_n w_n (x_n - x_i) = 0`` over its neighbours inside
    the image (:data:`NEIGHBOUR_WEIGHTS`), known or removed: one sparse system (``scipy.sparse``)
    for all removed pixels and all channels. Then Gaussian noise of standard deviation
    ``noise * 255`` is added to the filled pixels, and the result is clipped to 0-255. Kept
    pixels are returned unchanged.

    Args:
        image: ``(H, W, C)`` numbers 0-255 (one image of a batch).
        removed: ``(H, W)`` bool, True where a pixel is removed; at least one pixel must be kept.
        noise: the noise's standard deviation as a share of 255 (0 for none).
        seed: seeds the noise.

    Raises:
        ValueError: shapes that do not fit, a mask that removes every pixel, a negative noise.

    Example:
        >>> ramp = np.tile(np.arange(8.0), (8, 1))[..., None]        # x = column index
        >>> hole = np.zeros((8, 8), bool); hole[2:5, 2:6] = True
        >>> np.allclose(noisy_linear_impute(ramp, hole, noise=0), ramp)
        True
    """
    noise = number(noise, "noise", "0.01")
    if noise < 0:
        raise ValueError(f"noise must be 0 or more (a standard deviation as a share of 255), got {noise:g}.")
    image = np.asarray(image, dtype=np.float64)
    removed = np.asarray(removed)
    if image.ndim != 3 or removed.shape != image.shape[:2] or removed.dtype != bool:
        raise ValueError(
            f"Expected one image (H, W, C) and a bool mask (H, W) of the pixels to remove; got image "
            f"{image.shape} and mask {removed.shape} of dtype {removed.dtype}."
        )
    if removed.all():
        raise ValueError("The mask removes every pixel: nothing is left to impute from. Keep at least one pixel.")
    height, width, channels = image.shape
    filled = image.reshape(-1, channels).copy()
    flat = removed.ravel()
    unknown = np.flatnonzero(flat)
    if unknown.size == 0:
        return filled.reshape(image.shape).astype(np.float32)
    variable = np.full(flat.size, -1)
    variable[unknown] = np.arange(unknown.size)
    rows, cols = np.divmod(unknown, width)
    diagonal = np.zeros(unknown.size)
    right = np.zeros((unknown.size, channels))
    entries_i, entries_j, entries_w = [], [], []
    for (dy, dx), weight in NEIGHBOUR_WEIGHTS:
        y, x = rows + dy, cols + dx
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        neighbour = y[inside] * width + x[inside]
        equation = np.flatnonzero(inside)
        diagonal[equation] += weight
        is_unknown = flat[neighbour]
        entries_i.append(equation[is_unknown])
        entries_j.append(variable[neighbour[is_unknown]])
        entries_w.append(np.full(int(is_unknown.sum()), -weight))
        np.add.at(right, equation[~is_unknown], weight * image.reshape(-1, channels)[neighbour[~is_unknown]])
    i = np.concatenate([*entries_i, np.arange(unknown.size)])
    j = np.concatenate([*entries_j, np.arange(unknown.size)])
    w = np.concatenate([*entries_w, diagonal])
    system = coo_matrix((w, (i, j)), shape=(unknown.size, unknown.size)).tocsc()
    solution = spsolve(system, right).reshape(unknown.size, channels)
    if noise > 0:
        solution = solution + np.random.default_rng(optional_seed(seed)).normal(0, noise * 255, solution.shape)
    filled[unknown] = solution
    return np.clip(filled, 0, 255).reshape(image.shape).astype(np.float32)


def road_curve(
    model: keras.Model,
    images: np.ndarray,
    heatmaps: np.ndarray,
    classes: Union[int, Sequence[int], np.ndarray],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    order: str = "morf",
    noise: float = 0.01,
    batch_size: int = 32,
    seed: int = 0,
) -> Curve:
    """Remove a fraction of the pixels by heatmap rank, impute them (ROAD), follow the class probability.

    For each image and each fraction ``f``, the ``int(f * H * W)`` most relevant pixels
    (``order="morf"``) or least relevant ones (``"lerf"``) are removed and filled by
    :func:`noisy_linear_impute`; the perturbed images of each image go through the model in
    batches (:func:`daylib.models.inference.predict`). The score is the model's output for the
    class (its probability; ``[1 - p, p]`` for a single sigmoid unit), as in
    :func:`daylib.cam.metrics.deletion_curve`.

    Returns a :class:`daylib.cam.metrics.Curve` whose ``fractions`` are ``(0, *fractions)``
    (0: the image itself), ``scores`` ``(B, S + 1)``, and ``auc`` the trapezoid area under the
    curve divided by the largest fraction: the mean probability along the curve, in [0, 1].
    MoRF: lower is more faithful; LeRF: higher is more faithful.

    Args:
        fractions: shares of pixels removed, increasing, each strictly between 0 and 1
            (the paper's code: 0.1 to 0.9).
        order: ``"morf"`` or ``"lerf"``.
        noise: the imputation noise (a share of 255, the paper's 0.01 by default).
        seed: seeds the order of tied pixels and the noise (image ``b``, fraction ``s`` uses its own stream).

    Raises:
        ValueError: bad images, heatmaps of another size, classes that do not fit or are out of
            range, fractions not increasing in (0, 1), an unknown order.

    Example:
        >>> morf = road_curve(model, images, heatmaps, classes, order="morf")
        >>> lerf = road_curve(model, images, heatmaps, classes, order="lerf")
        >>> lerf.auc.mean() - morf.auc.mean()        # larger gap = more faithful map
    """
    if order not in ORDERS:
        raise ValueError(f"Unknown order {order!r}; use 'morf' (most relevant first) or 'lerf' (least relevant first).")
    shares = _fractions(fractions)
    batch_size = count(batch_size, "batch_size", example=32)
    noise = number(noise, "noise", "0.01")
    seed = optional_seed(seed)
    batch, heat, targets, tie_break = perturbation_inputs(images, heatmaps, classes, seed)
    pixels = heat.shape[1] * heat.shape[2]
    removed_counts = (shares * pixels).astype(int)
    scores = np.empty((len(batch), len(shares) + 1), np.float64)
    for b, image in enumerate(batch):
        ranking = importance_order(heat[b], tie_break)
        if order == "lerf":
            ranking = ranking[::-1]
        perturbed = [image]
        for s, removed_count in enumerate(removed_counts):
            removed = np.zeros(pixels, bool)
            removed[ranking[:removed_count]] = True
            stream = None if seed is None else int(np.random.SeedSequence([seed, b, s]).generate_state(1)[0])
            perturbed.append(noisy_linear_impute(image, removed.reshape(heat.shape[1:]), noise, stream))
        probabilities = class_probabilities(model, np.stack(perturbed), batch_size)
        if b == 0:
            check_class_range(targets, probabilities.shape[-1])
        scores[b] = probabilities[:, targets[b]]
    steps = np.concatenate([[0.0], shares])
    auc = ((scores[:, 1:] + scores[:, :-1]) / 2 * np.diff(steps)).sum(axis=1) / steps[-1]
    return Curve(fractions=steps, scores=scores, auc=auc)


def _fractions(fractions) -> np.ndarray:
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, (Sequence, np.ndarray)) or len(fractions) == 0:
        raise ValueError(
            f"fractions must be a non-empty list of shares in (0, 1), e.g. (0.1, 0.5, 0.9); got {fractions!r:.60}."
        )
    shares = np.array(
        [fraction(f, f"fractions[{i}]", open_low=True, open_high=True, example="0.1") for i, f in enumerate(fractions)]
    )
    if np.any(np.diff(shares) <= 0):
        raise ValueError(f"fractions must increase, each once, e.g. (0.1, 0.5, 0.9); got {list(fractions)}.")
    return shares
