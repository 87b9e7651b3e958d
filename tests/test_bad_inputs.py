"""Bad input gets a clear answer: an error that names the problem and the fix, a warning, or the right result.

One table per area (layers and models, inference, heatmaps, heatmap metrics, evaluation,
widgets, pictures). Each refusal asserts the error type, a phrase naming the problem and a
phrase naming the fix; each accepted input asserts the result. Never a NaN, a silent
fallback, or a NumPy/TensorFlow/OpenCV error from inside. Tiny models keep it fast.
The pickle reader, data folders, Kaggle and phantoms have their own files.
"""
import re
import warnings
from types import SimpleNamespace

import keras
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from _helpers_cam import SIZE, images, nested_functional, small_base  # noqa: E402
from daylib.cam import GradCAM, ScoreCAM  # noqa: E402
from daylib.cam.metrics import (  # noqa: E402
    boxes_to_masks, deletion_curve, energy_pointing, faithfulness_table, heatmap_agreement, heatmap_iou,
    pointing_game, random_heatmaps,
)
from daylib.data.images import ImageError, ImageRangeWarning  # noqa: E402
from daylib.evaluate import (  # noqa: E402
    bootstrap_ci, choose_threshold, compare_to_paper, confusion_matrix, evaluate, evaluate_model,
)
from daylib.models import backbone, build_classifier, find_layer, small_cnn, unfreeze  # noqa: E402
from daylib.models.imagenet import class_index, decode_predictions  # noqa: E402
from daylib.models.inference import predict  # noqa: E402
from daylib.viz.heatmaps import overlay, show_heatmaps  # noqa: E402
from daylib.viz.results import plot_confusion_matrix, plot_history, plot_roc  # noqa: E402
from daylib.viz.xrays import show_xrays  # noqa: E402
from daylib.widgets import (  # noqa: E402
    heatmap_explorer, heatmap_grid, layer_explorer, plot_feature_maps, render_feature_maps, render_heatmap,
    snapshot_explorer,
)

Y = np.array([0, 1, 0, 1, 1, 0])
S = np.array([0.1, 0.8, 0.3, 0.6, 0.9, 0.4])
BOX = np.array([8, 8, 16, 16])


@pytest.fixture(scope="module")
def c():
    """The shared inputs: a tiny 3-class model, a binary one, images, heatmaps, a mask and a CAM."""
    model = nested_functional(small_base(name="bad_base"))
    binary = nested_functional(small_base(name="bad_binary_base"), classes=1, activation="sigmoid")
    heat = np.random.default_rng(0).random((2, SIZE, SIZE)).astype(np.float32)
    mask = np.zeros((2, SIZE, SIZE), bool)
    mask[:, 8:16, 8:16] = True
    return SimpleNamespace(model=model, binary=binary, x=images(2), heat=heat, mask=mask, cam=GradCAM(model))


def dataset(x, labels=None, batch=2):
    parts = x if labels is None else (x, labels)
    return tf.data.Dataset.from_tensor_slices(parts).batch(batch)


def refuses(call, error, problem, fix):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert re.search(problem, message), f"the problem {problem!r} is not named in: {message}"
    assert re.search(fix, message), f"the fix {fix!r} is not named in: {message}"


