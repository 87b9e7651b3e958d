"""daylib.export: TFLite files at three settings, checked against the Keras model; the clear errors.

Tolerances (measured on this tiny trained model, 16 phantom films): float 3e-8, dynamic 1.1e-4,
int8 1.5e-3 max |delta p|; the asserts leave about 10x room. The bundled EfficientNet-Lite0's
numbers are in README_export.md (measured by hand, too slow for a test at all three settings).
"""
import sys
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python.lite import TFLiteSavedModelConverterV2

from _helpers_train import make_model, phantom_data
from daylib.data.images import ImageError
from daylib.evaluate import roc_auc
from daylib.export import ExportReport, predict_tflite, tflite_interpreter, to_tflite
from daylib.models import build_classifier
from daylib.models.inference import predict

TOLERANCE = {None: 1e-6, "dynamic": 2e-3, "int8": 2e-2}


@pytest.fixture(scope="module")
def trained():
    (x, y), (x_val, y_val) = phantom_data()
    keras.utils.set_random_seed(0)
    model = make_model()
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    model.fit(x, y, epochs=3, verbose=0)
    return model, x, x_val, y_val


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    model, x, x_val, y_val = trained
    folder = tmp_path_factory.mktemp("tflite")
    return {q: to_tflite(model, folder / f"tiny_{q}.tflite", q, x if q == "int8" else None, images=x_val,
                         labels=y_val, timing_runs=3) for q in TOLERANCE}


def _dtypes(path) -> Counter:
    return Counter(np.dtype(t["dtype"]).name for t in tflite_interpreter(path).get_tensor_details())


@pytest.mark.parametrize("quantize", list(TOLERANCE))
def test_each_setting_matches_the_keras_model_within_its_tolerance(trained, exported, quantize):
    model, _, x_val, y_val = trained
    report = exported[quantize]
    keras_p, _ = predict(model, x_val)
    tflite_p = predict_tflite(report.path, x_val)
    assert tflite_p.shape == keras_p.shape == (16, 1)
    assert report.max_abs_diff == pytest.approx(np.abs(tflite_p - keras_p).max())
    assert report.max_abs_diff <= TOLERANCE[quantize]
    assert report.images == 16 and report.label_agreement == np.mean((tflite_p >= 0.5) == (keras_p >= 0.5))
    assert report.auc_keras == pytest.approx(roc_auc(y_val, keras_p))
    assert report.auc_tflite == pytest.approx(roc_auc(y_val, tflite_p))
    assert report.size_bytes == report.path.stat().st_size and report.latency_tflite_ms > 0
    assert not list(report.path.parent.glob("*.partial*"))


def test_quantised_files_hold_int8_tensors_and_int8_keeps_float_input_and_output(exported):
    plain, dynamic, full = (_dtypes(exported[q].path) for q in TOLERANCE)
    assert plain["int8"] == 0 and dynamic["int8"] >= 1 and dynamic["float32"] > 2
    assert full["float32"] == 2 and full["int8"] > 10  # only the float input and output
    interpreter = tflite_interpreter(exported["int8"].path)
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    assert interpreter.get_output_details()[0]["dtype"] == np.float32
    assert exported["dynamic"].size_bytes < exported[None].size_bytes


def test_report_shows_the_numbers_as_text_and_html(exported):
    report = exported["int8"]
    text, page = str(report), report._repr_html_()
    assert f"{report.size_bytes:,} bytes" in text and f"{report.max_abs_diff:.2e}" in text
    assert f"change {report.auc_change:+.4f}" in text and "full int8" in text
    assert "<table>" in page and f"{report.max_abs_diff:.2e}" in page
    assert report.auc_change == pytest.approx(report.auc_tflite - report.auc_keras)


