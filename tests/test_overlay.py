"""Heatmap colouring, overlays (RGB, not OpenCV's BGR) and grids."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from _helpers_figures import assert_titles_fit
from daylib.data.images import ImageError
from daylib.viz.heatmaps import COLORMAPS, colorize, overlay, show_heatmaps

JET_TOP_RGB = [128, 0, 0]  # jet ends in dark red; OpenCV returns it as BGR (0, 0, 128)
JET_BOTTOM_RGB = [0, 0, 128]  # and starts in dark blue


def test_colorize_returns_rgb():
    colours = colorize(np.array([[0.0, 1.0]]), "jet")
    assert colours.dtype == np.uint8 and colours.shape == (1, 2, 3)
    assert colours[0, 0].tolist() == JET_BOTTOM_RGB
    assert colours[0, 1].tolist() == JET_TOP_RGB
    with pytest.raises(ValueError, match=r"values in \[-3, 7\] but must lie in \[0, 1\]: divide each map by its maximum"):
        colorize(np.array([[-3.0, 7.0]]), "jet")  # refused, not clipped quietly


def test_overlay_blends_in_rgb_and_rounds():
    image = np.full((4, 4, 3), 100, np.uint8)
    blended = overlay(image, np.ones((4, 4)), alpha=0.5)
    assert blended.dtype == np.uint8 and blended.shape == (4, 4, 3)
    assert blended[0, 0].tolist() == [114, 50, 50]  # 0.5 * 100 + 0.5 * (128, 0, 0)
    np.testing.assert_array_equal(overlay(image, np.ones((4, 4)), alpha=0.0), image)
    assert overlay(image, np.zeros((4, 4)), alpha=1.0)[0, 0].tolist() == JET_BOTTOM_RGB


def test_overlay_resizes_the_heatmap_and_refuses_images_outside_0_255():
    heat = np.zeros((2, 3))
    heat[:, 2] = 1.0
    blended = overlay(np.full((20, 30), 200.0), heat, alpha=0.0)  # gray is repeated into RGB
    assert blended.shape == (20, 30, 3) and blended.min() == blended.max() == 200
    with pytest.raises(ImageError, match=r"values in \[300, 300\]; the course's models take RGB 0-255"):
        overlay(np.full((20, 30), 300.0), heat)  # refused, not clipped quietly to 255
    coloured = overlay(np.zeros((20, 30, 3)), heat, alpha=1.0)
    assert coloured[10, 29].tolist() == JET_TOP_RGB and coloured[10, 0].tolist() == JET_BOTTOM_RGB


def test_overlay_errors_name_the_fix():
    with pytest.raises(ValueError, match=r"Unknown colormap 'nope'.*jet"):
        overlay(np.zeros((4, 4, 3)), np.zeros((4, 4)), colormap="nope")
    with pytest.raises(ValueError, match="NaN"):
        overlay(np.zeros((4, 4, 3)), np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="alpha"):
        overlay(np.zeros((4, 4, 3)), np.zeros((4, 4)), alpha=1.5)
    with pytest.raises(ValueError, match=r"shape \(2, 4, 4\); expected one map \(H, W\)\. For a batch, pass one map"):
        overlay(np.zeros((4, 4, 3)), np.zeros((2, 4, 4)))
    assert {"jet", "turbo", "inferno", "viridis"} <= set(COLORMAPS)


def test_show_heatmaps_titles_classes_and_methods():
    images = np.zeros((2, 8, 8, 3), np.uint8)
    maps = np.random.default_rng(0).random((2, 2, 8, 8))
    fig = show_heatmaps(images, maps, classes=[[285, 281], [281, 285]], class_names={285: "Egyptian cat", 281: "tabby"})
    axes = np.array(fig.axes[:-1]).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["image", "Egyptian cat (285)", "tabby (281)"]
    assert axes[1, 1].get_title() == "tabby (281)"
    bar = fig.axes[-1]  # the colour scale, in the overlays' own colours
    assert bar.get_ylabel() == "heat" and [t.get_text() for t in bar.get_yticklabels()] == ["0.0", "0.5", "1.0"]
    expected = colorize(np.array([[0.0, 1.0]]))[0] / 255
    np.testing.assert_allclose(bar.collections[-1].cmap([0.0, 1.0])[:, :3], expected, atol=1 / 255)
    assert len(show_heatmaps(images, maps, colour_bar=False).axes) == 6
    plt.close(fig)
    zero = maps.copy()
    zero[1, 0] = 0.0
    fig = show_heatmaps(images, zero, classes=[[285, 281], [281, 285]], class_names={285: "cat", 281: "tabby"})
    assert fig.axes[4].get_title() == "tabby (281) · all zero"  # an empty map is labelled, not plain blue
    plt.close(fig)
    methods = {"Grad-CAM": maps[:, 0], "Score-CAM": maps[:, 1]}
    fig = show_heatmaps(images, methods, classes=285, class_names=lambda i: "cat", show_raw=True)
    titles = [ax.get_title() for ax in fig.axes[:5]]
    assert titles == [
        "image",
        "Grad-CAM · cat (285)",
        "Grad-CAM · cat (285) (heatmap)",
        "Score-CAM · cat (285)",
        "Score-CAM · cat (285) (heatmap)",
    ]
    plt.close(fig)
    with pytest.raises(ValueError, match="do not match 2 image"):
        show_heatmaps(images, maps[:1])


@pytest.mark.parametrize("size", [1.2, 1.6, 2.6, 4.0])
def test_show_heatmaps_titles_fit_small_panels(size):
    images = np.zeros((3, 8, 8, 3), np.uint8)
    maps = np.random.default_rng(0).random((3, 2, 8, 8))
    methods = {"Grad-CAM++": maps, "LayerCAM": maps}
    fig = show_heatmaps(images, methods, classes=[[1, 0]], class_names=["NORMAL", "PNEUMONIA"], show_raw=True, size=size)
    assert_titles_fit(fig)
    names = {285: "Egyptian cat", 180: "American Staffordshire terrier"}
    fig = show_heatmaps(images, {"Grad-CAM++": maps}, classes=[[285, 180]], class_names=names, size=size)
    assert_titles_fit(fig)