# (id, call, error, phrase naming the problem, phrase naming the fix)
LAYERS_AND_MODELS = [
    ("layer True", lambda c: find_layer(c.model, True), ValueError, r"got True \(bool\)", r"an int index"),
    ("layer 1.5", lambda c: find_layer(c.model, 1.5), ValueError, r"got 1\.5 \(float\)", r"layer name or path"),
    ("layer list", lambda c: find_layer(c.model, [1]), ValueError, r"got \[1\] \(list\)", r"None for the last"),
    ("no model", lambda c: find_layer(None, None), ValueError, "Expected a keras.Model, got None", "Build one first"),
    ("CAM layer True", lambda c: GradCAM(c.model, layer=True), ValueError, r"got True \(bool\)", "an int index"),
    ("num_classes 2.5", lambda c: build_classifier(small_base(name="b1"), 2.5), ValueError, r"got 2\.5 \(float\)",
     "num_classes=2"),
    ("dropout 1.5", lambda c: build_classifier(small_base(name="b2"), 2, dropout=1.5), ValueError,
     r"within \[0, 1\), got 1\.5", "dropout=0.2"),
    ("gray input shape", lambda c: build_classifier(small_base(name="b3"), 2, input_shape=(32, 32, 1)), ValueError,
     "has 1 channel", "repeated into three channels"),
    ("input shape differs from the base", lambda c: build_classifier(small_base(name="b4"), 2, input_shape=(64, 64, 3)),
     ValueError, r"takes images \(32, 32, 3\), but input_shape is \(64, 64, 3\)", "build the base at that size"),
    ("base None", lambda c: build_classifier(None, 2), ValueError, "got None", "a backbone name"),
    ("top_n True", lambda c: unfreeze(c.model, top_n=True), ValueError, r"got True \(a bool\)", "top_n=20"),
    ("fine_tune_at 1.5", lambda c: unfreeze(c.model, fine_tune_at=1.5), ValueError, "got 1.5", "layer index of the base"),
    ("pooling sum", lambda c: backbone("mobilenet_v2", weights=None, input_shape=(64, 64, 3), pooling="sum"), ValueError,
     "got 'sum'", "'avg' or 'max'"),
    ("input shape int", lambda c: backbone("efficientnet_lite0", weights=None, input_shape=64), ValueError, "got 64",
     r"input_shape=\(224, 224, 3\)"),
    ("no filters", lambda c: small_cnn((32, 32, 3), filters=()), ValueError, "non-empty list", r"\(16, 32, 64\)"),
    ("input too small for the blocks", lambda c: small_cnn((4, 4, 3)), ValueError, "too small", "at least 8x8"),
    ("decode top True", lambda c: decode_predictions(np.eye(1000)[:1], top=True), ValueError, "got True", "top=1"),
    ("decode text", lambda c: decode_predictions("abc"), ValueError, "dtype <U3", "the model's output scores"),
    ("class_index of an index", lambda c: class_index(285), ValueError, "class index already", r"class_names\(\)\[285\]"),
    ("ScoreCAM max_channels 1.5", lambda c: ScoreCAM(c.model, max_channels=1.5), ValueError, "got 1.5",
     "max_channels="),
]

INFERENCE = [
    ("batch_size 0", lambda c: predict(c.model, c.x, batch_size=0), ValueError, "got 0", "batch_size=32"),
    ("batch_size True", lambda c: predict(c.model, c.x, batch_size=True), ValueError, r"got True \(a bool\)",
     "batch_size=32"),
    ("model None", lambda c: predict(None, c.x), ValueError, "got NoneType", "keras.Model or a function"),
    ("labels short", lambda c: predict(c.model, (c.x, [0])), ValueError, "2 images but 1 labels", "one label per image"),
    ("3-tuple", lambda c: predict(c.model, (c.x, Y[:2], Y[:2])), ValueError, "has 3 items", r"pass \(images, labels\)"),
    ("unbatched dataset", lambda c: predict(c.model, dataset(c.x).unbatch()), ValueError, "single images",
     r"ds\.batch\(32\)"),
    ("dataset of dicts", lambda c: predict(c.model, tf.data.Dataset.from_tensor_slices({"image": c.x}).batch(2)),
     ValueError, "dict elements", "map it first"),
    ("dataset above 255", lambda c: predict(c.model, dataset(c.x * 2)), ImageError,
     r"dataset batch 0 have values in \[", "RGB 0-255"),
    ("dataset NaN", lambda c: predict(c.model, dataset(c.x * np.nan)), ImageError, "NaN or infinite",
     "clean or drop those images"),
    ("dataset above 255 under a strategy",
     lambda c: predict(c.model, dataset(c.x * 2), strategy=tf.distribute.get_strategy()), ImageError,
     r"dataset batch 0 have values in \[", "RGB 0-255"),
    ("dataset of another size", lambda c: predict(c.model, dataset(np.zeros((2, 16, 16, 3)))), ImageError,
     "are 16x16 but the model expects 32x32", "resize them first"),
]

