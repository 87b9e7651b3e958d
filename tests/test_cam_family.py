"""HiResCAM, XGrad-CAM, Eigen-CAM, Ablation-CAM, the two smoothings, signed maps and the Grad-CAM++ warning."""
import warnings

import keras
import numpy as np
import pytest

from _helpers_cam import SIZE, flattened, images, nested_functional, small_base
from daylib.cam import CAM, AblationCAM, EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM, XGradCAM
from daylib.cam.base import AUGMENTATIONS, BaseCAM
from daylib.cam.registry import methods

NEW = (HiResCAM, XGradCAM, EigenCAM, AblationCAM)
CAMS = [m.cls for m in methods() if isinstance(m.cls, type) and issubclass(m.cls, BaseCAM)]


# --- a model whose layer has the input's resolution and position-dependent gradients -----------------
def flat_model(units: int = 3, activation: str = "softmax") -> keras.Model:
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 1, activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(units, activation=activation, name="head")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    colours = np.array([[1, 0, 0, 1], [0, 1, 0, -1], [0, 0, 1, 0.5]]) / 255
    model.get_layer("features").set_weights([colours.reshape(1, 1, 3, 4), np.array([0.0, 0.0, 0.1, 0.0])])
    rng = np.random.default_rng(2)
    kernel = rng.normal(0, 1, (6, 6, 4, units)) + np.array([2.0, -2.0, 0.5, 0.0])[:, None]
    model.get_layer("head").set_weights([kernel.reshape(144, units), rng.normal(0, 1, units)])
    return model


@pytest.fixture(scope="module")
def softmax_flat():
    return flat_model()


def noise_image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (1, 6, 6, 3)).astype(np.float32)


def numpy_reference(model, image, cls, method, max_channels=None):
    kernel, bias = model.get_layer("features").get_weights()
    acts = np.maximum(image @ kernel[0, 0] + bias, 0).astype(np.float64)  # (6, 6, 4)
    dense, dense_bias = model.get_layer("head").get_weights()
    grads = dense[:, cls].reshape(6, 6, 4)
    if method == "hires":
        raw = (grads * acts).sum(-1)
    elif method == "xgrad":  # pytorch-grad-cam's xgrad_cam.py
        raw = acts @ ((grads * acts).sum(axis=(0, 1)) / (acts.sum(axis=(0, 1)) + 1e-7))
    elif method == "eigen":  # pytorch-grad-cam's get_2d_projection, sign towards the channel sum
        samples = acts.reshape(36, 4)
        centred = samples - samples.mean(axis=0)
        projection = centred @ np.linalg.svd(centred, full_matrices=True)[2][0]
        projection *= -1 if projection @ samples.sum(axis=1) < 0 else 1
        raw = projection.reshape(6, 6)
    else:  # ablation: relative drop of the logit with each channel zeroed
        def logit(a):
            return a.reshape(-1) @ dense[:, cls] + dense_bias[cls]

        score = logit(acts)
        order = np.argsort(-np.abs(acts).mean(axis=(0, 1)), kind="stable")[:max_channels]
        weights = np.zeros(4)
        for c in order:
            ablated = acts.copy()
            ablated[..., c] = 0
            weights[c] = (score - logit(ablated)) / score
        raw = acts @ weights
    raw = np.maximum(raw, 0)
    return raw / raw.max()


@pytest.mark.parametrize(
    "cam_class, method, options",
    [
        (HiResCAM, "hires", {}), (XGradCAM, "xgrad", {}), (EigenCAM, "eigen", {}),
        (AblationCAM, "ablation", {"max_channels": None}),
    ],
)
def test_each_new_method_matches_a_numpy_reference(softmax_flat, cam_class, method, options):
    image = noise_image(5)
    cam = cam_class(softmax_flat, layer="features", **options)
    maps = cam(image, classes=[[0, 2]])
    for k, cls in enumerate([0, 2]):
        np.testing.assert_allclose(maps[0, k], numpy_reference(softmax_flat, image[0], cls, method), atol=3e-5)


