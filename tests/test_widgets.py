"""daylib.widgets: the render functions, their caches, and the explorers driven headless."""
import ipywidgets as widgets
import keras
import numpy as np
import pytest
from _helpers_figures import assert_titles_fit

from daylib.cam import BaseCAM, GradCAM
from daylib.cam.registry import methods
from daylib.data.images import ImageError
from daylib.models import build_classifier
from daylib.viz.heatmaps import colorize, overlay
from daylib.widgets import (
    HeatmapRenderer,
    feature_layers,
    heatmap_explorer,
    heatmap_grid,
    layer_explorer,
    plot_feature_maps,
    render_feature_maps,
    render_heatmap,
    snapshot_explorer,
    stage_layers,
)
from daylib.widgets.figures import spaced
from daylib.widgets.render import MAX_CHANNELS, feature_grid, png_bytes

SIZE = 32
METHODS = methods()
TINY_FEATURE_LAYERS = ["tiny_base/conv1", "tiny_base/pool1", "tiny_base/relu2"]


def _tiny_base() -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(12, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    return keras.Model(inputs, x, name="tiny_base")


@pytest.fixture(scope="module")
def softmax_model() -> keras.Model:
    """Nested tiny classifier, 3 softmax classes: base -> GAP -> dropout -> Dense."""
    keras.utils.set_random_seed(1)
    return build_classifier(_tiny_base(), 3, weights=None)


@pytest.fixture(scope="module")
def sigmoid_model() -> keras.Model:
    """Nested tiny binary classifier: one sigmoid unit (classes 0 = negative, 1 = positive)."""
    keras.utils.set_random_seed(2)
    return build_classifier(_tiny_base(), 2, weights=None)


@pytest.fixture(scope="module")
def long_named_model() -> keras.Model:
    """Tiny 3-class classifier whose layers carry EfficientNet's long names (long panel titles)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = inputs
    for name in ("block2a_expand_activation", "block4a_expand_activation", "block6a_expand_activation"):
        x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name=name)(x)
    return build_classifier(keras.Model(inputs, x, name="long_base"), 3, weights=None)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Two structured 32 px images (a bright square on a gradient, in different places)."""
    ramp = np.linspace(0, 120, SIZE, dtype=np.float32)
    batch = np.stack([np.broadcast_to(ramp[None, :, None], (SIZE, SIZE, 3)).copy() for _ in range(2)])
    batch[0, 4:14, 6:16] = (250, 200, 40)
    batch[1, 18:30, 16:28] = (30, 220, 250)
    return batch.astype(np.uint8)


@pytest.fixture
def cam_calls(monkeypatch) -> list:
    """Record every heatmap computation (a call of any CAM object) as (method, layer, classes)."""
    calls = []
    original = BaseCAM.__call__

    def counting(self, batch, classes=None):
        calls.append((type(self).__name__, self.layer_path, classes))
        return original(self, batch, classes)

    monkeypatch.setattr(BaseCAM, "__call__", counting)
    return calls


def _dom_classes(widget) -> set:
    return set(widget._dom_classes)


# --- plain functions -------------------------------------------------------------------------


def test_feature_layers_keep_block_outputs_not_every_batchnorm(softmax_model, lite0):
    assert feature_layers(softmax_model) == TINY_FEATURE_LAYERS
    assert stage_layers(softmax_model) == ["tiny_base/conv1", "tiny_base/relu2"]
    layers = feature_layers(lite0)
    assert layers[0] == "stem_activation" and layers[-1] == "top_activation"
    assert len(layers) == 49 and not any(name.endswith(("_conv", "rescaling", "stem_bn", "expand_bn")) for name in layers)
    assert {"block2b_add", "block2a_activation", "block2a_project_bn", "block7a_project_bn"} <= set(layers)
    assert "block2b_project_bn" not in layers  # the residual branch before its Add
    assert stage_layers(lite0) == [
        "block2a_expand_activation", "block3a_expand_activation", "block4a_expand_activation",
        "block6a_expand_activation", "top_activation",
    ]
    assert spaced(list("abcdefg"), 3) == ["a", "d", "g"] and spaced(list("ab"), 5) == ["a", "b"]


@pytest.mark.parametrize("method", METHODS, ids=[method.key for method in METHODS])
def test_render_heatmap_matches_the_cam_at_the_last_layer(softmax_model, images, method):
    image = images[0]
    heat = method.cls(softmax_model)(image[None], classes=2)[0]
    rendered = render_heatmap(softmax_model, image, layer=None, class_index=2, method=method.key, alpha=0.5)
    assert rendered.dtype == np.uint8 and rendered.shape == (SIZE, SIZE, 3)
    assert heat.max() > 0
    np.testing.assert_array_equal(rendered, overlay(image, heat, alpha=0.5))


def test_render_heatmap_at_an_early_layer_and_cam_refuses_it(softmax_model, images):
    heat = GradCAM(softmax_model, "tiny_base/conv1")(images[1][None], classes=0)[0]
    rendered = render_heatmap(softmax_model, images[1], "conv1", class_index=0, method="Grad-CAM", alpha=1.0)
    np.testing.assert_array_equal(rendered, colorize(heat))
    assert not np.array_equal(rendered, render_heatmap(softmax_model, images[1], None, 0, "gradcam", alpha=1.0))
    with pytest.raises(ValueError, match="CAM needs the layer 'tiny_base/conv1'"):
        render_heatmap(softmax_model, images[1], "tiny_base/conv1", class_index=0, method="cam")


def test_render_heatmap_explains_both_classes_of_a_sigmoid_model(sigmoid_model, images):
    image = images[0]
    probability = float(sigmoid_model.predict(image[None], verbose=0)[0, 0])
    renderer = HeatmapRenderer(sigmoid_model, image)
    np.testing.assert_allclose(renderer.probabilities()[0], [1 - probability, probability], atol=1e-5)
    maps = {c: GradCAM(sigmoid_model)(image[None], classes=c)[0] for c in (0, 1)}
    rendered = {c: render_heatmap(sigmoid_model, image, class_index=c, alpha=1.0) for c in (0, 1)}
    for c in (0, 1):
        np.testing.assert_array_equal(rendered[c], colorize(maps[c]))
    assert not np.array_equal(rendered[0], rendered[1])
    with pytest.raises(ValueError, match="out of range"):
        render_heatmap(sigmoid_model, image, class_index=2)


def test_alpha_zero_gives_the_image_and_one_the_colour_map(softmax_model, images):
    image = images[1]
    renderer = HeatmapRenderer(softmax_model, image)
    np.testing.assert_array_equal(renderer.overlay(0, None, 1, "gradcam", alpha=0.0), image)
    heat = renderer.heatmap(0, None, 1, "gradcam")
    np.testing.assert_array_equal(renderer.overlay(0, None, 1, "gradcam", alpha=1.0), colorize(heat))


def test_renderer_caches_cam_objects_and_heatmaps(softmax_model, images, cam_calls):
    renderer = HeatmapRenderer(softmax_model, images)
    cam = renderer.cam("gradcam", None)
    assert renderer.cam("Grad-CAM", -1) is cam and renderer.cam("grad_cam", "relu2") is cam
    for index in (0, 1):
        for klass in (0, 1, 2):
            renderer.heatmap(index, "tiny_base/relu2", klass, "gradcam")
    assert len(cam_calls) == 6 and cam.tracing_count == 1
    for alpha in (0.0, 0.3, 1.0):
        renderer.overlay(1, "relu2", 2, "gradcam", alpha)
    assert len(cam_calls) == 6
    with pytest.raises(ValueError, match="CAM needs"):
        renderer.cam("cam", "pool1")
    assert renderer.cam("cam", None) is renderer.cam("CAM", "tiny_base/relu2")


def test_method_names_images_and_class_names_are_checked(softmax_model, images):
    with pytest.raises(ValueError, match="Unknown heatmap method 'occlusion'"):
        render_heatmap(softmax_model, images[0], method="occlusion")
    with pytest.raises(ImageError, match=r"values in \[-0\.5, 0\.48\d*\]; the course's models take RGB 0-255"):
        HeatmapRenderer(softmax_model, images / 255.0 - 0.5)
    with pytest.raises(ImageError, match=r"shape \(2, 32, 32, 4\); expected a batch \(n, H, W, 3\)"):
        HeatmapRenderer(softmax_model, np.zeros((2, SIZE, SIZE, 4)))
    gray = HeatmapRenderer(softmax_model, images[0].mean(axis=-1))  # one grayscale film: three equal channels
    assert gray.images.shape == (1, SIZE, SIZE, 3)
    with pytest.raises(ValueError, match="Images are 40x40 but the model expects 32x32: resize"):
        heatmap_explorer(softmax_model, np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="Images are 40x40"):
        layer_explorer(softmax_model, np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="2 class names for a model with 3 classes"):
        heatmap_explorer(softmax_model, images, class_names=["cat", "dog"])
    assert png_bytes(images[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_feature_grid_draws_each_channel_on_its_own_scale():
    maps = np.zeros((4, 2, 3), np.float32)
    maps[..., 1] = np.arange(8).reshape(4, 2)
    maps[..., 2] = 5.0
    grid = feature_grid(maps, [1, 2, 0], columns=2, cell=8)
    assert grid.shape == (8 + 2 + 8, 4 + 2 + 4, 3)
    np.testing.assert_array_equal(grid[0, 0], colorize(np.zeros((1, 1)), "viridis")[0, 0])
    np.testing.assert_array_equal(grid[7, 3], colorize(np.ones((1, 1)), "viridis")[0, 0])
    dark = colorize(np.zeros((1, 1)), "viridis")[0, 0]
    assert (grid[:8, 6:] == dark).all() and (grid[10:, :4] == dark).all()
    assert (grid[8:10] == 255).all() and (grid[:, 4:6] == 255).all() and (grid[10:, 4:] == 255).all()
    with pytest.raises(ValueError, match="Channel 3 is out of range: this layer has 3 channels"):
        feature_grid(maps, [0, 3])
    with pytest.raises(ValueError, match=f"at most {MAX_CHANNELS}"):
        feature_grid(np.zeros((2, 2, 100)), range(MAX_CHANNELS + 1))


def test_render_feature_maps_shows_the_layer_activations(softmax_model, images):
    base = softmax_model.get_layer("tiny_base")
    reference = keras.Model(base.input, base.get_layer("conv1").output)(images[0][None].astype(np.float32))[0]
    grid = render_feature_maps(softmax_model, images[0], "tiny_base/conv1", channels=range(2, 6), columns=4, cell=SIZE)
    np.testing.assert_array_equal(grid, feature_grid(np.asarray(reference), range(2, 6), columns=4, cell=SIZE))
    assert grid.shape == (SIZE, 4 * SIZE + 3 * 2, 3)


def test_static_figures(softmax_model, images):
    fig = heatmap_grid(softmax_model, images[0], layers=["conv1", None], class_index=1, method=["gradcam", "cam"])
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[:, 1]] == ["relu2 (16x16)", ""]  # layers head the columns
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["Grad-CAM", "CAM"]  # methods label the rows
    np.testing.assert_array_equal(axes[0, 0].images[0].get_array(), render_heatmap(softmax_model, images[0], "conv1", 1))
    assert not axes[1, 0].images and "CAM needs the layer" in axes[1, 0].texts[0].get_text()
    assert 'class 1 "class 1"' in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="Class index 3 is out of range"):
        heatmap_grid(softmax_model, images[0], layers=[None], class_index=3)
    fig2 = plot_feature_maps(softmax_model, images[0], channels=3)
    assert len(fig2.axes) == 2 * 4 and fig2.axes[0].get_title() == "conv1\n32x32x8"


@pytest.mark.parametrize("size", [1.2, 2.0, 4.0])
def test_heatmap_grid_titles_fit_small_panels(long_named_model, images, size):
    layers = ["block2a_expand_activation", "block4a_expand_activation", "block6a_expand_activation"]
    names = ["Egyptian cat", "American Staffordshire terrier", "PNEUMONIA"]
    methods = ["cam", "gradcam++", "layercam"]  # CAM explains why it is not defined at the first two layers
    fig = heatmap_grid(long_named_model, images[0], layers=layers, class_index=1, method=methods, class_names=names, size=size)
    assert_titles_fit(fig)
    renderer = fig.canvas.get_renderer()
    first_column = fig.axes[:: len(layers)]
    assert [ax.get_ylabel() for ax in first_column] == ["CAM", "Grad-CAM++", "LayerCAM"]
    for ax in first_column:  # each method's name sits left of its row
        label, panel = ax.yaxis.label.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert 0 <= label.x0 and label.x1 <= panel.x0 and panel.y0 <= label.y0 and label.y1 <= panel.y1
    messages = [(text.get_window_extent(renderer), ax.get_window_extent(renderer)) for ax in fig.axes for text in ax.texts]
    assert len(messages) == 2
    for box, panel in messages:
        assert panel.x0 <= box.x0 and box.x1 <= panel.x1 and panel.y0 <= box.y0 and box.y1 <= panel.y1


# --- explorers, headless ------------------------------------------------------------------------


def test_heatmap_explorer_builds_headless_with_the_right_controls(softmax_model, images):
    explorer = heatmap_explorer(softmax_model, images, class_names=["cat", "dog", "car"], top_k=2)
    assert list(explorer.layer.options) == TINY_FEATURE_LAYERS and explorer.layer.value == "tiny_base/relu2"
    assert not explorer.layer.continuous_update
    probabilities = explorer.renderer.probabilities()[0]
    order = np.argsort(-probabilities)
    names = ["cat", "dog", "car"]
    assert list(explorer.klass.options) == [
        (f"{names[order[0]]} ({probabilities[order[0]]:.2f})", order[0]),
        (f"{names[order[1]]} ({probabilities[order[1]]:.2f})", order[1]),
        (names[order[2]], order[2]),
    ]
    assert explorer.klass.value == order[0]
    assert explorer.method.options == tuple((method.label, method.key) for method in METHODS)
    assert explorer.method.value == "gradcam" and explorer.alpha.value == 0.4
    assert [label for label, _ in explorer.image_picker.options] == ["image 0", "image 1"]
    assert explorer.view.format == "png" and explorer.view.layout.width == "320px" and explorer.view.layout.height == "320px"
    dom = {"layer": "daylib-layer", "klass": "daylib-class", "alpha": "daylib-alpha", "method": "daylib-method",
           "view": "daylib-heatmap", "image_picker": "daylib-image"}
    for name, css_class in dom.items():
        assert css_class in _dom_classes(getattr(explorer, name))
    expected = render_heatmap(softmax_model, images[0], None, order[0], "gradcam", 0.4)
    np.testing.assert_array_equal(explorer.current_array(), expected)
    assert explorer.view.value == png_bytes(explorer.current_array())
    single = heatmap_explorer(softmax_model, images[1])
    assert single.image_picker is None and repr(single).startswith("HeatmapExplorer: an interactive widget")


def test_the_method_picker_shows_full_labels_and_pixel_methods_disable_the_layer(softmax_model, images):
    explorer = heatmap_explorer(softmax_model, images, method="Grad-CAM++")
    assert isinstance(explorer.method, widgets.Dropdown) and explorer.method.value == "gradcam++"
    assert ("Grad-CAM++", "gradcam++") in explorer.method.options and ("Integrated Gradients",
                                                                      "integrated_gradients") in explorer.method.options
    assert not explorer.layer.disabled and "daylib-colour-bar" in _dom_classes(explorer.colour_bar)
    explorer.method.value = "saliency"
    assert explorer.layer.disabled and "uses no layer" in explorer.layer_info.value
    expected = render_heatmap(softmax_model, images[0], None, explorer.klass.value, "saliency", 0.4)
    np.testing.assert_array_equal(explorer.current_array(), expected)
    explorer.layer.value = explorer.layer.options[0]  # moving the (disabled) slider changes nothing
    np.testing.assert_array_equal(explorer.current_array(), expected)
    explorer.method.value = "gradcam"
    assert not explorer.layer.disabled and "uses no layer" not in explorer.layer_info.value


def test_heatmap_explorer_controls_update_the_view_and_only_heavy_ones_recompute(softmax_model, images, cam_calls):
    explorer = heatmap_explorer(softmax_model, images)
    assert len(cam_calls) == 1
    before = explorer.view.value
    explorer.alpha.value = 0.9
    assert len(cam_calls) == 1 and explorer.view.value != before
    heat = explorer.renderer.heatmap(0, None, None, "gradcam")
    np.testing.assert_array_equal(explorer.current_array(), overlay(images[0], heat, 0.9))
    other_class = (explorer.klass.value + 1) % 3
    steps = [("layer", "tiny_base/conv1"), ("method", "layercam"), ("klass", other_class), ("image_picker", 1)]
    for count, (name, value) in enumerate(steps, start=2):
        before = explorer.view.value
        getattr(explorer, name).value = value
        assert len(cam_calls) == count and explorer.view.value != before, name
    chosen = explorer.klass.value
    assert cam_calls[-1] == ("LayerCAM", "tiny_base/conv1", chosen)
    explorer.image_picker.value = 0
    explorer.image_picker.value = 1
    assert len(cam_calls) == 5 and explorer.klass.value == chosen
    expected = render_heatmap(softmax_model, images[1], "tiny_base/conv1", chosen, "layercam", 0.9)
    np.testing.assert_array_equal(explorer.current_array(), expected)
    top = explorer.renderer.top_classes(1, 1)[0]
    assert explorer.klass.options[0] == (f"class {top[0]} ({top[1]:.2f})", top[0])


def test_heatmap_explorer_says_why_cam_is_not_defined_at_an_early_layer(softmax_model, images):
    explorer = heatmap_explorer(softmax_model, images[0], method="cam")
    assert explorer.status.value == "" and explorer.current_array().std() > 0
    explorer.layer.value = "tiny_base/pool1"
    assert "CAM needs the layer" in explorer.status.value
    np.testing.assert_array_equal(explorer.current_array(), images[0])
    explorer.method.value = "gradcam++"
    assert explorer.status.value == "" or "All zero" in explorer.status.value
    assert not np.array_equal(explorer.current_array(), images[0])


def test_heatmap_explorer_on_the_bundled_model_labels_the_cat(lite0, cat_photo):
    explorer = heatmap_explorer(lite0, cat_photo)
    assert explorer.klass.options[0] == ("Egyptian cat (0.78)", 285) and explorer.klass.value == 285
    assert explorer.klass.options[1][1] == 282 and len(explorer.klass.options) == 1000
    assert explorer.layer.value == "top_activation" and explorer.layer.options[0] == "stem_activation"
    assert ("crane #134", 134) in explorer.klass.options
    heat = explorer.renderer.heatmap(0, None, 285, "gradcam")
    assert heat[64:160, 64:160].mean() > heat.mean()


def test_layer_explorer_steps_through_layers_and_channels(lite0, cat_photo):
    explorer = layer_explorer(lite0, cat_photo, layers=["stem_activation", "top_activation"], channels=16)
    assert "daylib-layer" in _dom_classes(explorer.layer) and "daylib-channels" in _dom_classes(explorer.channels)
    assert explorer.channels.value == (0, 15) and explorer.channels.max == 31
    expected = render_feature_maps(lite0, cat_photo, "stem_activation", range(16))
    np.testing.assert_array_equal(explorer.current_array(), expected)
    before = explorer.view.value
    explorer.layer.value = "top_activation"
    assert explorer.channels.max == 1279 and explorer.view.value != before
    explorer.channels.value = (100, 1000)
    assert explorer.channels.value == (100, 100 + MAX_CHANNELS - 1)
    np.testing.assert_array_equal(explorer.current_array(), render_feature_maps(lite0, cat_photo, None, range(100, 164)))
    explorer.layer.value = "stem_activation"
    assert explorer.channels.max == 31 and explorer.channels.value == (0, 31)
    np.testing.assert_array_equal(explorer.current_array(), render_feature_maps(lite0, cat_photo, "stem_activation", range(32)))


def test_snapshot_explorer_steps_through_saved_heatmaps(images):
    ramp = np.linspace(0, 1, SIZE * SIZE, dtype=np.float32).reshape(SIZE, SIZE)
    steps = [np.stack([ramp, ramp.T]), np.stack([ramp.T, 1 - ramp])]
    explorer = snapshot_explorer(images, steps, titles=["epoch 1", "epoch 5"], alpha=0.5)
    np.testing.assert_array_equal(explorer.current_array(), overlay(images[0], ramp, 0.5))
    explorer.step.value = 1
    explorer.image_picker.value = 1
    np.testing.assert_array_equal(explorer.current_array(), overlay(images[1], 1 - ramp, 0.5))
    assert [label for label, _ in explorer.step.options] == ["epoch 1", "epoch 5"]
    with pytest.raises(ValueError, match="do not match 2 image"):
        snapshot_explorer(images, [ramp])
    with pytest.raises(ValueError, match=r"values in \[0, 2\] but must lie in \[0, 1\]: divide each map by its maximum"):
        snapshot_explorer(images[0], [ramp * 2])
