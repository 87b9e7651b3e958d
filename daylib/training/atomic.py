"""Write files atomically: to a temporary name beside the target, then renamed into place.

Every file that daylib's training writes (per-epoch states, the end-of-phase weights, logs,
run records, feature caches) goes through :func:`atomic_path`. A write that is cut short
(SIGKILL, a restarted kernel, Ctrl-C landing inside the save, a full disk) leaves at most a
``*.partial*`` file behind, never a half-written file under the real name, and the previous
version of the file stays intact until the new one is complete.

No ``fsync``: a killed process cannot lose what the kernel already holds, so the rename is
safe against everything above. A power cut can still leave a damaged file; that is why the
readers validate what they read (:mod:`daylib.training.states`, :meth:`Run.load_finished
<daylib.training.runs.Run.load_finished>`) instead of trusting it, and fsyncing every epoch
would cost more than it buys on a laptop.

Example:
    >>> with atomic_path("run/head/model.weights.h5") as tmp:
    ...     model.save_weights(tmp)               # tmp is run/head/model.partial.weights.h5
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Optional, Union

__all__ = ["atomic_path", "partial_name", "write_json", "read_json", "remove_partial"]

PARTIAL = ".partial"


def partial_name(path: Union[str, Path]) -> Path:
    """The temporary name for ``path``: ``.partial`` before the first suffix, so the suffixes stay.

    Keras insists on ``.weights.h5`` and NumPy on ``.npz``, so the temporary file keeps them.

    Example:
        >>> partial_name("run/checkpoint.weights.h5").name
        'checkpoint.partial.weights.h5'
    """
    path = Path(path)
    head, dot, rest = path.name.partition(".")
    return path.with_name(f"{head}{PARTIAL}{dot}{rest}")


@contextlib.contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block ends without an error.

    On any exception, ``KeyboardInterrupt`` included, the temporary file is removed and the
    exception goes on; ``path`` keeps its previous content (or stays absent).

    Example:
        >>> with atomic_path(tmp_dir / "train.npz") as tmp:
        ...     np.savez(tmp, features=features)
    """
    target = Path(path)
    tmp = partial_name(target)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)


def write_json(path: Union[str, Path], content: Any) -> None:
    """Write ``content`` as JSON, atomically.

    Example:
        >>> write_json(run_dir / "done.json", {"best_epoch": 3})
    """
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(content, indent=1))


def read_json(path: Union[str, Path]) -> Optional[Any]:
    """The JSON content of ``path``, or ``None`` when the file is missing or unreadable.

    Example:
        >>> read_json(run_dir / "done.json") is None     # not finished (or damaged)
        True
    """
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def remove_partial(folder: Union[str, Path]) -> list[Path]:
    """Delete the ``*.partial*`` files that killed writes left in ``folder``; return what was deleted.

    Example:
        >>> remove_partial(run_dir / "head")
        []
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    leftovers = [path for path in folder.iterdir() if PARTIAL in path.name and path.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers
