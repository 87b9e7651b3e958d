"""Fixtures for driving the real ``kaggle`` client against the loopback server in :mod:`kaggle_server`.

- :func:`chest_xray_zip` builds a small archive shaped like Kaggle's
  ``chest-xray-pneumonia.zip``: ``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/``
  with patient-style names, the nested duplicate ``chest_xray/chest_xray/``,
  ``__MACOSX`` AppleDouble files beside the splits and ``.DS_Store`` files, the
  images drawn by :func:`daylib.data.phantom.make_phantom`.
- The ``kaggle_home`` fixture gives the test a fresh HOME without credentials,
  points the client at kagglesdk's ``TEST`` endpoint (``http://localhost:7777``),
  refuses every connection that is not loopback, and shortens the client's
  retry back-off sleeps (recording them).
- The ``kaggle_server`` fixture runs :class:`kaggle_server.FakeKaggle` on
  127.0.0.1:7777 for one test, and fails at once if the port is taken.

Example:
    >>> def test_download(tmp_path, kaggle_server, kaggle_home):
    ...     kaggle_home.kaggle_json()
    ...     kaggle.download(tmp_path / "chest_xray", expected_counts=ARCHIVE_COUNTS)
"""
from __future__ import annotations

import importlib
import io
import ipaddress
import json
import socket
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import cv2
import pytest

from daylib.data.phantom import make_phantom
from kaggle_server import PORT, FakeKaggle

DATASET = "paultimothymooney/chest-xray-pneumonia"
MIB = 1 << 20
"""The client writes the zip in 1 MiB chunks (``download_file(chunk_size=1048576)``); a cut keeps whole ones."""
USERNAME, KEY, TOKEN = "learner", "0123456789abcdef0123456789abcdef", "KGAT_0123456789abcdef"
SPLITS, CLASSES = ("train", "val", "test"), ("NORMAL", "PNEUMONIA")

ARCHIVE_COUNTS = {"train": {"NORMAL": 16, "PNEUMONIA": 20}, "val": {"NORMAL": 4, "PNEUMONIA": 4},
                  "test": {"NORMAL": 8, "PNEUMONIA": 10}}
"""Images per split and class in :func:`chest_xray_zip`'s archive (in each of its two copies)."""

_FIRST_PATIENT = {"NORMAL": {"train": 115, "val": 1427, "test": 1},
                  "PNEUMONIA": {"train": 12, "val": 1946, "test": 1}}
_APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)


def kaggle_names(split: str, class_name: str, count: int) -> list[str]:
    """File names as Kaggle's archive has them, two films per patient.

    Example:
        >>> kaggle_names("train", "NORMAL", 3)
        ['IM-0115-0001.jpeg', 'IM-0115-0002.jpeg', 'IM-0116-0001.jpeg']
        >>> kaggle_names("train", "PNEUMONIA", 1)
        ['person12_bacteria_47.jpeg']
    """
    names = []
    for i in range(count):
        patient, film = divmod(i, 2)
        number = _FIRST_PATIENT[class_name][split] + patient
        if class_name == "NORMAL":
            prefix = "NORMAL2-" if patient % 3 == 2 else ""
            names.append(f"{prefix}IM-{number:04d}-{film + 1:04d}.jpeg")
        else:
            kind = "virus" if patient % 2 else "bacteria"
            names.append(f"person{number}_{kind}_{47 + i}.jpeg")
    return names


def chest_xray_zip(counts: dict[str, dict[str, int]] = ARCHIVE_COUNTS, size: int = 224, seed: int = 0) -> bytes:
    """A zip laid out like Kaggle's chest X-ray archive, ``counts`` phantom JPEGs per split and class.

    Entries: ``chest_xray/<split>/<class>/<name>``, the same files again under
    ``chest_xray/chest_xray/``, an AppleDouble ``._<name>`` per image under
    ``chest_xray/__MACOSX/<split>/<class>/``, and ``.DS_Store`` files. A class
    missing from ``counts`` (or with count 0) is missing from the archive.

    Example:
        >>> zipfile.ZipFile(io.BytesIO(chest_xray_zip())).namelist()[:2]
        ['chest_xray/', 'chest_xray/.DS_Store']
    """
    files: dict[str, bytes] = {}
    for s, split in enumerate(SPLITS):
        for c, class_name in enumerate(CLASSES):
            n = counts.get(split, {}).get(class_name, 0)
            if not n:
                continue
            films = make_phantom(n, size=size, pneumonia_fraction=float(c), seed=seed + 10 * s + c).images
            for name, image in zip(kaggle_names(split, class_name, n), films):
                jpeg = cv2.imencode(".jpeg", image, [cv2.IMWRITE_JPEG_QUALITY, 98])[1]
                files[f"{split}/{class_name}/{name}"] = jpeg.tobytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("chest_xray/", b"")
        archive.writestr("chest_xray/.DS_Store", b"\x00\x00\x00\x01Bud1")
        for top in ("chest_xray/", "chest_xray/chest_xray/"):
            for relative, data in files.items():
                archive.writestr(top + relative, data)
            archive.writestr(top + "train/.DS_Store", b"\x00\x00\x00\x01Bud1")
        for relative in files:
            folder, _, name = relative.rpartition("/")
            archive.writestr(f"chest_xray/__MACOSX/{folder}/._{name}", _APPLEDOUBLE)
    return buffer.getvalue()


