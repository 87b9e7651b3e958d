"""Phantom chest X-rays: synthetic radiographs with known pneumonia masks.

Each image is drawn like a PA chest film: a body outline, two dark lung fields,
posterior and anterior ribs, clavicles, the spine, the heart shadow and the
domes of the diaphragm, with vessel markings, lung texture and (for some
patients) breast shadows. Pose, scale, exposure, contrast, the heel-effect
gradient and noise change per image, so no single pixel and no global
statistic gives the label away. Pneumonia images carry one to several patchy,
blurred opacities inside the lung fields, and the lesion mask comes with them:
the heatmap lessons score Grad-CAM against it.

Rendering (in :mod:`daylib.data._phantom_film`) works in *attenuation*
(bright = dense, as on a film): each structure is drawn with OpenCV as a
polygon or thick polyline, blurred, and summed with its own density; the sum
goes through the exposure curve ``1 - exp(-mu * A)``, a per-image window and
gamma, then noise.

Example:
    >>> from daylib.data.phantom import make_phantom, CLASS_NAMES
    >>> images, labels, masks = make_phantom(8, size=64, seed=0)
    >>> images.shape, images.dtype, CLASS_NAMES[labels[0]]
    ((8, 64, 64), dtype('uint8'), 'PNEUMONIA')
"""
from __future__ import annotations

import csv
import json
import math
import numbers
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import cv2
import numpy as np

from daylib.data._phantom_film import burn_marker, draw_params, letter_stamp, render_chunk

CLASS_NAMES = ("NORMAL", "PNEUMONIA")
MARKER_LETTERS = ("L", "R")
DIFFICULTIES = {"easy": 0.1, "medium": 0.3, "hard": 0.6}
DEFAULT_DIFFICULTY = "medium"
MIN_SIZE = 32

Difficulty = Union[float, str]

_CHUNK = 64  # images rendered per vectorised chunk (keeps memory flat)