HEATMAPS = [
    ("empty batch", lambda c: c.cam(c.x[:0]), ImageError, r"empty batch \(0 images\)", "at least one image"),
    ("ragged classes", lambda c: c.cam(c.x, [[0, 1], [2]]), ValueError, "ragged list", "one int per image"),
    ("no classes", lambda c: c.cam(c.x, []), ValueError, "classes is empty", "one int for all images"),
    ("class name", lambda c: c.cam(c.x, "cat"), ValueError, "must be integers, got 'cat'", r"class_index\(name\)"),
    ("class True", lambda c: c.cam(c.x, True), ValueError, "not bools or floats", "classes=1"),
    ("top_classes 0", lambda c: (c.cam(c.x), c.cam.top_classes(0)), ValueError, "got 0", "k=1"),
]

METRICS = [
    ("IoU threshold 50", lambda c: heatmap_iou(c.heat, c.mask, threshold=50), ValueError, r"within \[0, 1\], got 50",
     "divide by 100"),
    ("IoU threshold text", lambda c: heatmap_iou(c.heat, c.mask, threshold="0.5"), ValueError, r"got '0\.5' \(str\)",
     "threshold=0.5"),
    ("heatmaps 0-255", lambda c: pointing_game(c.heat * 255, c.mask), ValueError, r"values in \[.*must lie in \[0, 1\]",
     r"h / h\.max\(\)"),
    ("NaN heatmaps", lambda c: energy_pointing(np.full((2, 8, 8), np.nan), BOX), ValueError, "NaN", "nan_to_num"),
    ("no heatmaps", lambda c: pointing_game(np.zeros((0, SIZE, SIZE)), BOX), ValueError, "empty",
     "at least one map"),
    ("soft masks", lambda c: energy_pointing(c.heat, c.mask * 0.3), ValueError, "0 and 1", "mask > 0.5"),
    ("NaN masks", lambda c: energy_pointing(c.heat, np.full((2, SIZE, SIZE), np.nan)), ValueError, "NaN",
     "bool, or 0 and 1"),
    ("box in fractions", lambda c: boxes_to_masks(np.array([[0.2, 0.2, 0.8, 0.8]]), (SIZE, SIZE)), ValueError,
     "fractions of the image size", "multiply x0 and x1 by the width"),
    ("box outside", lambda c: pointing_game(c.heat, np.array([100, 100, 200, 200])), ValueError,
     "lies outside the 32x32 image", "scale boxes"),
    ("box not whole pixels", lambda c: pointing_game(c.heat, np.array([8.5, 8, 16, 16])), ValueError, "whole pixels",
     r"np\.round"),
    ("masks of (H, W, 3)", lambda c: boxes_to_masks(np.array([BOX]), (SIZE, SIZE, 3)), ValueError,
     r"\(height, width\)", "two positive ints"),
    ("tolerance -1", lambda c: pointing_game(c.heat, c.mask, tolerance=-1), ValueError, "at least 0, got -1",
     "tolerance=1"),
    ("curve classes None", lambda c: deletion_curve(c.model, c.x, c.heat, None, steps=2), ValueError,
     "classes is None", r"cam\.last_classes\[:, 0\]"),
    ("curve classes True", lambda c: deletion_curve(c.model, c.x, c.heat, True, steps=2), ValueError,
     "not bools or floats", "classes=1"),
    ("curve classes too many", lambda c: deletion_curve(c.model, c.x, c.heat, [0, 1, 2], steps=2), ValueError,
     "Got 3 classes for 2 images", "one int per image"),
    ("curve steps 2.5", lambda c: deletion_curve(c.model, c.x, c.heat, 0, steps=2.5), ValueError, "got 2.5",
     "steps=20"),
    ("curve of [0, 255] heatmaps", lambda c: deletion_curve(c.model, c.x, c.heat * 255, 0, steps=2), ValueError,
     r"must lie in \[0, 1\]", "divide each map by its maximum"),
    ("faithfulness without maps", lambda c: faithfulness_table(c.model, c.x, {}, 0), ValueError, "non-empty dict",
     "Grad-CAM"),
    ("random maps of (H, W)", lambda c: random_heatmaps((8, 8)), ValueError, r"\(B, H, W\)", r"\(4, 224, 224\)"),
    ("agreement amount NaN", lambda c: heatmap_agreement(c.cam, c.x, transform="rotate", amount=np.nan), ValueError,
     "finite number", "amount=10"),
    ("agreement amount for a flip", lambda c: heatmap_agreement(c.cam, c.x, transform="hflip", amount=5), ValueError,
     "takes none", "drop amount"),
    ("agreement with a model", lambda c: heatmap_agreement(c.model, c.x), ValueError, "got Functional",
     r"GradCAM\(model\)"),
    ("agreement transform that crops", lambda c: heatmap_agreement(c.cam, c.x, transform=lambda a: a[:16]), ValueError,
     r"into \(16, 32, 3\)", "keep their shape"),
]