class KaggleHome:
    """The test's HOME and the client's recorded back-off sleeps; writes credentials on request.

    Attributes:
        home: the HOME folder (no ``~/.kaggle`` until :meth:`kaggle_json`).
        sleeps: every back-off delay (seconds) the client asked for; each actually waits at most 10 ms.
    """

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home, self._monkeypatch = home, monkeypatch
        self.sleeps: list[float] = []

    def kaggle_json(self, username: str = USERNAME, key: str = KEY, mode: int = 0o600) -> Path:
        """Write ``~/.kaggle/kaggle.json`` (``mode`` 0o644 makes the client warn) and return its path."""
        path = self.home / ".kaggle" / "kaggle.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"username": username, "key": key}))
        path.chmod(mode)
        return path

    def environment(self, username: str = USERNAME, key: str = KEY) -> None:
        """Set ``KAGGLE_USERNAME`` and ``KAGGLE_KEY``."""
        self._monkeypatch.setenv("KAGGLE_USERNAME", username)
        self._monkeypatch.setenv("KAGGLE_KEY", key)

    def api_token(self, token: str = TOKEN) -> None:
        """Set ``KAGGLE_API_TOKEN`` (the newer access-token credentials)."""
        self._monkeypatch.setenv("KAGGLE_API_TOKEN", token)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        time.sleep(min(seconds, 0.01))


def _loopback_only(getaddrinfo):
    """``socket.getaddrinfo`` that refuses to resolve, and so to connect to, anything but loopback."""

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            loopback = ipaddress.ip_address(name).is_loopback
        except ValueError:
            loopback = name == "localhost"
        if not loopback:
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: only loopback may be reached, not {name!r}")
        return getaddrinfo(host, *args, **kwargs)

    return guarded


@pytest.fixture
def kaggle_home(tmp_path, monkeypatch) -> KaggleHome:
    """A fresh HOME, no credentials, the client sent to kagglesdk's TEST endpoint, loopback-only sockets."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME",
                 "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_PROXY", "VERBOSE", "VERBOSE_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only(socket.getaddrinfo))
    state = KaggleHome(home, monkeypatch)
    client = importlib.import_module("kaggle.api.kaggle_api_extended")  # importing authenticates: offline, guarded
    monkeypatch.setattr(client, "time", SimpleNamespace(**{**vars(time), "sleep": state.sleep}))
    return state


@pytest.fixture(scope="session")
def archive() -> bytes:
    """:func:`chest_xray_zip` with :data:`ARCHIVE_COUNTS`, built once: over 2 MiB (about 3 MB).

    The client writes in 1 MiB chunks, so only a transfer cut after more than 1 MiB leaves
    part of the zip to resume from; half of this archive is more than that.
    """
    data = chest_xray_zip()
    assert len(data) > 2 * MIB, f"the test archive has {len(data):,} bytes; the resume tests need over 2 MiB"
    return data


@pytest.fixture
def kaggle_server(archive) -> FakeKaggle:
    """:class:`kaggle_server.FakeKaggle` on 127.0.0.1:7777 serving :func:`archive` for one test."""
    server = FakeKaggle({DATASET: archive}, USERNAME, KEY, token=TOKEN)
    try:
        server.start()
    except OSError as error:
        pytest.fail(f"Cannot serve the fake Kaggle API on 127.0.0.1:{PORT} ({error}): another process holds "
                    f"the port kagglesdk's TEST environment uses. Stop it and run the tests again.", pytrace=False)
    yield server
    server.stop()


def leftovers(folder: Path, dest: Path) -> list[str]:
    """What ``download`` may have left beside ``dest``: partial extractions and download caches.

    Example:
        >>> leftovers(tmp_path, tmp_path / "chest_xray")
        []
    """
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{dest.name}.partial-")
                  or p.name == f"{dest.name}.download")


def entries(data: bytes, prefix: Optional[str] = None) -> list[str]:
    """The names in a zip (those starting with ``prefix``)."""
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    return [n for n in names if prefix is None or n.startswith(prefix)]