def test_ablation_cam_cap_keeps_the_strongest_channels_and_batching_does_not_matter(softmax_flat):
    image = noise_image(6)
    expected = numpy_reference(softmax_flat, image[0], 1, "ablation", max_channels=2)
    for batch_size in (1, 3, 128):
        cam = AblationCAM(softmax_flat, "features", max_channels=2, batch_size=batch_size)
        np.testing.assert_allclose(cam(image, classes=1)[0], expected, atol=3e-5)


def test_ablation_cam_batches_across_images_with_a_short_last_chunk(nested_pair):
    _, nested, _ = nested_pair
    x = images(3)
    reference = AblationCAM(nested, max_channels=5, batch_size=64)(x, classes=[[0, 2]])  # 15 pairs, one chunk
    for batch_size in (1, 7):
        np.testing.assert_allclose(AblationCAM(nested, max_channels=5, batch_size=batch_size)(x, classes=[[0, 2]]),
                                   reference, atol=1e-5)
    cam = AblationCAM(nested, max_channels=5)
    features = cam.split(x)[0]
    weights = cam.channel_weights(features, None, np.array([[0], [1], [2]], np.int32)).numpy()  # (3, 1, 16)
    strongest = np.argsort(-np.abs(features.numpy()).mean(axis=(1, 2)), axis=1)[:, :5]
    for b in range(3):
        assert set(np.flatnonzero(weights[b, 0])) <= set(strongest[b]) and np.count_nonzero(weights[b, 0]) >= 1


def test_ablation_cam_options_and_skipped_layers_raise_clear_errors(nested_pair):
    _, nested, _ = nested_pair
    with pytest.raises(ValueError, match="max_channels"):
        AblationCAM(nested, max_channels=0)
    with pytest.raises(ValueError, match="batch_size"):
        AblationCAM(nested, batch_size=0)
    with pytest.raises(ValueError, match="skips layer 'small_base/conv2'.*Pick a layer that ends a block"):
        AblationCAM(nested, layer="conv2")  # the residual Add also takes relu1, around conv2


# --- eigen_smooth ---------------------------------------------------------------------------------
def rank_one_model() -> keras.Model:
    """Features ``A[h, w, c] = v_c * (R / 127.5 - 1)``: rank one, and zero-mean where R averages 127.5."""
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(3, 1, use_bias=False, name="features")(x)
    outputs = keras.layers.Dense(3, name="head")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((1, 1, 3, 3))
    kernel[0, 0, 0] = [1.0, -2.0, 0.5]
    model.get_layer("features").set_weights([kernel])
    model.get_layer("head").set_weights([np.array([[1.0, -1.0, 0.2], [0.3, 1.0, -0.5], [2.0, 0.0, 1.0]]), np.zeros(3)])
    return model


def zero_mean_red() -> np.ndarray:
    pattern = np.random.default_rng(7).uniform(-1, 1, (6, 3))
    red = 127.5 + 60.0 * np.concatenate([pattern, -pattern[:, ::-1]], axis=1)  # the 36 offsets sum to zero
    other = np.random.default_rng(8).uniform(0, 255, (6, 6, 2))
    return np.concatenate([red[..., None], other], axis=-1)[None].astype(np.float32)


@pytest.mark.parametrize("cam_class", [GradCAM, HiResCAM, LayerCAM, EigenCAM])
def test_eigen_smooth_of_a_rank_one_feature_map_is_the_plain_map(cam_class):
    model, image = rank_one_model(), zero_mean_red()
    cam = cam_class(model, layer="features")
    plain = cam(image, classes=[[0, 1, 2]])
    smooth = cam(image, classes=[[0, 1, 2]], eigen_smooth=True)
    assert np.all(plain.max(axis=(2, 3)) == 1.0)
    np.testing.assert_allclose(smooth, plain, atol=1e-5)
    assert cam.tracing_count == 2  # one graph per setting


