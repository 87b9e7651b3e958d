"""environment_report: each probe's answer reported as it is, online or offline, CPU-only or with a GPU."""
import pytest

from daylib import environment
from daylib.models.backbones import WEIGHTS_HOST


@pytest.mark.parametrize("online, devices", [(False, ["CPU:0"]), (True, ["CPU:0", "GPU:0"])])
def test_the_report_says_what_the_probes_found(online, devices):
    report = environment.environment_report(online=online, devices=devices)
    assert report["keras"].startswith("3.")
    assert report["devices"] == ", ".join(devices)
    assert report["internet"].startswith("reachable" if online else "not reachable")
    assert "bundled" in report["offline model"]


@pytest.mark.parametrize("answer, expected", [(False, "not reachable: keras.applications"), (True, "reachable")])
def test_the_internet_probe_asks_the_weights_host(monkeypatch, answer, expected):
    asked = []
    monkeypatch.setattr(environment, "reachable", lambda host, port, timeout: asked.append((host, port)) or answer)
    monkeypatch.setattr(environment, "list_devices", lambda: ["CPU:0"])
    assert environment.environment_report()["internet"].startswith(expected)
    assert asked == [tuple(WEIGHTS_HOST)]


def test_the_device_probe_is_tensorflows(monkeypatch):
    found = environment.list_devices()
    assert found[0] == "CPU:0" and all(d.split(":")[0] in ("CPU", "GPU", "TPU") for d in found)
    monkeypatch.setattr(environment, "internet_reachable", lambda: False)
    assert environment.environment_report()["devices"] == ", ".join(found)


def test_report_says_where_kaggle_credentials_are(tmp_path, monkeypatch):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    assert environment.environment_report(online=False)["kaggle credentials"].startswith("none")
    (tmp_path / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert environment.environment_report(online=False)["kaggle credentials"] == str(tmp_path / "kaggle.json")
    (tmp_path / "kaggle.json").write_text('{"username": "u"}')
    assert environment.environment_report(online=False)["kaggle credentials"].startswith("broken:")


def test_missing_package_is_reported(monkeypatch):
    monkeypatch.setattr(environment, "PACKAGES", ("keras", "surely-not-installed-pkg"))
    assert environment.package_versions()["surely-not-installed-pkg"] == "missing"
