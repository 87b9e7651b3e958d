"""Splits of a chest X-ray dataset: the Split and ChestXrays types, the patient split and seeded subsets.

- :class:`Split` holds one split (labels plus files or in-memory images, masks,
  markers); :class:`ChestXrays` holds train / val / test and where they came from.
- :func:`split_by_patient` re-splits file-backed data so that no patient is on
  both sides (patients come from Kaggle file names, see :func:`patient_id`).
- :func:`stratified_subset` draws a seeded sample that keeps each class's share;
  :func:`cap_per_split` applies it to every split, as ``pneumonia.load`` does in
  quick mode (:data:`QUICK_MAX_PER_SPLIT`).

Example:
    >>> from daylib.data.splits import Split, stratified_subset
    >>> split = Split(labels=np.array([0] * 30 + [1] * 90))
    >>> stratified_subset(split, 40, seed=0).counts()
    {'NORMAL': 10, 'PNEUMONIA': 30}
"""
from __future__ import annotations

import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from daylib import config
from daylib.data.phantom import CLASS_NAMES

SPLITS = ("train", "val", "test")

QUICK_MAX_PER_SPLIT = (120, 40, 80)
"""Kaggle films kept per split (train, val, test) in quick mode: the phantom source's quick sizes."""

Cap = Optional[tuple[int, int, int]]

_PERSON = re.compile(r"^(person\d+)_", re.IGNORECASE)
_NORMAL = re.compile(r"^(.*IM-\d+)-\d+$", re.IGNORECASE)


@dataclass
class Split:
    """One split of a dataset: labels plus either image files or in-memory images.

    Attributes:
        labels: ``(n,)`` int64 class indices (0 = NORMAL, 1 = PNEUMONIA).
        paths: image files (Kaggle copy, phantom folder), or None.
        images: ``(n, H, W)`` uint8 images (phantom data in memory), or None.
        masks: ``(n, H, W)`` bool lesion masks for in-memory phantoms, or None.
        mask_paths: per image the mask file, or None where it has none (NORMAL
            images, real data); None altogether when no masks exist.
        markers: side-marker index per image for phantom data (-1 = none), or None.

    Example:
        >>> split = pneumonia.load("phantom", phantom_counts=(40, 10, 20), verbose=False).train
        >>> len(split), split.counts()
        (40, {'NORMAL': 20, 'PNEUMONIA': 20})
    """

    labels: np.ndarray
    paths: Optional[list[Path]] = None
    images: Optional[np.ndarray] = None
    masks: Optional[np.ndarray] = None
    mask_paths: Optional[list[Optional[Path]]] = None
    markers: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self, class_names: Sequence[str] = CLASS_NAMES) -> dict[str, int]:
        """Images per class.

        Example:
            >>> Split(labels=np.array([0, 1, 1])).counts()
            {'NORMAL': 1, 'PNEUMONIA': 2}
        """
        found = np.bincount(np.asarray(self.labels, np.int64), minlength=len(class_names))
        return {name: int(found[i]) for i, name in enumerate(class_names)}

    def subset(self, index: np.ndarray) -> "Split":
        """The images at ``index`` (an integer array), every field kept aligned.

        Example:
            >>> first_ten = split.subset(np.arange(10))
        """
        pick = lambda values: None if values is None else [values[i] for i in index]  # noqa: E731
        take = lambda values: None if values is None else values[index]  # noqa: E731
        return Split(labels=self.labels[index], paths=pick(self.paths), images=take(self.images),
                     masks=take(self.masks), mask_paths=pick(self.mask_paths), markers=take(self.markers))


