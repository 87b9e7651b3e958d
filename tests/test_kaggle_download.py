"""The Kaggle download end to end: the real ``kaggle`` client against a fake Kaggle API on 127.0.0.1:7777.

``KAGGLE_API_ENVIRONMENT=TEST`` is kagglesdk's ``http://localhost:7777``; daylib's network
check, its messages and the client it builds all follow it. Each answer the server can give
(a redirect to the zip, 401, 403, 429, 500, a transfer cut short, a wrong archive) must end
in a correct install or a clear daylib error, with nothing half installed.
"""
import faulthandler
import importlib
import socket
import time

import pytest
from _helpers_kaggle import (  # noqa: F401  (fixtures)
    ARCHIVE_COUNTS,
    DATASET,
    KEY,
    MIB,
    TOKEN,
    USERNAME,
    archive,
    chest_xray_zip,
    entries,
    kaggle_home,
    kaggle_server,
    leftovers,
)
from kaggle_server import DOWNLOAD_ROUTE, INTROSPECT_ROUTE, PORT, FakeKaggle, _LoopbackServer

from daylib.data import kaggle, pneumonia
from daylib.data.kaggle import DownloadError, KaggleCredentialsError
from daylib.data.splits import patient_id

kaggle_env = pytest.importorskip("kagglesdk.kaggle_env", reason="the real kaggle client (kaggle>=1.7) is needed")
if not hasattr(kaggle_env.KaggleEnv, "TEST"):
    pytest.skip("this kagglesdk has no TEST environment (http://localhost:7777)", allow_module_level=True)

STORAGE_ROUTE = f"/storage/{DATASET}.zip"


@pytest.fixture(autouse=True)
def bounded():
    """A test running past 20 s fails; one hanging past 60 s dumps every thread's stack and ends the run."""
    faulthandler.dump_traceback_later(60, exit=True)
    start = time.monotonic()
    yield
    faulthandler.cancel_dump_traceback_later()
    assert time.monotonic() - start < 20, "a Kaggle download test took over 20 s"


@pytest.fixture
def archive_counts_by_default(monkeypatch):
    """The test archive's counts as the complete-copy counts, for ``pneumonia.load``, which takes none."""
    monkeypatch.setattr(kaggle, "EXPECTED_COUNTS", ARCHIVE_COUNTS)


def download(tmp_path, **options):
    """``kaggle.download`` into ``tmp_path / "chest_xray"``, quiet, with the test archive's counts."""
    return kaggle.download(tmp_path / "chest_xray", quiet=True, expected_counts=ARCHIVE_COUNTS, **options)


def assert_nothing_installed(tmp_path):
    assert not (tmp_path / "chest_xray").exists()
    assert leftovers(tmp_path, tmp_path / "chest_xray") == []


@pytest.mark.parametrize("credentials", ["kaggle.json", "KAGGLE_USERNAME and KAGGLE_KEY", "KAGGLE_API_TOKEN"])
def test_load_kaggle_downloads_installs_the_split_and_resplits_by_patient(
        credentials, tmp_path, kaggle_server, kaggle_home, archive, archive_counts_by_default):
    if credentials == "kaggle.json":
        kaggle_home.kaggle_json()
    elif credentials == "KAGGLE_API_TOKEN":
        kaggle_home.api_token()
    else:
        kaggle_home.environment()
    data = pneumonia.load("kaggle", root=tmp_path / "chest_xray", max_per_split=None, verbose=False)

    token = credentials == "KAGGLE_API_TOKEN"
    assert kaggle_server.routes() == [f"POST {INTROSPECT_ROUTE}"] * token + [f"POST {DOWNLOAD_ROUTE}",
                                                                           f"GET {STORAGE_ROUTE}"]
    call = next(r for r in kaggle_server.log if r.path == DOWNLOAD_ROUTE)
    assert call.auth == ("bearer:valid" if token else f"basic:{USERNAME}:{KEY}")
    assert call.body["ownerSlug"] + "/" + call.body["datasetSlug"] == DATASET

    dest = tmp_path / "chest_xray"
    assert sorted(p.name for p in dest.iterdir()) == ["test", "train", "val"]  # no chest_xray/, no __MACOSX
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == sorted(name[len("chest_xray/"):] for name in entries(archive, "chest_xray/")
                           if name.endswith(".jpeg") and "/chest_xray/" not in name and "__MACOSX" not in name)
    assert leftovers(tmp_path, dest) == []

    assert data.source == "kaggle" and data.skipped == []
    assert data.counts()["test"] == ARCHIVE_COUNTS["test"]
    train_and_val = sum(sum(ARCHIVE_COUNTS[s].values()) for s in ("train", "val"))
    assert len(data.train) + len(data.val) == train_and_val and len(data.val) > 0
    assert {patient_id(p) for p in data.train.paths}.isdisjoint({patient_id(p) for p in data.val.paths})

    pneumonia.load("kaggle", root=dest, max_per_split=None, verbose=False)
    assert len(kaggle_server.log) == 2 + token  # a complete copy is not downloaded again


