"""Heatmap metrics on synthetic maps and a hand-built model with known answers."""
import re

import keras
import numpy as np
import pytest

from daylib.cam.metrics import (
    boxes_to_masks,
    deletion_curve,
    energy_pointing,
    faithfulness_table,
    heatmap_agreement,
    heatmap_iou,
    insertion_curve,
    pointing_game,
    random_heatmaps,
)

SIZE = 32


def square_masks(count: int, rng: np.random.Generator, side: int = 16) -> np.ndarray:
    """Masks with one ``side x side`` square each (a quarter of a 32x32 image), at random places."""
    masks = np.zeros((count, SIZE, SIZE), bool)
    for mask in masks:
        y, x = rng.integers(0, SIZE - side + 1, 2)
        mask[y:y + side, x:x + side] = True
    return masks


def test_a_map_that_is_the_mask_scores_perfectly():
    masks = square_masks(4, np.random.default_rng(0))
    maps = masks.astype(np.float32)
    assert pointing_game(maps, masks).all()
    np.testing.assert_allclose(energy_pointing(maps, masks), 1.0)
    np.testing.assert_allclose(heatmap_iou(maps, masks), 1.0)


def test_random_maps_score_near_chance():
    rng = np.random.default_rng(1)
    masks = square_masks(400, rng)
    maps = rng.random((400, SIZE, SIZE), dtype=np.float32)
    assert energy_pointing(maps, masks).mean() == pytest.approx(0.25, abs=0.01)
    assert pointing_game(maps, masks).mean() == pytest.approx(0.25, abs=0.06)
    # half the pixels pass the 0.5 threshold: IoU = (0.5 * 0.25) / (0.5 + 0.25 - 0.5 * 0.25) = 0.2
    assert heatmap_iou(maps, masks).mean() == pytest.approx(0.2, abs=0.01)


def test_boxes_work_like_masks():
    boxes = np.array([[2, 4, 10, 8], [0, 0, 32, 16]])
    masks = boxes_to_masks(boxes, (SIZE, SIZE))
    assert masks.sum(axis=(1, 2)).tolist() == [8 * 4, 32 * 16] and masks[0, 4:8, 2:10].all()
    maps = random_heatmaps((2, SIZE, SIZE), seed=3)
    np.testing.assert_array_equal(energy_pointing(maps, boxes), energy_pointing(maps, masks))
    np.testing.assert_array_equal(heatmap_iou(maps, boxes), heatmap_iou(maps, masks))
    with pytest.raises(ValueError, match="is empty"):
        boxes_to_masks(np.array([[5, 5, 5, 9]]), (SIZE, SIZE))


def test_degenerate_cases_give_numbers_not_nan():
    masks = np.zeros((2, SIZE, SIZE), bool)
    masks[1, :4, :4] = True
    zero = np.zeros((2, SIZE, SIZE), np.float32)
    assert pointing_game(zero, masks).tolist() == [False, False]
    assert energy_pointing(zero, masks).tolist() == [0.0, 0.0]
    assert heatmap_iou(zero, masks).tolist() == [1.0, 0.0]  # both empty agree; an empty map misses the lesion


def test_pointing_tolerance_and_mask_resizing():
    mask = np.zeros((1, SIZE, SIZE), bool)
    mask[0, 10:20, 10:20] = True
    heat = np.zeros((1, SIZE, SIZE), np.float32)
    heat[0, 20, 15] = 1.0  # the row just below the box (rows 10..19)
    assert not pointing_game(heat, mask)[0]
    assert pointing_game(heat, mask, tolerance=1)[0]
    small = mask[:, ::2, ::2].astype(np.float32)  # a 16x16 map is resized to the 32x32 mask
    assert heatmap_iou(small, mask)[0] > 0.8


def test_bad_metric_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="NaN"):
        energy_pointing(np.full((1, 4, 4), np.nan), np.ones((1, 4, 4), bool))
    with pytest.raises(ValueError, match=r"Expected 2 masks"):
        energy_pointing(np.zeros((2, 4, 4)), np.ones((3, 4, 4), bool))


BOX = np.array([0, 4, 20, 28])  # (x0, y0, x1, y1): 47% of the image
BOX_MASK = boxes_to_masks(BOX[None], (SIZE, SIZE))[0]


