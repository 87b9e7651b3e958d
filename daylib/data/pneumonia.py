"""The chest X-ray pneumonia data: Kaggle's real films or the phantom stand-in.

The real data is Kaggle's ``paultimothymooney/chest-xray-pneumonia`` (Kermany et
al., Cell 2018): ``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg``, train
5,216 images (1,341 normal / 3,875 pneumonia), val 16, test 624 (234 / 390).

- :func:`download` fetches it with the ``kaggle`` client (credentials checked
  first, a clear message when they or the network are missing), extracts it into
  a temporary folder, checks the per-class file counts and only then moves it
  into place, so an interrupted run never leaves a copy that looks complete.
- :func:`load_folder` reads any folder in that layout (the Kaggle copy, or one
  written by :func:`daylib.data.phantom.write_phantom_dataset`), skipping stray
  files and unreadable images with a warning that names them.
- :func:`load` picks the source (``"auto"``, ``"kaggle"`` or ``"phantom"``) and
  re-splits Kaggle's train folder into train/val *by patient*: its 16-image val
  split is too small to use. In quick mode it keeps a small, class-balanced,
  seeded sample of the Kaggle films (``max_per_split``) and says so.

Both sources come back as :class:`ChestXrays` (train / val / test
:class:`Split` objects), which :func:`daylib.data.pipeline.dataset_from_split`
turns into ``tf.data`` datasets the same way.

Example:
    >>> from daylib.data import pneumonia
    >>> data = pneumonia.load("auto")          # Kaggle copy if present, else phantoms
    >>> print(data.summary())
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import warnings
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from daylib import config
from daylib.data.images import IMAGE_SUFFIXES, load_image
from daylib.data.phantom import CLASS_NAMES, make_phantom

KAGGLE_DATASET = "paultimothymooney/chest-xray-pneumonia"
KAGGLE_HOST = "www.kaggle.com"
SPLITS = ("train", "val", "test")
EXPECTED_COUNTS = {
    "train": {"NORMAL": 1341, "PNEUMONIA": 3875},
    "val": {"NORMAL": 8, "PNEUMONIA": 8},
    "test": {"NORMAL": 234, "PNEUMONIA": 390},
}
"""Image files per split and class in a complete Kaggle copy."""

QUICK_MAX_PER_SPLIT = (120, 40, 80)
"""Kaggle films kept per split (train, val, test) in quick mode: the phantom source's quick sizes."""

LAYOUT = "<root>/{train,val,test}/{NORMAL,PNEUMONIA}/<image files>"

CREDENTIALS_HELP = """No Kaggle credentials found, so the chest X-ray dataset cannot be downloaded.
To get them:
  1. Sign in at https://www.kaggle.com, open Settings (click your picture, then Settings).
  2. Under "API", click "Create New Token": your browser saves kaggle.json.
  3. Put it where the kaggle client looks, readable only by you:
       mkdir -p ~/.kaggle && mv ~/Downloads/kaggle.json ~/.kaggle/ && chmod 600 ~/.kaggle/kaggle.json
     or set the environment variables KAGGLE_USERNAME and KAGGLE_KEY (the two values inside kaggle.json),
     e.g. in Colab's "Secrets" panel. (A newer-style API token works too: KAGGLE_API_TOKEN.)
Without credentials, load("phantom") gives the synthetic chest X-rays instead."""

_PERSON = re.compile(r"^(person\d+)_", re.IGNORECASE)
_NORMAL = re.compile(r"^(.*IM-\d+)-\d+$", re.IGNORECASE)
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*", b"GIF8")


class KaggleCredentialsError(RuntimeError):
    """No (or unusable) Kaggle API credentials; the message says how to get them."""


