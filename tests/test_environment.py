"""environment_report: honest about what this (offline, CPU) machine has."""
from daylib import environment


def test_report_on_this_machine():
    report = environment.environment_report()
    assert report["keras"].startswith("3.")
    assert report["devices"].startswith("CPU:0")
    assert report["internet"].startswith("not reachable")
    assert "bundled" in report["offline model"]


def test_report_says_where_kaggle_credentials_are(tmp_path, monkeypatch):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    assert environment.environment_report()["kaggle credentials"].startswith("none")
    (tmp_path / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert environment.environment_report()["kaggle credentials"] == str(tmp_path / "kaggle.json")


def test_missing_package_is_reported(monkeypatch):
    monkeypatch.setattr(environment, "PACKAGES", ("keras", "surely-not-installed-pkg"))
    assert environment.package_versions()["surely-not-installed-pkg"] == "missing"