EVALUATION = [
    ("class names as labels", lambda c: evaluate(np.array(["normal", "pneumonia"] * 3), S), ValueError,
     r"class names like \['normal', 'pneumonia'", r"class_names\.index\(label\)"),
    ("bytes labels from tf.data", lambda c: evaluate(np.array([b"n", b"p"] * 3), S), ValueError,
     r"class names like \['n', 'p'", "map them to indices first"),
    ("threshold 50 on probabilities", lambda c: evaluate(Y, S, threshold=50), ValueError,
     r"threshold 50 is outside \[0, 1\], but the scores are probabilities", "divide by 100"),
    ("threshold text", lambda c: evaluate(Y, S, threshold="0.5"), ValueError, r"got '0\.5' \(str\)", "threshold=0.5"),
    ("threshold for multi-class", lambda c: evaluate([0, 1, 2], np.eye(3), threshold=0.7), ValueError,
     "binary scores only", "drop threshold"),
    ("class_names one string", lambda c: evaluate(Y, S, class_names="ab"), ValueError, "one string",
     "one name per entry"),
    ("soft labels", lambda c: evaluate(np.array([[0.3, 0.7]] * 6), S), ValueError, "not one-hot", r"argmax"),
    ("bootstrap 2.5", lambda c: evaluate(Y, S, bootstrap=2.5), ValueError, "got 2.5", "bootstrap=1000"),
    ("lengths differ", lambda c: evaluate(Y[:5], S), ValueError, "scores has 6 rows but y_true has 5 labels",
     "one score"),
    ("target sensitivity 95", lambda c: choose_threshold(Y, S, 95), ValueError, r"within \(0, 1\], got 95",
     "divide by 100"),
    ("level text", lambda c: bootstrap_ci(Y, S, "auc", level="x"), ValueError, "must be a number", "level=0.95"),
    ("scores as y_pred", lambda c: confusion_matrix([0, 1, 1], [0.2, 0.7, 0.9]), ValueError,
     "y_pred must hold class indices", "predicted_labels"),
    ("num_classes 2.5", lambda c: confusion_matrix([0, 1], [0, 1], num_classes=2.5), ValueError, "got 2.5",
     "num_classes=1"),
    ("paper with a dict", lambda c: compare_to_paper({"accuracy": 0.9}), ValueError, "got dict",
     r"Report of daylib\.evaluate\.evaluate"),
    ("class names in a dataset", lambda c: evaluate_model(c.binary, dataset(c.x, np.array([b"n", b"p"])), bootstrap=0),
     ValueError, "class names like", "map them to indices first"),
]

