"""The chest X-ray dataset: folder reading, patient split, phantom round trip, Kaggle download paths."""
import socket
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from daylib.data import pneumonia
from daylib.data.phantom import make_phantom, write_phantom_dataset
from daylib.data.pneumonia import (
    DatasetLayoutError,
    DownloadError,
    KaggleCredentialsError,
    Split,
    load_folder,
    patient_id,
    split_by_patient,
)

TINY_COUNTS = {"train": {"NORMAL": 9, "PNEUMONIA": 12}, "val": {"NORMAL": 2, "PNEUMONIA": 2},
               "test": {"NORMAL": 3, "PNEUMONIA": 4}}


def kaggle_names(split: str, class_name: str, count: int) -> list[str]:
    """Kaggle-style file names, two or three images per patient."""
    names = []
    offset = 100 * pneumonia.SPLITS.index(split)  # patients differ between splits
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


@pytest.fixture
def no_kaggle_credentials(tmp_path, monkeypatch):
    """A HOME without ~/.kaggle, no KAGGLE_* variables, and no network at all."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("the code tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    return home


@pytest.mark.parametrize("name, expected", [
    ("person12_bacteria_47.jpeg", "person12"),
    ("person1_virus_6.jpeg", "person1"),
    ("IM-0115-0001.jpeg", "IM-0115"),
    ("NORMAL2-IM-0027-0001.jpeg", "NORMAL2-IM-0027"),
    ("phantom-train-00001.png", None),
])
def test_patient_id_reads_kaggle_names(name, expected):
    assert patient_id(Path("chest_xray/train/X") / name) == expected


def test_split_by_patient_keeps_every_patient_on_one_side():
    names = kaggle_names("train", "NORMAL", 30) + kaggle_names("train", "PNEUMONIA", 60)
    split = Split(labels=np.array([0] * 30 + [1] * 60), paths=[Path(n) for n in names])
    train, val = split_by_patient(split, val_fraction=0.2, seed=0)
    train_ids, val_ids = ({patient_id(p) for p in s.paths} for s in (train, val))
    assert train_ids.isdisjoint(val_ids)
    assert sorted(map(str, train.paths + val.paths)) == sorted(names)
    assert val.counts() == {"NORMAL": 6, "PNEUMONIA": 12}  # whole patients of 3 images reach 20% exactly
    again = split_by_patient(split, val_fraction=0.2, seed=0)[1]
    assert again.paths == val.paths


def test_split_by_patient_warns_about_names_without_patient_ids():
    split = Split(labels=np.array([0, 0, 1, 1]), paths=[Path(f"img{i}.png") for i in range(4)])
    with pytest.warns(UserWarning, match="no patient id"):
        train, val = split_by_patient(split, val_fraction=0.5)
    assert len(train) == len(val) == 2


def test_phantom_folder_round_trip(tmp_path):
    root = write_phantom_dataset(tmp_path / "phantom", 12, 4, 6, size=48, shortcut=1.0, seed=3)
    data = load_folder(root)
    assert data.counts() == {"train": {"NORMAL": 6, "PNEUMONIA": 6}, "val": {"NORMAL": 2, "PNEUMONIA": 2},
                             "test": {"NORMAL": 3, "PNEUMONIA": 3}}
    expected = make_phantom(12, size=48, shortcut=1.0, seed=3)
    order = np.argsort([int(p.stem.split("-")[-1]) for p in data.train.paths])
    read = np.stack([cv2.imread(str(data.train.paths[i]), cv2.IMREAD_UNCHANGED) for i in order])
    np.testing.assert_array_equal(read, expected.images)
    np.testing.assert_array_equal(data.train.labels[order], expected.labels)
    for i in order:
        mask_path = data.train.mask_paths[i]
        assert (mask_path is not None) == (data.train.labels[i] == 1)
    masks = [cv2.imread(str(data.train.mask_paths[i]), cv2.IMREAD_UNCHANGED) > 0 for i in order
             if data.train.mask_paths[i] is not None]
    np.testing.assert_array_equal(np.stack(masks), expected.masks[expected.labels == 1])
    manifest = (root / "manifest.csv").read_text().splitlines()
    assert manifest[0] == "path,split,label,class_name,marker" and len(manifest) == 1 + 22
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_phantom_dataset(root, 2, 2, 2, size=48)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_stray_and_corrupt_files_are_skipped_and_named(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    (root / "train" / "NORMAL" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "train" / "PNEUMONIA" / "notes.txt").write_text("not an image")
    corrupt = root / "test" / "PNEUMONIA" / "person999_virus_1.jpeg"
    corrupt.write_bytes(b"this is not a jpeg")
    empty = root / "test" / "NORMAL" / "IM-9999-0001.jpeg"
    empty.write_bytes(b"")
    with pytest.warns(UserWarning) as caught:
        data = load_folder(root)
    messages = " ".join(str(w.message) for w in caught)
    assert "notes.txt" in messages and "stray" in messages
    assert str(corrupt) in messages and str(empty) in messages
    assert {corrupt, empty, root / "train" / "NORMAL" / ".DS_Store"} <= set(data.skipped)
    assert data.counts()["test"] == TINY_COUNTS["test"]
    assert all(p.suffix == ".jpeg" for p in data.train.paths)


@pytest.mark.filterwarnings("ignore:Ignoring .*not one of the class folders")
@pytest.mark.parametrize("moved, message", [
    (None, "No dataset folder"),
    (("val", "validation"), "split folder"),
    (("test/NORMAL", "test/normal"), "class folder"),
])
def test_wrong_layouts_name_the_expected_layout(tmp_path, moved, message):
    root = tmp_path / "chest_xray"
    if moved is not None:
        write_tiny_kaggle(root)
        (root / moved[0]).rename(root / moved[1])
    with pytest.raises(DatasetLayoutError, match=message) as error:
        load_folder(root)
    assert "{train,val,test}/{NORMAL,PNEUMONIA}" in str(error.value)


def test_an_empty_class_folder_is_an_error(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    for f in (root / "train" / "NORMAL").iterdir():
        f.unlink()
    with pytest.raises(DatasetLayoutError, match="no readable images"):
        load_folder(root)


def test_missing_credentials_give_the_documented_error_without_network(tmp_path, no_kaggle_credentials):
    was_imported = "kaggle" in sys.modules
    with pytest.raises(KaggleCredentialsError, match=r"~/.kaggle/kaggle.json") as error:
        pneumonia.download(tmp_path / "chest_xray")
    for hint in ("Create New Token", "KAGGLE_USERNAME", "KAGGLE_KEY", "chmod 600"):
        assert hint in str(error.value)
    assert ("kaggle" in sys.modules) == was_imported  # the client was not imported
    assert not (tmp_path / "chest_xray").exists()


def test_a_kaggle_json_without_a_key_is_reported(no_kaggle_credentials):
    (no_kaggle_credentials / ".kaggle").mkdir()
    (no_kaggle_credentials / ".kaggle" / "kaggle.json").write_text('{"username": "me"}')
    with pytest.raises(KaggleCredentialsError, match="must hold"):
        pneumonia.find_kaggle_credentials()


def test_credentials_from_the_environment_are_found(no_kaggle_credentials, monkeypatch):
    assert pneumonia.find_kaggle_credentials() is None
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    assert "KAGGLE_USERNAME" in pneumonia.find_kaggle_credentials()


def test_auto_falls_back_to_phantoms_and_says_how_to_get_the_real_data(tmp_path, no_kaggle_credentials, capsys):
    data = pneumonia.load("auto", root=tmp_path / "chest_xray", phantom_counts=(8, 4, 4), phantom_size=48)
    out = capsys.readouterr().out
    assert data.source == "phantom" and "phantom" in out and "kaggle.json" in out
    assert data.counts()["train"] == {"NORMAL": 4, "PNEUMONIA": 4}
    assert data.train.images.shape == (8, 48, 48) and data.train.masks.shape == (8, 48, 48)
    assert "NORMAL" in out and "PNEUMONIA" in out  # the class-count table


def test_phantom_source_with_shortcut_keeps_the_test_marker_uninformative():
    data = pneumonia.load("phantom", phantom_counts=(20, 10, 20), phantom_size=32, shortcut=1.0, verbose=False)
    assert (data.train.markers == data.train.labels).all()
    assert (data.test.markers == data.test.labels).mean() == 0.5


def test_kaggle_source_resplits_train_by_patient_and_keeps_test(tmp_path, no_kaggle_credentials, monkeypatch):
    monkeypatch.setattr(pneumonia, "EXPECTED_COUNTS", TINY_COUNTS)
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    data = pneumonia.load("auto", root=root, val_fraction=0.3, verbose=False)  # a complete copy: no download
    assert data.source == "kaggle"
    assert data.counts()["test"] == TINY_COUNTS["test"]
    assert len(data.train) + len(data.val) == 25
    assert {patient_id(p) for p in data.train.paths}.isdisjoint({patient_id(p) for p in data.val.paths})
    assert set(data.val.counts().values()) != {0}


def fake_kaggle_zip(path: Path, counts, nested_counts=None) -> None:
    """A zip shaped like Kaggle's: chest_xray/ with the splits, a nested duplicate and __MACOSX."""
    jpeg = cv2.imencode(".jpeg", np.full((8, 8), 90, np.uint8))[1].tobytes()
    copies = {"chest_xray/": counts, "chest_xray/chest_xray/": nested_counts or counts, "__MACOSX/chest_xray/": counts}
    with zipfile.ZipFile(path, "w") as archive:
        for prefix, copy_counts in copies.items():
            for split, classes in copy_counts.items():
                for class_name, count in classes.items():
                    for name in kaggle_names(split, class_name, count):
                        archive.writestr(f"{prefix}{split}/{class_name}/{name}", jpeg)
        archive.writestr("chest_xray/train/NORMAL/.DS_Store", b"junk")


