"""The on-disk phase-1 feature cache: hits, invalidation, damaged entries, the size cap, clearing, atomic writes."""
import json
import re
import time

import numpy as np
import pytest
import tensorflow as tf
from _helpers_train import make_model, phantom_data, tiny_base

from daylib import config
from daylib.models import build_classifier
from daylib.models.layers import base_model
from daylib.training import (
    FeatureCache, FeatureExtractor, clear_feature_cache, extract_features, feature_cache_info, train_head,
)
from daylib.training import feature_cache as feature_cache_module
from daylib.training import features as features_module


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("DAYLIB_FEATURE_CACHE_MB", raising=False)


@pytest.fixture
def forward_passes(monkeypatch):
    """Counts the extractor's forward passes (each call of predict is one data set)."""
    calls = []
    real = features_module.predict

    def spy(*args, **kwargs):
        calls.append(args[0].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(features_module, "predict", spy)
    return calls


def _head_weights(history):
    return [w.copy() for w in history.model.get_layer("predictions").get_weights()]


def test_a_warm_cache_skips_the_base_says_so_and_trains_the_same_head(forward_passes, capsys):
    train, val = phantom_data()
    settings = dict(epochs=2, patience=None, verbose=0)
    plain = train_head(make_model, train, val, learning_rate=0.01, feature_cache=False, **settings)
    assert len(forward_passes) == 2 and feature_cache_info()["entries"] == 0
    train_head(make_model, train, val, learning_rate=0.05, **settings)  # cold: computes and stores
    assert len(forward_passes) == 4 and feature_cache_info()["entries"] == 2
    capsys.readouterr()
    warm = train_head(make_model, train, val, learning_rate=0.01, **settings)  # other head settings
    assert len(forward_passes) == 4  # the base did not run
    out = capsys.readouterr().out
    assert re.search(r"^phase 1: reusing cached features for 32 training and 16 validation images \(computed \d+ s "
                     r"ago\) from .*features; feature_cache=False computes them again\.$", out, re.M)
    for cached, fresh in zip(_head_weights(warm), _head_weights(plain)):
        np.testing.assert_array_equal(cached, fresh)
    np.testing.assert_array_equal(warm.history["val_loss"], plain.history["val_loss"])


def test_other_weights_data_or_image_size_make_new_entries(forward_passes):
    (x, y), _ = phantom_data()
    model = make_model()
    first, labels = extract_features(model, (x, y), cache=True)
    again, again_labels = extract_features(model, (x, y), cache=True)
    assert len(forward_passes) == 1 and feature_cache_info()["entries"] == 1
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(again_labels, labels)

    conv1 = base_model(model).get_layer("conv1")
    conv1.kernel.assign(conv1.kernel.numpy() * 2)
    changed, _ = extract_features(model, (x, y), cache=True)
    assert len(forward_passes) == 2 and not np.allclose(changed, first)

    other = x.copy()
    other[0, 0, 0, 0] = 255 - other[0, 0, 0, 0]  # one value of one image
    extract_features(model, (other, y), cache=True)
    assert len(forward_passes) == 3

    big = build_classifier(tiny_base(40), 2)
    big.set_weights(model.get_weights())  # the same weights: the kernels do not depend on the size
    large = tf.image.resize(x, (40, 40)).numpy().clip(0, 255)
    extract_features(big, (large, y), cache=True)
    assert len(forward_passes) == 4 and feature_cache_info()["entries"] == 4
    extract_features(model, (x, y), cache=True)  # the changed weights' entry is still there
    assert len(forward_passes) == 4


def _one_entry(model, data):
    extract_features(model, data, cache=True)
    (record,) = feature_cache_info()["records"]
    return record, config.CACHE_DIR / "features" / record["file"]


def _damage_npz(path, record):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _wrong_shapes(path, record):
    np.savez(path, features=np.zeros((3, 16), "float32"), labels=np.zeros(3, "int64"), key=np.array(record["key"]))


def _missing_file(path, record):
    path.unlink()


def _nan_features(path, record):
    with np.load(path) as stored:
        features, labels = stored["features"].copy(), stored["labels"]
    features[1, 2] = np.nan
    np.savez(path, features=features, labels=labels, key=np.array(record["key"]))


@pytest.mark.parametrize("damage, why", [(_damage_npz, "unreadable"), (_wrong_shapes, "arrays are"),
                                         (_missing_file, "file is missing"), (_nan_features, "NaN")])
def test_a_damaged_entry_is_removed_and_rebuilt_with_a_warning(damage, why, forward_passes):
    (x, y), _ = phantom_data()
    model = make_model()
    record, path = _one_entry(model, (x, y))
    reference = extract_features(model, (x, y))[0]
    damage(path, record)
    with pytest.warns(UserWarning, match=f"damaged \\(.*{why}.*removed, and the features are computed again"):
        features, labels = extract_features(model, (x, y), cache=True)
    assert len(forward_passes) == 3
    np.testing.assert_array_equal(features, reference)
    np.testing.assert_array_equal(labels, y)
    (rebuilt,) = feature_cache_info()["records"]
    assert rebuilt["key"] == record["key"] and rebuilt["bytes"] == path.stat().st_size
    extract_features(model, (x, y), cache=True)
    assert len(forward_passes) == 3  # the rebuilt entry is read


def test_an_unreadable_index_empties_the_cache_with_a_warning(forward_passes):
    (x, y), _ = phantom_data()
    model = make_model()
    _, path = _one_entry(model, (x, y))
    (path.parent / "index.json").write_text('{"format": 1, "entries": {"abc": {"file"')
    with pytest.warns(UserWarning, match="index .* is unreadable.*emptied"):
        extract_features(model, (x, y), cache=True)
    assert len(forward_passes) == 2 and feature_cache_info()["entries"] == 1


def _put(cache, key, rows):
    cache.put(key, np.full((rows, 256), 0.5, "float32"), np.zeros(rows, "int64"))
    time.sleep(0.01)  # distinct last-used times


def test_the_size_cap_evicts_the_least_recently_used_first(tmp_path):
    probe = FeatureCache(tmp_path / "probe")
    _put(probe, "p", 256)  # a one-letter key, as below: the key is stored in the file
    size = probe.info()["bytes"]  # one entry of 256 x 256 float32 plus the npz overhead
    cache = FeatureCache(tmp_path / "capped", max_mb=2.5 * size / (1 << 20))
    _put(cache, "a", 256)
    _put(cache, "b", 256)
    assert cache.get("a", count=256, width=256).reused  # "a" is now the more recently used
    time.sleep(0.01)
    _put(cache, "c", 256)
    assert [record["key"] for record in cache.info()["records"]] == ["c", "a"]
    assert sorted(path.name for path in cache.directory.iterdir()) == ["a.npz", "c.npz", "index.json"]
    assert cache.info()["bytes"] == 2 * size <= cache.max_bytes
    assert not FeatureCache(tmp_path / "none", max_mb=0).put("d", np.zeros((2, 3), "float32"), np.zeros(2))


def test_the_cap_comes_from_the_environment_and_is_checked(monkeypatch):
    monkeypatch.setenv("DAYLIB_FEATURE_CACHE_MB", "64")
    assert FeatureCache().max_bytes == 64 << 20
    assert FeatureCache(max_mb=1).max_bytes == 1 << 20
    monkeypatch.setenv("DAYLIB_FEATURE_CACHE_MB", "lots")
    with pytest.raises(ValueError, match="DAYLIB_FEATURE_CACHE_MB='lots' is not a number of MiB"):
        FeatureCache()
    with pytest.raises(ValueError, match="max_mb=-1 must be a finite number"):
        FeatureCache(max_mb=-1)


def test_clear_feature_cache_returns_the_bytes_freed(tmp_path):
    cache = FeatureCache()
    _put(cache, "a", 10)
    _put(cache, "b", 20)
    sizes = sum(path.stat().st_size for path in cache.directory.glob("*.npz"))
    assert feature_cache_info()["bytes"] == sizes
    assert clear_feature_cache() == sizes
    assert feature_cache_info()["entries"] == 0 and not list(cache.directory.iterdir())
    assert clear_feature_cache() == 0


def test_an_interrupted_write_leaves_no_partial_file(monkeypatch):
    cache = FeatureCache()
    _put(cache, "kept", 4)
    real = np.savez

    def cut_short(path, **arrays):
        real(path, **arrays)
        raise KeyboardInterrupt

    monkeypatch.setattr(feature_cache_module.np, "savez", cut_short)
    with pytest.raises(KeyboardInterrupt):
        cache.put("lost", np.ones((4, 256), "float32"), np.zeros(4, "int64"))
    monkeypatch.setattr(feature_cache_module.np, "savez", real)
    assert sorted(path.name for path in cache.directory.iterdir()) == ["index.json", "kept.npz"]
    assert json.loads((cache.directory / "index.json").read_text())["entries"].keys() == {"kept"}
    assert cache.get("lost", count=4, width=256) is None


def test_features_with_nan_are_refused():
    with pytest.raises(ValueError, match="NaN or infinite"):
        FeatureCache().put("bad", np.array([[np.nan, 1.0]], "float32"), np.zeros(1))


def test_datasets_are_not_cached_and_the_message_says_so(forward_passes, capsys):
    (x, y), (xv, yv) = phantom_data()
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    for _ in range(2):
        train_head(make_model, train, (xv, yv), epochs=1, verbose=0)
    assert len(forward_passes) == 3  # the training dataset twice, the validation arrays once
    out = capsys.readouterr().out
    assert "the training features come from a tf.data dataset, which is not cached on disk" in out
    assert "reusing cached features for 16 validation images" in out


def test_feature_cache_must_be_a_flag_or_a_cache():
    train, val = phantom_data()
    with pytest.raises(TypeError, match="feature_cache must be True .* got 'features/'"):
        train_head(make_model, train, val, feature_cache="features/")


class _TwoWorkers(tf.distribute.MultiWorkerMirroredStrategy):
    """Just enough of a two-worker MultiWorkerMirroredStrategy for daylib.training.strategy.workers (not started)."""

    def __init__(self):  # no cluster is joined
        pass

    class cluster_resolver:  # noqa: N801  (the attribute name TensorFlow uses)
        @staticmethod
        def cluster_spec():
            return tf.train.ClusterSpec({"worker": ["localhost:1", "localhost:2"]})


def test_the_disk_cache_is_off_with_several_workers():
    model = make_model()
    assert FeatureExtractor(model).uses_disk_cache(True)
    assert not FeatureExtractor(model).uses_disk_cache(False)
    assert not FeatureExtractor(model, _TwoWorkers()).uses_disk_cache(True)