WIDGETS = [
    ("render a batch", lambda c: render_heatmap(c.model, c.x), ValueError, "batch of 2", r"images\[i\]"),
    ("render class True", lambda c: render_heatmap(c.model, c.x[0], class_index=True), ValueError,
     "not bools or floats", "classes=1"),
    ("render alpha None", lambda c: render_heatmap(c.model, c.x[0], alpha=None), ValueError, "must be a number",
     "alpha=0.4"),
    ("explorer class_names string", lambda c: heatmap_explorer(c.model, c.x, class_names="abc"), ValueError,
     "one string", "one name per entry"),
    ("explorer layers string", lambda c: heatmap_explorer(c.model, c.x, layers="top"), ValueError,
     "must be a list of layer names", r"layers=\['top'\]"),
    ("explorer alpha 2", lambda c: heatmap_explorer(c.model, c.x, alpha=2), ValueError, r"within \[0, 1\], got 2",
     "alpha=0.4"),
    ("explorer top_k 0", lambda c: heatmap_explorer(c.model, c.x, top_k=0), ValueError, "got 0", "top_k=5"),
    ("channels True", lambda c: render_feature_maps(c.model, c.x[0], channels=True), ValueError, "got True",
     r"range\(16\)"),
    ("columns 0", lambda c: render_feature_maps(c.model, c.x[0], channels=4, columns=0), ValueError, "got 0",
     "columns=8"),
    ("layer explorer channels 0", lambda c: layer_explorer(c.model, c.x[0], channels=0), ValueError, "got 0",
     "channels=16"),
    ("snapshot titles string", lambda c: snapshot_explorer(c.x, [c.heat], titles="a"), ValueError, "one string",
     "one name per entry"),
    ("snapshot heatmaps 0-255", lambda c: snapshot_explorer(c.x, [c.heat * 255]), ValueError,
     r"must lie in \[0, 1\]", "divide each map by its maximum"),
    ("grid without methods", lambda c: heatmap_grid(c.model, c.x[0], method=[]), ValueError, "non-empty list",
     r"\['gradcam'\]"),
    ("grid size 0", lambda c: heatmap_grid(c.model, c.x[0], size=0), ValueError, "above 0", "size=2.4"),
    ("feature figure channels -1", lambda c: plot_feature_maps(c.model, c.x[0], channels=-1), ValueError, "got -1",
     "channels=6"),
]

