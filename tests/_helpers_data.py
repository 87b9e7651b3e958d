"""Fake Kaggle folders and an isolated, offline Kaggle setup for the data tests."""
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

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