class DownloadError(RuntimeError):
    """The Kaggle download could not run or did not produce a complete copy."""


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder is missing, empty or not in the ``split/class/files`` layout."""


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
        >>> split = load("phantom", phantom_counts=(40, 10, 20), verbose=False).train
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
        >>> data = load("phantom", phantom_counts=(80, 20, 40), verbose=False)
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


def load(
    source: str = "auto",
    root: Union[str, Path, None] = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    phantom_counts: Optional[tuple[int, int, int]] = None,
    phantom_size: int = 224,
    verify: str = "header",
    verbose: bool = True,
    max_per_split: Union[tuple[int, int, int], None, str] = "auto",
    **phantom_options,
) -> ChestXrays:
    """Load the chest X-rays: the real Kaggle films or the phantom stand-in.

    Args:
        source: ``"kaggle"`` (download if needed; error without credentials),
            ``"phantom"`` (synthetic, in memory, no files) or ``"auto"``: the
            Kaggle copy when it is on disk or can be downloaded, else phantoms.
            It prints which one it chose and how to get the real one.
        root: the Kaggle folder (default ``config.DATA_DIR / "chest_xray"``).
        val_fraction: share of Kaggle's train + val images moved to the new val
            split, whole patients at a time (see :func:`split_by_patient`).
        seed: seeds the patient split, the Kaggle sample (``max_per_split``) and the phantom draws.
        phantom_counts: phantom ``(train, val, test)`` sizes; default
            ``config.pick(quick=(120, 40, 80), full=(800, 200, 400))``.
        phantom_size: phantom image side in pixels.
        verify: how files are checked when read: ``"header"`` or ``"decode"`` (see :func:`load_folder`).
        verbose: print the choice, the sampling (see ``max_per_split``) and the class counts per split.
        max_per_split: the most Kaggle films to keep per split, ``(train, val, test)``;
            None keeps every film. The default ``"auto"`` means
            ``config.pick(quick=QUICK_MAX_PER_SPLIT, full=None)``: ``(120, 40, 80)``
            in quick mode (``DAYLIB_QUICK=1``), every film otherwise. A split
            with more films than its cap is sampled by :func:`stratified_subset`
            (seeded by ``seed``, each class keeps its share of the split). The
            sampling comes after the patient split, one film at a time: train
            and val still share no patient, but a patient's films may be only
            partly kept (sampling films rather than whole patients hits the
            counts exactly and spreads them over more patients). When it leaves
            films out and ``verbose`` is on, it prints one line saying so. The
            phantom source ignores it: ``phantom_counts`` sets its sizes.
        **phantom_options: passed to :func:`daylib.data.phantom.make_phantom`
            (``difficulty``, ``pneumonia_fraction``, ``shortcut``) when phantoms
            are used. ``shortcut`` applies to train and val; the test split gets
            0.5, a marker that carries no information.

    Returns:
        :class:`ChestXrays`. Kaggle: file lists, the original test split, train
        and val re-split by patient, each sampled down to ``max_per_split``.
        Phantom: in-memory images and lesion masks.

    Raises:
        ValueError: an unknown ``source``, or a ``max_per_split`` that is not
            ``"auto"``, None or three positive whole numbers.
        KaggleCredentialsError, DownloadError: ``source="kaggle"`` cannot get the data.

    Example:
        >>> data = load("phantom", phantom_counts=(40, 10, 20), phantom_size=64, verbose=False)
        >>> data.counts()["train"]
        {'NORMAL': 20, 'PNEUMONIA': 20}
        >>> data = load("kaggle", max_per_split=(400, 100, 200), verbose=False)  # needs a Kaggle copy
        >>> data.counts()["test"]                   # 200 of the 624 test films, class shares kept
        {'NORMAL': 75, 'PNEUMONIA': 125}
        >>> len(load("kaggle", max_per_split=None, verbose=False).test)  # every film, even in quick mode
        624
    """
    if source not in ("auto", "kaggle", "phantom"):
        raise ValueError(f"source={source!r}: use 'auto', 'kaggle' or 'phantom'.")
    cap = _max_per_split(max_per_split)
    root = Path(root) if root is not None else default_root()
    chosen = source
    if source == "auto":
        chosen, reason = _choose_source(root)
        if verbose:
            print(reason)
    if chosen == "kaggle":
        try:
            download(root, quiet=not verbose)
        except (DownloadError, KaggleCredentialsError) as error:
            if source == "kaggle":
                raise
            chosen = "phantom"
            if verbose:
                print(f"The download failed, so using phantom (synthetic) chest X-rays instead: {error}")
    if chosen == "kaggle":
        every_film = _kaggle_splits(root, val_fraction, seed, verify)
        data = _capped(every_film, cap, seed)
        note = _cap_note(every_film, data, cap, from_quick_mode=isinstance(max_per_split, str))
        if verbose and note:
            print(note)
    else:
        data = _phantom_splits(phantom_counts, phantom_size, seed, phantom_options)
    if verbose:
        print(data.summary())
    return data


def default_root() -> Path:
    """Where the Kaggle copy lives: ``config.DATA_DIR / "chest_xray"``.

    Example:
        >>> default_root().name
        'chest_xray'
    """
    return config.DATA_DIR / "chest_xray"


def find_kaggle_credentials() -> Optional[str]:
    """Say where the kaggle client will find credentials, or None if nowhere.

    Looks, without importing ``kaggle`` (which fails noisily without them), at
    ``KAGGLE_USERNAME`` + ``KAGGLE_KEY``, ``KAGGLE_API_TOKEN``, and ``kaggle.json`` /
    ``access_token`` / ``credentials.json`` in ``KAGGLE_CONFIG_DIR``, ``~/.kaggle``
    or ``~/.config/kaggle``.

    Raises:
        KaggleCredentialsError: a ``kaggle.json`` exists but lacks username/key.

    Example:
        >>> find_kaggle_credentials()
        '/home/me/.kaggle/kaggle.json'
    """
    env = os.environ
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return "the KAGGLE_USERNAME and KAGGLE_KEY environment variables"
    if env.get("KAGGLE_API_TOKEN"):
        return "the KAGGLE_API_TOKEN environment variable"
    home = Path.home()
    folders = [Path(env["KAGGLE_CONFIG_DIR"])] if env.get("KAGGLE_CONFIG_DIR") else []
    folders += [home / ".kaggle", Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]
    for folder in folders:
        config_file = folder / "kaggle.json"
        if config_file.is_file():
            _check_kaggle_json(config_file)
            return str(config_file)
        for name in ("access_token", "access_token.txt", "credentials.json"):
            if (folder / name).is_file() and (folder / name).stat().st_size > 0:
                return str(folder / name)
    return None


def download(dest: Union[str, Path, None] = None, force: bool = False, quiet: bool = False) -> Path:
    """Download and unpack the Kaggle chest X-ray dataset into ``dest``; return ``dest``.

    A complete copy already at ``dest`` (all per-class file counts as in
    :data:`EXPECTED_COUNTS`) is kept and nothing is downloaded. Otherwise the
    zip (about 1.2 GB) goes to ``<dest>.download/`` (an interrupted download
    resumes there), is extracted into a temporary folder beside ``dest``, checked,
    and only then moved to ``dest``; the zip is deleted once installed.

    Args:
        dest: target folder (default ``config.DATA_DIR / "chest_xray"``); it will
            hold ``train``, ``val`` and ``test`` directly.
        force: download again even when a complete copy exists, replacing it.
        quiet: hide the progress bars.

    Raises:
        KaggleCredentialsError: no credentials (the message says how to make them).
        DownloadError: Kaggle unreachable, a broken zip, or unexpected counts.
        FileExistsError: ``dest`` holds something that is not a complete copy.

    Example:
        >>> download()                      # needs ~/.kaggle/kaggle.json
        PosixPath('.../data/chest_xray')
    """
    dest = Path(dest) if dest is not None else default_root()
    if not force and not count_problems(dest):
        if not quiet:
            print(f"Kaggle chest X-rays already complete at {dest}.")
        return dest
    if dest.exists() and any(dest.iterdir()) and not force:
        problems = "; ".join(count_problems(dest)[:3])
        raise FileExistsError(
            f"{dest} exists but is not a complete copy of {KAGGLE_DATASET} ({problems}). "
            "Delete the folder, or call download(force=True) to replace it."
        )
    if find_kaggle_credentials() is None:
        raise KaggleCredentialsError(CREDENTIALS_HELP)
    _check_network()
    api = _kaggle_api()
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):  # left by a killed extraction
        shutil.rmtree(stale, ignore_errors=True)
    cache = dest.parent / f"{dest.name}.download"
    cache.mkdir(parents=True, exist_ok=True)
    try:
        api.dataset_download_files(KAGGLE_DATASET, path=str(cache), quiet=quiet, unzip=False)
    except Exception as error:  # the client raises requests/HTTP errors of many kinds
        raise DownloadError(f"Downloading {KAGGLE_DATASET} failed: {error}. Run download() again to resume.") from error
    zips = sorted(cache.glob("*.zip"))
    if not zips:
        raise DownloadError(f"The kaggle client finished but left no zip file in {cache}.")
    try:
        _install_from_zip(zips[0], dest, quiet)
    except DownloadError:  # a broken or incomplete zip is not worth keeping
        shutil.rmtree(cache, ignore_errors=True)
        raise
    shutil.rmtree(cache, ignore_errors=True)
    return dest


def count_problems(root: Union[str, Path]) -> list[str]:
    """Differences between ``root`` and a complete Kaggle copy; empty when complete.

    Example:
        >>> count_problems("data/chest_xray")
        ['train/NORMAL: 0 images, expected 1341', ...]
    """
    root = Path(root)
    problems = []
    for split, classes in EXPECTED_COUNTS.items():
        for class_name, expected in classes.items():
            folder = root / split / class_name
            found = sum(1 for f in folder.iterdir() if _is_image_name(f)) if folder.is_dir() else 0
            if found != expected:
                problems.append(f"{split}/{class_name}: {found} images, expected {expected}")
    return problems


def load_folder(
    root: Union[str, Path],
    splits: Sequence[str] = SPLITS,
    class_names: Sequence[str] = CLASS_NAMES,
    verify: str = "header",
    source: str = "folder",
) -> ChestXrays:
    """Read a folder in the Kaggle layout (``root/<split>/<class>/<images>``) as file lists.

    Masks are attached when ``root/masks/<split>/<class>/<same name>`` files exist
    (as written by :func:`daylib.data.phantom.write_phantom_dataset`).

    Args:
        root: the folder holding the split folders.
        splits: the split folders to read; each must exist. Splits not listed
            come back empty.
        class_names: class folder names, in label order.
        verify: ``"header"`` checks each file is non-empty and starts like an
            image (fast); ``"decode"`` also decodes every image (slow, catches
            truncated files).
        source: the name to record in :attr:`ChestXrays.source`.

    Raises:
        DatasetLayoutError: the folder, a split or a class folder is missing or empty.

    Warns:
        UserWarning: stray files (``.DS_Store``, non-images) and unreadable images, by path.

    Example:
        >>> data = load_folder("/tmp/phantom_xray")
        >>> data.train.paths[0].parent.name in data.class_names
        True
    """
    if verify not in ("header", "decode"):
        raise ValueError(f"verify={verify!r}: use 'header' or 'decode'.")
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"No dataset folder at {root}. Expected the layout {LAYOUT}.")
    found, skipped = {}, []
    for split in splits:
        found[split], bad = read_split(root / split, class_names, verify, masks_root=root / "masks" / split)
        skipped += bad
    empty = Split(labels=np.zeros(0, np.int64), paths=[])
    parts = {name: found.get(name, empty) for name in SPLITS}
    return ChestXrays(source=source, class_names=tuple(class_names), root=root, skipped=skipped, **parts)


def read_split(
    folder: Union[str, Path],
    class_names: Sequence[str] = CLASS_NAMES,
    verify: str = "header",
    masks_root: Union[str, Path, None] = None,
) -> tuple[Split, list[Path]]:
    """Read one split folder (``folder/<class>/<images>``); return the split and the skipped files.

    Raises:
        DatasetLayoutError: the folder or a class folder is missing, or a class has no images.

    Example:
        >>> split, skipped = read_split("data/chest_xray/test")
        >>> split.counts()
        {'NORMAL': 234, 'PNEUMONIA': 390}
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetLayoutError(_layout_message(folder.parent, f"the split folder {folder} is missing"))
    for extra in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in class_names
                        and not p.name.startswith((".", "__"))):
        warnings.warn(f"Ignoring {extra}: not one of the class folders {list(class_names)}.", stacklevel=3)
    paths, labels, stray, broken = [], [], [], []
    for label, class_name in enumerate(class_names):
        class_dir = folder / class_name
        if not class_dir.is_dir():
            raise DatasetLayoutError(_layout_message(folder.parent, f"the class folder {class_dir} is missing"))
        entries = sorted(class_dir.iterdir())
        images = [p for p in entries if _is_image_name(p)]
        stray += [p for p in entries if not _is_image_name(p)]
        readable = [_readable(p, verify) for p in images]
        broken += [p for p, ok in zip(images, readable) if not ok]
        good = [p for p, ok in zip(images, readable) if ok]
        if not good:
            raise DatasetLayoutError(_layout_message(folder.parent, f"{class_dir} holds no readable images"))
        paths += good
        labels += [label] * len(good)
    if stray:
        warnings.warn(f"Skipped {len(stray)} stray non-image entries in {folder}: {_some(stray)}", stacklevel=3)
    if broken:
        warnings.warn(f"Skipped {len(broken)} unreadable image files (empty, corrupt or not images): "
                      f"{_some(broken, 20)}. Re-download or delete them.", stacklevel=3)
    mask_paths = _mask_paths(paths, Path(masks_root)) if masks_root is not None else None
    return Split(labels=np.array(labels, np.int64), paths=paths, mask_paths=mask_paths), stray + broken


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


