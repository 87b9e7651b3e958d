"""Reading a class-per-folder image tree as file lists: with split folders, or the Keras layout.

Two layouts are read:

- ``<root>/<split>/<class>/<images>`` (:func:`load_folder`): the Kaggle chest X-ray copy and
  the folders written by :func:`daylib.data.phantom.write_phantom_dataset`;
- ``<root>/<class>/<images>`` (:func:`load_class_folders`): the layout
  ``keras.utils.image_dataset_from_directory`` expects (class names from the sub-folder names,
  in sorted order, as Keras takes them), split into train / val / test at random by class.

Each split folder of the first layout is itself in the second. Reading it checks every file with
Pillow (its header, or with ``verify="decode"`` a full decode by
:func:`daylib.data.images.load_image`) and skips stray and unreadable files
with a warning that names them. A tree that is not in the layout gets an error
that says what was found instead (:func:`layout_hint`): the copy one folder
too deep, or folder names that differ only in case.

Example:
    >>> from daylib.data.folders import load_folder
    >>> data = load_folder("/tmp/phantom_xray")
    >>> data.counts()["test"]
    {'NORMAL': 10, 'PNEUMONIA': 10}
    >>> own = load_class_folders("my_xrays")          # my_xrays/NORMAL/*.png, my_xrays/PNEUMONIA/*.png
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image

from daylib.data.images import IMAGE_SUFFIXES, PILLOW_ERRORS, load_image
from daylib.data.phantom import CLASS_NAMES
from daylib.data.splits import SPLITS, ChestXrays, Split, stratified_split

LAYOUT = "<root>/{train,val,test}/{NORMAL,PNEUMONIA}/<image files>"
KERAS_LAYOUT = "<root>/<class name>/<image files>, e.g. my_xrays/NORMAL/001.png and my_xrays/PNEUMONIA/002.png"

VERIFY_DEFAULT = "header"
"""The default folder check, chosen from its measured cost (issue 13, on 2 shared CPU cores, one thread).

Pillow's header check costs about 0.1 ms a film (2,000 films: 0.2 s). A full
decode costs 0.5 ms (224-px JPEG) to 1.2 ms (224-px PNG) a film (2,000 films:
1-2.5 s), but 8-9 ms for a film of the Kaggle copy's size (1280x1024 JPEG,
about 200 kB): some 50 s for its 5,856 films, every time a notebook loads them,
as long again as the first epoch's decoding. So the default stays ``"header"``:
empty, foreign and truncated-PNG files are skipped by name up front, and a file
that only a full decode finds broken (a truncated JPEG) stops the first epoch
with an error that names it and the fix (:func:`daylib.data.pipeline.dataset_from_files`).
``verify="decode"`` finds all such files before training.
"""


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder is missing, empty or not in the ``split/class/files`` layout."""


def load_folder(
    root: Union[str, Path],
    splits: Sequence[str] = SPLITS,
    class_names: Sequence[str] = CLASS_NAMES,
    verify: str = VERIFY_DEFAULT,
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
        verify: ``"header"`` (the default, :data:`VERIFY_DEFAULT`) has Pillow
            identify and verify each file (about 0.1 ms a film); ``"decode"``
            also decodes every image by the course's one rule (8-9 ms a
            Kaggle-sized film), which catches truncated JPEGs too. See :func:`is_readable`.
        source: the name to record in :attr:`ChestXrays.source`.

    Raises:
        DatasetLayoutError: the folder, a split or a class folder is missing or empty;
            when the layout is one folder down or differs only in case, the message
            says where it is and which ``root`` to pass (:func:`layout_hint`).

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
    problem = _first_missing(root, splits, class_names)
    if problem is not None:
        raise DatasetLayoutError(_layout_message(root, problem, layout_hint(root, splits, class_names)))
    found, skipped = {}, []
    for split in splits:
        found[split], bad = read_split(root / split, class_names, verify, masks_root=root / "masks" / split)
        skipped += bad
    empty = Split(labels=np.zeros(0, np.int64), paths=[])
    parts = {name: found.get(name, empty) for name in SPLITS}
    return ChestXrays(source=source, class_names=tuple(class_names), root=root, skipped=skipped, **parts)


