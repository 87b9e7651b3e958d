"""Sanity checks (Adebayo et al., 2018) on tiny models where the outcome is known."""
import keras
import matplotlib
import numpy as np
import pytest
from _helpers_figures import assert_titles_fit

from _helpers_cam import images as blob_images, nested_functional, small_base
from daylib.cam.sanity import (
    SIMILARITIES,
    SanityResult,
    cascading_randomization,
    copy_model,
    data_randomization,
    independent_randomization,
    map_similarity,
    randomization_blocks,
)
from daylib.cam.randomize import reinitialize
from daylib.cam.registry import methods as registered_methods
from daylib.models.layers import iter_layers

matplotlib.use("Agg")

BLOCKS = {"head": ["head"], "top": ["small_base/conv3"], "add": ["small_base/conv1", "small_base/bn1", "small_base/conv2"]}


def edges(images, classes=None):
    """A map that ignores the model: the gradient magnitude of the image's brightness, scaled to [0, 1]."""
    gray = np.asarray(images, np.float32).mean(axis=-1)
    magnitude = np.hypot(*np.gradient(gray, axis=(1, 2)))
    return magnitude / magnitude.max(axis=(1, 2), keepdims=True)


class Recorder:
    """A method factory whose methods return :func:`edges` and record the weights of their model at each call."""

    def __init__(self):
        self.weights = []

    def __call__(self, model):
        def method(images, classes=None):
            self.weights.append({
                path: [w.numpy().copy() for w in layer.weights]
                for path, layer in iter_layers(model) if layer.weights and not isinstance(layer, keras.Model)
            })
            return edges(images, classes)
        return method


@pytest.fixture()
def model():
    """The nested tiny model, with every weight moved off its initial value (BN statistics and biases included)."""
    net = nested_functional(small_base())
    rng = np.random.default_rng(1)
    net.set_weights([w + rng.uniform(0.05, 0.2, w.shape).astype(w.dtype) for w in net.get_weights()])
    return net


def changed(before, after, paths):
    return {path for path in paths if not all(np.array_equal(a, b) for a, b in zip(before[path], after[path]))}


def test_default_blocks_go_from_the_logits_down_by_stage(model):
    assert randomization_blocks(model) == BLOCKS


def test_a_map_that_ignores_the_weights_stays_while_gradcam_changes(model):
    before = [w.copy() for w in model.get_weights()]
    images = blob_images(2)
    recorder = Recorder()
    result = cascading_randomization(model, images, {"Edges": recorder, "Grad-CAM": "gradcam"}, progress=False)
    assert isinstance(result, SanityResult) and result.test == "cascading"
    assert result.steps == ["head", "top", "add"] and result.blocks == BLOCKS
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # the user's model is untouched
    np.testing.assert_array_equal(result.classes, model.predict(images, verbose=0).argmax(axis=1))
    for name in ("spearman_abs", "ssim", "hog"):
        np.testing.assert_allclose(result.similarity(name)["Edges"], 1.0, atol=1e-6)
    np.testing.assert_array_equal(result.maps["Edges"], np.stack([edges(images)] * 3))
    cam = np.abs(result.similarity("spearman_abs")["Grad-CAM"])
    assert cam.shape == (3, 2) and cam[-1].mean() < 0.9
    assert list(result.similarity("spearman_signed")) == ["Grad-CAM"]  # Edges has no signed maps
    assert result.similarity("spearman_signed")["Grad-CAM"].shape == (3, 2)
    assert result.passes() == {"Edges": False, "Grad-CAM": bool(cam.mean() < 0.5)}  # averaged over images and steps
    # the steps add up: step k has re-initialised blocks 0..k, the rest kept the trained weights
    original, *steps = recorder.weights
    paths = [path for block in BLOCKS.values() for path in block]
    for k, weights in enumerate(steps):
        randomised = {path for block in list(BLOCKS.values())[: k + 1] for path in block}
        assert changed(original, weights, paths) == randomised
    last = steps[-1]
    gamma, beta, mean, variance = last["small_base/bn1"]
    np.testing.assert_array_equal(gamma, 1) and np.testing.assert_array_equal(beta, 0)
    np.testing.assert_array_equal(mean, 0) and np.testing.assert_array_equal(variance, 1)
    kernel, bias = last["small_base/conv3"]
    np.testing.assert_array_equal(bias, 0)
    limit = np.sqrt(6 / (3 * 3 * 8 + 3 * 3 * 16))  # glorot_uniform, the layer's own initializer
    assert np.abs(kernel).max() <= limit and kernel.std() > limit / 3