@dataclass
class ChestXrays:
    """A dataset with train / val / test splits and where it came from.

    Attributes:
        source: ``"kaggle"``, ``"phantom"`` or ``"folder"`` (any folder in the Kaggle layout).
        train, val, test: the :class:`Split` objects.
        class_names: ``("NORMAL", "PNEUMONIA")``.
        root: the folder the files live in (None for in-memory phantoms).
        skipped: files left out (stray or unreadable), each already named in a warning.

    Example:
        >>> data = pneumonia.load("phantom", phantom_counts=(80, 20, 40), verbose=False)
        >>> data.source, len(data.train)
        ('phantom', 80)
    """

    source: str
    train: Split
    val: Split
    test: Split
    class_names: tuple[str, ...] = CLASS_NAMES
    root: Optional[Path] = None
    skipped: list[Path] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class in each split.

        Example:
            >>> data.counts()["test"]
            {'NORMAL': 234, 'PNEUMONIA': 390}
        """
        return {name: getattr(self, name).counts(self.class_names) for name in SPLITS}

    def summary(self) -> str:
        """A small table of class counts per split.

        Example:
            >>> print(data.summary())
        """
        lines = [f"{'split':<6} " + " ".join(f"{c:>10}" for c in self.class_names) + f" {'total':>7}"]
        for name, counts in self.counts().items():
            lines.append(f"{name:<6} " + " ".join(f"{counts[c]:>10}" for c in self.class_names)
                         + f" {sum(counts.values()):>7}")
        where = f" from {self.root}" if self.root else ""
        return f"source: {self.source}{where}\n" + "\n".join(lines)


def patient_id(path: Union[str, Path]) -> Optional[str]:
    """The patient a Kaggle file belongs to, from its name; None when the name has none.

    ``person12_bacteria_47.jpeg`` -> ``"person12"``, ``IM-0115-0001.jpeg`` ->
    ``"IM-0115"``, ``NORMAL2-IM-0027-0001.jpeg`` -> ``"NORMAL2-IM-0027"``.

    Example:
        >>> patient_id("person1_virus_6.jpeg")
        'person1'
    """
    stem = Path(path).stem
    match = _PERSON.match(stem) or _NORMAL.match(stem)
    return match.group(1) if match else None


def split_by_patient(split: Split, val_fraction: float = 0.2, seed: int = 0) -> tuple[Split, Split]:
    """Split file-backed data into train / val so that no patient is on both sides.

    Patients are shuffled per class (a patient counts for the class most of
    their images have) and moved to val until the class has ``val_fraction`` of
    its images there, so both splits keep the class balance. Files without a
    patient id in their name (see :func:`patient_id`) count as one patient each,
    with a warning.

    Raises:
        ValueError: ``val_fraction`` not in (0, 1), or a split without file paths.

    Example:
        >>> train, val = split_by_patient(data.train, val_fraction=0.2)
        >>> {patient_id(p) for p in train.paths}.isdisjoint({patient_id(p) for p in val.paths})
        True
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction} must be between 0 and 1 (exclusive).")
    if split.paths is None:
        raise ValueError("split_by_patient needs file paths (patient ids come from file names).")
    ids = [patient_id(p) for p in split.paths]
    missing = sum(i is None for i in ids)
    if missing:
        warnings.warn(f"{missing} file names carry no patient id; each is treated as its own patient.", stacklevel=2)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, (pid, path) in enumerate(zip(ids, split.paths)):
        groups[pid or f"file:{path}"].append(index)
    by_class: dict[int, list[str]] = defaultdict(list)
    for pid in sorted(groups):
        majority = Counter(split.labels[groups[pid]].tolist()).most_common(1)[0][0]
        by_class[majority].append(pid)
    rng = np.random.default_rng(seed)
    val_index: list[int] = []
    for label in sorted(by_class):
        patients = [by_class[label][i] for i in rng.permutation(len(by_class[label]))]
        target = val_fraction * sum(len(groups[p]) for p in patients)
        taken = 0
        for pid in patients:
            if taken >= target:
                break
            val_index += groups[pid]
            taken += len(groups[pid])
    in_val = np.zeros(len(split), bool)
    in_val[val_index] = True
    return split.subset(np.flatnonzero(~in_val)), split.subset(np.flatnonzero(in_val))


def stratified_subset(split: Split, n: int, seed: int = 0) -> Split:
    """``n`` images of ``split`` drawn at random, each class keeping its share; all of it if it has ``n`` or fewer.

    Class sizes are the shares of ``n`` rounded by largest remainder, so they
    differ from the exact proportions by less than one image. The images keep
    their order in ``split`` and every field (paths, masks, markers) stays aligned.

    Example:
        >>> split = Split(labels=np.array([0] * 30 + [1] * 90))
        >>> stratified_subset(split, 40, seed=0).counts()
        {'NORMAL': 10, 'PNEUMONIA': 30}
    """
    if n >= len(split):
        return split
    labels = np.asarray(split.labels, np.int64)
    classes, sizes = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    index = [rng.choice(np.flatnonzero(labels == label), quota, replace=False)
             for label, quota in zip(classes, _class_quotas(sizes, n))]
    return split.subset(np.sort(np.concatenate(index)))