@pytest.mark.parametrize(
    "heat_size, one, each",
    [
        (SIZE, BOX, np.tile(BOX, (6, 1))),
        (SIZE, BOX_MASK, np.repeat(BOX_MASK[None], 6, axis=0)),
        (16, BOX_MASK, np.repeat(BOX_MASK[None], 6, axis=0)),  # 16x16 maps are resized to the 32x32 mask
    ],
    ids=["one box", "one mask", "one mask, smaller maps"],
)
def test_one_box_or_mask_is_shared_by_every_heatmap(heat_size, one, each):
    maps = random_heatmaps((6, heat_size, heat_size), seed=1)
    hits = pointing_game(maps, one)
    assert hits.shape == (6,) and 0 < hits.sum() < 6  # some maps hit, some miss: the comparison has teeth
    np.testing.assert_array_equal(hits, pointing_game(maps, each))
    np.testing.assert_array_equal(pointing_game(maps, one, tolerance=2), pointing_game(maps, each, tolerance=2))
    np.testing.assert_array_equal(energy_pointing(maps, one), energy_pointing(maps, each))
    np.testing.assert_array_equal(heatmap_iou(maps, one, threshold=0.6), heatmap_iou(maps, each, threshold=0.6))


@pytest.mark.parametrize(
    "targets",
    [np.tile(BOX, (3, 1)), np.ones((3, SIZE, SIZE), bool), np.arange(3), np.ones((1, 5, SIZE, SIZE), bool)],
    ids=["3 boxes", "3 masks", "a 1-D target that is no box", "4-D masks"],
)
@pytest.mark.parametrize("metric", [pointing_game, energy_pointing, heatmap_iou])
def test_a_target_that_fits_neither_one_nor_each_heatmap_is_refused(metric, targets):
    with pytest.raises(ValueError, match=re.escape(f"got targets of shape {targets.shape}")) as error:
        metric(random_heatmaps((5, SIZE, SIZE)), targets)
    message = str(error.value)
    for part in ("Expected 5 masks or boxes", "(5, 32, 32)", "one box (4,)", "one mask (H, W)", "(5, 4)", "(5, H, W)"):
        assert part in message


