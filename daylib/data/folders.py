"""Reading a class-per-folder image tree (``<root>/<split>/<class>/<images>``) as file lists.

The Kaggle chest X-ray copy and the folders written by
:func:`daylib.data.phantom.write_phantom_dataset` share this layout, as does
``keras.utils.image_dataset_from_directory``. Reading it checks every file with
Pillow (its header, or with ``verify="decode"`` a full decode by
:func:`daylib.data.images.load_image`) and skips stray and unreadable files
with a warning that names them.

Example:
    >>> from daylib.data.folders import load_folder
    >>> data = load_folder("/tmp/phantom_xray")
    >>> data.counts()["test"]
    {'NORMAL': 10, 'PNEUMONIA': 10}
"""
from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image

from daylib.data.images import IMAGE_SUFFIXES, load_image
from daylib.data.phantom import CLASS_NAMES
from daylib.data.splits import SPLITS, ChestXrays, Split

LAYOUT = "<root>/{train,val,test}/{NORMAL,PNEUMONIA}/<image files>"

_BROKEN_FILE = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)
"""What Pillow raises on a file it cannot open or verify (it has no single error type for it)."""


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder is missing, empty or not in the ``split/class/files`` layout."""


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
        verify: ``"header"`` has Pillow identify and verify each file (fast);
            ``"decode"`` also decodes every image (slow, catches truncated
            files). See :func:`is_readable`.
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

    Args:
        folder: the split folder.
        class_names: class folder names, in label order; other folders are ignored with a warning.
        verify: ``"header"`` or ``"decode"``, as in :func:`load_folder`.
        masks_root: where mask files with the same ``<class>/<name>`` live, if anywhere.

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
        images = [p for p in entries if is_image_name(p)]
        stray += [p for p in entries if not is_image_name(p)]
        readable = [is_readable(p, verify) for p in images]
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


def is_image_name(path: Path, on_disk: bool = True) -> bool:
    """True for a visible file with an image suffix (:data:`~daylib.data.images.IMAGE_SUFFIXES`).

    With ``on_disk`` it must also be a file on disk; without, only the name counts (zip members).

    Example:
        >>> is_image_name(Path("IM-0115-0001.jpeg"), on_disk=False), is_image_name(Path(".DS_Store"), on_disk=False)
        (True, False)
    """
    named_like_image = not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES
    return named_like_image and (not on_disk or path.is_file())


def is_readable(path: Union[str, Path], verify: str = "header") -> bool:
    """True when ``path`` is an image that can be used: Pillow opens and verifies it.

    ``"header"`` asks Pillow to identify the file and run its own check
    (``Image.verify()``: the header, and for PNG every chunk's checksum); empty,
    foreign and truncated-PNG files fail. ``"decode"`` then also decodes the
    whole image with :func:`daylib.data.images.load_image`, the course's one
    decoding rule, which catches truncated JPEGs too (slow).

    Example:
        >>> is_readable("data/chest_xray/test/NORMAL/IM-0001-0001.jpeg")
        True
    """
    try:
        with warnings.catch_warnings():  # Pillow warns about odd metadata; the caller names bad files itself
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.verify()
    except _BROKEN_FILE:
        return False
    if verify == "header":
        return True
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
            f"(e.g. {root}/train/NORMAL/IM-0115-0001.jpeg), as in Kaggle's chest X-ray dataset "
            "(daylib.data.kaggle.download() fetches it).")


def _some(paths: list[Path], limit: int = 5) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
