"""Heatmaps of the bundled EfficientNet-Lite0 with its real ImageNet weights, on the shipped photos."""
import numpy as np
import pytest

from daylib.cam import CAM, GradCAM, GradCAMPlusPlus, LayerCAM, ScoreCAM
from daylib.cam.metrics import energy_pointing, faithfulness_table, heatmap_agreement, pointing_game

EGYPTIAN_CAT, TABBY, ESPRESSO = 285, 281, 967
CAT_FACE = np.array([[30, 20, 190, 210]])  # (x0, y0, x1, y1) of the cat's head in chelsea.png at 224 px: 61% of the image


@pytest.fixture(scope="module")
def grad_cam(lite0):
    return GradCAM(lite0)


def test_grad_cam_of_the_cat_class_peaks_on_the_cat(grad_cam, cat_photo):
    heatmaps = grad_cam(cat_photo[None])
    assert grad_cam.layer_path == "top_activation"
    assert grad_cam.last_classes.tolist() == [[EGYPTIAN_CAT]]
    assert grad_cam.last_probabilities[0, EGYPTIAN_CAT] == pytest.approx(0.78, abs=0.03)
    assert heatmaps.shape == (1, 224, 224)
    assert pointing_game(heatmaps, CAT_FACE).tolist() == [True]
    assert energy_pointing(heatmaps, CAT_FACE)[0] > 0.75


def test_grad_cam_equals_cam_on_the_bundled_model(grad_cam, lite0, cat_photo):
    classes = [[EGYPTIAN_CAT, TABBY, ESPRESSO]]
    assert tuple(grad_cam.split.model.outputs[0].shape[1:3]) == (7, 7)
    np.testing.assert_allclose(grad_cam(cat_photo[None], classes), CAM(lite0)(cat_photo[None], classes), atol=1e-4)


@pytest.mark.parametrize("method", [GradCAMPlusPlus, LayerCAM, ScoreCAM])
def test_other_methods_also_point_at_the_cat(method, lite0, cat_photo):
    heatmaps = method(lite0)(cat_photo[None], classes=EGYPTIAN_CAT)
    assert pointing_game(heatmaps, CAT_FACE).tolist() == [True]
    assert energy_pointing(heatmaps, CAT_FACE)[0] > 0.75


def test_the_heatmap_follows_a_flipped_cat(grad_cam, cat_photo):
    agreement = heatmap_agreement(grad_cam, cat_photo[None], transform="hflip")
    assert agreement.correlation[0] > 0.9 and agreement.iou[0] > 0.7


def test_grad_cam_is_more_faithful_than_a_random_map(grad_cam, lite0, coffee_photo):
    heatmaps = grad_cam(coffee_photo[None], classes=ESPRESSO)
    table = faithfulness_table(lite0, coffee_photo[None], {"Grad-CAM": heatmaps}, ESPRESSO, steps=10)
    assert table["Grad-CAM"]["deletion"] < table["random"]["deletion"]
    assert table["Grad-CAM"]["insertion"] > table["random"]["insertion"] + 0.2