def test_eigen_smooth_projects_the_weighted_activations(softmax_flat):
    image = noise_image(9)
    cam = XGradCAM(softmax_flat, "features")
    maps = cam(image, classes=1, eigen_smooth=True)
    kernel, bias = softmax_flat.get_layer("features").get_weights()
    acts = np.maximum(image[0] @ kernel[0, 0] + bias, 0)
    grads = softmax_flat.get_layer("head").get_weights()[0][:, 1].reshape(6, 6, 4)
    weighted = (acts * ((grads * acts).sum(axis=(0, 1)) / (acts.sum(axis=(0, 1)) + 1e-7))).reshape(36, 4)
    centred = weighted - weighted.mean(axis=0)
    projection = centred @ np.linalg.svd(centred)[2][0]
    projection *= np.sign(projection @ weighted.sum(axis=1))
    expected = np.maximum(projection, 0).reshape(6, 6)
    np.testing.assert_allclose(maps[0], expected / expected.max(), atol=3e-5)


# --- aug_smooth -----------------------------------------------------------------------------------
def linear_model() -> keras.Model:
    """Linear features (no bias): scaling the image scales the map, and the 1x1 conv commutes with flips."""
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(2, 1, use_bias=False, name="features")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.get_layer("features").set_weights([np.array([[1.0, -1.0], [-2.0, 1.0], [0.5, 0.0]]).reshape(1, 1, 3, 2)])
    return model


def test_aug_smooth_leaves_a_flip_symmetric_case_unchanged():
    half = np.random.default_rng(3).uniform(0, 200, (1, 6, 3, 3))
    image = np.concatenate([half, half[:, :, ::-1]], axis=2).astype(np.float32)  # max 200: x1.1 is not clipped
    cam = GradCAM(linear_model(), "features")
    plain = cam(image, classes=[[0, 1]])
    smooth = cam(image, classes=[[0, 1]], aug_smooth=True)
    assert smooth.shape == (1, 2, 6, 6) and cam.last_signed_maps.shape == (1, 2, 6, 6)
    np.testing.assert_allclose(smooth, plain, atol=1e-5)


def test_aug_smooth_averages_the_flipped_and_scaled_copies(nested_pair):
    _, nested, _ = nested_pair
    x = images(2, seed=4)
    cam = GradCAM(nested, layer="add")
    classes = np.array([[0, 2], [1, 0]])
    total, signed = 0.0, 0.0
    for flip, factor in AUGMENTATIONS:
        copy = np.clip(x * factor, 0, 255)
        copy = copy[:, :, ::-1] if flip else copy
        maps = cam(copy, classes=classes)
        total = total + (maps[..., ::-1] if flip else maps)
        signed = signed + (cam.last_signed_maps[..., ::-1] if flip else cam.last_signed_maps)
    smooth = cam(x, classes=classes, aug_smooth=True)
    assert len(AUGMENTATIONS) == 6 and smooth.shape == (2, 2, SIZE, SIZE)
    np.testing.assert_allclose(smooth, total / total.max(axis=(2, 3), keepdims=True), atol=1e-5)
    np.testing.assert_allclose(cam.last_signed_maps, signed / 6, atol=1e-5)
    cam(x)
    predicted = cam.last_classes
    cam(x, aug_smooth=True)  # classes=None: the class predicted on the original image, for every copy
    np.testing.assert_array_equal(cam.last_classes, predicted)
    assert cam(x[0], aug_smooth=True).shape == (1, SIZE, SIZE)


def test_smoothing_flags_are_checked(nested_pair):
    _, nested, _ = nested_pair
    cam = GradCAM(nested)
    with pytest.raises(ValueError, match="aug_smooth must be True or False, got 'yes'"):
        cam(images(1), aug_smooth="yes")
    with pytest.raises(ValueError, match="eigen_smooth must be True or False"):
        cam(images(1), eigen_smooth=1)


