"""Kaggle: where the client finds credentials, the offline check, and the verified download and install."""
import json
import subprocess
import sys
import zipfile
from importlib.util import find_spec
from pathlib import Path

import cv2
import numpy as np
import pytest
from _helpers_data import TINY_COUNTS, isolate_from_kaggle, kaggle_names, write_tiny_kaggle

from daylib.data import kaggle, kaggle_credentials
from daylib.data.kaggle import DownloadError, KaggleCredentialsError, find_kaggle_credentials

needs_kagglesdk = pytest.mark.skipif(find_spec("kagglesdk") is None, reason="the kaggle client (kagglesdk) is absent")


@pytest.fixture
def no_kaggle_credentials(tmp_path, monkeypatch):
    return isolate_from_kaggle(tmp_path, monkeypatch)


def test_missing_credentials_give_the_documented_error_without_network(tmp_path, no_kaggle_credentials):
    was_imported = "kaggle" in sys.modules
    with pytest.raises(KaggleCredentialsError, match=r"~/.kaggle/kaggle.json") as error:
        kaggle.download(tmp_path / "chest_xray")
    for hint in ("Create New Token", "KAGGLE_USERNAME", "KAGGLE_KEY", "chmod 600"):
        assert hint in str(error.value)
    assert ("kaggle" in sys.modules) == was_imported  # the client was not imported
    assert not (tmp_path / "chest_xray").exists()


def test_a_kaggle_json_without_a_key_is_reported(no_kaggle_credentials):
    (no_kaggle_credentials / ".kaggle").mkdir()
    (no_kaggle_credentials / ".kaggle" / "kaggle.json").write_text('{"username": "me"}')
    with pytest.raises(KaggleCredentialsError, match="must hold"):
        find_kaggle_credentials()


def test_a_kaggle_json_that_is_not_json_is_reported(no_kaggle_credentials):
    (no_kaggle_credentials / ".kaggle").mkdir()
    (no_kaggle_credentials / ".kaggle" / "kaggle.json").write_text("username: me")
    with pytest.raises(KaggleCredentialsError, match="not readable JSON"):
        find_kaggle_credentials()


def test_credentials_from_the_environment_are_found(no_kaggle_credentials, monkeypatch):
    assert find_kaggle_credentials() is None
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    assert "KAGGLE_USERNAME" in find_kaggle_credentials()


def test_the_environment_completes_a_kaggle_json_as_the_client_does(no_kaggle_credentials, monkeypatch):
    config_file = no_kaggle_credentials / ".kaggle" / "kaggle.json"
    config_file.parent.mkdir()
    config_file.write_text('{"username": "me"}')
    monkeypatch.setenv("KAGGLE_KEY", "secret")  # the client reads every KAGGLE_* variable over the file's values
    assert find_kaggle_credentials() == str(config_file)


