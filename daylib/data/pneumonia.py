"""The chest X-ray pneumonia data in one call: ``load()`` picks Kaggle's real films or the phantom stand-in.

:func:`load` chooses the source (``"auto"``, ``"kaggle"`` or ``"phantom"``) and
returns train / val / test splits the same way for both:

- Kaggle (:mod:`daylib.data.kaggle`): the copy on disk, or downloaded when
  credentials and the network allow; read by :func:`daylib.data.folders.load_folder`;
  Kaggle's train folder re-split into train/val *by patient*
  (:func:`daylib.data.splits.split_by_patient`; its 16-image val split is too
  small to use); in quick mode a small, class-balanced, seeded sample
  (``max_per_split``), which it says.
- Phantom (:mod:`daylib.data.phantom`): synthetic films with lesion masks, in memory.

Both come back as :class:`~daylib.data.splits.ChestXrays`, which
:func:`daylib.data.pipeline.dataset_from_split` turns into ``tf.data`` datasets.

Example:
    >>> from daylib.data import pneumonia
    >>> data = pneumonia.load("auto")          # Kaggle copy if present, else phantoms
    >>> print(data.summary())
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional, Union

import numpy as np

from daylib import config
from daylib.data import kaggle
from daylib.data.folders import VERIFY_DEFAULT, layout_hint, load_folder
from daylib.data.phantom import make_phantom
from daylib.data.splits import (
    QUICK_MAX_PER_SPLIT,
    SPLITS,
    ChestXrays,
    Split,
    cap_note,
    cap_per_split,
    resolve_cap,
    split_by_patient,
)


def load(
    source: str = "auto",
    root: Union[str, Path, None] = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    phantom_counts: Optional[tuple[int, int, int]] = None,
    phantom_size: int = 224,
    verify: str = VERIFY_DEFAULT,
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
        root: the Kaggle folder (default :func:`daylib.data.kaggle.default_root`:
            ``config.DATA_DIR / "chest_xray"``).
        val_fraction: share of Kaggle's train + val images moved to the new val
            split, whole patients at a time (see :func:`~daylib.data.splits.split_by_patient`).
        seed: seeds the patient split, the Kaggle sample (``max_per_split``) and the phantom draws.
        phantom_counts: phantom ``(train, val, test)`` sizes; default
            ``config.pick(quick=(120, 40, 80), full=(800, 200, 400))``.
        phantom_size: phantom image side in pixels.
        verify: how files are checked when read: ``"header"`` (the default, fast)
            or ``"decode"`` (a full decode of every film, which also finds
            truncated JPEGs; see :data:`~daylib.data.folders.VERIFY_DEFAULT`
            for what each costs). With ``"header"``, a film that only a full
            decode finds broken stops the first epoch with an error naming it.
        verbose: print the choice, the sampling (see ``max_per_split``) and the class counts per split.
        max_per_split: the most Kaggle films to keep per split, ``(train, val, test)``;
            None keeps every film. The default ``"auto"`` means
            ``config.pick(quick=QUICK_MAX_PER_SPLIT, full=None)``: ``(120, 40, 80)``
            in quick mode (``DAYLIB_QUICK=1``), every film otherwise. A split
            with more films than its cap is sampled by
            :func:`~daylib.data.splits.stratified_subset` (seeded by ``seed``,
            each class keeps its share of the split). The
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
        :class:`~daylib.data.splits.ChestXrays`. Kaggle: file lists, the original
        test split, train and val re-split by patient, each sampled down to ``max_per_split``.
        Phantom: in-memory images and lesion masks.

    Raises:
        ValueError: an unknown ``source``, or a ``max_per_split`` that is not
            ``"auto"``, None or three positive whole numbers.
        daylib.data.kaggle.KaggleCredentialsError, daylib.data.kaggle.DownloadError:
            ``source="kaggle"`` cannot get the data.

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
    cap = resolve_cap(max_per_split)
    root = Path(root) if root is not None else kaggle.default_root()
    chosen = source
    if source == "auto":
        chosen, reason = _choose_source(root)
        if verbose:
            print(reason)
    if chosen == "kaggle":
        try:
            kaggle.download(root, quiet=not verbose)
        except (kaggle.DownloadError, kaggle.KaggleCredentialsError) as error:
            if source == "kaggle":
                raise
            chosen = "phantom"
            if verbose:
                print(f"The download failed, so using phantom (synthetic) chest X-rays instead: {error}")
    if chosen == "kaggle":
        every_film = _kaggle_splits(root, val_fraction, seed, verify)
        data = cap_per_split(every_film, cap, seed)
        note = cap_note(every_film, data, cap, from_quick_mode=isinstance(max_per_split, str))
        if verbose and note:
            print(note)
    else:
        data = _phantom_splits(phantom_counts, phantom_size, seed, phantom_options)
    if verbose:
        print(data.summary())
    return data


def _choose_source(root: Path) -> tuple[str, str]:
    how = (f"For the real films, put Kaggle credentials in place (kaggle.com -> Settings -> Create New Token, "
           f"saved as ~/.kaggle/kaggle.json) and call load('kaggle'), or unpack {kaggle.KAGGLE_DATASET} into {root}.")
    if not kaggle.count_problems(root):
        return "kaggle", f"Using the Kaggle chest X-rays at {root}."
    hint = layout_hint(root)
    if hint is not None:
        how = f"{hint} {how}"
    credentials = kaggle.find_kaggle_credentials()
    if credentials is None:
        return "phantom", f"Using phantom (synthetic) chest X-rays: no Kaggle copy at {root} and no credentials. {how}"
    try:
        kaggle.check_network()
    except kaggle.DownloadError as error:
        return "phantom", f"Using phantom (synthetic) chest X-rays: {error}"
    return "kaggle", f"Downloading the Kaggle chest X-rays to {root} (credentials from {credentials})."


def _kaggle_splits(root: Path, val_fraction: float, seed: int, verify: str) -> ChestXrays:
    data = load_folder(root, verify=verify, source="kaggle")
    pooled = Split(labels=np.concatenate([data.train.labels, data.val.labels]),
                   paths=data.train.paths + data.val.paths)
    train, val = split_by_patient(pooled, val_fraction, seed)
    return replace(data, train=train, val=val)


def _phantom_splits(counts: Optional[tuple[int, int, int]], size: int, seed: int, options: dict) -> ChestXrays:
    counts = counts or config.pick(quick=QUICK_MAX_PER_SPLIT, full=(800, 200, 400))
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