def _class_quotas(sizes: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` in proportion to ``sizes`` (whole numbers, largest remainders rounded up)."""
    total = int(sizes.sum())
    quotas, remainders = np.divmod(sizes * n, total)
    order = np.argsort(-remainders, kind="stable")
    quotas[order[: n - int(quotas.sum())]] += 1
    return quotas


def _max_per_split(value: Union[tuple[int, int, int], None, str]) -> Optional[tuple[int, int, int]]:
    """The cap ``load`` applies: ``"auto"`` resolved for the current mode, anything else checked."""
    if isinstance(value, str) and value == "auto":
        return config.pick(quick=QUICK_MAX_PER_SPLIT, full=None)
    if value is None:
        return None
    if not (isinstance(value, (tuple, list)) and len(value) == len(SPLITS) and all(map(_positive_whole, value))):
        raise ValueError(f"max_per_split={value!r}: give three positive whole numbers (train, val, test), "
                         f"e.g. {QUICK_MAX_PER_SPLIT}, None to load every film, or 'auto' for the quick-mode default.")
    return tuple(int(n) for n in value)


def _positive_whole(n) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0


def _capped(data: ChestXrays, cap: Optional[tuple[int, int, int]], seed: int) -> ChestXrays:
    if cap is None:
        return data
    parts = {name: stratified_subset(getattr(data, name), n, seed + offset)
             for offset, (name, n) in enumerate(zip(SPLITS, cap))}
    return replace(data, **parts)


def _cap_note(every_film: ChestXrays, kept: ChestXrays, cap: Optional[tuple[int, int, int]],
              from_quick_mode: bool) -> str:
    """One line naming what the cap left out; empty when it left nothing out."""
    sizes = [(len(getattr(kept, name)), len(getattr(every_film, name))) for name in SPLITS]
    if all(n_kept == total for n_kept, total in sizes):
        return ""
    used = ", ".join(f"{n_kept:,} of {total:,} {word} films"
                     for (n_kept, total), word in zip(sizes, ("training", "validation", "test")))
    if from_quick_mode:
        return f"quick mode: using {used}; DAYLIB_QUICK=0 or max_per_split=None loads all."
    return f"max_per_split={cap}: using {used}; max_per_split=None loads all."


def _choose_source(root: Path) -> tuple[str, str]:
    how = (f"For the real films, put Kaggle credentials in place (kaggle.com -> Settings -> Create New Token, "
           f"saved as ~/.kaggle/kaggle.json) and call load('kaggle'), or unpack {KAGGLE_DATASET} into {root}.")
    if not count_problems(root):
        return "kaggle", f"Using the Kaggle chest X-rays at {root}."
    credentials = find_kaggle_credentials()
    if credentials is None:
        return "phantom", f"Using phantom (synthetic) chest X-rays: no Kaggle copy at {root} and no credentials. {how}"
    try:
        _check_network()
    except DownloadError as error:
        return "phantom", f"Using phantom (synthetic) chest X-rays: {error}"
    return "kaggle", f"Downloading the Kaggle chest X-rays to {root} (credentials from {credentials})."


def _kaggle_splits(root: Path, val_fraction: float, seed: int, verify: str) -> ChestXrays:
    data = load_folder(root, verify=verify, source="kaggle")
    pooled = Split(labels=np.concatenate([data.train.labels, data.val.labels]),
                   paths=data.train.paths + data.val.paths)
    train, val = split_by_patient(pooled, val_fraction, seed)
    return replace(data, train=train, val=val)


def _phantom_splits(counts: Optional[tuple[int, int, int]], size: int, seed: int, options: dict) -> ChestXrays:
    counts = counts or config.pick(quick=(120, 40, 80), full=(800, 200, 400))
    if len(counts) != len(SPLITS):
        raise ValueError(f"phantom_counts={counts!r}: give three sizes, (train, val, test).")
    options = dict(options)
    shortcut = options.pop("shortcut", None)
    splits = {}
    for offset, (name, n) in enumerate(zip(SPLITS, counts)):
        split_shortcut = 0.5 if (name == "test" and shortcut is not None) else shortcut
        ph = make_phantom(n, size=size, shortcut=split_shortcut, seed=seed + offset, **options)
        splits[name] = Split(labels=ph.labels, images=ph.images, masks=ph.masks, markers=ph.markers)
    return ChestXrays(source="phantom", **splits)


def _install_from_zip(zip_path: Path, dest: Path, quiet: bool) -> None:
    """Extract the dataset's split folders into a temporary folder, check counts, move to ``dest``."""
    from tqdm.auto import tqdm

    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{zip_path} is not a valid zip ({error}); it is deleted, run download() again.") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        with archive:
            prefix = _dataset_prefix(archive.namelist())
            members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()
                       and m.filename[len(prefix):].split("/")[0] in SPLITS]
            for member in tqdm(members, desc="Extracting", unit="file", disable=quiet):
                relative = Path(member.filename[len(prefix):])
                if ".." in relative.parts or relative.name.startswith("."):
                    continue
                target = tmp / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
        problems = count_problems(tmp)
        if problems:
            raise DownloadError(f"The extracted dataset does not match {KAGGLE_DATASET}: {'; '.join(problems)}.")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dataset_prefix(names: list[str]) -> str:
    """The zip folder holding the splits: the shortest one with the expected counts, else the fullest.

    Kaggle's zip nests a second copy (``chest_xray/chest_xray/``) and macOS
    metadata (``__MACOSX``) beside the real folders.
    """
    marker = "train/NORMAL/"
    prefixes = sorted({name[: name.index(marker)] for name in names if marker in name and "__MACOSX" not in name},
                      key=len)
    if not prefixes:
        raise DownloadError(f"The zip has no train/NORMAL folder; expected the layout {LAYOUT}.")
    counts = {prefix: Counter(_split_and_class(name[len(prefix):]) for name in names if name.startswith(prefix))
              for prefix in prefixes}
    expected = {(split, c): n for split, classes in EXPECTED_COUNTS.items() for c, n in classes.items()}
    complete = [prefix for prefix in prefixes if all(counts[prefix][key] == n for key, n in expected.items())]
    return complete[0] if complete else max(prefixes, key=lambda prefix: sum(counts[prefix].values()))


def _split_and_class(relative: str) -> Optional[tuple[str, str]]:
    parts = relative.split("/")
    if len(parts) != 3 or not _is_image_name(Path(parts[2]), on_disk=False):
        return None
    return parts[0], parts[1]


def _check_network(timeout: float = 5.0) -> None:
    try:
        socket.create_connection((KAGGLE_HOST, 443), timeout=timeout).close()
    except OSError as error:
        raise DownloadError(
            f"Cannot reach {KAGGLE_HOST} ({error}): this machine looks offline. Connect and retry, "
            "or use load('phantom') for the synthetic chest X-rays."
        ) from error


def _kaggle_api():
    """The authenticated kaggle client, imported only now (importing it without credentials fails)."""
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as error:
        raise DownloadError("The kaggle package is missing: pip install kaggle (or 'daylib[kaggle]').") from error
    api = KaggleApi()
    try:
        api.authenticate()
    except (Exception, SystemExit) as error:  # the client calls exit(1) when it rejects the credentials
        raise KaggleCredentialsError(f"The kaggle client rejected the credentials ({error!r}).\n{CREDENTIALS_HELP}") \
            from None
    return api


def _check_kaggle_json(path: Path) -> None:
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise KaggleCredentialsError(f"{path} is not readable JSON ({error}). {CREDENTIALS_HELP}") from None
    if not (isinstance(values, dict) and values.get("username") and values.get("key")):
        raise KaggleCredentialsError(f'{path} must hold {{"username": ..., "key": ...}}. {CREDENTIALS_HELP}')


def _is_image_name(path: Path, on_disk: bool = True) -> bool:
    named_like_image = not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES
    return named_like_image and (not on_disk or path.is_file())


def _readable(path: Path, verify: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(16)
    looks_like_image = head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    if not looks_like_image or verify == "header":
        return looks_like_image
    try:
        load_image(path)
    except ValueError:
        return False
    return True


def _mask_paths(paths: list[Path], masks_root: Path) -> Optional[list[Optional[Path]]]:
    candidates = [masks_root / p.parent.name / p.name for p in paths]
    exists = [c.is_file() for c in candidates]
    if not any(exists):
        return None
    return [c if ok else None for c, ok in zip(candidates, exists)]


def _layout_message(root: Path, problem: str) -> str:
    return (f"{problem}. Expected the layout {LAYOUT} "
            f"(e.g. {root}/train/NORMAL/IM-0115-0001.jpeg), as in Kaggle's {KAGGLE_DATASET}.")


def _some(paths: list[Path], limit: int = 5) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
