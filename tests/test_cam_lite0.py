"""Heatmaps of the bundled EfficientNet-Lite0 with its real ImageNet weights, on the shipped photos."""
import numpy as np
import pytest

from daylib.cam import CAM, GradCAM, GradCAMPlusPlus, LayerCAM, ScoreCAM
from daylib.cam.metrics import energy_pointing, faithfulness_table, heatmap_agreement, pointing_game
from daylib.data.images import resize

EGYPTIAN_CAT, TABBY, ESPRESSO = 285, 281, 967
CAT_FACE = np.array([55, 50, 180, 200])  # (x0, y0, x1, y1): eyes, nose and mouth in chelsea.png at 224 px, 37% of it
QUARTERS = {"top left": (0, 0), "bottom right": (112, 112), "top right": (112, 0)}


def cat_in_a_corner(photo: np.ndarray, corner: str) -> tuple[np.ndarray, np.ndarray]:
    """The photo shrunk to a quarter of the picture (112 px) on a gray field, and its box."""
    x0, y0 = QUARTERS[corner]
    picture = np.full_like(photo, 128)
    picture[y0:y0 + 112, x0:x0 + 112] = resize(photo, 112)
    return picture, np.array([x0, y0, x0 + 112, y0 + 112])


def on_target(heatmaps: np.ndarray, box: np.ndarray, share: float) -> bool:
    """The peak is inside the box and at least ``share`` of the heatmap's mass is too."""
    return bool(pointing_game(heatmaps, box)[0] and energy_pointing(heatmaps, box)[0] >= share)


def blob(x: float, y: float, sigma: float = 30.0) -> np.ndarray:
    yy, xx = np.mgrid[0:224, 0:224]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))[None].astype(np.float32)


@pytest.fixture(scope="module")
def grad_cam(lite0):
    return GradCAM(lite0)


def test_grad_cam_of_the_cat_class_peaks_on_the_cat(grad_cam, cat_photo):
    heatmaps = grad_cam(cat_photo[None])
    assert grad_cam.layer_path == "top_activation"
    assert grad_cam.last_classes.tolist() == [[EGYPTIAN_CAT]]
    assert grad_cam.last_probabilities[0, EGYPTIAN_CAT] == pytest.approx(0.78, abs=0.03)
    assert heatmaps.shape == (1, 224, 224)
    assert on_target(heatmaps, CAT_FACE, share=0.5)  # chance (a uniform map) is 0.37
    moved = np.zeros_like(heatmaps)  # the same map, 90 px to the right: off the face
    moved[:, :, 90:] = heatmaps[:, :, :-90]
    assert not on_target(moved, CAT_FACE, share=0.5)
    assert not on_target(np.ones_like(heatmaps), CAT_FACE, share=0.5)


@pytest.mark.parametrize("method", [GradCAM, GradCAMPlusPlus, LayerCAM, ScoreCAM])
def test_heatmaps_follow_the_cat_into_each_corner(method, lite0, cat_photo):
    # The photo's cat fills it and sits in the middle, where a map that ignores the image
    # (a centred blob) also scores; a cat in one quarter of the picture tells them apart.
    pictures, boxes = zip(*(cat_in_a_corner(cat_photo, corner) for corner in QUARTERS))
    cam = method(lite0)
    heatmaps = cam(np.stack(pictures), classes=EGYPTIAN_CAT)
    assert cam.last_probabilities.argmax(axis=1).tolist() == [EGYPTIAN_CAT] * len(QUARTERS)
    for heatmap, box in zip(heatmaps, boxes):
        assert on_target(heatmap[None], box, share=0.6)  # chance is 0.25
        assert not on_target(heatmap[None, ::-1, ::-1], box, share=0.6)  # the same map turned to the opposite corner
        assert not on_target(blob(112, 112), box, share=0.6)  # a centred blob


def test_the_corner_criterion_refuses_maps_off_the_cat(cat_photo):
    for corner in QUARTERS:
        _, box = cat_in_a_corner(cat_photo, corner)
        x0, y0 = box[:2]
        assert on_target(blob(x0 + 56, y0 + 56), box, share=0.6)  # a blob on the cat passes
        assert not on_target(blob(223 - x0 - 56, 223 - y0 - 56), box, share=0.6)  # the opposite quarter fails
        assert not on_target(np.ones((1, 224, 224), np.float32), box, share=0.6)


def test_grad_cam_equals_cam_on_the_bundled_model(grad_cam, lite0, cat_photo):
    classes = [[EGYPTIAN_CAT, TABBY, ESPRESSO]]
    assert tuple(grad_cam.split.model.outputs[0].shape[1:3]) == (7, 7)
    np.testing.assert_allclose(grad_cam(cat_photo[None], classes), CAM(lite0)(cat_photo[None], classes), atol=1e-4)


@pytest.mark.parametrize("method", [GradCAMPlusPlus, LayerCAM, ScoreCAM])
def test_other_methods_also_point_at_the_cats_face(method, lite0, cat_photo):
    assert on_target(method(lite0)(cat_photo[None], classes=EGYPTIAN_CAT), CAT_FACE, share=0.5)


def test_the_heatmap_follows_a_flipped_cat(grad_cam, cat_photo):
    agreement = heatmap_agreement(grad_cam, cat_photo[None], transform="hflip")
    assert agreement.correlation[0] > 0.9 and agreement.iou[0] > 0.7


def test_grad_cam_is_more_faithful_than_a_random_map(grad_cam, lite0, coffee_photo):
    heatmaps = grad_cam(coffee_photo[None], classes=ESPRESSO)
    table = faithfulness_table(lite0, coffee_photo[None], {"Grad-CAM": heatmaps}, ESPRESSO, steps=10)
    assert table["Grad-CAM"]["deletion"] < table["random"]["deletion"]
    assert table["Grad-CAM"]["insertion"] > table["random"]["insertion"] + 0.2