def test_bundled_lite0_classifier_exports_in_float_within_1e4(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_classifier("efficientnet_lite0", 3, input_shape=(64, 64, 3))
    model.get_layer("predictions").kernel.assign(np.random.default_rng(0).normal(0, 0.3, (1280, 3)))
    (x, _), _ = phantom_data(64)
    report = to_tflite(model, tmp_path / "lite0.tflite", images=x[:2], timing_runs=2)
    assert report.images == 2 and report.max_abs_diff <= 1e-4 and report.label_agreement == 1.0
    assert report.auc_keras is None and "n/a (no labels)" in str(report)
    assert np.ptp(predict(model, x[:2])[0]) > 1e-3  # not a constant output
    assert 10e6 < report.size_bytes < 20e6  # ~3.4M float32 weights


def test_a_model_with_augmentation_layers_exports_without_them(tmp_path):
    from daylib.data.pipeline import augmentation
    from daylib.export import inference_model

    keras.utils.set_random_seed(0)
    model = make_model(augmentation=augmentation(seed=0))  # random ops the converter has no kernels for
    (x, _), _ = phantom_data()
    plain = inference_model(model)
    assert "augmentation" not in [layer.name for layer in plain.layers] and "augmentation" in [l.name for l in model.layers]
    bare = make_model()
    assert inference_model(bare) is bare and plain.get_layer("predictions") is model.get_layer("predictions")
    report = to_tflite(model, tmp_path / "augmented.tflite", images=x[:4], timing_runs=2)
    assert report.max_abs_diff <= 1e-5 and report.label_agreement == 1.0


def test_a_converter_failure_leaves_the_old_file_and_no_partial_file(trained, tmp_path, monkeypatch):
    model, *_ = trained
    target = tmp_path / "model.tflite"
    target.write_bytes(b"previous export")

    def broken(self):
        raise RuntimeError("simulated converter crash")

    # from_saved_model returns this subclass, whose convert() overrides the base class's
    monkeypatch.setattr(TFLiteSavedModelConverterV2, "convert", broken)
    with pytest.raises(ValueError, match="converter failed.*simulated converter crash"):
        to_tflite(model, target)
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")  # TensorFlow's own, expected here
def test_without_litert_the_tf_interpreter_runs_the_file_with_a_warning(trained, exported, monkeypatch):
    _, _, x_val, _ = trained
    litert = predict_tflite(exported[None].path, x_val)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails as on Intel macOS
    with pytest.warns(UserWarning, match="ai-edge-litert package is not installed.*tf.lite.Interpreter"):
        interpreter = tflite_interpreter(exported[None].path)
        outputs = predict_tflite(exported[None].path, x_val)
    assert type(interpreter) is tf.lite.Interpreter
    np.testing.assert_allclose(outputs, litert, rtol=0, atol=1e-6)


def test_bad_arguments_get_clear_errors_before_any_conversion(trained, tmp_path):
    model, x, x_val, y_val = trained
    path = tmp_path / "m.tflite"
    with pytest.raises(ValueError, match="Expected a keras.Model"):
        to_tflite("efficientnet_lite0", path)
    with pytest.raises(ValueError, match="quantize must be one of"):
        to_tflite(model, path, quantize="float16")
    with pytest.raises(ValueError, match="needs representative_data"):
        to_tflite(model, path, quantize="int8")
    with pytest.raises(ValueError, match="calibrates full-integer quantisation only"):
        to_tflite(model, path, quantize="dynamic", representative_data=x)
    with pytest.raises(ValueError, match=r"must end in \.tflite.*'.*m\.tflite'"):
        to_tflite(model, tmp_path / "m.keras")
    with pytest.raises(ValueError, match="does not exist"):
        to_tflite(model, tmp_path / "missing" / "m.tflite")
    with pytest.raises(ImageError):
        to_tflite(model, path, images=np.zeros((2, 48, 48, 3)))
    with pytest.raises(ImageError):
        to_tflite(model, path, "int8", representative_data=np.zeros((2, 32, 32, 4)))
    with pytest.raises(ValueError, match="labels were given without images"):
        to_tflite(model, path, labels=y_val)
    with pytest.raises(ValueError, match="labels has 3 entries but images has 16"):
        to_tflite(model, path, images=x_val, labels=y_val[:3])
    inputs = keras.Input((32, 32, 3))
    two = keras.Model(inputs, [model(inputs), model(inputs)])
    with pytest.raises(ValueError, match="one image input and one output"):
        to_tflite(two, path)
    any_size = keras.Input((None, None, 3))
    with pytest.raises(ValueError, match="needs a fixed image input"):
        to_tflite(keras.Model(any_size, keras.layers.GlobalAveragePooling2D()(any_size)), path)
    assert not path.exists()
    with pytest.raises(ValueError, match="No TFLite file"):
        predict_tflite(path, x_val)


def test_a_test_split_with_one_class_reports_no_auc_and_says_why(trained, tmp_path):
    model, _, x_val, _ = trained
    report = to_tflite(model, tmp_path / "m.tflite", images=x_val[:4], labels=[0, 0, 0, 0], timing_runs=2)
    assert isinstance(report, ExportReport) and report.auc_keras is None and report.auc_change is None
    assert any("ROC AUC not reported" in note for note in report.notes)
