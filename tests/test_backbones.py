"""Backbone registry: every family builds offline with weights=None, knows its last conv layer."""
import time

import keras
import numpy as np
import pytest

from daylib.models import backbones
from daylib.models.backbones import BACKBONES, OfflineWeightsError, backbone, get_spec
from daylib.models.preprocessing import IMAGENET_BGR_MEANS

SCALING = {
    "tf": lambda x: x / 127.5 - 1.0,
    "caffe": lambda x: x[..., ::-1] - np.array(IMAGENET_BGR_MEANS, np.float32),
    "lite": lambda x: (x - 127.0) / 128.0,
    "none": lambda x: x,  # keras EfficientNetB0 scales inside its own graph
}
"""What each preprocessing mode does to RGB 0-255, written out independently of the layers."""


def assert_scales_rgb_0_255_first(model, mode):
    """The layer after the input is the family's scaling, and the rest of the network sees only its output."""
    first = model.layers[1]
    rest = keras.Model(first.output, model.output)
    x = np.random.default_rng(0).uniform(0, 255, (2, *model.input.shape[1:])).astype(np.float32)
    np.testing.assert_allclose(np.asarray(first(x)), SCALING[mode](x), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(rest(SCALING[mode](x))), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in BACKBONES if n != "efficientnet_lite0"])
def test_every_keras_family_builds_small_with_a_real_last_conv_layer(name):
    spec = BACKBONES[name]
    size = max(spec.min_size, 64)
    model = backbone(name, weights=None, input_shape=(size, size, 3))
    layer = model.get_layer(spec.last_conv_layer)
    assert len(layer.output.shape) == 4
    after = model.layers[model.layers.index(layer) + 1:]
    assert all(not isinstance(x, keras.layers.Conv2D) for x in after)  # really the last conv layer
    assert len(after) <= 1  # the base's output, or (VGG16) one pooling after it
    assert model.input.shape[1:] == (size, size, 3)
    assert model.layers[1].name == "preprocess"
    assert_scales_rgb_0_255_first(model, spec.preprocessing)


def test_bundled_entry_has_its_last_conv_layer():
    spec = get_spec("efficientnet_lite0")
    model = backbone("efficientnet_lite0", weights=None, input_shape=(64, 64, 3))
    assert model.get_layer(spec.last_conv_layer).output.shape == (None, 2, 2, 1280)
    assert_scales_rgb_0_255_first(model, spec.preprocessing)


def test_preprocessing_is_inside_the_model():
    base = backbone("vgg16", weights=None, input_shape=(32, 32, 3))
    pre = base.get_layer("preprocess")
    out = np.asarray(pre(np.full((1, 1, 1, 3), [255.0, 0.0, 0.0], np.float32)))
    assert np.allclose(out[0, 0, 0], [0 - 103.939, 0 - 116.779, 255 - 123.68])  # RGB->BGR minus means
    mob = backbone("mobilenet_v2", weights=None, input_shape=(32, 32, 3))
    assert np.allclose(np.asarray(mob.get_layer("preprocess")(np.array([[[[0.0, 127.5, 255.0]]]]))), [-1, 0, 1])
    assert backbones.preprocess_input(42.0) == 42.0


def test_offline_imagenet_request_fails_fast_naming_the_bundled_model(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "reachable", lambda host, port, timeout=3.0: False)
    start = time.monotonic()
    with pytest.raises(OfflineWeightsError, match="efficientnet_lite0.*weights=None"):
        backbone("resnet50", weights="imagenet", input_shape=(64, 64, 3))
    assert time.monotonic() - start < 5


def test_offline_check_accepts_weights_already_in_the_keras_cache(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "reachable", lambda host, port, timeout=3.0: False)
    backbones._check_weights_reachable(get_spec("vgg16"))  # no exception: Keras will use the cached file


def test_bad_arguments():
    with pytest.raises(ValueError, match="Available: efficientnet_lite0, mobilenet"):
        backbone("alexnet")
    with pytest.raises(ValueError, match="'imagenet' or None"):
        backbone("vgg16", weights="places365")
    with pytest.raises(ValueError, match=r"\(64, 64, 3\) is too small: this model needs at least 75x75 pixels"):
        backbone("inception_v3", weights=None, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="Grayscale"):
        backbone("vgg16", weights=None, input_shape=(64, 64, 1))