def test_the_table_summary_and_html(model):
    result = cascading_randomization(model, blob_images(3), {"Edges": edges_factory}, progress=False)
    rows = result.to_rows()
    assert len(rows) == 1 * 3 * 3 and set(rows[0]) == {"method", "step", "image", *SIMILARITIES}
    assert all(row["spearman_signed"] is None for row in rows)
    rows[0]["ssim"] = -5.0
    assert result.rows[0]["ssim"] == pytest.approx(1.0)  # to_rows hands out a copy
    summary = result.summary()
    assert [(entry["method"], entry["step"]) for entry in summary] == [("Edges", step) for step in BLOCKS]
    assert summary[0]["spearman_abs_mean"] == pytest.approx(1.0) and summary[0]["spearman_abs_std"] == pytest.approx(0.0)
    assert summary[0]["spearman_signed_mean"] is None
    with pytest.raises(ValueError, match="No method has signed maps"):
        result.similarity("spearman_signed")
    page = result._repr_html_()
    assert "Cascading randomisation" in page and "Edges: FAIL" in page and page.count("<tr>") == 4
    from daylib.viz.sanity import plot_similarity, show_randomization

    grid = show_randomization(result, image_index=2)
    assert len(grid.axes) == 1 * 4 + 1  # original + 3 steps, and the colour bar
    blocks = {f"{name}_expand_activation_block": [name] for name in ("head", "conv3", "conv2")}
    long_names = cascading_randomization(model, blob_images(1), {"Edges": edges_factory}, blocks=blocks, progress=False)
    assert_titles_fit(show_randomization(long_names, image_index=0, size=1.2))  # long block names wrap, never overlap
    curves = plot_similarity(result)
    assert len(curves.axes) == len(SIMILARITIES)
    with pytest.raises(ValueError, match="image_index"):
        show_randomization(result, image_index=3)
    with pytest.raises(ValueError, match="Unknown similarities"):
        plot_similarity(result, ["pearson"])


def edges_factory(model):
    return edges


def test_independent_randomization_changes_one_block_at_a_time(model):
    recorder = Recorder()
    result = independent_randomization(model, blob_images(2), {"Edges": recorder, "Grad-CAM": "gradcam"},
                                       progress=False)
    assert result.test == "independent" and result.steps == list(BLOCKS)
    original, *steps = recorder.weights
    paths = [path for block in BLOCKS.values() for path in block]
    for (name, block), weights in zip(BLOCKS.items(), steps):
        assert changed(original, weights, paths) == set(block), name
    assert result.passes()["Edges"] is False


def test_explicit_blocks_and_bad_arguments(model):
    images = blob_images(2)
    result = cascading_randomization(model, images, [edges_factory], blocks=["head", "conv3"], progress=False)
    assert result.steps == ["head", "conv3"] and result.blocks["conv3"] == ["small_base/conv3"]
    assert result.methods == ["edges_factory"]
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        cascading_randomization(model, images, [edges_factory], blocks=["conv9"], progress=False)
    with pytest.raises(ValueError, match="'gap' has no weights"):
        cascading_randomization(model, images, [edges_factory], blocks={"pool": ["gap"]}, progress=False)
    with pytest.raises(ValueError, match="Unknown heatmap method"):
        cascading_randomization(model, images, ["nocam"], progress=False)
    with pytest.raises(ValueError, match="listed twice"):
        cascading_randomization(model, images, ["gradcam", "Grad-CAM"], progress=False)
    with pytest.raises(ValueError, match="out of range"):
        cascading_randomization(model, images, [edges_factory], classes=5, progress=False)
    with pytest.raises(ValueError, match="too small"):
        cascading_randomization(model, images[:, :8, :8], [edges_factory], progress=False)


def test_map_similarity_against_hand_computed_cases():
    maps = edges(blob_images(2))
    same = map_similarity(maps, maps, maps - 0.5, maps - 0.5)
    assert same[0] == pytest.approx({"spearman_abs": 1.0, "spearman_signed": 1.0, "ssim": 1.0, "hog": 1.0})
    assert map_similarity(maps, 1 - maps)[0]["spearman_abs"] == pytest.approx(-1.0)  # ranks reversed
    zeros = np.zeros_like(maps)
    assert map_similarity(zeros, zeros)[0]["spearman_abs"] == 1.0 and map_similarity(zeros, zeros)[0]["hog"] == 1.0
    assert map_similarity(zeros, maps)[0]["spearman_abs"] == 0.0 and map_similarity(zeros, maps)[0]["hog"] == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        map_similarity(maps, maps[:1])
    with pytest.raises(ValueError, match="too small"):
        map_similarity(maps[:, :8, :8], maps[:, :8, :8])
    with pytest.raises(ValueError, match="must lie in"):
        map_similarity(maps * 3, maps)