class FakeKaggleApi:
    def __init__(self, counts, nested_counts=None):
        self.counts, self.nested_counts = counts, nested_counts
        self.calls = 0

    def dataset_download_files(self, dataset, path, quiet, unzip):
        self.calls += 1
        fake_kaggle_zip(Path(path) / "chest-xray-pneumonia.zip", self.counts, self.nested_counts)


@pytest.fixture
def fake_kaggle(monkeypatch, no_kaggle_credentials):
    monkeypatch.setattr(pneumonia, "EXPECTED_COUNTS", TINY_COUNTS)
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    monkeypatch.setattr(pneumonia, "_check_network", lambda: None)

    def install(counts, nested_counts=None):
        api = FakeKaggleApi(counts, nested_counts)
        monkeypatch.setattr(pneumonia, "_kaggle_api", lambda: api)
        return api

    return install


def test_download_extracts_verifies_and_is_idempotent(tmp_path, fake_kaggle):
    api = fake_kaggle(TINY_COUNTS)
    dest = pneumonia.download(tmp_path / "chest_xray", quiet=True)
    assert pneumonia.count_problems(dest) == [] and api.calls == 1
    assert sorted(p.name for p in dest.iterdir()) == ["test", "train", "val"]
    assert not (dest / "train" / "NORMAL" / ".DS_Store").exists()
    pneumonia.download(dest, quiet=True)
    assert api.calls == 1  # a verified copy is not downloaded again
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name or p.name.endswith(".download")]


def test_an_incomplete_download_leaves_nothing_that_looks_complete(tmp_path, fake_kaggle):
    short = {**TINY_COUNTS, "test": {"NORMAL": 3, "PNEUMONIA": 1}}
    fake_kaggle(short)
    with pytest.raises(DownloadError, match="test/PNEUMONIA: 1 images, expected 4"):
        pneumonia.download(tmp_path / "chest_xray", quiet=True)
    assert not (tmp_path / "chest_xray").exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name or p.name.endswith(".download")]


def test_download_takes_the_complete_copy_inside_the_zip(tmp_path, fake_kaggle):
    short = {**TINY_COUNTS, "val": {"NORMAL": 1, "PNEUMONIA": 2}}
    fake_kaggle(short, nested_counts=TINY_COUNTS)
    dest = pneumonia.download(tmp_path / "chest_xray", quiet=True)
    assert pneumonia.count_problems(dest) == []


def test_download_refuses_to_overwrite_a_foreign_folder(tmp_path, fake_kaggle):
    fake_kaggle(TINY_COUNTS)
    (tmp_path / "chest_xray").mkdir()
    (tmp_path / "chest_xray" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="force=True"):
        pneumonia.download(tmp_path / "chest_xray", quiet=True)
