"""The phase-1 feature cache on disk: a frozen base's pooled features, computed once per base, data and image size.

A repeated ``train_head`` with other head settings (learning rate, epochs, dropout) but the
same frozen base and data reads the features back instead of running the base again. The
cache lives in ``<cache dir>/features`` (:data:`daylib.config.CACHE_DIR`)::

    features/index.json      one record per entry: file, size in bytes, created and last-used
                             times (seconds since the epoch), the shapes and dtypes stored
    features/<key>.npz       features (N, C) float32, labels, and the key

An entry's key (:func:`cache_key`) hashes the frozen extractor's architecture and weights
(:func:`daylib.models.digest.model_digest` of :func:`~daylib.training.features.feature_extractor`),
the data's content (:meth:`Inputs.digest <daylib.training.inputs.Inputs.digest>`: every
value of the image and label arrays) and the image size, so changing any of them makes a
new entry.

What is not cached:

- a ``tf.data.Dataset``: its digest knows only its structure and size, not its images, so
  two different datasets of the same shape would share an entry. Its features are computed
  afresh each run (and a printed line says so); pass arrays to reuse them.
- anything under a multi-worker strategy (``MultiWorkerMirroredStrategy`` with more than one
  worker): the workers would race on the index, or read an entry the chief is still writing;
  every worker computes its own features (its share of the forward passes), as without a cache.

Reliability: entries and the index are written atomically (:mod:`daylib.training.atomic`).
What is read back is checked (the key, the shapes and dtypes recorded in the index and the
ones the caller expects, finite values); a damaged entry (cut short, wrong shapes, a record
whose file is missing) or an unreadable index is removed with a warning that says so, and
the features are computed again. The cache holds at most ``max_bytes`` (default 2 GiB, or
``DAYLIB_FEATURE_CACHE_MB``); the least recently used entries go first.

Example:
    >>> from daylib.training import clear_feature_cache, feature_cache_info
    >>> feature_cache_info()["entries"]
    2
    >>> clear_feature_cache()              # bytes freed
    1638912
"""
from __future__ import annotations

import hashlib
import os
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from daylib import config
from daylib.training.atomic import PARTIAL, atomic_path, read_json, write_json
from daylib.training.inputs import Inputs

__all__ = ["FeatureCache", "CachedFeatures", "cache_key", "clear_feature_cache", "feature_cache_info",
           "DEFAULT_MAX_MB", "ENV_MAX_MB"]

DEFAULT_MAX_MB = 2048
"""The default size cap, in MiB (2 GiB: the pooled features of about 400,000 images at 1280 channels)."""

ENV_MAX_MB = "DAYLIB_FEATURE_CACHE_MB"
"""The environment variable that overrides :data:`DEFAULT_MAX_MB`."""

_FORMAT = 1
_INDEX = "index.json"


@dataclass
class CachedFeatures:
    """Features and labels of one data set, and whether they came from the cache.

    Example:
        >>> found = FeatureCache().features(key, compute, count=160, width=1280)
        >>> found.reused, found.features.shape
        (True, (160, 1280))
    """

    features: np.ndarray
    labels: np.ndarray
    reused: bool
    created: float
    """When the features were computed (seconds since the epoch)."""


def cache_key(extractor_digest: str, inputs: Inputs, image_shape: tuple) -> Optional[str]:
    """The cache key of ``inputs``' features under an extractor, or ``None`` when they cannot be cached.

    ``None`` for a ``tf.data.Dataset`` (its digest does not cover its content).

    Example:
        >>> cache_key(model_digest(feature_extractor(model)), as_inputs((x, y)), (224, 224, 3))[:8]
        '9b1f0c2e'
    """
    if inputs.is_dataset:
        return None
    h = hashlib.blake2b(digest_size=16)
    h.update(f"features v{_FORMAT};{extractor_digest};{tuple(int(d) for d in image_shape)};".encode())
    h.update(inputs.digest().encode())
    return h.hexdigest()