def stratified_split(split: Split, val_fraction: float = 0.2, test_fraction: float = 0.2,
                     seed: int = 0) -> tuple[Split, Split, Split]:
    """Split ``split`` at random into train / val / test, each class keeping its share in each part.

    For images without patient ids (your own folder). Each class gives
    ``round(fraction * size)`` images, at least one, to val and to test, and keeps the
    rest (at least one) for train. Where file names carry patient ids, use
    :func:`split_by_patient` instead, so that no patient is on both sides.

    Raises:
        ValueError: fractions outside [0, 1) or summing to 1 or more, or a class too small
            to give every part an image (the message names it).

    Example:
        >>> split = Split(labels=np.array([0] * 10 + [1] * 10))
        >>> [part.counts() for part in stratified_split(split, 0.2, 0.2)]
        [{'NORMAL': 6, 'PNEUMONIA': 6}, {'NORMAL': 2, 'PNEUMONIA': 2}, {'NORMAL': 2, 'PNEUMONIA': 2}]
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name}={value!r} must be a number from 0 to below 1, e.g. 0.2.")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction = {val_fraction + test_fraction:g} leaves nothing to train "
                         "on: keep their sum below 1, e.g. 0.2 and 0.2.")
    labels = np.asarray(split.labels, np.int64)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val, n_test = (max(1, round(f * len(members))) if f > 0 else 0 for f in (val_fraction, test_fraction))
        if len(members) - n_val - n_test < 1:
            raise ValueError(f"Class {int(label)} has only {len(members)} images: too few to give train, val and "
                             "test one each. Add images to it, or lower val_fraction / test_fraction.")
        for part, index in zip(parts, (members[n_val + n_test:], members[:n_val], members[n_val:n_val + n_test])):
            part.append(index)
    return tuple(split.subset(np.sort(np.concatenate(part))) for part in parts)


def _class_quotas(sizes: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` in proportion to ``sizes`` (whole numbers, largest remainders rounded up)."""
    total = int(sizes.sum())
    quotas, remainders = np.divmod(sizes * n, total)
    order = np.argsort(-remainders, kind="stable")
    quotas[order[: n - int(quotas.sum())]] += 1
    return quotas


def resolve_cap(value: Union[tuple[int, int, int], None, str]) -> Cap:
    """The per-split cap ``pneumonia.load(max_per_split=value)`` applies: ``"auto"`` resolved, anything else checked.

    ``"auto"`` is :data:`QUICK_MAX_PER_SPLIT` in quick mode (``DAYLIB_QUICK=1``) and
    None (no cap) otherwise; None stays None; three positive whole numbers become a tuple.

    Raises:
        ValueError: anything else; the message lists what to give.

    Example:
        >>> resolve_cap([40, 10, 15])
        (40, 10, 15)
    """
    if isinstance(value, str) and value == "auto":
        return config.pick(quick=QUICK_MAX_PER_SPLIT, full=None)
    if value is None:
        return None
    if not (isinstance(value, (tuple, list)) and len(value) == len(SPLITS) and all(map(_positive_whole, value))):
        raise ValueError(f"max_per_split={value!r}: give three positive whole numbers (train, val, test), "
                         f"e.g. {QUICK_MAX_PER_SPLIT}, None to load every film, or 'auto' for the quick-mode default.")
    return tuple(int(n) for n in value)


def cap_per_split(data: ChestXrays, cap: Cap, seed: int) -> ChestXrays:
    """``data`` with each split sampled down to its cap by :func:`stratified_subset` (split ``k`` seeded ``seed + k``).

    Example:
        >>> small = cap_per_split(data, (40, 10, 15), seed=0)
        >>> [len(small.train), len(small.val), len(small.test)]
        [40, 10, 15]
    """
    if cap is None:
        return data
    parts = {name: stratified_subset(getattr(data, name), n, seed + offset)
             for offset, (name, n) in enumerate(zip(SPLITS, cap))}
    return replace(data, **parts)


def cap_note(every_film: ChestXrays, kept: ChestXrays, cap: Cap, from_quick_mode: bool) -> str:
    """One line naming what the cap left out and how to load all; empty when it left nothing out.

    Example:
        >>> cap_note(data, cap_per_split(data, (40, 10, 15), 0), (40, 10, 15), from_quick_mode=False)
        'max_per_split=(40, 10, 15): using 40 of 4,172 training films, ...; max_per_split=None loads all.'
    """
    sizes = [(len(getattr(kept, name)), len(getattr(every_film, name))) for name in SPLITS]
    if all(n_kept == total for n_kept, total in sizes):
        return ""
    used = ", ".join(f"{n_kept:,} of {total:,} {word} films"
                     for (n_kept, total), word in zip(sizes, ("training", "validation", "test")))
    if from_quick_mode:
        return f"quick mode: using {used}; DAYLIB_QUICK=0 or max_per_split=None loads all."
    return f"max_per_split={cap}: using {used}; max_per_split=None loads all."


def _positive_whole(n) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