def test_the_config_folder_follows_the_clients_rules(no_kaggle_credentials, tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    (xdg / "kaggle").mkdir(parents=True)
    (xdg / "kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    if sys.platform.startswith("linux"):  # no ~/.kaggle: the XDG folder
        assert find_kaggle_credentials() == str(xdg / "kaggle" / "kaggle.json")
    (no_kaggle_credentials / ".kaggle").mkdir()  # an existing ~/.kaggle wins, even empty
    assert find_kaggle_credentials() is None
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(xdg / "kaggle"))  # and KAGGLE_CONFIG_DIR wins over both
    assert find_kaggle_credentials() == str(xdg / "kaggle" / "kaggle.json")


@needs_kagglesdk
def test_access_tokens_are_found_by_the_clients_own_lookup_first(no_kaggle_credentials, monkeypatch):
    folder = no_kaggle_credentials / ".kaggle"
    folder.mkdir()
    (folder / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert find_kaggle_credentials() == str(folder / "kaggle.json")
    (folder / "access_token").write_text("KGAT_0123\n")
    assert "access token file" in find_kaggle_credentials()  # the client tries a token before the key
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_4567")
    assert find_kaggle_credentials() == "the KAGGLE_API_TOKEN environment variable"


@needs_kagglesdk
def test_oauth_credentials_count_only_with_a_refresh_token(no_kaggle_credentials):
    folder = no_kaggle_credentials / ".kaggle"
    folder.mkdir()
    (folder / "credentials.json").write_text(json.dumps({"username": "u"}))
    assert find_kaggle_credentials() is None
    (folder / "credentials.json").write_text(json.dumps({"refresh_token": "r", "username": "u"}))
    assert find_kaggle_credentials() == str(folder / "credentials.json")


CLIENT_CONFIG_DIR = """
import importlib, json, os, sys
client = importlib.import_module("kaggle.api.kaggle_api_extended")  # kaggle.api is a KaggleApi object, not the module
for case in json.loads(sys.argv[1]):
    for name in ("KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        os.environ.pop(name, None)
    os.environ.update(case["env"])
    importlib.reload(client)  # the folder is worked out in the class body
    print(json.dumps(client.KaggleApi.config_dir))
"""


@pytest.mark.skipif(find_spec("kaggle") is None, reason="the kaggle client is absent")
def test_the_hand_written_config_folder_is_the_clients(tmp_path, monkeypatch):
    """The one part of the lookup the client cannot give without authenticating, checked against the client."""
    homes = [tmp_path / f"home{i}" for i in range(4)]
    for home in homes:
        home.mkdir()
    (homes[3] / ".kaggle").mkdir()
    extra = [{}, {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, {"KAGGLE_CONFIG_DIR": str(tmp_path / "custom")},
             {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}]
    cases = [{"env": {"HOME": str(home), **env}} for home, env in zip(homes, extra)]
    run = subprocess.run([sys.executable, "-c", CLIENT_CONFIG_DIR, json.dumps(cases)], capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(homes[0])})
    theirs = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('"')]
    assert len(theirs) == len(cases), run.stderr[-2000:]
    for case, folder in zip(cases, theirs):
        for name in ("KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
            monkeypatch.delenv(name, raising=False)
        for name, value in case["env"].items():
            monkeypatch.setenv(name, value)
        assert str(kaggle_credentials.config_dir()) == folder


@needs_kagglesdk
def test_the_network_check_dials_the_clients_endpoint_with_the_one_probe_and_says_what_to_do(monkeypatch):
    asked = []
    monkeypatch.setattr(kaggle, "reachable", lambda host, port, timeout: asked.append((host, port)) or False)
    monkeypatch.delenv("KAGGLE_API_ENVIRONMENT", raising=False)
    with pytest.raises(DownloadError, match=r"Cannot reach the Kaggle API at https://api\.kaggle\.com .*offline.*"
                                            r"load\('phantom'\)"):
        kaggle.check_network()
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")  # kagglesdk's test endpoint, http://localhost:7777
    with pytest.raises(DownloadError, match=r"http://localhost:7777 \(KAGGLE_API_ENVIRONMENT=TEST\)"):
        kaggle.check_network()
    assert asked == [("api.kaggle.com", 443), ("localhost", 7777)]
    monkeypatch.setattr(kaggle, "reachable", lambda host, port, timeout: True)
    kaggle.check_network()
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "NOWHERE")
    with pytest.raises(DownloadError, match="Unset KAGGLE_API_ENVIRONMENT"):
        kaggle.check_network()


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
    monkeypatch.setattr(kaggle, "EXPECTED_COUNTS", TINY_COUNTS)
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    monkeypatch.setattr(kaggle, "check_network", lambda: None)

    def install(counts, nested_counts=None):
        api = FakeKaggleApi(counts, nested_counts)
        monkeypatch.setattr(kaggle, "_kaggle_api", lambda credentials: api)
        return api

    return install


def test_download_extracts_verifies_and_is_idempotent(tmp_path, fake_kaggle):
    api = fake_kaggle(TINY_COUNTS)
    dest = kaggle.download(tmp_path / "chest_xray", quiet=True)
    assert kaggle.count_problems(dest) == [] and api.calls == 1
    assert sorted(p.name for p in dest.iterdir()) == ["test", "train", "val"]
    assert not (dest / "train" / "NORMAL" / ".DS_Store").exists()
    kaggle.download(dest, quiet=True)
    assert api.calls == 1  # a verified copy is not downloaded again
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name or p.name.endswith(".download")]


def test_an_incomplete_download_leaves_nothing_that_looks_complete(tmp_path, fake_kaggle):
    short = {**TINY_COUNTS, "test": {"NORMAL": 3, "PNEUMONIA": 1}}
    fake_kaggle(short)
    with pytest.raises(DownloadError, match="test/PNEUMONIA: 1 images, expected 4"):
        kaggle.download(tmp_path / "chest_xray", quiet=True)
    assert not (tmp_path / "chest_xray").exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name or p.name.endswith(".download")]


def test_download_takes_the_complete_copy_inside_the_zip(tmp_path, fake_kaggle):
    short = {**TINY_COUNTS, "val": {"NORMAL": 1, "PNEUMONIA": 2}}
    fake_kaggle(short, nested_counts=TINY_COUNTS)
    dest = kaggle.download(tmp_path / "chest_xray", quiet=True)
    assert kaggle.count_problems(dest) == []


def test_download_refuses_to_overwrite_a_foreign_folder(tmp_path, fake_kaggle):
    fake_kaggle(TINY_COUNTS)
    (tmp_path / "chest_xray").mkdir()
    (tmp_path / "chest_xray" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="force=True"):
        kaggle.download(tmp_path / "chest_xray", quiet=True)


def test_a_copy_nested_one_folder_too_deep_is_found_and_named(tmp_path, fake_kaggle):
    fake_kaggle(TINY_COUNTS)
    dest = tmp_path / "chest_xray"
    write_tiny_kaggle(dest / "chest_xray")
    with pytest.raises(FileExistsError, match=r"one folder down.*pass dest="):
        kaggle.download(dest, quiet=True, expected_counts=TINY_COUNTS)


def test_a_broken_zip_is_deleted_and_explained(tmp_path, fake_kaggle):
    class BrokenZipApi(FakeKaggleApi):
        def dataset_download_files(self, dataset, path, quiet, unzip):
            (Path(path) / "chest-xray-pneumonia.zip").write_bytes(b"PK not really")

    api = BrokenZipApi(TINY_COUNTS)
    fake_kaggle(TINY_COUNTS)
    kaggle._kaggle_api = lambda credentials: api  # undone by monkeypatch, which set it in fake_kaggle
    with pytest.raises(DownloadError, match="not a valid zip"):
        kaggle.download(tmp_path / "chest_xray", quiet=True)
    assert not (tmp_path / "chest_xray.download").exists() and not (tmp_path / "chest_xray").exists()
