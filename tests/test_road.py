"""ROAD: the noisy linear imputer against hand-computed fills, and curves on a model with a known answer."""
import keras
import numpy as np
import pytest

from daylib.cam.metrics import faithfulness_table, random_heatmaps
from daylib.cam.road import NEIGHBOUR_WEIGHTS, noisy_linear_impute, road_curve

SIZE = 32


# --- the imputer ---------------------------------------------------------------------------------
def test_a_pixel_with_known_neighbours_is_their_weighted_mean():
    image = np.random.default_rng(0).uniform(0, 255, (3, 3, 2))
    hole = np.zeros((3, 3), bool)
    hole[1, 1] = True
    expected = sum(weight * image[1 + dy, 1 + dx] for (dy, dx), weight in NEIGHBOUR_WEIGHTS)  # the weights sum to 1
    filled = noisy_linear_impute(image, hole, noise=0)
    np.testing.assert_allclose(filled[1, 1], expected, rtol=1e-5)
    np.testing.assert_array_equal(filled[~hole], image[~hole].astype(np.float32))


def test_neighbours_outside_the_image_are_dropped_and_removed_ones_solved_together():
    # one row [10, ?, ?, 40]: x1 = (10 + x2) / 2, x2 = (x1 + 40) / 2  ->  20, 30
    image = np.array([[[10.0], [0.0], [0.0], [40.0]]])
    hole = np.array([[False, True, True, False]])
    np.testing.assert_allclose(noisy_linear_impute(image, hole, noise=0)[0, :, 0], [10, 20, 30, 40], rtol=1e-6)


def test_a_constant_image_stays_constant_and_a_ramp_is_rebuilt_inside_a_hole():
    constant = np.full((8, 8, 3), 77.0)
    hole = np.zeros((8, 8), bool)
    hole[:4] = True  # touching the border
    np.testing.assert_allclose(noisy_linear_impute(constant, hole, noise=0), 77.0, atol=1e-4)
    yy, xx = np.mgrid[0:10, 0:10]
    ramp = np.stack([3.0 * xx + 2.0 * yy + 5, 20.0 - yy], axis=-1)
    inside = np.zeros((10, 10), bool)
    inside[2:7, 3:8] = True  # not touching the border
    np.testing.assert_allclose(noisy_linear_impute(ramp, inside, noise=0), ramp, atol=1e-4)


def test_the_noise_has_the_stated_spread_is_seeded_and_spares_kept_pixels():
    image = np.full((40, 40, 3), 128.0)
    hole = np.zeros((40, 40), bool)
    hole[5:35, 5:35] = True
    first = noisy_linear_impute(image, hole, noise=0.01, seed=3)
    np.testing.assert_array_equal(first, noisy_linear_impute(image, hole, noise=0.01, seed=3))
    assert not np.array_equal(first, noisy_linear_impute(image, hole, noise=0.01, seed=4))
    assert np.std(first[hole] - 128) == pytest.approx(0.01 * 255, rel=0.05)
    np.testing.assert_array_equal(first[~hole], 128.0)


def test_bad_imputer_inputs_are_refused():
    image = np.zeros((4, 4, 3))
    with pytest.raises(ValueError, match="removes every pixel"):
        noisy_linear_impute(image, np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="bool mask"):
        noisy_linear_impute(image, np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="noise must be 0 or more"):
        noisy_linear_impute(image, np.eye(4, dtype=bool), noise=-1)