def _max_bytes(max_mb: Optional[float]) -> int:
    if max_mb is None:
        raw = os.environ.get(ENV_MAX_MB, "").strip()
        if not raw:
            return DEFAULT_MAX_MB << 20
        try:
            max_mb = float(raw)
        except ValueError:
            raise ValueError(f"{ENV_MAX_MB}={raw!r} is not a number of MiB; set it to e.g. 2048 (2 GiB), "
                             f"or unset it for the default {DEFAULT_MAX_MB}.") from None
        what = f"{ENV_MAX_MB}={raw!r}"
    else:
        what = f"max_mb={max_mb!r}"
    if isinstance(max_mb, bool) or not isinstance(max_mb, (int, float)) or not np.isfinite(max_mb) or max_mb < 0:
        raise ValueError(f"{what} must be a finite number of MiB >= 0 (0 keeps nothing), e.g. 2048 for 2 GiB.")
    return int(max_mb * (1 << 20))


class FeatureCache:
    """The on-disk feature cache (see the module docstring): look up, store, evict, clear.

    Args:
        directory: the cache folder; default ``<daylib cache dir>/features``.
        max_mb: size cap in MiB; default ``DAYLIB_FEATURE_CACHE_MB`` or :data:`DEFAULT_MAX_MB`.
            Least recently used entries are evicted past it; ``0`` stores nothing.

    Example:
        >>> cache = FeatureCache(tmp_path / "features", max_mb=100)
        >>> found = cache.features(key, lambda: extract(inputs), count=len(x), width=1280)
    """

    def __init__(self, directory: Union[str, Path, None] = None, *, max_mb: Optional[float] = None):
        self.directory = Path(directory) if directory is not None else config.CACHE_DIR / "features"
        self.max_bytes = _max_bytes(max_mb)

    # -- the index -------------------------------------------------------------------------

    def _index(self) -> dict:
        """The entries of the index; an unreadable index is reset (its files deleted) with a warning."""
        path = self.directory / _INDEX
        if not path.exists():
            return {}
        stored = read_json(path)
        entries = stored.get("entries") if isinstance(stored, dict) and stored.get("format") == _FORMAT else None
        if not isinstance(entries, dict) or not all(_valid_record(record) for record in entries.values()):
            freed = self.clear()
            warnings.warn(f"The feature cache index {path} is unreadable (an interrupted write, or another daylib "
                          f"version?): the cache was emptied ({freed} bytes) and features are computed again.",
                          stacklevel=4)
            return {}
        return entries

    def _write_index(self, entries: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json(self.directory / _INDEX, {"format": _FORMAT, "entries": entries})

    # -- entries ---------------------------------------------------------------------------

    def _read(self, key: str, record: dict, count: int, width: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """The entry's arrays, or ``None`` with the reason it is damaged (as a warning)."""
        path = self.directory / record["file"]
        try:
            with np.load(path, allow_pickle=False) as stored:
                stored_key, features, labels = str(stored["key"]), stored["features"], stored["labels"]
        except FileNotFoundError:
            return self._damaged(key, path, "its file is missing")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            return self._damaged(key, path, f"it is unreadable ({type(error).__name__}: an interrupted write?)")
        expected = {"features": [[count, width], "float32"], "labels": [[count, *record["shapes"]["labels"][1:]],
                                                                        record["dtypes"]["labels"]]}
        found = {"features": [list(features.shape), str(features.dtype)],
                 "labels": [list(labels.shape), str(labels.dtype)]}
        recorded = {name: [record["shapes"][name], record["dtypes"][name]] for name in ("features", "labels")}
        if stored_key != key:
            return self._damaged(key, path, "it holds another entry's features")
        if found != recorded or found != expected:
            return self._damaged(key, path, f"its arrays are {found}, not the expected {expected}")
        if not np.isfinite(features).all():
            return self._damaged(key, path, "its features hold NaN or infinite values")
        return features, labels

    def _damaged(self, key: str, path: Path, why: str) -> None:
        entries = self._index()
        entries.pop(key, None)
        path.unlink(missing_ok=True)
        self._write_index(entries)
        warnings.warn(f"The feature cache entry {path} is damaged ({why}): it was removed, and the features are "
                      "computed again.", stacklevel=5)
        return None

    def get(self, key: str, *, count: int, width: int) -> Optional[CachedFeatures]:
        """The stored features of ``key`` (``count`` rows of ``width``), or ``None``; a hit updates its last use.

        Example:
            >>> FeatureCache().get(key, count=160, width=1280) is None
            False
        """
        record = self._index().get(key)
        if record is None:
            return None
        arrays = self._read(key, record, count, width)
        if arrays is None:
            return None
        entries = self._index()
        if key in entries:
            entries[key]["used"] = time.time()
            self._write_index(entries)
        return CachedFeatures(arrays[0], arrays[1], True, float(record["created"]))

    def put(self, key: str, features: np.ndarray, labels: np.ndarray) -> bool:
        """Store an entry (atomically), then evict the least recently used ones past the cap; ``False`` if too big.

        Example:
            >>> FeatureCache().put(key, features, labels)
            True
        """
        features = np.ascontiguousarray(features, dtype=np.float32)
        if not np.isfinite(features).all():
            raise ValueError("The features to cache hold NaN or infinite values; check the model's weights.")
        labels = np.ascontiguousarray(labels)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{key}.npz"
        with atomic_path(path) as tmp:
            np.savez(tmp, features=features, labels=labels, key=np.array(key))
        now = time.time()
        entries = self._index()
        entries[key] = {"file": path.name, "bytes": path.stat().st_size, "created": now, "used": now,
                        "shapes": {"features": list(features.shape), "labels": list(labels.shape)},
                        "dtypes": {"features": str(features.dtype), "labels": str(labels.dtype)}}
        kept = self._evict(entries)
        self._write_index(kept)
        return key in kept

    def _evict(self, entries: dict) -> dict:
        """Keep the most recently used entries that fit under the cap; delete the files of the others."""
        kept, total = {}, 0
        for key, record in sorted(entries.items(), key=lambda item: item[1]["used"], reverse=True):
            if total + record["bytes"] <= self.max_bytes:
                kept[key] = record
                total += record["bytes"]
            else:
                (self.directory / record["file"]).unlink(missing_ok=True)
        return kept

    def features(self, key: Optional[str], compute: Callable[[], tuple[np.ndarray, np.ndarray]], *, count: int,
                 width: int) -> CachedFeatures:
        """The features of ``key`` from the cache, or computed by ``compute()`` and stored (``key=None``: not stored).

        Example:
            >>> FeatureCache().features(key, lambda: extract(inputs), count=160, width=1280).reused
            False
        """
        found = self.get(key, count=count, width=width) if key is not None else None
        if found is not None:
            return found
        features, labels = compute()
        if key is not None:
            self.put(key, features, labels)
        return CachedFeatures(features, labels, False, time.time())

    # -- looking at it ---------------------------------------------------------------------

    def info(self) -> dict:
        """The folder, the cap, the entries' count and bytes, and each entry's record (newest use first).

        Example:
            >>> FeatureCache().info()["bytes"] <= FeatureCache().info()["max_bytes"]
            True
        """
        entries = self._index()
        ordered = sorted(entries.items(), key=lambda item: item[1]["used"], reverse=True)
        return {"directory": str(self.directory), "max_bytes": self.max_bytes, "entries": len(entries),
                "bytes": sum(record["bytes"] for record in entries.values()),
                "records": [{"key": key, **record} for key, record in ordered]}

    def clear(self) -> int:
        """Delete every entry, the index and leftover partial files; return the bytes freed.

        Example:
            >>> FeatureCache().clear()
            1638912
        """
        freed = 0
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                if path.is_file() and (path.suffix == ".npz" or path.name == _INDEX or PARTIAL in path.name):
                    freed += path.stat().st_size if path.name != _INDEX else 0
                    path.unlink(missing_ok=True)
        return freed


def _valid_record(record) -> bool:
    try:
        return (isinstance(record["file"], str) and int(record["bytes"]) >= 0 and float(record["created"]) > 0
                and float(record["used"]) > 0 and all(isinstance(record["shapes"][name], list)
                                                      and isinstance(record["dtypes"][name], str)
                                                      for name in ("features", "labels")))
    except (KeyError, TypeError, ValueError):
        return False


def clear_feature_cache(directory: Union[str, Path, None] = None) -> int:
    """Empty the phase-1 feature cache; return the bytes freed.

    Example:
        >>> from daylib.training import clear_feature_cache
        >>> clear_feature_cache()
        1638912
    """
    return FeatureCache(directory).clear()


def feature_cache_info(directory: Union[str, Path, None] = None) -> dict:
    """What the phase-1 feature cache holds: see :meth:`FeatureCache.info`.

    Example:
        >>> from daylib.training import feature_cache_info
        >>> feature_cache_info()["entries"]
        2
    """
    return FeatureCache(directory).info()