# --- signed maps ----------------------------------------------------------------------------------
def test_signed_maps_are_the_raw_map_before_relu_and_normalisation(softmax_flat):
    image = noise_image(10)
    cam = GradCAM(softmax_flat, "features")
    maps = cam(image, classes=[[0, 1, 2]])
    signed = cam.last_signed_maps
    assert signed.shape == (1, 3, 6, 6) and signed.dtype == np.float32 and (signed < 0).any()
    positive = np.maximum(signed, 0)
    np.testing.assert_allclose(maps, positive / positive.max(axis=(2, 3), keepdims=True), atol=1e-6)


# --- the Grad-CAM++ warning -----------------------------------------------------------------------
def test_grad_cam_plus_plus_warns_at_a_layer_without_relu(nested_pair):
    _, nested, _ = nested_pair
    with pytest.warns(UserWarning, match=r"layer 'small_base/add'.*negative values.*after a ReLU.*'small_base/top'"):
        GradCAMPlusPlus(nested, layer="add")(images(2), classes=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        GradCAMPlusPlus(nested, layer="top")(images(2), classes=0)
        GradCAM(nested, layer="add")(images(2), classes=0)


# --- every layout, every CAM ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def nested_pair():
    base = small_base()
    nested = nested_functional(base)
    return base, nested, flattened(nested, base)


@pytest.mark.parametrize("cam_class", NEW)
def test_new_methods_give_the_same_map_nested_and_flat(nested_pair, cam_class):
    _, nested, flat = nested_pair
    x = images(2)
    a = cam_class(nested, layer="add")(x, classes=[[1, 2]])
    b = cam_class(flat, layer="add")(x, classes=[[1, 2]])
    assert a.shape == (2, 2, SIZE, SIZE) and not np.isnan(a).any()
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.fixture(scope="module")
def binary(nested_pair):
    base, _, _ = nested_pair
    model = keras.Sequential([base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    model.build((None, SIZE, SIZE, 3))
    x = images(2, seed=1)
    return model, x, model.predict(x, verbose=0)[:, 0]


@pytest.mark.parametrize("cam_class", CAMS)
def test_every_cam_explains_both_classes_of_a_single_sigmoid_unit(binary, cam_class):
    model, x, p = binary
    cam = cam_class(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # random weights: a class may have no positive evidence
        maps = cam(x, classes=[[0, 1]])
    assert maps.shape == (2, 2, SIZE, SIZE) and maps.min() >= 0 and maps.max() <= 1 and not np.isnan(maps).any()
    np.testing.assert_allclose(cam.last_probabilities, np.stack([1 - p, p], axis=1), atol=1e-6)
    signed = cam.last_signed_maps
    assert cam_class.uses_layer is True and signed.shape == (2, 2, SIZE, SIZE) and signed.dtype == np.float32
    if cam_class in (CAM, GradCAM, HiResCAM, XGradCAM):  # linear in the gradient: class 0 (-logit) is the mirror image
        np.testing.assert_allclose(signed[:, 0], -signed[:, 1], atol=1e-5)
    if cam_class in (EigenCAM, AblationCAM):  # no gradient; (s - s_c) / s does not change when s changes sign
        np.testing.assert_allclose(signed[:, 0], signed[:, 1], atol=1e-5)


def test_score_cam_is_unchanged_by_batching_across_images(nested_pair):
    _, nested, _ = nested_pair
    x = images(3)
    reference = ScoreCAM(nested, max_channels=4, batch_size=1)(x, classes=[[0, 1]])
    np.testing.assert_allclose(ScoreCAM(nested, max_channels=4, batch_size=5)(x, classes=[[0, 1]]), reference, atol=1e-5)
    one_by_one = np.concatenate([ScoreCAM(nested, max_channels=4)(x[i:i + 1], classes=[[0, 1]]) for i in range(3)])
    np.testing.assert_allclose(one_by_one, reference, atol=1e-5)