# --- curves on a model that reads the texture of the left half ----------------------------------------
@pytest.fixture(scope="module")
def texture_model():
    """p(class 0) rises with the high-frequency texture (|Laplacian|) of the left half; the right half does not matter.

    A smooth fill (what ROAD's imputation gives) removes the texture, so removing the left half
    drops p(class 0) from about 0.9 towards 0.1; the image's brightness alone does not matter.
    """
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Cropping2D(((0, 0), (0, SIZE // 2)))(inputs)
    laplace = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32) / 3
    conv = keras.layers.Conv2D(2, 3, activation="relu", use_bias=False)
    x = conv(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(2, activation="softmax")
    outputs = dense(x)
    model = keras.Model(inputs, outputs)
    conv.set_weights([np.stack([laplace, -laplace], axis=-1)[:, :, None, :].repeat(3, axis=2)])
    texture = keras.Model(inputs, x).predict(textured_images(), verbose=0).sum(axis=1).mean()
    weight = 2.2 / texture  # logits differ by 2 w S - 2.2: +2.2 on these images, -2.2 on a smooth one
    dense.set_weights([np.array([[weight, -weight], [weight, -weight]]), np.array([-1.1, 1.1])])
    return model


def textured_images() -> np.ndarray:
    return np.random.default_rng(0).uniform(60, 200, (3, SIZE, SIZE, 3)).astype(np.float32)


def half_maps(left: bool) -> np.ndarray:
    maps = np.zeros((3, SIZE, SIZE), np.float32)
    maps[:, :, : SIZE // 2] = 1.0 if left else 0.0
    maps[:, :, SIZE // 2:] = 0.0 if left else 1.0
    return maps


def test_road_curves_have_the_stated_shape_and_start_at_the_image(texture_model):
    images = textured_images()
    curve = road_curve(texture_model, images, half_maps(True), 0, fractions=(0.25, 0.5, 0.75))
    np.testing.assert_allclose(curve.fractions, [0, 0.25, 0.5, 0.75])
    assert curve.scores.shape == (3, 4) and curve.auc.shape == (3,)
    start = texture_model.predict(images, verbose=0)[:, 0]
    np.testing.assert_allclose(curve.scores[:, 0], start, atol=1e-5)
    assert np.all(start > 0.8)
    # the auc is the trapezoid area divided by the largest fraction: the mean height of the curve
    heights = (curve.scores[:, 1:] + curve.scores[:, :-1]) / 2
    manual = (heights * np.diff(curve.fractions)).sum(axis=1) / 0.75
    np.testing.assert_allclose(curve.auc, manual, rtol=1e-9)
    again = road_curve(texture_model, images, half_maps(True), 0, fractions=(0.25, 0.5, 0.75))
    np.testing.assert_array_equal(curve.scores, again.scores)  # seeded


def test_morf_with_the_faithful_map_falls_faster_than_random_and_lerf_keeps_it(texture_model):
    images, fractions = textured_images(), (0.2, 0.4, 0.5, 0.6, 0.8)
    chance_maps = random_heatmaps((3, SIZE, SIZE), seed=1)
    good = road_curve(texture_model, images, half_maps(True), 0, fractions=fractions, order="morf")
    chance = road_curve(texture_model, images, chance_maps, 0, fractions=fractions, order="morf")
    bad = road_curve(texture_model, images, half_maps(False), 0, fractions=fractions, order="morf")
    assert np.all(good.auc < chance.auc) and np.all(chance.auc < bad.auc)
    assert np.all(good.scores[:, 3] < 0.3)  # half the pixels gone: the whole left half, its texture smoothed away
    np.testing.assert_allclose(bad.scores[:, 3], bad.scores[:, 0], atol=1e-5)  # only the right half: nothing changes
    lerf = road_curve(texture_model, images, half_maps(True), 0, fractions=fractions, order="lerf")
    lerf_chance = road_curve(texture_model, images, chance_maps, 0, fractions=fractions, order="lerf")
    np.testing.assert_allclose(lerf.scores[:, 3], lerf.scores[:, 0], atol=1e-5)  # the right half went first
    assert np.all(lerf.auc > lerf_chance.auc)


def test_faithfulness_table_adds_road_columns_on_request(texture_model):
    images, maps = textured_images(), {"left": half_maps(True), "right": half_maps(False)}
    plain = faithfulness_table(texture_model, images, maps, 0, steps=4, random_repeats=1)
    assert set(plain["left"]) == {"deletion", "insertion"}
    table = faithfulness_table(texture_model, images, maps, 0, steps=4, random_repeats=1, road=True)
    assert set(table) == {"left", "right", "random"}
    assert set(table["left"]) == {"deletion", "insertion", "road_morf", "road_lerf"}
    assert table["left"]["road_morf"] < table["random"]["road_morf"] < table["right"]["road_morf"]
    assert table["left"]["road_lerf"] > table["random"]["road_lerf"]
    expected = road_curve(texture_model, images, maps["left"], 0, order="morf").auc.mean()
    assert table["left"]["road_morf"] == pytest.approx(expected, abs=1e-12)
    assert table["left"]["deletion"] == pytest.approx(plain["left"]["deletion"], abs=1e-12)
    with pytest.raises(ValueError, match="road must be True or False"):
        faithfulness_table(texture_model, images, maps, 0, road="yes")


@pytest.mark.parametrize("fractions, message", [
    ((0.0, 0.5), r"fractions\[0\]"), ((0.5, 1.0), r"fractions\[1\]"), ((0.2, 1.5), r"fractions\[1\]"),
    ((0.5, 0.2), "must increase"), ((0.3, 0.3), "must increase"), ((), "non-empty"), ("0.5", "non-empty"),
])
def test_bad_fractions_are_refused(texture_model, fractions, message):
    with pytest.raises(ValueError, match=message):
        road_curve(texture_model, textured_images(), half_maps(True), 0, fractions=fractions)


def test_bad_order_maps_and_classes_are_refused(texture_model):
    images = textured_images()
    with pytest.raises(ValueError, match="Unknown order 'random'"):
        road_curve(texture_model, images, half_maps(True), 0, order="random")
    with pytest.raises(ValueError, match="one heatmap"):
        road_curve(texture_model, images, half_maps(True)[:, :16], 0)
    with pytest.raises(ValueError, match="out of range"):
        road_curve(texture_model, images, half_maps(True), 7, fractions=(0.5,))
    with pytest.raises(ValueError, match="noise must be 0 or more"):
        road_curve(texture_model, images, half_maps(True), 0, fractions=(0.5,), noise=-0.1)