def test_a_transfer_model_with_augmentation_before_its_nested_base_is_copied_and_randomised():
    from daylib.data.pipeline import augmentation
    from daylib.models import build_classifier

    net = build_classifier(small_base(), 3, augmentation=augmentation(seed=0))
    twin = copy_model(net)
    images = blob_images(2)
    assert twin is not net
    np.testing.assert_allclose(twin.predict(images, verbose=0), net.predict(images, verbose=0), atol=1e-6)
    twin.get_layer("predictions").kernel.assign(np.zeros((16, 3)))
    assert np.abs(net.get_layer("predictions").kernel.numpy()).max() > 0  # the copy has weights of its own
    result = cascading_randomization(net, images, ["gradcam"], progress=False)
    assert result.steps[0] == "head" and result.blocks["head"] == ["predictions"]
    assert result.maps["Grad-CAM"].shape == (len(result.steps), 2, 32, 32)


def test_data_randomization_trains_twice_and_reports_both_accuracies():
    from _helpers_train import make_model, phantom_data

    (x, y), validation = phantom_data()

    def build():
        keras.utils.set_random_seed(0)
        return make_model()

    recorder = Recorder()
    result = data_randomization(build, x, y, validation[0][:2], {"Edges": recorder, "Grad-CAM": "gradcam"},
                                validation=validation, train={"epochs": 2, "verbose": 0, "feature_cache": False})
    assert result.test == "data" and result.steps == ["random labels"]
    assert set(result.accuracy) == {"true labels", "random labels"}
    for scores in result.accuracy.values():
        assert set(scores) == {"train", "validation"}
        assert all(0 <= value <= 1 and value * 32 == round(value * 32) for value in scores.values())  # 32 and 16 images
    assert result.maps["Grad-CAM"].shape == (1, 2, 32, 32) and len(result.rows) == 2 * 1 * 2
    true, permuted = recorder.weights
    base = zip(true["tiny_base/conv1"], permuted["tiny_base/conv1"])
    assert all(np.array_equal(a, b) for a, b in base)  # the frozen base: identical
    assert not np.array_equal(true["predictions"][0], permuted["predictions"][0])  # heads trained on other labels
    with pytest.raises(ValueError, match="build_model must be a function"):
        data_randomization(build(), x, y, x[:2], ["gradcam"])
    with pytest.raises(ValueError, match="train_labels must be 32 integer"):
        data_randomization(build, x, y[:5], x[:2], ["gradcam"])


def test_the_pass_rule_averages_absolute_rank_correlations_over_images_and_steps():
    def rows(method, values):
        places = [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
        return [{"method": method, "step": step, "image": image, "spearman_abs": value, "spearman_signed": None,
                 "ssim": 0.0, "hog": 0.0} for (step, image), value in zip(places, values)]

    result = SanityResult("cascading", ["A", "B", "C"], ["a", "b"], np.array([0, 0]), {}, {},
                          rows("A", [1.0, 0.8, 0.1, 0.1]) + rows("B", [0.6, -0.6, -0.2, 0.2]) + rows("C", [0.5] * 4))
    assert result.passes() == {"A": False, "B": True, "C": False}  # means 0.5, 0.4 (of |values|), 0.5
    np.testing.assert_array_equal(result.similarity()["B"], [[0.6, -0.6], [-0.2, 0.2]])
    assert SanityResult(**{**result.__dict__, "threshold": 0.51}).passes() == {"A": True, "B": True, "C": True}


@pytest.mark.parametrize("method", registered_methods(), ids=lambda method: method.key)
def test_a_method_built_before_the_weights_change_gives_the_maps_of_a_fresh_one(model, method):
    """The checks build each method once per model and re-initialise the weights in place: every method must
    read the weights when it runs, not when it is built."""
    images = blob_images(2)
    twin = copy_model(model)
    kwargs = {"max_channels": 4} if method.key in ("scorecam", "ablationcam") else {}
    built = method.cls(twin, **kwargs)
    built(images, 0)
    reinitialize(twin, randomization_blocks(twin)["top"] + randomization_blocks(twin)["head"], seed=3)
    np.testing.assert_allclose(built(images, 0), method.cls(twin, **kwargs)(images, 0), atol=1e-5)
