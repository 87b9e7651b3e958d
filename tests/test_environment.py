"""environment_report: honest about what this (offline, CPU) machine has."""
from daylib import environment


def test_report_on_this_machine():
    report = environment.environment_report()
    assert report["keras"].startswith("3.")
    assert report["devices"].startswith("CPU:0")
    assert report["internet"].startswith("not reachable")
    assert "bundled" in report["offline model"]


def test_kaggle_credentials_are_found_in_env_or_file(tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    assert environment.kaggle_credentials() == "none"
    (tmp_path / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert environment.kaggle_credentials() == "kaggle.json"
    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    assert environment.kaggle_credentials() == "environment"


def test_missing_package_is_reported(monkeypatch):
    monkeypatch.setattr(environment, "PACKAGES", ("keras", "surely-not-installed-pkg"))
    assert environment.package_versions()["surely-not-installed-pkg"] == "missing"