def test_the_counts_are_a_parameter_and_a_readable_kaggle_json_gets_the_clients_warning(
        tmp_path, kaggle_server, kaggle_home, capsys):
    config_file = kaggle_home.kaggle_json(mode=0o644)
    dest = download(tmp_path)
    assert kaggle.count_problems(dest, ARCHIVE_COUNTS) == []
    assert kaggle.EXPECTED_COUNTS["train"] == {"NORMAL": 1341, "PNEUMONIA": 3875}  # production's, untouched
    assert "train/NORMAL: 16 images, expected 1341" in kaggle.count_problems(dest)
    assert f"chmod 600 {config_file}" in capsys.readouterr().out  # the client says so, and carries on


def test_a_kaggle_json_written_after_the_client_was_imported_is_used(tmp_path, kaggle_server, kaggle_home):
    client = importlib.import_module("kaggle.api.kaggle_api_extended")  # imported by kaggle_home, before ~/.kaggle
    config_file = kaggle_home.kaggle_json()
    assert client.KaggleApi.config != str(config_file)
    download(tmp_path)
    assert kaggle_server.log[0].auth == f"basic:{USERNAME}:{KEY}"


@pytest.mark.parametrize("credentials", ["kaggle.json", "KAGGLE_USERNAME and KAGGLE_KEY", "KAGGLE_API_TOKEN"])
def test_rejected_credentials_raise_the_credentials_error_with_the_how_to(
        credentials, tmp_path, kaggle_server, kaggle_home):
    if credentials == "kaggle.json":
        kaggle_home.kaggle_json(key="revoked")
    elif credentials == "KAGGLE_API_TOKEN":
        kaggle_home.api_token("KGAT_expired")
    else:
        kaggle_home.environment(key="revoked")
    try:
        download(tmp_path)
    except SystemExit as exit_:  # what the raw client does when it finds nothing to use
        pytest.fail(f"download() let the client's SystemExit({exit_.code}) through")
    except KaggleCredentialsError as error:
        message = str(error)
    else:
        pytest.fail("download() succeeded with rejected credentials")
    if credentials == "KAGGLE_API_TOKEN":  # the client asks Kaggle about the token, then finds nothing else
        assert kaggle_server.routes() == [f"POST {INTROSPECT_ROUTE}"]
        assert "invalid or expired" in message
    else:
        assert kaggle_server.routes() == [f"POST {DOWNLOAD_ROUTE}"]
        assert "Kaggle rejected the credentials" in message and "HTTP 401" in message
    for hint in ("Create New Token", "KAGGLE_USERNAME", "chmod 600"):
        assert hint in message
    assert_nothing_installed(tmp_path)


def test_dataset_rules_not_accepted_say_to_open_the_dataset_page(tmp_path, kaggle_server, kaggle_home):
    kaggle_home.kaggle_json()
    kaggle_server.answer = 403
    with pytest.raises(DownloadError, match=r"HTTP 403") as error:
        download(tmp_path)
    assert f"Open http://localhost:{PORT}/datasets/{DATASET}" in str(error.value)
    assert "accept the dataset's rules" in str(error.value)
    assert_nothing_installed(tmp_path)