def load_class_folders(
    root: Union[str, Path],
    class_names: Optional[Sequence[str]] = None,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    verify: str = VERIFY_DEFAULT,
) -> ChestXrays:
    """Read your own images in the ``keras.utils.image_dataset_from_directory`` layout, split by class.

    The layout is ``root/<class>/<images>``: one sub-folder per class, any image files
    Pillow reads inside (PNG, JPEG, ...). Like Keras, the class names default to the
    sub-folder names in sorted order, and that order gives the labels 0, 1, ... The images
    are split into train / val / test at random, each class keeping its share in each part
    (:func:`daylib.data.splits.stratified_split`), seeded. Stray and unreadable files are
    skipped with a warning, as in :func:`load_folder`.

    Args:
        root: the folder holding one sub-folder per class.
        class_names: the class folders to read, in label order; ``None`` takes every
            sub-folder, sorted.
        val_fraction, test_fraction: the share of each class put in val and in test.
        seed: the seed of the split.
        verify: ``"header"`` or ``"decode"``, as in :func:`load_folder`.

    Raises:
        DatasetLayoutError: ``root`` is missing, holds split folders (then use
            :func:`load_folder`), has fewer than two class folders, holds its images
            directly, or a class folder has no readable image. Each message says what
            was found and what to do.
        ValueError: fractions that leave no image for a part (see ``stratified_split``).

    Example:
        >>> data = load_class_folders("my_xrays")
        >>> data.class_names, len(data.train) + len(data.val) + len(data.test)
        (('NORMAL', 'PNEUMONIA'), 60)
    """
    if verify not in ("header", "decode"):
        raise ValueError(f"verify={verify!r}: use 'header' or 'decode'.")
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"No folder at {root}. Expected one sub-folder per class: {KERAS_LAYOUT}.")
    folders = [p.name for p in _subfolders(root)]
    if class_names is None:
        if {name.lower() for name in folders} & set(SPLITS):
            raise DatasetLayoutError(
                f"{root} holds split folders ({', '.join(f for f in folders if f.lower() in SPLITS)}), not class "
                f"folders: read it with daylib.data.folders.load_folder({str(root)!r}), which keeps your split, "
                f"or pass one split, e.g. load_class_folders({str(root / folders[0])!r}).")
        if len(folders) == 1 and len(_subfolders(root / folders[0])) >= 2:
            raise DatasetLayoutError(
                f"{root} holds one folder, {folders[0]}, and the class folders are inside it: pass "
                f"root={str(root / folders[0])!r}. Expected {KERAS_LAYOUT}.")
        if len(folders) < 2:
            images = [p for p in sorted(root.iterdir()) if is_image_name(p)]
            found = (f"{len(images)} image files directly inside it" if images else
                     f"{len(folders)} sub-folder{'s' if len(folders) != 1 else ''}")
            one_class = (f" It looks like one class folder: pass its parent, root={str(root.parent)!r}."
                         if images and len(_subfolders(root.parent)) >= 2 else
                         " Move each class's images into a folder named after the class.")
            raise DatasetLayoutError(
                f"{root} has {found}; a classifier needs one sub-folder per class, at least two: "
                f"{KERAS_LAYOUT}.{one_class}")
        class_names = folders
    class_names = tuple(class_names)
    missing = [name for name in class_names if not (root / name).is_dir()]
    if missing:
        raise DatasetLayoutError(f"No class folder {root / missing[0]}; {root} holds "
                                 f"{', '.join(folders) or 'no sub-folders'}. Expected {KERAS_LAYOUT}.")
    everything, skipped = read_split(root, class_names, verify)
    train, val, test = stratified_split(everything, val_fraction, test_fraction, seed)
    return ChestXrays(source="folder", train=train, val=val, test=test, class_names=class_names, root=root,
                      skipped=skipped)


def read_split(
    folder: Union[str, Path],
    class_names: Sequence[str] = CLASS_NAMES,
    verify: str = VERIFY_DEFAULT,
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
    problem = _first_missing(folder.parent, (folder.name,), class_names)
    if problem is not None:
        hint = layout_hint(folder.parent, (folder.name,), class_names)
        raise DatasetLayoutError(_layout_message(folder.parent, problem, hint))
    for extra in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in class_names
                        and not p.name.startswith((".", "__"))):
        warnings.warn(f"Ignoring {extra}: not one of the class folders {list(class_names)}.", stacklevel=3)
    paths, labels, stray, broken = [], [], [], []
    for label, class_name in enumerate(class_names):
        class_dir = folder / class_name
        entries = sorted(class_dir.iterdir())
        images = [p for p in entries if is_image_name(p)]
        stray += [p for p in entries if not is_image_name(p)]
        readable = [is_readable(p, verify) for p in images]
        broken += [p for p, ok in zip(images, readable) if not ok]
        good = [p for p, ok in zip(images, readable) if ok]
        if not good:
            raise DatasetLayoutError(f"{class_dir} holds no readable images: put the class's image files in it "
                                     "(PNG, JPEG, ...), or leave the class out of class_names.")
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


def is_readable(path: Union[str, Path], verify: str = VERIFY_DEFAULT) -> bool:
    """True when ``path`` is an image that can be used: Pillow opens and verifies it.

    ``"header"`` asks Pillow to identify the file and run its own check
    (``Image.verify()``: the header, and for PNG every chunk's checksum); empty,
    foreign and truncated-PNG files fail. ``"decode"`` then also decodes the
    whole image with :func:`daylib.data.images.load_image`, the course's one
    decoding rule, which catches truncated JPEGs too (the costs: :data:`VERIFY_DEFAULT`).

    Example:
        >>> is_readable("data/chest_xray/test/NORMAL/IM-0001-0001.jpeg")
        True
    """
    try:
        with warnings.catch_warnings():  # Pillow warns about odd metadata; the caller names bad files itself
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.verify()
    except PILLOW_ERRORS:
        return False
    if verify == "header":
        return True
    try:
        load_image(path)
    except ValueError:
        return False
    return True


