"""Fake Kaggle folders and an isolated, offline Kaggle setup for the data tests."""
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import ExifTags, Image

from daylib.data.splits import SPLITS

TINY_COUNTS = {"train": {"NORMAL": 9, "PNEUMONIA": 12}, "val": {"NORMAL": 2, "PNEUMONIA": 2},
               "test": {"NORMAL": 3, "PNEUMONIA": 4}}
KAGGLE_VARIABLES = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME",
                    "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_API_V1_TOKEN")


def kaggle_names(split: str, class_name: str, count: int) -> list[str]:
    """Kaggle-style file names, two or three images per patient."""
    names = []
    offset = 100 * SPLITS.index(split)  # patients differ between splits
    for i in range(count):
        patient, shot = divmod(i, 3)
        if class_name == "NORMAL":
            prefix = "NORMAL2-" if patient % 2 else ""
            names.append(f"{prefix}IM-{offset + patient:04d}-{shot + 1:04d}.jpeg")
        else:
            kind = "virus" if patient % 2 else "bacteria"
            names.append(f"person{offset + patient}_{kind}_{shot}.jpeg")
    return names


def write_tiny_kaggle(root: Path, counts=TINY_COUNTS) -> Path:
    """A fake Kaggle folder of 8x8 JPEGs with Kaggle-style names."""
    pixels = np.full((8, 8), 120, np.uint8)
    for split, classes in counts.items():
        for class_name, count in classes.items():
            folder = root / split / class_name
            folder.mkdir(parents=True)
            for name in kaggle_names(split, class_name, count):
                cv2.imwrite(str(folder / name), pixels)
    return root


def isolate_from_kaggle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME without ~/.kaggle, no KAGGLE_* variables, and no network at all; returns HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in KAGGLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("the code tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    return home


FILM_SIDE = 32
"""Side of the test films in :func:`write_tricky_films` (the EXIF one is stored 24 x 32, shown 32 x 24)."""


def dim_16bit_film(side: int = FILM_SIDE) -> np.ndarray:
    """A dim 16-bit film as scanners write them: 12-bit values, and of those only 100..900."""
    ramp = np.linspace(100, 900, side * side).reshape(side, side)
    return np.round(ramp).astype(np.uint16)


def write_tricky_films(folder: Path) -> dict[str, Path]:
    """One film per decoding case the course meets, in ``folder``; returns ``{case: path}``.

    ``dim16`` a 12-bit grayscale PNG (Pillow mode ``I;16``); ``colour16`` a 16-bit RGB PNG
    (OpenCV); ``exif`` a JPEG stored 24 high x 32 wide, bright top-left corner, EXIF
    orientation 6 (shown rotated 90 degrees clockwise: 32 high x 24 wide, bright top-right);
    ``palette``, ``rgba`` (top half opaque blue, bottom transparent), ``la`` (grey + alpha,
    left half transparent) and ``cmyk`` (a CMYK JPEG).
    """
    folder.mkdir(parents=True, exist_ok=True)
    side = FILM_SIDE
    paths = {case: folder / f"{case}.{'jpeg' if case in ('exif', 'cmyk') else 'png'}"
             for case in ("dim16", "colour16", "exif", "palette", "rgba", "la", "cmyk")}
    Image.fromarray(dim_16bit_film()).save(paths["dim16"])
    film = dim_16bit_film()
    cv2.imwrite(str(paths["colour16"]), np.dstack([film, film // 2, film // 3]))  # BGR on disk
    stored = np.full((24, 32, 3), 40, np.uint8)
    stored[:8, :8] = 250
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    Image.fromarray(stored).save(paths["exif"], quality=95, exif=exif.tobytes())
    gradient = np.linspace(0, 255, side * side).reshape(side, side).astype(np.uint8)
    Image.fromarray(np.dstack([gradient, 255 - gradient, gradient // 2])).quantize(16).save(paths["palette"])
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 2], rgba[: side // 2, :, 3] = 255, 255
    Image.fromarray(rgba, "RGBA").save(paths["rgba"])
    la = np.dstack([gradient, np.zeros_like(gradient)])
    la[:, side // 2:, 1] = 255
    Image.fromarray(la, "LA").save(paths["la"])
    cmyk = np.zeros((side, side, 4), np.uint8)
    cmyk[..., 0], cmyk[..., 3] = 200, 30  # cyan ink, a little black
    Image.fromarray(cmyk, "CMYK").save(paths["cmyk"], quality=95)
    return paths
