"""Input-gradient attributions on tiny models: NumPy and hand-written TF references, layouts, errors."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from _helpers_cam import SIZE, flattened, images, nested_functional, small_base
from daylib.cam import GradCAM
from daylib.cam.gradients import IntegratedGradients, Saliency, SmoothGrad
from daylib.cam.guided import GuidedBackprop, GuidedGradCAM
from daylib.cam.registry import methods
from daylib.models.layers import iter_layers
from daylib.models.split import split_model

INPUT_METHODS = (Saliency, SmoothGrad, IntegratedGradients, GuidedBackprop)
ALL_METHODS = INPUT_METHODS + (GuidedGradCAM,)
FAST = {SmoothGrad: {"samples": 4}, IntegratedGradients: {"steps": 8}}


def build(method, model, **options):
    return method(model, **{**FAST.get(method, {}), **options})


def noise_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype(np.float32)


def logit_gradients(model: keras.Model, points: np.ndarray, cls: int) -> np.ndarray:
    """The plain TF reference: d logit_cls / d pixel at each point, logits read as the split reads them."""
    split = split_model(model)
    x = tf.constant(points, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(split(x)[1][:, cls])
    return tape.gradient(score, x).numpy()


# --- a model linear in its input: every method has a closed form -------------------------------
def linear_model(kernel: np.ndarray) -> keras.Model:
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(kernel.shape[1], activation="softmax", name="head")(x)  # logits are scored
    model = keras.Model(inputs, outputs)
    model.get_layer("head").set_weights([kernel, np.linspace(-1, 1, kernel.shape[1])])
    return model


@pytest.fixture(scope="module")
def linear():
    kernel = np.random.default_rng(0).normal(0, 1, (48, 3))
    kernel[:, 2] = 0.0  # class 2 ignores the image: its maps are all zero
    return linear_model(kernel), kernel.reshape(4, 4, 3, 3) / 255


def test_saliency_of_a_linear_model_is_its_weights(linear):
    model, weights = linear
    x = noise_images(2, 4)
    saliency = Saliency(model)
    maps = saliency(x, classes=[[0, 1]])
    for k in range(2):
        np.testing.assert_allclose(saliency.last_attributions[:, k], np.broadcast_to(weights[..., k], (2, 4, 4, 3)),
                                   rtol=1e-5)
        np.testing.assert_allclose(saliency.last_signed_maps[:, k], np.broadcast_to(weights[..., k].sum(-1), (2, 4, 4)),
                                   rtol=1e-4, atol=1e-9)
        magnitude = np.abs(weights[..., k]).sum(-1)
        np.testing.assert_allclose(maps[:, k], np.broadcast_to(magnitude / magnitude.max(), (2, 4, 4)), rtol=1e-5)
    assert maps.shape == (2, 2, 4, 4) and maps.dtype == np.float32
    logits = x.reshape(2, 48) @ weights.reshape(48, 3) + np.linspace(-1, 1, 3)
    np.testing.assert_allclose(saliency.last_logits, logits, rtol=1e-5)
    np.testing.assert_allclose(saliency.last_probabilities, model.predict(x, verbose=0), rtol=1e-5)


def test_integrated_gradients_of_a_linear_model_from_black_is_weights_times_image(linear):
    model, weights = linear
    x = noise_images(2, 4)
    ig = IntegratedGradients(model, steps=3)
    ig(x, classes=[[0, 1]])
    for k in range(2):
        np.testing.assert_allclose(ig.last_attributions[:, k], weights[..., k] * x, rtol=1e-4)
    np.testing.assert_allclose(ig.last_baseline_logits, np.tile(np.linspace(-1, 1, 3), (2, 1)), atol=1e-6)
    gray = IntegratedGradients(model, steps=1, baseline=100.0)
    gray(x, classes=1)
    np.testing.assert_allclose(gray.last_attributions[:, 0], weights[..., 1] * (x - 100.0), rtol=1e-4, atol=1e-6)


def test_smoothgrad_of_a_linear_model_is_its_weights_at_any_noise(linear):
    model, weights = linear
    sg = SmoothGrad(model, samples=3, noise=0.5)
    sg(noise_images(1, 4), classes=0)
    np.testing.assert_allclose(sg.last_attributions[0, 0], weights[..., 0], rtol=1e-5)


def test_a_class_the_image_cannot_move_gives_zeros_a_flag_and_a_warning(linear):
    model, _ = linear
    saliency = Saliency(model)
    with pytest.warns(RuntimeWarning, match=r"Saliency: 1 heatmap\(s\) are all zero \(image 0 class 2\).*gradient is zero"):
        maps = saliency(noise_images(1, 4), classes=[[0, 2]])
    assert saliency.last_zero_maps.tolist() == [[False, True]]
    assert np.all(maps[0, 1] == 0) and maps[0, 0].max() == 1.0 and not np.isnan(maps).any()


# --- a smooth nonlinear model: Integrated Gradients and SmoothGrad against TF references ---------
@pytest.fixture(scope="module")
def smooth():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(6, 3, activation="tanh", kernel_initializer=keras.initializers.RandomNormal(0, 0.8, seed=1))(x)
    x = keras.layers.Conv2D(4, 3, activation="softplus", kernel_initializer=keras.initializers.RandomNormal(0, 0.8, seed=2))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, kernel_initializer=keras.initializers.RandomNormal(0, 2.0, seed=3))(x)
    return keras.Model(inputs, outputs)


def test_integrated_gradients_match_a_trapezoid_reference_and_are_complete(smooth):
    x = noise_images(2, 8, seed=1)
    baseline = noise_images(1, 8, seed=2)[0] * 0.3
    ig = IntegratedGradients(smooth, steps=16, baseline=baseline, batch_size=5)  # 34 path points in 7 batches
    ig(x, classes=[[0, 2]])
    alphas = np.linspace(0, 1, 17)
    weights = np.r_[0.5, np.ones(15), 0.5] / 16
    for k, cls in enumerate([0, 2]):
        path = baseline + alphas[:, None, None, None, None] * (x - baseline)  # (17, 2, 8, 8, 3)
        grads = logit_gradients(smooth, path.reshape(-1, 8, 8, 3), cls).reshape(path.shape)
        expected = np.einsum("pbhwc,p->bhwc", grads, weights) * (x - baseline)
        np.testing.assert_allclose(ig.last_attributions[:, k], expected, rtol=1e-4, atol=1e-6)
    # completeness: the attributions add up to logit(x) - logit(baseline); the trapezoid error is O(1/steps^2)
    gaps = np.take_along_axis(ig.last_logits - ig.last_baseline_logits, ig.last_classes, axis=1)
    assert np.abs(gaps).min() > 1.0
    coarse = np.abs(ig.last_attributions.sum(axis=(2, 3, 4)) / gaps - 1).max()
    fine = IntegratedGradients(smooth, steps=64, baseline=baseline)
    fine(x, classes=[[0, 2]])
    fine = np.abs(fine.last_attributions.sum(axis=(2, 3, 4)) / gaps - 1).max()
    assert coarse < 5e-3 and fine < 3e-4  # measured: 3.3e-3 and 2.0e-4
    assert fine < coarse / 8  # four times the steps, a sixteenth of the error


def test_integrated_gradients_are_complete_on_a_relu_network():
    base = small_base()
    model = nested_functional(base, activation="linear")
    x = images(1)
    ig = IntegratedGradients(model, steps=128)
    ig(x, classes=[[0, 1, 2]])
    gaps = (ig.last_logits - ig.last_baseline_logits)[0]
    np.testing.assert_allclose(ig.last_attributions.sum(axis=(2, 3, 4))[0], gaps, rtol=0.01, atol=1e-3)


def test_smoothgrad_is_the_mean_gradient_over_its_noisy_copies(smooth):
    x = noise_images(2, 8, seed=3)
    x[1] *= 0.5  # half the value range: half the noise
    sg = SmoothGrad(smooth, samples=5, noise=0.2, seed=7, batch_size=4)
    sg(x, classes=[[1]])
    noisy = sg.noisy_copies(tf.constant(x)).numpy()  # (2, 5, 8, 8, 3)
    grads = logit_gradients(smooth, noisy.reshape(-1, 8, 8, 3), 1).reshape(noisy.shape)
    np.testing.assert_allclose(sg.last_attributions[:, 0], grads.mean(axis=1), rtol=1e-4, atol=1e-7)
    many = SmoothGrad(smooth, samples=400, noise=0.2, seed=7).noisy_copies(tf.constant(x)).numpy()
    for image, copies in zip(x, many):
        spread = image.max() - image.min()
        assert np.std(copies - image) == pytest.approx(0.2 * spread, rel=0.01)
        assert abs(np.mean(copies - image)) < 0.01 * spread


def test_smoothgrad_without_noise_is_saliency_and_it_is_seeded(smooth):
    x = noise_images(2, 8, seed=4)
    np.testing.assert_allclose(SmoothGrad(smooth, samples=3, noise=0.0)(x), Saliency(smooth)(x), rtol=1e-5, atol=1e-7)
    sg = SmoothGrad(smooth, samples=6, seed=3)
    first = sg(x, classes=[[0, 1]])
    np.testing.assert_array_equal(SmoothGrad(smooth, samples=6, seed=3)(x, classes=[[0, 1]]), first)
    assert np.abs(SmoothGrad(smooth, samples=6, seed=4)(x, classes=[[0, 1]]) - first).max() > 0.01
    np.testing.assert_allclose(sg(x[1:], classes=[[0, 1]])[0], first[1], rtol=1e-5, atol=1e-6)  # its own noise


# --- guided backprop on tiny ReLU and ReLU6 networks, against NumPy -----------------------------
CONV = np.array([[1.0, -1.0, 0.5, 2.0], [0.5, 1.0, -1.0, 1.0], [-0.5, 0.5, 1.0, -2.0]]) / 64  # (3 colours, 4)
CONV_BIAS = np.array([-1.0, 0.5, 0.0, -0.5])


def guided_net(kind: str, top: str = "relu6") -> keras.Model:
    """Input 3x3 -> 1x1 conv (4) + ReLU -> Flatten -> Dense(8) + ReLU6 -> Dense(3) logits, the ReLUs as ``kind`` says."""

    def activation(x, name):
        if kind == "layers":
            return keras.layers.ReLU(max_value=6.0 if name == "relu6" else None)(x)
        if kind == "activation":
            return keras.layers.Activation(name)(x)
        if kind == "ops":
            return getattr(keras.ops, name)(x)
        return x

    fused = kind == "fused"
    inputs = keras.Input((3, 3, 3))
    x = keras.layers.Conv2D(4, 1, activation="relu" if fused else None, name="conv")(inputs)
    x = keras.layers.Flatten()(activation(x, "relu"))
    x = keras.layers.Dense(8, activation=top if fused else None, name="hidden")(x)
    outputs = keras.layers.Dense(3, name="logits")(activation(x, top) if top else x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(6)
    model.get_layer("conv").set_weights([CONV.reshape(1, 1, 3, 4), CONV_BIAS])
    model.get_layer("hidden").set_weights([rng.normal(0, 0.4, (36, 8)), np.array([0.0, 4.0, -1.0, 2.0, 6.5, 1.0, -2.0, 3.0])])
    model.get_layer("logits").set_weights([rng.normal(0, 1, (8, 3)), np.zeros(3)])
    return model


def guided_reference(model: keras.Model, image: np.ndarray, cls: int, guided: bool, top_max: float = 6.0) -> np.ndarray:
    """Forward and backward by hand; ``guided`` keeps only positive gradients at each ReLU."""
    kernel, bias = model.get_layer("conv").get_weights()
    w2, b2 = model.get_layer("hidden").get_weights()
    w3, _ = model.get_layer("logits").get_weights()
    z1 = image @ kernel[0, 0] + bias  # (3, 3, 4)
    z2 = np.maximum(z1, 0).reshape(-1) @ w2 + b2  # (8,)
    keep = (lambda g: np.maximum(g, 0)) if guided else (lambda g: g)
    g2 = keep(w3[:, cls]) * ((z2 > 0) & (z2 < top_max))
    g1 = keep((w2 @ g2).reshape(3, 3, 4)) * (z1 > 0)
    return g1 @ kernel[0, 0].T, z2


@pytest.mark.parametrize("kind", ["fused", "layers", "activation", "ops"])
def test_guided_backprop_matches_a_numpy_reference_on_relu_and_relu6(kind):
    model = guided_net(kind)
    x = noise_images(2, 3, seed=6)
    gb = GuidedBackprop(model)
    gb(x, classes=[[0, 1, 2]])
    assert len(gb.guided_layers) == 2
    saliency = Saliency(model)
    saliency(x, classes=[[0, 1, 2]])
    for image in x:  # every branch of ReLU6 is used
        z2 = guided_reference(model, image, 0, True)[1]
        assert (z2 > 6).any() and (z2 < 0).any() and ((z2 > 0) & (z2 < 6)).any()
    for b in range(2):
        for cls in range(3):
            guided, _ = guided_reference(model, x[b], cls, guided=True)
            plain, _ = guided_reference(model, x[b], cls, guided=False)
            np.testing.assert_allclose(gb.last_attributions[b, cls], guided, rtol=1e-4, atol=1e-7)
            np.testing.assert_allclose(saliency.last_attributions[b, cls], plain, rtol=1e-4, atol=1e-7)
    assert np.abs(gb.last_attributions - saliency.last_attributions).max() > 0.1 * np.abs(saliency.last_attributions).max()
    assert not gb.last_zero_maps.any()


def test_guided_backprop_on_a_plain_relu_network():
    model = guided_net("layers", top="relu")
    x = noise_images(1, 3, seed=7)
    gb = GuidedBackprop(model)
    gb(x, classes=[[0, 1, 2]])
    for cls in range(3):
        np.testing.assert_allclose(gb.last_attributions[0, cls], guided_reference(model, x[0], cls, True, np.inf)[0],
                                   rtol=1e-4, atol=1e-7)


def test_guided_backprop_leaves_the_users_model_as_it_was():
    model = guided_net("fused")
    x = noise_images(1, 3, seed=8)
    before = [w.copy() for w in model.get_weights()]
    outputs = model.predict(x, verbose=0)
    config = json.loads(model.to_json())
    GuidedBackprop(model)(x)
    GuidedGradCAM(model)(x)
    assert json.loads(model.to_json()) == config
    assert model.get_layer("conv").activation is keras.activations.relu
    assert model.get_layer("hidden").activation is keras.activations.relu6
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), outputs)
    with tf.GradientTape() as tape:  # the model's own gradient is still the plain one
        inputs = tf.constant(x[:1])
        tape.watch(inputs)
        logit = model(inputs)[0, 1]
    np.testing.assert_allclose(tape.gradient(logit, inputs).numpy()[0], guided_reference(model, x[0], 1, False)[0],
                               rtol=1e-4, atol=1e-7)


def test_guided_backprop_differs_from_the_gradient_on_the_bundled_relu6_model(lite0, cat_photo):
    relus = [path for path, layer in iter_layers(lite0) if isinstance(layer, keras.layers.ReLU)]
    assert {layer.max_value for _, layer in iter_layers(lite0) if isinstance(layer, keras.layers.ReLU)} == {6.0}
    outputs = lite0(cat_photo[None].astype(np.float32), training=False).numpy()
    gb = GuidedBackprop(lite0)
    guided = gb(cat_photo[None], classes=285)
    assert gb.guided_layers == tuple(relus) and len(relus) == 33
    assert gb.last_probabilities[0, 285] == pytest.approx(0.78, abs=0.03)  # the guided copy computes the same logits
    # pytorch-grad-cam's guided backprop swaps only nn.ReLU and returns the plain gradient here
    a, b = gb.last_attributions.ravel(), logit_gradients(lite0, cat_photo[None], 285).ravel()
    assert np.corrcoef(a, b)[0, 1] < 0.9  # measured: 0.007
    assert np.abs(a - b).max() > np.abs(b).max()
    assert guided.shape == (1, 224, 224) and not np.isnan(guided).any()
    np.testing.assert_array_equal(lite0(cat_photo[None].astype(np.float32), training=False).numpy(), outputs)


# --- Guided Grad-CAM ------------------------------------------------------------------------------
def test_guided_grad_cam_is_guided_backprop_times_grad_cam(nested_pair):
    _, nested, _ = nested_pair
    x = images(2)
    ggc = GuidedGradCAM(nested, layer="add")
    assert ggc.layer_path == "small_base/add" and ggc.uses_layer
    maps = ggc(x, classes=[[0, 2]])
    gb = GuidedBackprop(nested)
    gb(x, classes=[[0, 2]])
    cam = GradCAM(nested, layer="add")(x, classes=[[0, 2]])
    expected = gb.last_attributions * cam[..., None]
    np.testing.assert_allclose(ggc.last_attributions, expected, rtol=1e-5, atol=1e-9)
    magnitude = np.abs(expected).sum(-1)
    np.testing.assert_allclose(maps, magnitude / magnitude.max(axis=(2, 3), keepdims=True), rtol=1e-5, atol=1e-6)
    assert "small_base/add" in repr(ggc)


# --- every model layout, every method ------------------------------------------------------------
@pytest.fixture(scope="module")
def nested_pair():
    base = small_base()
    nested = nested_functional(base)
    return base, nested, flattened(nested, base)


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.__name__)
def test_nested_sequential_and_flat_forms_give_the_same_attributions(nested_pair, method):
    base, nested, flat = nested_pair
    sequential = keras.Sequential([base] + [nested.get_layer(n) for n in ("gap", "dropout", "head")])
    sequential.build((None, SIZE, SIZE, 3))
    x = images(2)
    results = []
    for model in (flat, nested, sequential):
        explainer = build(method, model)
        maps = explainer(x, classes=[1, 2])
        assert maps.shape == (2, SIZE, SIZE) and maps.dtype == np.float32 and maps.max() == pytest.approx(1.0)
        assert explainer.last_attributions.shape == (2, 1, SIZE, SIZE, 3)
        assert explainer.last_signed_maps.shape == (2, 1, SIZE, SIZE)
        results.append(explainer.last_attributions)
    scale = np.abs(results[0]).max()
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], atol=1e-5 * scale)


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.__name__)
def test_a_single_sigmoid_unit_explains_minus_and_plus_its_logit(nested_pair, method):
    base, _, _ = nested_pair
    binary = keras.Sequential([base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    binary.build((None, SIZE, SIZE, 3))
    kernel, bias = binary.layers[-1].get_weights()
    twin = keras.Sequential([base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])  # logits [-z, z]
    twin.build((None, SIZE, SIZE, 3))
    twin.layers[-1].set_weights([np.concatenate([-kernel, kernel], axis=1), np.concatenate([-bias, bias])])
    x = images(2)
    explainer = build(method, binary)
    maps = explainer(x, classes=[[0, 1]])
    reference = build(method, twin)
    np.testing.assert_allclose(maps, reference(x, classes=[[0, 1]]), atol=1e-5)
    np.testing.assert_allclose(explainer.last_attributions, reference.last_attributions,
                               atol=1e-5 * np.abs(reference.last_attributions).max())
    p = binary.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(explainer.last_probabilities, np.stack([1 - p, p], axis=1), atol=1e-6)
    assert explainer.n_classes == 2
    if method in (Saliency, SmoothGrad, IntegratedGradients):  # linear in the score: class 0 is minus class 1
        np.testing.assert_allclose(explainer.last_attributions[:, 0], -explainer.last_attributions[:, 1], atol=1e-9)


def test_class_shapes_single_images_and_compilation(nested_pair):
    _, nested, _ = nested_pair
    x = images(2)
    saliency = Saliency(nested)
    assert saliency(x).shape == (2, SIZE, SIZE) and saliency(x[0]).shape == (1, SIZE, SIZE)
    saliency(x)
    np.testing.assert_array_equal(saliency.last_classes[:, 0], saliency.last_probabilities.argmax(axis=1))
    indices, probabilities = saliency.top_classes(2)
    assert indices.shape == (2, 2) and np.all(probabilities[:, 0] >= probabilities[:, 1])
    together = saliency(x, classes=[[0, 1, 2]])
    assert together.shape == (2, 3, SIZE, SIZE)
    np.testing.assert_allclose(together[:, 1], saliency(x, classes=1), atol=1e-6)
    count = saliency.tracing_count
    for seed in range(3):
        saliency(images(2, seed=seed), classes=[[0, 1, 2]])
    assert saliency.tracing_count == count
    assert saliency.layer_path is None and repr(saliency) == "Saliency(model='nested')"


# --- the registry and errors that teach ------------------------------------------------------------
def test_the_input_gradient_methods_are_registered_in_order():
    listed = [(m.key, m.label, m.cls) for m in methods() if m.cls in ALL_METHODS]
    assert listed == [
        ("saliency", "Saliency", Saliency), ("smoothgrad", "SmoothGrad", SmoothGrad),
        ("integrated_gradients", "Integrated Gradients", IntegratedGradients),
        ("guided_backprop", "Guided Backprop", GuidedBackprop), ("guided_gradcam", "Guided Grad-CAM", GuidedGradCAM),
    ]
    assert [m.uses_layer for m in ALL_METHODS] == [False, False, False, False, True]


@pytest.mark.parametrize("method", INPUT_METHODS, ids=lambda m: m.__name__)
def test_a_layer_is_refused_by_the_methods_that_explain_pixels(nested_pair, method):
    _, nested, _ = nested_pair
    with pytest.raises(ValueError, match=rf"{method.__name__} explains the input pixels, not a layer.*GradCAM"):
        method(nested, layer="top")
    with pytest.raises(ValueError, match="batch_size"):
        method(nested, batch_size=0)


def test_bad_options_raise_clear_errors(nested_pair):
    _, nested, _ = nested_pair
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="samples must be a whole number"):
            SmoothGrad(nested, samples=bad)
        with pytest.raises(ValueError, match="steps must be a whole number"):
            IntegratedGradients(nested, steps=bad)
    with pytest.raises(ValueError, match=r"noise must be within \[0, 1\]"):
        SmoothGrad(nested, noise=-0.1)
    with pytest.raises(ValueError, match="percentage"):
        SmoothGrad(nested, noise=15)
    with pytest.raises(ValueError, match="noise must be a finite number"):
        SmoothGrad(nested, noise=float("nan"))
    with pytest.raises(ValueError, match="seed"):
        SmoothGrad(nested, seed=-1)


def test_bad_baselines_raise_clear_errors(nested_pair):
    _, nested, _ = nested_pair
    with pytest.raises(ValueError, match="baseline='white' is not known: pass 'black'"):
        IntegratedGradients(nested, baseline="white")
    with pytest.raises(ValueError, match="within 0-255"):
        IntegratedGradients(nested, baseline=300)
    with pytest.raises(ValueError, match=r"baseline has shape \(32,\)"):
        IntegratedGradients(nested, baseline=np.zeros(32))
    with pytest.raises(ValueError, match="16x16 but the model expects 32x32"):
        IntegratedGradients(nested, baseline=np.zeros((16, 16, 3)))
    per_image = IntegratedGradients(nested, steps=2, baseline=np.zeros((2, SIZE, SIZE, 3)))
    assert per_image(images(2)).shape == (2, SIZE, SIZE)
    with pytest.raises(ValueError, match=r"2 image\(s\) but the images are .* x 3.*one per image"):
        per_image(images(3))
    gray = IntegratedGradients(nested, steps=2, baseline=np.full((SIZE, SIZE), 128.0))  # one grayscale image for all
    assert gray(images(3)).shape == (3, SIZE, SIZE)


def test_guided_backprop_refuses_a_model_without_relu(smooth):
    with pytest.raises(ValueError, match="no ReLU or ReLU6 activation.*use Saliency"):
        GuidedBackprop(smooth)
    with pytest.raises(ValueError, match="no ReLU or ReLU6"):
        GuidedGradCAM(smooth)
