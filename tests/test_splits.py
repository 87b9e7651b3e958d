"""Splits: patient ids from Kaggle names, the patient split, class-balanced subsets and the per-split cap."""
from pathlib import Path

import numpy as np
import pytest
from _helpers_data import kaggle_names

from daylib import config
from daylib.data.splits import (
    QUICK_MAX_PER_SPLIT,
    ChestXrays,
    Split,
    cap_note,
    cap_per_split,
    patient_id,
    resolve_cap,
    split_by_patient,
    stratified_subset,
)


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


def test_split_by_patient_explains_bad_arguments():
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_by_patient(Split(labels=np.array([0, 1]), paths=[Path("a.png"), Path("b.png")]), val_fraction=1.0)
    with pytest.raises(ValueError, match="needs file paths"):
        split_by_patient(Split(labels=np.array([0, 1])))


def test_stratified_subset_keeps_paths_labels_masks_and_markers_aligned():
    labels = np.array([0] * 10 + [1] * 20)
    split = Split(labels=labels, paths=[Path(f"{i}.png") for i in range(30)],
                  mask_paths=[None if label == 0 else Path(f"masks/{i}.png") for i, label in enumerate(labels)],
                  markers=np.arange(30))
    part = stratified_subset(split, 9, seed=3)
    assert part.counts() == {"NORMAL": 3, "PNEUMONIA": 6}
    for path, label, mask_path, marker in zip(part.paths, part.labels, part.mask_paths, part.markers):
        assert int(path.stem) == marker and label == labels[marker]
        assert mask_path == (None if label == 0 else Path(f"masks/{marker}.png"))
    assert list(part.markers) == sorted(part.markers)
    assert stratified_subset(split, 30, seed=3) is split


def test_the_cap_resolves_auto_by_mode_and_checks_the_rest(monkeypatch):
    monkeypatch.setattr(config, "QUICK", True)
    assert resolve_cap("auto") == QUICK_MAX_PER_SPLIT == (120, 40, 80)
    monkeypatch.setattr(config, "QUICK", False)
    assert resolve_cap("auto") is None and resolve_cap(None) is None
    assert resolve_cap([4, 2, np.int64(3)]) == (4, 2, 3)
    with pytest.raises(ValueError, match="three positive whole numbers"):
        resolve_cap((4, 2, True))


def test_cap_per_split_samples_each_split_and_the_note_names_what_it_left_out():
    def split(n_normal, n_pneumonia):
        return Split(labels=np.array([0] * n_normal + [1] * n_pneumonia),
                     paths=[Path(f"{i}.jpeg") for i in range(n_normal + n_pneumonia)])

    data = ChestXrays(source="kaggle", train=split(30, 90), val=split(10, 10), test=split(8, 12))
    kept = cap_per_split(data, (40, 30, 10), seed=0)
    assert [len(kept.train), len(kept.val), len(kept.test)] == [40, 20, 10]
    assert kept.train.counts() == {"NORMAL": 10, "PNEUMONIA": 30} and kept.val is data.val
    assert cap_per_split(data, None, seed=0) is data
    assert cap_note(data, kept, (40, 30, 10), from_quick_mode=False) == (
        "max_per_split=(40, 30, 10): using 40 of 120 training films, 20 of 20 validation films, "
        "10 of 20 test films; max_per_split=None loads all.")
    assert cap_note(data, kept, (40, 30, 10), from_quick_mode=True).startswith("quick mode: using 40 of 120")
    assert cap_note(data, data, None, from_quick_mode=True) == ""


def test_a_dataset_summarises_its_counts():
    data = ChestXrays(source="phantom", train=Split(labels=np.array([0, 1, 1])), val=Split(labels=np.array([0])),
                      test=Split(labels=np.array([1])))
    assert data.counts()["train"] == {"NORMAL": 1, "PNEUMONIA": 2}
    lines = data.summary().splitlines()
    assert lines[0] == "source: phantom" and lines[2].split() == ["train", "1", "2", "3"]
