"""Paths, quick mode and seeding shared by the whole course.

Everything a notebook or test needs to know about *where* things live and
*how big* a run should be is read here, once, from the environment:

- ``DAYLIB_DATA_DIR``  overrides :data:`DATA_DIR` (default: the repository's ``data/``; when
  daylib was pip-installed without the repository, ``<cache dir>/data``).
- ``DAYLIB_CACHE_DIR`` overrides :data:`CACHE_DIR` (default: ``~/.cache/daylib``).
- ``DAYLIB_QUICK=1``   turns on :data:`QUICK` mode: fewer samples and epochs, so every
  notebook runs in about a minute on a 2-core CPU. CI sets it.

Example:
    >>> from daylib import config
    >>> config.seed_everything(0)
    >>> n_train = config.pick(quick=40, full=400)
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


CACHE_DIR = Path(os.environ.get("DAYLIB_CACHE_DIR", Path.home() / ".cache" / "daylib")).expanduser()
_REPO_DATA = REPO_DIR / "data"
DATA_DIR = Path(os.environ.get("DAYLIB_DATA_DIR", _REPO_DATA if _REPO_DATA.is_dir() else CACHE_DIR / "data")).expanduser()
QUICK: bool = _flag("DAYLIB_QUICK")
IMAGES_DIR = PACKAGE_DIR / "assets" / "images"
"""The CC0 demo photos. They ship inside the package (so ``pip install`` from git, e.g. on
Colab, has them too); the repository's ``data/images`` is a link to this folder."""


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder inside the cache dir.

    Example:
        >>> cache_dir("weights").name
        'weights'
    """
    path = CACHE_DIR.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def pick(quick: T, full: T) -> T:
    """Choose a size for the current mode: ``quick`` when :data:`QUICK` is on.

    Example:
        >>> epochs = pick(quick=2, full=10)
    """
    return quick if QUICK else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow/Keras so a run repeats.

    Example:
        >>> seed_everything(42)
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.random.set_seed(seed)