def layout_hint(
    root: Union[str, Path],
    splits: Sequence[str] = SPLITS,
    class_names: Sequence[str] = CLASS_NAMES,
    argument: str = "root",
) -> Optional[str]:
    """Where the ``<split>/<class>`` folders are when they are not at ``root``: one sentence, or None.

    It looks at ``root`` and one folder down (a zip unpacked into a folder of the
    same name gives ``chest_xray/chest_xray/train``; ``__MACOSX`` and hidden
    folders are skipped), matching names without regard to case (``Train/``,
    ``normal/``), and checks whether ``root`` is itself one split (it holds the
    class folders). The sentence says what it found and which ``root`` to pass,
    or which folders to rename. None when the layout is complete at ``root``, or
    nothing like it is found. ``argument`` names the folder argument in the advice
    (``"dest"`` for :func:`daylib.data.kaggle.download`).

    Example:
        >>> layout_hint("data/chest_xray")  # unpacked one folder too deep
        "The split folders are one folder down, in data/chest_xray/chest_xray: pass root='data/chest_xray/chest_xray'."
        >>> layout_hint("data/chest_xray/chest_xray") is None  # a complete layout needs no hint
        True
    """
    root = Path(root)
    if not root.is_dir() or _first_missing(root, splits, class_names) is None:
        return None
    for base in [root] + _subfolders(root):
        renames = _case_renames(base, splits, class_names)
        if renames is None:
            continue
        if base == root:
            return _rename_sentence(base, renames) + "."
        moved = f"The split folders are one folder down, in {base}"
        if not renames:
            return f"{moved}: pass {argument}={str(base)!r}."
        return f"{moved}. {_rename_sentence(base, renames)}; then pass {argument}={str(base)!r}."
    found = [p.name for p in _subfolders(root)]
    if len(found) >= 2 and not {name.lower() for name in found} & set(SPLITS) and not all(
            _case_match(root, name) for name in class_names):
        return (f"{root} holds the folders {', '.join(found[:6])}{' ...' if len(found) > 6 else ''} and no split "
                f"folders: if they are your classes (the Keras layout), read them with "
                f"daylib.data.folders.load_class_folders({str(root)!r}), which splits them.")
    if all(_case_match(root, name) for name in class_names):
        if root.name.lower() in SPLITS:
            return (f"{root} holds the class folders itself, so it is one split: "
                    f"pass its parent, {argument}={str(root.parent)!r}, "
                    f"or read it alone with daylib.data.folders.read_split({str(root)!r}).")
        return (f"{root} holds the class folders itself and no split folders (the Keras layout): read it with "
                f"daylib.data.folders.load_class_folders({str(root)!r}), which splits it.")
    return None


def _first_missing(root: Path, splits: Sequence[str], class_names: Sequence[str]) -> Optional[str]:
    for split in splits:
        if not (root / split).is_dir():
            return f"the split folder {root / split} is missing"
        for class_name in class_names:
            if not (root / split / class_name).is_dir():
                return f"the class folder {root / split / class_name} is missing"
    return None


def _case_renames(base: Path, splits: Sequence[str], class_names: Sequence[str]) -> Optional[list[tuple[Path, str]]]:
    """The folders under ``base`` to rename for the layout, or None when it is not there even ignoring case."""
    renames = []
    for split in splits:
        split_dir = _case_match(base, split)
        if split_dir is None:
            return None
        renames += [(split_dir, split)] if split_dir.name != split else []
        for class_name in class_names:
            class_dir = _case_match(split_dir, class_name)
            if class_dir is None:
                return None
            renames += [(class_dir, class_name)] if class_dir.name != class_name else []
    return renames


def _rename_sentence(base: Path, renames: list[tuple[Path, str]], limit: int = 6) -> str:
    listed = ", ".join(f"{found.relative_to(base)} to {name}" for found, name in renames[:limit])
    more = f" and {len(renames) - limit} more like them" if len(renames) > limit else ""
    return f"Folder names are case-sensitive: in {base}, rename {listed}{more}"


def _case_match(folder: Path, name: str) -> Optional[Path]:
    """``folder/name`` if it is a folder, else a sub-folder whose name differs from ``name`` only in case."""
    if (folder / name).is_dir():
        return folder / name
    return next((p for p in _subfolders(folder) if p.name.lower() == name.lower()), None)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def _mask_paths(paths: list[Path], masks_root: Path) -> Optional[list[Optional[Path]]]:
    candidates = [masks_root / p.parent.name / p.name for p in paths]
    exists = [c.is_file() for c in candidates]
    if not any(exists):
        return None
    return [c if ok else None for c, ok in zip(candidates, exists)]


def _layout_message(root: Path, problem: str, hint: Optional[str] = None) -> str:
    return (f"{problem}. " + (f"{hint} " if hint else "") + f"Expected the layout {LAYOUT} "
            f"(e.g. {root}/train/NORMAL/IM-0115-0001.jpeg), as in Kaggle's chest X-ray dataset "
            "(daylib.data.kaggle.download() fetches it).")


def _some(paths: list[Path], limit: int = 5) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
