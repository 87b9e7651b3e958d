"""Every model daylib builds saves with ``model.save("x.keras")`` and reloads with ``keras.models.load_model``.

The reload runs in a fresh process that imports only ``daylib`` (tests/_saving_child.py), with no
custom_objects: predictions and Grad-CAM maps there equal the original model's. Every registered
heatmap method gives the same map on a reloaded copy (in-process, on one small model).
"""
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from _helpers_cam import images, nested_functional, small_base
from _helpers_train import InterruptAfter, make_model, phantom_data
from daylib.cam import GradCAM, registry
from daylib.models import build_classifier, efficientnet_lite0, small_cnn
from daylib.models.inference import predict
from daylib.training import fine_tune, head_model, train_classifier, train_head

# Keras 3.15's save_weights calls np.array(variable, copy=False) under NumPy 2.4 (its own deprecation, not ours).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

CHILD = Path(__file__).with_name("_saving_child.py")
KINDS = ["lite0_classifier", "imagenet_lite0", "registry_vgg16", "small_cnn", "head", "fine_tuned", "resumed"]


def _trained(run_dir: Path) -> dict[str, keras.Model]:
    train, val = phantom_data()
    keras.utils.set_random_seed(0)
    model = make_model()
    head = train_head(model, train, val, epochs=1, run_dir=run_dir / "ft", verbose=0)
    fine_tune(model, train, val, top_n=3, epochs=1, after=head, run_dir=run_dir / "ft", patience=None, verbose=0)
    settings = dict(head_epochs=1, fine_tune_epochs=2, top_n=3, run_dir=run_dir / "resume", patience=None, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(make_model, train, val, callbacks=[InterruptAfter(1)], **settings)
    resumed = train_classifier(make_model, train, val, **settings).model
    return {"fine_tuned": model, "resumed": resumed}


def _models(run_dir: Path) -> dict[str, tuple[keras.Model, np.ndarray]]:
    """Each kind of model, with the inputs it is checked on."""
    keras.utils.set_random_seed(0)
    lite0 = build_classifier("efficientnet_lite0", 2, input_shape=(64, 64, 3))
    lite0.get_layer("predictions").kernel.assign(np.random.default_rng(0).normal(0, 0.02, (1280, 1)))
    vgg = build_classifier("vgg16", 3, input_shape=(32, 32, 3), weights=None)  # caffe mode: daylib's own layer
    cnn = build_classifier(small_cnn((32, 32, 3)), 2)
    trained = _trained(run_dir)
    x32 = images(2, 32)
    return {
        "lite0_classifier": (lite0, images(2, 64)),
        "imagenet_lite0": (efficientnet_lite0(input_shape=(96, 96, 3)), images(2, 96)),
        "registry_vgg16": (vgg, x32),
        "small_cnn": (cnn, x32),
        "head": (head_model(trained["fine_tuned"]), np.random.default_rng(1).normal(0, 1, (3, 16)).astype("float32")),
        "fine_tuned": (trained["fine_tuned"], phantom_data()[1][0][:3]),
        "resumed": (trained["resumed"], phantom_data()[1][0][:3]),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Save every kind, store its inputs, predictions and Grad-CAM maps, reload all in one fresh process."""
    folder = tmp_path_factory.mktemp("saved")
    originals = {}
    for name, (model, inputs) in _models(tmp_path_factory.mktemp("runs")).items():
        model.save(folder / f"{name}.keras")
        if name == "head":  # on pooled features: no image, no heatmap
            stored = {"inputs": inputs, "predictions": model.predict(inputs, verbose=0)}
        else:
            stored = {"inputs": inputs, "predictions": predict(model, inputs)[0], "gradcam": GradCAM(model)(inputs)}
        np.savez(folder / f"{name}.npz", **stored)
        originals[name] = stored
    done = subprocess.run([sys.executable, str(CHILD), str(folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: (originals[name], dict(np.load(folder / f"{name}.reloaded.npz"))) for name in originals}


@pytest.mark.parametrize("kind", KINDS)
def test_a_saved_model_predicts_and_explains_the_same_in_a_fresh_process(saved, kind):
    original, reloaded = saved[kind]
    np.testing.assert_allclose(reloaded["predictions"], original["predictions"], rtol=0, atol=1e-6)
    assert np.ptp(original["predictions"]) > 1e-4  # outputs that differ, so a reload with other weights would show
    if kind != "head":
        assert reloaded["gradcam"].shape == original["gradcam"].shape == original["inputs"].shape[:3]
        np.testing.assert_allclose(reloaded["gradcam"], original["gradcam"], rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def reloaded_pair(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = nested_functional(small_base(), classes=3)
    path = tmp_path_factory.mktemp("methods") / "nested.keras"
    model.save(path)
    return model, keras.models.load_model(path)


@pytest.mark.parametrize("method", [m.key for m in registry.methods()])
def test_every_heatmap_method_gives_the_same_map_on_a_reloaded_model(reloaded_pair, method):
    model, reloaded = reloaded_pair
    x = images(2)
    cls = registry.method_class(method)
    before, after = cls(model)(x, classes=[[0, 1]]), cls(reloaded)(x, classes=[[0, 1]])
    assert before.shape == (2, 2, 32, 32)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-5)