PICTURES = [
    ("overlay image above 255", lambda c: overlay(c.x[0] * 3, c.heat[0]), ImageError, r"values in \[",
     "RGB 0-255"),
    ("overlay heatmap 0-255", lambda c: overlay(c.x[0], c.heat[0] * 255), ValueError, r"must lie in \[0, 1\]",
     r"h / h\.max\(\)"),
    ("overlay RGBA", lambda c: overlay(np.zeros((8, 8, 4)), np.zeros((8, 8))), ValueError, r"got shape \(8, 8, 4\)",
     r"image\[\.\.\., :3\]"),
    ("overlay alpha True", lambda c: overlay(c.x[0], c.heat[0], alpha=True), ValueError, r"got True \(bool\)",
     "alpha=0.4"),
    ("overlay empty heatmap", lambda c: overlay(c.x[0], np.zeros((0, 0))), ValueError, "empty", "at least 1x1 pixel"),
    ("grid without a class name", lambda c: show_heatmaps(c.x, c.heat, classes=[0, 5], class_names=["a", "b"]),
     ValueError, "no name for class 5", "a name for every class"),
    ("grid class 1.5", lambda c: show_heatmaps(c.x, c.heat, classes=1.5), ValueError, "not bools or floats",
     "classes=1"),
    ("X-ray label -1", lambda c: show_xrays(c.x, [0, -1]), ValueError, "class indices 0, 1", "one-hot rows"),
    ("X-ray label without a name", lambda c: show_xrays(c.x, [0, 2]), ValueError, "Label 2 has no name",
     "a name for every label"),
    ("X-ray titles string", lambda c: show_xrays(c.x, titles="ab"), ValueError, "one string", "one name per entry"),
    ("X-ray 16-bit", lambda c: show_xrays(np.full((1, 8, 8), 40000, np.uint16)), ImageError, r"values in \[4e\+04",
     "load_image"),
    ("history metrics string", lambda c: plot_history({"loss": [1.0, 0.5]}, metrics="loss"), ValueError,
     "one string", r"metrics=\['loss'\]"),
    ("history of uneven length", lambda c: plot_history({"loss": [1, 2, 3], "val_loss": [1]}), ValueError,
     "1 values for 3 epochs", "one value per epoch"),
    ("fine-tuning after the end", lambda c: plot_history({"loss": [1, 2]}, fine_tune_epoch=99), ValueError,
     "after the last epoch", "the index of the first fine-tuning epoch"),
    ("history None", lambda c: plot_history(None), ValueError, "got NoneType", "a dict of lists"),
    ("confusion of fractions", lambda c: plot_confusion_matrix(np.array([[5.5, 1], [2, 3]])), ValueError,
     r"counts \(whole numbers", "at least 0"),
    ("confusion names short", lambda c: plot_confusion_matrix(np.ones((2, 2), int), ["a"]), ValueError,
     "has 1 names but there are 2 classes", "one name per entry"),
    ("ROC threshold multi-class", lambda c: plot_roc([0, 1, 2], np.eye(3), threshold=0.5), ValueError, "3 classes",
     "drop threshold"),
    ("ROC threshold 50", lambda c: plot_roc(Y, S, threshold=50), ValueError, "outside", "divide by 100"),
    ("ROC names short", lambda c: plot_roc([0, 1, 2], np.eye(3), class_names=["a"]), ValueError,
     "1 names but there are 3 classes", "one name per entry"),
]


def _cases(*tables):
    return [pytest.param(call, error, problem, fix, id=name) for table in tables for name, call, error, problem, fix in table]


@pytest.mark.parametrize("call, error, problem, fix", _cases(LAYERS_AND_MODELS, INFERENCE, HEATMAPS, METRICS))
def test_models_inference_and_heatmaps_refuse_with_the_fix(c, call, error, problem, fix):
    refuses(lambda: call(c), error, problem, fix)


@pytest.mark.parametrize("call, error, problem, fix", _cases(EVALUATION, WIDGETS, PICTURES))
def test_evaluation_widgets_and_pictures_refuse_with_the_fix(c, call, error, problem, fix):
    refuses(lambda: call(c), error, problem, fix)


# --- values that look scaled to [0, 1]: a warning that names daylib.data.images and the 0-255 convention --------
SCALED = [
    ("heatmaps", lambda c: c.cam(c.x / 255)),
    ("inference on arrays", lambda c: predict(c.model, c.x / 255)),
    ("inference on a dataset of two batches", lambda c: predict(c.model, dataset(c.x / 255, batch=1))),
    ("evaluation on a dataset", lambda c: evaluate_model(c.binary, dataset(c.x / 255, Y[:2]), bootstrap=0)),
    ("deletion curve", lambda c: deletion_curve(c.model, c.x / 255, c.heat, 0, steps=2)),
    ("heatmap explorer", lambda c: heatmap_explorer(c.model, c.x / 255)),
    ("overlay", lambda c: overlay(c.x[0] / 255, c.heat[0])),
    ("X-ray grid", lambda c: show_xrays(c.x / 255)),
]


