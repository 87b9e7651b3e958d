"""pneumonia.load: choosing Kaggle or phantoms, the patient re-split of Kaggle's train folder, the quick-mode cap."""
from pathlib import Path

import pytest
from _helpers_data import TINY_COUNTS, isolate_from_kaggle, write_tiny_kaggle

from daylib import config
from daylib.data import kaggle, pneumonia
from daylib.data.splits import QUICK_MAX_PER_SPLIT, SPLITS, ChestXrays, patient_id


@pytest.fixture
def no_kaggle_credentials(tmp_path, monkeypatch):
    return isolate_from_kaggle(tmp_path, monkeypatch)


def test_auto_falls_back_to_phantoms_and_says_how_to_get_the_real_data(tmp_path, no_kaggle_credentials, capsys):
    data = pneumonia.load("auto", root=tmp_path / "chest_xray", phantom_counts=(8, 4, 4), phantom_size=48)
    out = capsys.readouterr().out
    assert data.source == "phantom" and "phantom" in out and "kaggle.json" in out
    assert data.counts()["train"] == {"NORMAL": 4, "PNEUMONIA": 4}
    assert data.train.images.shape == (8, 48, 48) and data.train.masks.shape == (8, 48, 48)
    assert "NORMAL" in out and "PNEUMONIA" in out  # the class-count table


def test_auto_with_a_copy_one_folder_too_deep_says_which_root_to_pass(tmp_path, no_kaggle_credentials, capsys):
    root = tmp_path / "chest_xray"
    write_tiny_kaggle(root / "chest_xray")
    data = pneumonia.load("auto", root=root, phantom_counts=(4, 2, 2), phantom_size=32)
    out = capsys.readouterr().out
    assert data.source == "phantom"
    assert f"one folder down, in {root / 'chest_xray'}: pass root='{root / 'chest_xray'}'" in out


def test_auto_with_credentials_but_offline_uses_phantoms_and_says_why(tmp_path, no_kaggle_credentials, monkeypatch,
                                                                     capsys):
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    monkeypatch.setattr(kaggle, "reachable", lambda host, port, timeout: False)
    data = pneumonia.load("auto", root=tmp_path / "chest_xray", phantom_counts=(4, 2, 2), phantom_size=32)
    assert data.source == "phantom" and "Cannot reach" in capsys.readouterr().out


def test_a_failed_download_falls_back_for_auto_and_raises_for_kaggle(tmp_path, no_kaggle_credentials, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    monkeypatch.setattr(kaggle, "check_network", lambda: None)

    def failing_download(dest, quiet):
        raise kaggle.DownloadError("the server said 503")

    monkeypatch.setattr(kaggle, "download", failing_download)
    data = pneumonia.load("auto", root=tmp_path / "chest_xray", phantom_counts=(4, 2, 2), phantom_size=32)
    out = capsys.readouterr().out
    assert data.source == "phantom" and "download failed" in out and "503" in out
    with pytest.raises(kaggle.DownloadError, match="503"):
        pneumonia.load("kaggle", root=tmp_path / "chest_xray", verbose=False)


def test_unknown_sources_are_explained():
    with pytest.raises(ValueError, match="use 'auto', 'kaggle' or 'phantom'"):
        pneumonia.load("nih", verbose=False)


def test_phantom_source_with_shortcut_keeps_the_test_marker_uninformative():
    data = pneumonia.load("phantom", phantom_counts=(20, 10, 20), phantom_size=32, shortcut=1.0, verbose=False)
    assert (data.train.markers == data.train.labels).all()
    assert (data.test.markers == data.test.labels).mean() == 0.5


def test_kaggle_source_resplits_train_by_patient_and_keeps_test(tmp_path, no_kaggle_credentials, monkeypatch):
    monkeypatch.setattr(kaggle, "EXPECTED_COUNTS", TINY_COUNTS)
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    data = pneumonia.load("auto", root=root, val_fraction=0.3, verbose=False)  # a complete copy: no download
    assert data.source == "kaggle"
    assert data.counts()["test"] == TINY_COUNTS["test"]
    assert len(data.train) + len(data.val) == 25
    assert {patient_id(p) for p in data.train.paths}.isdisjoint({patient_id(p) for p in data.val.paths})
    assert set(data.val.counts().values()) != {0}


CAP_COUNTS = {"train": {"NORMAL": 75, "PNEUMONIA": 180}, "val": {"NORMAL": 4, "PNEUMONIA": 4},
              "test": {"NORMAL": 45, "PNEUMONIA": 75}}
"""Big enough that the quick-mode cap (120, 40, 80) leaves films out of every split."""


@pytest.fixture
def kaggle_copy(tmp_path, monkeypatch, no_kaggle_credentials):
    """A complete (as far as load can tell) Kaggle copy of CAP_COUNTS films."""
    monkeypatch.setattr(kaggle, "EXPECTED_COUNTS", CAP_COUNTS)
    return write_tiny_kaggle(tmp_path / "chest_xray", CAP_COUNTS)


def load_kaggle(root: Path, **options) -> ChestXrays:
    return pneumonia.load("kaggle", root=root, **{"verbose": False, **options})


def split_sizes(data: ChestXrays) -> list[int]:
    return [len(getattr(data, name)) for name in SPLITS]


def test_max_per_split_draws_the_requested_films_in_class_proportion(kaggle_copy):
    every = load_kaggle(kaggle_copy, max_per_split=None)
    capped = load_kaggle(kaggle_copy, max_per_split=(40, 10, 15))
    assert split_sizes(capped) == [40, 10, 15]
    for name in SPLITS:
        full, part = getattr(every, name), getattr(capped, name)
        assert len(part) < len(full) and set(part.paths) <= set(full.paths)
        for class_name, count in part.counts().items():
            assert abs(count - len(part) * full.counts()[class_name] / len(full)) < 1
        assert [p.parent.name for p in part.paths] == [capped.class_names[label] for label in part.labels]
    assert capped.counts()["test"] == {"NORMAL": 6, "PNEUMONIA": 9}  # 5.625 and 9.375, largest remainder up
    assert {patient_id(p) for p in capped.train.paths}.isdisjoint({patient_id(p) for p in capped.val.paths})


def test_the_sample_follows_the_seed(kaggle_copy):
    first, again, other = (load_kaggle(kaggle_copy, seed=seed, max_per_split=(40, 10, 15)) for seed in (0, 0, 1))
    for name in SPLITS:
        assert getattr(first, name).paths == getattr(again, name).paths
    assert first.test.paths != other.test.paths  # the test split is never re-split: only the sample moved


def test_the_default_cap_follows_quick_mode(kaggle_copy, monkeypatch):
    monkeypatch.setattr(config, "QUICK", True)
    assert split_sizes(load_kaggle(kaggle_copy)) == [120, 40, 80]
    assert QUICK_MAX_PER_SPLIT == (120, 40, 80)  # the phantom source's quick-mode sizes
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