# --- faithfulness: a model that only looks at the left half ------------------------------------
@pytest.fixture(scope="module")
def left_half_model():
    """p(class 0) = sigmoid(S / 135 - 2.2), S = sum of the left half's channel means: the right half does not matter.

    About 0.1 on a black image and 0.9 on a bright one (no saturation).
    """
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Cropping2D(((0, 0), (0, SIZE // 2)))(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    weights = np.tile([[1 / 270, -1 / 270]], (3, 1))
    model.layers[-1].set_weights([weights, np.array([-1.1, 1.1])])
    return model


@pytest.fixture(scope="module")
def bright_images():
    return np.random.default_rng(0).uniform(150, 255, (3, SIZE, SIZE, 3)).astype(np.float32)


def half_maps(left: bool) -> np.ndarray:
    maps = np.zeros((3, SIZE, SIZE), np.float32)
    maps[:, :, : SIZE // 2] = 1.0 if left else 0.0
    maps[:, :, SIZE // 2:] = 0.0 if left else 1.0
    return maps


def test_deleting_the_pixels_the_model_uses_drops_its_score_fastest(left_half_model, bright_images):
    good = deletion_curve(left_half_model, bright_images, half_maps(left=True), 0, steps=8)
    bad = deletion_curve(left_half_model, bright_images, half_maps(left=False), 0, steps=8)
    chance = deletion_curve(left_half_model, bright_images, random_heatmaps((3, SIZE, SIZE)), 0, steps=8)
    start = left_half_model.predict(bright_images, verbose=0)[:, 0]
    black = left_half_model.predict(np.zeros_like(bright_images), verbose=0)[:, 0]
    np.testing.assert_allclose(good.scores[:, 0], start, atol=1e-6)
    np.testing.assert_allclose(good.scores[:, -1], black, atol=1e-6)
    np.testing.assert_allclose(good.scores[:, 4], black, atol=1e-6)  # half the pixels gone: the whole left half
    np.testing.assert_allclose(bad.scores[:, 4], start, atol=1e-6)  # only the right half gone: nothing changes
    assert good.fractions.tolist() == [i / 8 for i in range(9)]
    assert np.all(good.auc < chance.auc) and np.all(chance.auc < bad.auc)


def test_inserting_the_pixels_the_model_uses_raises_its_score_fastest(left_half_model, bright_images):
    good = insertion_curve(left_half_model, bright_images, half_maps(left=True), 0, steps=8, baseline="black")
    bad = insertion_curve(left_half_model, bright_images, half_maps(left=False), 0, steps=8, baseline="black")
    assert np.all(good.auc > bad.auc)
    np.testing.assert_allclose(good.scores[:, -1], left_half_model.predict(bright_images, verbose=0)[:, 0], atol=1e-6)


def test_faithfulness_table_ranks_methods_against_random(left_half_model, bright_images):
    table = faithfulness_table(left_half_model, bright_images, {"left": half_maps(True), "right": half_maps(False)}, 0, steps=8)
    assert set(table) == {"left", "right", "random"}
    assert table["left"]["deletion"] < table["random"]["deletion"] < table["right"]["deletion"]
    # insertion starts from a blurred image, which this brightness model cannot tell from the original
    assert [row["insertion"] for row in table.values()] == pytest.approx([table["left"]["insertion"]] * 3, abs=0.02)
    with pytest.raises(ValueError, match="out of range"):
        deletion_curve(left_half_model, bright_images, half_maps(True), 5, steps=2)
    with pytest.raises(ValueError, match="Unknown baseline"):
        deletion_curve(left_half_model, bright_images, half_maps(True), 0, baseline="grey")


def test_the_random_row_is_the_mean_over_several_random_maps(left_half_model, bright_images):
    repeats = 4
    maps = random_heatmaps((repeats * 3, SIZE, SIZE), seed=0).reshape(repeats, 3, SIZE, SIZE)
    np.testing.assert_array_equal(maps[0], random_heatmaps((3, SIZE, SIZE), seed=0))  # repeat 0 = the old single map
    deletion = [deletion_curve(left_half_model, bright_images, m, 0, steps=8).auc.mean() for m in maps]
    insertion = [insertion_curve(left_half_model, bright_images, m, 0, steps=8).auc.mean() for m in maps]
    assert np.ptp(deletion) > 0.01  # the repeats differ, so their mean is none of them

    def random_row(random_repeats: int) -> dict[str, float]:
        methods = {"left": half_maps(True)}
        table = faithfulness_table(left_half_model, bright_images, methods, 0, steps=8, random_repeats=random_repeats)
        return table["random"]

    assert random_row(1) == pytest.approx({"deletion": deletion[0], "insertion": insertion[0]}, abs=1e-9)
    mean = {"deletion": np.mean(deletion), "insertion": np.mean(insertion)}
    assert random_row(repeats) == pytest.approx(mean, abs=1e-9)
    with pytest.raises(ValueError, match="random_repeats must be a whole number of at least 1"):
        random_row(0)


# --- robustness ---------------------------------------------------------------------------------
def brightness_cam(images, classes=None):
    """A 'CAM' that follows the image content: its own brightness, scaled to [0, 1]."""
    gray = np.asarray(images, np.float32).mean(axis=-1)
    return gray / gray.max(axis=(1, 2), keepdims=True)


def grid_cam(images, classes=None):
    """A 'CAM' stuck to the pixel grid: brighter to the right, whatever the image."""
    return np.broadcast_to(np.linspace(0, 1, SIZE, dtype=np.float32), (len(images), SIZE, SIZE))


def blobs(count: int) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    out = np.zeros((count, SIZE, SIZE, 3), np.float32)
    for i, (cy, cx) in enumerate(np.random.default_rng(2).uniform(8, 24, (count, 2))):
        out[i] = 255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 40)[..., None]
    return out


@pytest.mark.parametrize("transform", ["hflip", "vflip", "rotate", "shift"])
def test_a_map_that_follows_the_content_agrees_under_transforms(transform):
    agreement = heatmap_agreement(brightness_cam, blobs(3), transform=transform)
    assert np.all(agreement.correlation > 0.98) and np.all(agreement.iou > 0.85)


def test_a_map_stuck_to_the_grid_disagrees_when_flipped():
    agreement = heatmap_agreement(grid_cam, blobs(3), transform="hflip")
    np.testing.assert_allclose(agreement.correlation, -1.0, atol=1e-6)
    np.testing.assert_allclose(agreement.iou, 0.0)
    with pytest.raises(ValueError, match="Unknown transform"):
        heatmap_agreement(grid_cam, blobs(1), transform="zoom")