@pytest.mark.parametrize("status, says", [(429, r"HTTP 429.*Wait 30 seconds"), (500, r"HTTP 500.*Kaggle's side")])
def test_rate_limits_and_server_errors_install_nothing_and_the_next_call_works(
        status, says, tmp_path, kaggle_server, kaggle_home):
    kaggle_home.kaggle_json()
    kaggle_server.answer = status
    with pytest.raises(DownloadError, match=says):
        download(tmp_path)
    assert_nothing_installed(tmp_path)
    assert kaggle_home.sleeps == []  # the client does not retry the call itself
    kaggle_server.answer = "redirect"
    assert kaggle.count_problems(download(tmp_path), ARCHIVE_COUNTS) == []


def test_a_transfer_cut_once_is_resumed_by_the_clients_retry(tmp_path, kaggle_server, kaggle_home, archive):
    kaggle_home.kaggle_json()
    kaggle_server.drops = 1
    dest = download(tmp_path)
    assert kaggle.count_problems(dest, ARCHIVE_COUNTS) == []
    first, retry = [r.range for r in kaggle_server.log if r.method == "GET"]
    resumed_from = int(retry.removeprefix("bytes=").removesuffix("-"))
    assert first is None and resumed_from >= MIB and resumed_from % MIB == 0  # from the last whole chunk
    assert len(kaggle_home.sleeps) == 1
    assert leftovers(tmp_path, dest) == []


def test_an_interrupted_download_installs_nothing_and_the_next_call_resumes(
        tmp_path, kaggle_server, kaggle_home, archive):
    kaggle_home.kaggle_json()
    kaggle_server.drops = 6  # the first transfer and all five of the client's retries
    with pytest.raises(DownloadError, match=r"broke off.*Nothing was installed.*resumes") as error:
        download(tmp_path)
    assert "IncompleteRead" in str(error.value) and len(kaggle_home.sleeps) == 5
    assert not (tmp_path / "chest_xray").exists()
    partial = tmp_path / "chest_xray.download" / "chest-xray-pneumonia.zip"
    kept = partial.stat().st_size
    assert kept >= MIB and kept % MIB == 0  # whole chunks only, kept for the next call
    assert archive.startswith(partial.read_bytes())

    kaggle_server.log.clear()
    dest = download(tmp_path)
    assert kaggle.count_problems(dest, ARCHIVE_COUNTS) == []
    assert kaggle_server.log[-1].range == f"bytes={kept}-"  # resumed, not started over
    assert leftovers(tmp_path, dest) == []


def test_an_archive_missing_classes_is_refused_by_name(tmp_path, kaggle_server, kaggle_home):
    kaggle_home.kaggle_json()
    wrong = {split: dict(classes) for split, classes in ARCHIVE_COUNTS.items()}
    del wrong["test"]["PNEUMONIA"], wrong["val"]["NORMAL"]
    kaggle_server.datasets[DATASET] = chest_xray_zip(wrong, size=32)
    with pytest.raises(DownloadError, match="does not match") as error:
        download(tmp_path)
    for missing in ("test/PNEUMONIA: 0 images, expected 10", "val/NORMAL: 0 images, expected 4"):
        assert missing in str(error.value)
    assert_nothing_installed(tmp_path)


def test_the_network_check_dials_the_configured_endpoint(tmp_path, kaggle_home):
    kaggle_home.kaggle_json()  # and no server on 127.0.0.1:7777
    with pytest.raises(DownloadError, match=rf"Cannot reach the Kaggle API at http://localhost:{PORT} "
                                            r"\(KAGGLE_API_ENVIRONMENT=TEST\) \(localhost:7777 does not answer\)"):
        download(tmp_path)
    assert_nothing_installed(tmp_path)


def test_the_fake_server_serves_loopback_only_and_needs_a_free_port():
    assert _LoopbackServer.verify_request(None, None, ("127.0.0.1", 50000))
    assert not _LoopbackServer.verify_request(None, None, ("192.168.1.20", 50000))
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no owner
        holder.bind(("127.0.0.1", PORT))
        holder.listen()
        start = time.monotonic()
        with pytest.raises(OSError):
            FakeKaggle({}, USERNAME, KEY, token=TOKEN).start()
        assert time.monotonic() - start < 1
