"""config: quick mode from the environment and reproducible seeding."""
import shutil
import subprocess
import sys

import numpy as np

from daylib import config


def test_seed_everything_repeats_numpy_and_tensorflow():
    import tensorflow as tf

    config.seed_everything(7)
    a = np.random.rand(3), tf.random.uniform((3,)).numpy()
    config.seed_everything(7)
    b = np.random.rand(3), tf.random.uniform((3,)).numpy()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_quick_mode_and_dirs_come_from_the_environment(tmp_path):
    code = "from daylib import config; print(config.QUICK, config.pick(1, 2), config.CACHE_DIR, config.DATA_DIR)"
    env = {"PATH": "/usr/bin:/bin", "DAYLIB_QUICK": "1", "DAYLIB_CACHE_DIR": str(tmp_path / "c"), "DAYLIB_DATA_DIR": str(tmp_path / "d")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert out == ["True", "1", str(tmp_path / "c"), str(tmp_path / "d")]
    env["DAYLIB_QUICK"] = "0"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert out[:2] == ["False", "2"]


def test_cache_dir_is_created(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path)
    assert config.cache_dir("weights", "x").is_dir()


def test_demo_photos_ship_inside_the_package_and_data_images_links_to_them():
    assert config.IMAGES_DIR.is_relative_to(config.PACKAGE_DIR)
    assert sorted(p.name for p in config.IMAGES_DIR.glob("*.png")) == ["chelsea.png", "coffee.png"]
    assert (config.REPO_DIR / "data" / "images").resolve() == config.IMAGES_DIR.resolve()


def test_installed_without_the_repository_data_goes_to_the_cache(tmp_path):
    code = "from daylib import config; print(config.DATA_DIR)"
    site = tmp_path / "site"
    site.mkdir()
    shutil.copytree(config.PACKAGE_DIR, site / "daylib", ignore=shutil.ignore_patterns("__pycache__"))  # no repo around it
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "DAYLIB_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=tmp_path)
    assert out.stdout.strip() == str(tmp_path / "cache" / "data")