@dataclass
class Phantoms:
    """A batch of phantom X-rays. Unpacks as ``images, labels, masks``.

    Attributes:
        images: ``(n, size, size)`` uint8 grayscale radiographs (bright = dense).
            :mod:`daylib.data.pipeline` turns them into 3-channel float32 0-255.
        labels: ``(n,)`` int64, 0 = NORMAL, 1 = PNEUMONIA (see :data:`CLASS_NAMES`).
        masks: ``(n, size, size)`` bool lesion masks; all False for NORMAL images.
        lungs: ``(n, size, size)`` bool visible lung fields (heart shadow excluded).
        markers: ``(n,)`` int8 index into :data:`MARKER_LETTERS` of the burned-in
            side marker, or -1 where no marker was drawn.

    Example:
        >>> ph = make_phantom(4, size=64)
        >>> images, labels, masks = ph
        >>> ph.markers.tolist()
        [-1, -1, -1, -1]
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    lungs: np.ndarray
    markers: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.images, self.labels, self.masks))


def make_phantom(
    n: int,
    size: int = 224,
    pneumonia_fraction: float = 0.5,
    difficulty: Difficulty = DEFAULT_DIFFICULTY,
    shortcut: Optional[float] = None,
    seed: int = 0,
) -> Phantoms:
    """Draw ``n`` phantom chest X-rays with labels and lesion masks.

    Args:
        n: number of images.
        size: side in pixels (square images, at least 32).
        pneumonia_fraction: share of PNEUMONIA images; exactly
            ``round(n * pneumonia_fraction)`` of them, in random order.
        difficulty: 0.0 (large, dense opacities) to 1.0 (small, faint ones), or
            one of ``"easy"`` (0.1), ``"medium"`` (0.3, the default) and ``"hard"`` (0.6).
            At "medium", 200 training images give a small CNN trained from scratch
            little better than chance and a linear head on frozen ImageNet
            EfficientNet-Lite0 features about 80% held-out accuracy: not trivial,
            with room left for fine-tuning.
        shortcut: ``None`` draws no marker. A number in [0, 1] burns a side-marker
            letter into the top-left corner of *every* image: the letter
            :data:`MARKER_LETTERS` ``[label]`` ("R" for PNEUMONIA) on exactly
            ``round(n * shortcut)`` images, the other letter on the rest.
            1.0 = marker always agrees with the label, 0.5 = uninformative.
        seed: the same seed and arguments give the same images, bit for bit.

    Returns:
        :class:`Phantoms` (unpacks as ``images, labels, masks``; also ``lungs``, ``markers``).

    Raises:
        ValueError: a count, size or seed that is not a whole number (floats, bools,
            strings; numpy integers are fine), or a count, size, fraction,
            difficulty or shortcut out of range. The message names the fix.

    Example:
        >>> train = make_phantom(200, size=96, shortcut=0.95, seed=1)
        >>> test = make_phantom(100, size=96, shortcut=0.5, seed=2)
        >>> float((train.markers == train.labels).mean())
        0.95
    """
    level = _difficulty_level(difficulty)
    n, size, seed = _check_args(n, size, pneumonia_fraction, shortcut, seed)
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, np.int64)
    labels[: int(round(n * pneumonia_fraction))] = 1
    labels = rng.permutation(labels)
    markers = _assign_markers(labels, shortcut, np.random.default_rng([seed, 1]))
    params = draw_params(n, labels, level, rng)

    images = np.empty((n, size, size), np.uint8)
    masks = np.zeros((n, size, size), bool)
    lungs = np.zeros((n, size, size), bool)
    chunks = [np.arange(start, min(start + _CHUNK, n)) for start in range(0, n, _CHUNK)]
    chunk_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(chunks))]

    def render(k: int) -> None:  # chunks own their outputs and generators: threads give the same bits
        idx = chunks[k]
        images[idx], masks[idx], lungs[idx] = render_chunk(idx, size, params, chunk_rngs[k])

    with ThreadPoolExecutor(max_workers=min(len(chunks), os.cpu_count() or 1) or 1) as pool:
        list(pool.map(render, range(len(chunks))))
    stamps = [letter_stamp(letter, size) for letter in MARKER_LETTERS]
    for i in np.flatnonzero(markers >= 0):
        burn_marker(images[i], stamps[markers[i]], params["marker_xy"][i])
    return Phantoms(images=images, labels=labels, masks=masks, lungs=lungs, markers=markers)


def write_phantom_dataset(
    root: Union[str, Path],
    n_train: int,
    n_val: int,
    n_test: int,
    size: int = 224,
    pneumonia_fraction: float = 0.5,
    difficulty: Difficulty = DEFAULT_DIFFICULTY,
    shortcut: Optional[float] = None,
    test_shortcut: Optional[float] = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write phantom splits as PNG files in the Kaggle chest-X-ray folder layout.

    Layout (the same as Kaggle's ``chest_xray`` folder, plus masks)::

        root/{train,val,test}/{NORMAL,PNEUMONIA}/phantom-<split>-<i>.png
        root/masks/{train,val,test}/PNEUMONIA/phantom-<split>-<i>.png   (0 / 255)
        root/manifest.csv    path, split, label, class_name, marker
        root/phantom.json    the arguments used

    The splits are independent draws (seeds ``seed``, ``seed+1``, ``seed+2``).
    ``shortcut`` applies to train and val; ``test_shortcut`` (default: 0.5 when
    ``shortcut`` is set, so the marker carries no information at test time) to test.
    Files are written to a temporary folder next to ``root`` and moved into place
    at the end, so an interrupted call never leaves a half-written dataset.

    Raises:
        FileExistsError: ``root`` exists and is not empty, and ``overwrite`` is False.
        ValueError: a split count that is not a whole number >= 0, or another
            argument :func:`make_phantom` refuses.

    Example:
        >>> write_phantom_dataset("/tmp/phantom_xray", 40, 10, 20, size=64)
        PosixPath('/tmp/phantom_xray')
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{root} already exists and is not empty. Pick an empty folder, or pass overwrite=True to replace it."
        )
    if shortcut is not None and test_shortcut is None:
        test_shortcut = 0.5
    counts = {split: _whole_number(count, f"n_{split}", f"the number of {split} images", 100)
              for split, count in (("train", n_train), ("val", n_val), ("test", n_test))}
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        rows = []
        for offset, (split, count) in enumerate(counts.items()):
            split_shortcut = test_shortcut if split == "test" else shortcut
            ph = make_phantom(count, size, pneumonia_fraction, difficulty, split_shortcut, seed + offset)
            rows += _write_split(tmp, split, ph)
        _write_manifest(tmp, rows)
        settings = dict(counts=counts, size=size, pneumonia_fraction=pneumonia_fraction, difficulty=difficulty,
                        shortcut=shortcut, test_shortcut=test_shortcut, seed=seed)
        (tmp / "phantom.json").write_text(json.dumps(settings, indent=2))
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _write_split(root: Path, split: str, ph: Phantoms) -> list[tuple[str, str, int, str, int]]:
    rows = []
    for class_name in CLASS_NAMES:
        (root / split / class_name).mkdir(parents=True)
    (root / "masks" / split / CLASS_NAMES[1]).mkdir(parents=True)
    for i, (image, label, mask, marker) in enumerate(zip(ph.images, ph.labels, ph.masks, ph.markers)):
        class_name = CLASS_NAMES[label]
        rel = Path(split) / class_name / f"phantom-{split}-{i:05d}.png"
        cv2.imwrite(str(root / rel), image)
        if label == 1:
            cv2.imwrite(str(root / "masks" / rel), mask.astype(np.uint8) * 255)
        rows.append((rel.as_posix(), split, int(label), class_name, int(marker)))
    return rows


def _write_manifest(root: Path, rows: list[tuple[str, str, int, str, int]]) -> None:
    with open(root / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "split", "label", "class_name", "marker"])
        writer.writerows(rows)


def _difficulty_level(difficulty: Difficulty) -> float:
    if isinstance(difficulty, str):
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty={difficulty!r}: use a number in [0, 1] or one of {sorted(DIFFICULTIES)}.")
        return DIFFICULTIES[difficulty]
    level = _fraction(difficulty, "difficulty", f"use a number in [0, 1] or one of {sorted(DIFFICULTIES)}")
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"difficulty={difficulty!r} is outside [0, 1] (0 = easy, 1 = hard).")
    return level


def _check_args(
    n: int, size: int, pneumonia_fraction: float, shortcut: Optional[float], seed: int
) -> tuple[int, int, int]:
    """Check ``make_phantom``'s arguments before numpy sees them; return ``n``, ``size`` and ``seed`` as ints."""
    n = _whole_number(n, "n", "the number of images", 100)
    size = _whole_number(size, "size", "the image side in pixels", 224)
    seed = _whole_number(seed, "seed", "the seed", 0)
    if size < MIN_SIZE:
        raise ValueError(f"size={size}: phantoms need at least {MIN_SIZE} pixels a side to draw the anatomy.")
    share_help = "give the share of PNEUMONIA images, a number in [0, 1]"
    if not 0.0 <= _fraction(pneumonia_fraction, "pneumonia_fraction", share_help) <= 1.0:
        raise ValueError(f"pneumonia_fraction={pneumonia_fraction} is outside [0, 1].")
    marker_help = ("give the probability in [0, 1] that the marker agrees with the label "
                   "(1.0 = always, 0.5 = uninformative), or None for no marker")
    if shortcut is not None and not 0.0 <= _fraction(shortcut, "shortcut", marker_help) <= 1.0:
        raise ValueError(f"shortcut={shortcut}: {marker_help}.")
    return n, size, seed


def _whole_number(value: object, name: str, what: str, example: int) -> int:
    """``value`` as an int >= 0: Python or numpy integers pass; floats, bools, strings and negatives get the fix."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name}={value!r} ({type(value).__name__}): {what} must be a whole number, an int such as "
            f"{name}={example}. If it comes from arithmetic, convert it: {name}=int(round(...))."
        )
    if value < 0:
        raise ValueError(f"{name}={value}: {what} cannot be negative; pass an int >= 0.")
    return int(value)


def _fraction(value: object, name: str, help_text: str) -> float:
    """``value`` as a float (not NaN); anything else, bools and strings included, gets ``help_text``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{name}={value!r}: {help_text}.")
    return float(value)


def _assign_markers(labels: np.ndarray, shortcut: Optional[float], rng: np.random.Generator) -> np.ndarray:
    n = len(labels)
    if shortcut is None:
        return np.full(n, -1, np.int8)
    agree = np.zeros(n, bool)
    agree[: int(round(n * shortcut))] = True
    agree = rng.permutation(agree)
    return np.where(agree, labels, 1 - labels).astype(np.int8)
