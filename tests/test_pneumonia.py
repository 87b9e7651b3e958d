"""The chest X-ray dataset: folder reading, patient split, phantom round trip, Kaggle download paths."""
import socket
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from daylib import config
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


CAP_COUNTS = {"train": {"NORMAL": 75, "PNEUMONIA": 180}, "val": {"NORMAL": 4, "PNEUMONIA": 4},
              "test": {"NORMAL": 45, "PNEUMONIA": 75}}
"""Big enough that the quick-mode cap (120, 40, 80) leaves films out of every split."""


@pytest.fixture
def kaggle_copy(tmp_path, monkeypatch, no_kaggle_credentials):
    """A complete (as far as load can tell) Kaggle copy of CAP_COUNTS films."""
    monkeypatch.setattr(pneumonia, "EXPECTED_COUNTS", CAP_COUNTS)
    return write_tiny_kaggle(tmp_path / "chest_xray", CAP_COUNTS)


def load_kaggle(root: Path, **options) -> pneumonia.ChestXrays:
    return pneumonia.load("kaggle", root=root, **{"verbose": False, **options})


def split_sizes(data: pneumonia.ChestXrays) -> list[int]:
    return [len(getattr(data, name)) for name in pneumonia.SPLITS]


def test_max_per_split_draws_the_requested_films_in_class_proportion(kaggle_copy):
    every = load_kaggle(kaggle_copy, max_per_split=None)
    capped = load_kaggle(kaggle_copy, max_per_split=(40, 10, 15))
    assert split_sizes(capped) == [40, 10, 15]
    for name in pneumonia.SPLITS:
        full, part = getattr(every, name), getattr(capped, name)
        assert len(part) < len(full) and set(part.paths) <= set(full.paths)
        for class_name, count in part.counts().items():
            assert abs(count - len(part) * full.counts()[class_name] / len(full)) < 1
        assert [p.parent.name for p in part.paths] == [capped.class_names[label] for label in part.labels]
    assert capped.counts()["test"] == {"NORMAL": 6, "PNEUMONIA": 9}  # 5.625 and 9.375, largest remainder up
    assert {patient_id(p) for p in capped.train.paths}.isdisjoint({patient_id(p) for p in capped.val.paths})


def test_the_sample_follows_the_seed(kaggle_copy):
    first, again, other = (load_kaggle(kaggle_copy, seed=seed, max_per_split=(40, 10, 15)) for seed in (0, 0, 1))
    for name in pneumonia.SPLITS:
        assert getattr(first, name).paths == getattr(again, name).paths
    assert first.test.paths != other.test.paths  # the test split is never re-split: only the sample moved


def test_the_default_cap_follows_quick_mode(kaggle_copy, monkeypatch):
    monkeypatch.setattr(config, "QUICK", True)
    assert split_sizes(load_kaggle(kaggle_copy)) == [120, 40, 80]
    assert pneumonia.QUICK_MAX_PER_SPLIT == (120, 40, 80)  # the phantom source's quick-mode sizes
    monkeypatch.setattr(config, "QUICK", False)
    assert split_sizes(load_kaggle(kaggle_copy)) == split_sizes(load_kaggle(kaggle_copy, max_per_split=None))
    assert sum(split_sizes(load_kaggle(kaggle_copy))) == sum(sum(c.values()) for c in CAP_COUNTS.values())


def test_max_per_split_none_loads_every_film_even_in_quick_mode(kaggle_copy, monkeypatch):
    monkeypatch.setattr(config, "QUICK", True)
    assert len(load_kaggle(kaggle_copy).train) == 120
    every = load_kaggle(kaggle_copy, max_per_split=None)
    assert len(every.train) + len(every.val) == sum(CAP_COUNTS["train"].values()) + sum(CAP_COUNTS["val"].values())
    assert every.counts()["test"] == CAP_COUNTS["test"]


def test_capping_prints_one_line_saying_how_to_load_all(kaggle_copy, monkeypatch, capsys):
    monkeypatch.setattr(config, "QUICK", True)
    every = load_kaggle(kaggle_copy, max_per_split=None)
    capsys.readouterr()
    load_kaggle(kaggle_copy, verbose=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "films" in line]
    assert lines == [f"quick mode: using 120 of {len(every.train):,} training films, 40 of {len(every.val):,} "
                     f"validation films, 80 of 120 test films; DAYLIB_QUICK=0 or max_per_split=None loads all."]
    load_kaggle(kaggle_copy, verbose=True, max_per_split=[40, 10, 15])
    out = capsys.readouterr().out
    assert "max_per_split=(40, 10, 15): using 40 of" in out and "max_per_split=None loads all." in out
    for uncapped in (None, (1000, 1000, 1000)):
        load_kaggle(kaggle_copy, verbose=True, max_per_split=uncapped)
        assert "films" not in capsys.readouterr().out


@pytest.mark.parametrize("bad", [(-1, 10, 10), (40, 10), (40, 10, 15, 5), (40, 0, 15), (40, 10, 2.5), 40, "all"])
def test_bad_max_per_split_values_say_what_to_give(kaggle_copy, bad):
    with pytest.raises(ValueError, match=r"max_per_split=.*three positive whole numbers \(train, val, test\)"):
        load_kaggle(kaggle_copy, max_per_split=bad)


def test_the_phantom_source_ignores_max_per_split():
    data = pneumonia.load("phantom", phantom_counts=(8, 4, 4), phantom_size=32, max_per_split=(2, 2, 2),
                          verbose=False)
    assert split_sizes(data) == [8, 4, 4]


def test_stratified_subset_keeps_paths_labels_masks_and_markers_aligned():
    labels = np.array([0] * 10 + [1] * 20)
    split = Split(labels=labels, paths=[Path(f"{i}.png") for i in range(30)],
                  mask_paths=[None if label == 0 else Path(f"masks/{i}.png") for i, label in enumerate(labels)],
                  markers=np.arange(30))
    part = pneumonia.stratified_subset(split, 9, seed=3)
    assert part.counts() == {"NORMAL": 3, "PNEUMONIA": 6}
    for path, label, mask_path, marker in zip(part.paths, part.labels, part.mask_paths, part.markers):
        assert int(path.stem) == marker and label == labels[marker]
        assert mask_path == (None if label == 0 else Path(f"masks/{marker}.png"))
    assert list(part.markers) == sorted(part.markers)
    assert pneumonia.stratified_subset(split, 30, seed=3) is split