@pytest.mark.parametrize("call", [pytest.param(call, id=name) for name, call in SCALED])
def test_batches_that_look_scaled_to_0_1_warn_once_with_the_fix(c, call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call(c)
    scaled = [str(w.message) for w in caught if issubclass(w.category, ImageRangeWarning)]
    assert scaled, "no ImageRangeWarning"
    assert "look scaled to [0, 1]" in scaled[0] and "0-255 (daylib.data.images)" in scaled[0]
    assert "Multiply by 255" in scaled[0]
    assert len([m for m in scaled if "dataset batch" in m]) <= 1  # a dataset warns once, not once per batch


# --- inputs that are fine get the right result ---------------------------------------------------------------------
def test_numpy_ints_are_layer_indices_and_class_indices(c):
    assert find_layer(c.model, np.int64(-1))[0] == find_layer(c.model, -1)[0] == "bad_base/top"
    np.testing.assert_array_equal(c.cam(c.x, np.int64(1)), c.cam(c.x, 1))
    assert build_classifier(small_base(name="b5"), np.int64(3)).output_shape == (None, 3)


def test_a_dataset_is_checked_like_an_array_and_gray_films_become_rgb(c):
    gray = c.x[..., :1]
    from_dataset, labels = predict(c.model, dataset(gray, Y[:2], batch=1))
    np.testing.assert_allclose(from_dataset, predict(c.model, np.repeat(gray, 3, axis=-1))[0], rtol=1e-5, atol=1e-6)
    assert labels.tolist() == Y[:2].tolist()


def test_one_image_is_a_batch_of_one_for_inference_and_curves(c):
    np.testing.assert_allclose(predict(c.model, c.x[0])[0], predict(c.model, c.x[:1])[0], rtol=1e-6)
    single = deletion_curve(c.model, c.x[0], c.heat[0], 1, steps=2)
    np.testing.assert_allclose(single.auc, deletion_curve(c.model, c.x[:1], c.heat[:1], 1, steps=2).auc)


def test_a_threshold_outside_0_1_is_fine_for_logits():
    logits = S * 10 - 5  # -4 .. 4
    report = evaluate(Y, logits, threshold=2.0, bootstrap=0)
    assert report.threshold == 2.0 and report["accuracy"] == pytest.approx(np.mean((logits >= 2.0) == Y))


def test_one_class_labels_give_undefined_metrics_with_a_note_not_nan():
    report = evaluate(np.ones(6, int), S, bootstrap=0)
    assert report["specificity"] is None and report["auc"] is None
    assert any("specificity is undefined" in note for note in report.notes)
    assert all(value is None or np.isfinite(value) for value in report.metrics.values())


def test_boxes_may_reach_past_the_edges_and_an_empty_list_of_boxes_is_no_masks(c):
    assert boxes_to_masks(np.zeros((0, 4)), (SIZE, SIZE)).shape == (0, SIZE, SIZE)
    clipped = boxes_to_masks(np.array([[-5, -5, 4, 4]]), (SIZE, SIZE))
    assert clipped.sum() == 16 and clipped[0, :4, :4].all()
    assert energy_pointing(np.ones((1, SIZE, SIZE)), np.array([-5, -5, 4, 4]))[0] == pytest.approx(16 / SIZE**2)
    masks_255 = c.mask.astype(np.uint8) * 255  # 8-bit mask files
    np.testing.assert_array_equal(pointing_game(c.heat, masks_255), pointing_game(c.heat, c.mask))


def test_sizes_in_pixels_and_numpy_arrays_of_names_are_taken(c):
    explorer = heatmap_explorer(c.model, c.x, class_names=np.array(["a", "b", "c"]), size=200)
    assert explorer.view.layout.width == "200px" and explorer.class_names == ["a", "b", "c"]


def test_keras_models_from_the_wrong_place_are_named():
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    refuses(lambda: GradCAM(dense), ValueError, "no layer with a 4-D", "convolutional model")
