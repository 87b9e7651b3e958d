"""Export a course model to TensorFlow Lite, and check the file against the Keras model.

:func:`to_tflite` converts with TensorFlow's own converter along the route Keras 3 supports:
``model.export(dir, format="tf_saved_model")``, then ``tf.lite.TFLiteConverter.from_saved_model``.
Three settings:

- ``quantize=None``: float32 weights and activations (the Keras model's numbers, to ~1e-6).
- ``"dynamic"``: weights stored as int8 (about 4x smaller), activations float at run time.
- ``"int8"``: full-integer quantisation of weights and activations, calibrated on a
  ``representative_data`` batch of training images (required). The file keeps **float32
  input and output**: the course's models take RGB 0-255 float images with the preprocessing
  inside and return probabilities, so a device app feeds the same arrays as in the notebook,
  and a probability near 0 or 1 keeps its resolution instead of snapping to one of 256 steps.
  Only the first quantize and the last dequantize op run in float.

The file is written atomically (:mod:`daylib.training.atomic`), and the returned
:class:`ExportReport` sets the TFLite model beside the Keras model on the same images: largest
probability difference, agreement of predicted labels, the change in ROC AUC (with labels) and
the CPU latency per image of both, timed side by side in the same run.

The file is run with LiteRT's interpreter (``ai_edge_litert``), TensorFlow's successor to
``tf.lite.Interpreter``, which TensorFlow 2.21 marks deprecated. Where the ``ai-edge-litert``
package has no wheel (Intel macOS), ``tf.lite.Interpreter`` is used, with a warning that says so.

Example:
    >>> from daylib.export import to_tflite, predict_tflite
    >>> report = to_tflite(model, "pneumonia.tflite", images=x_test, labels=y_test)
    >>> print(report)                     # size, max |delta p|, label agreement, AUC change, latency
    >>> small = to_tflite(model, "pneumonia_int8.tflite", quantize="int8",
    ...                   representative_data=x_train[:200], images=x_test, labels=y_test)
    >>> probabilities = predict_tflite("pneumonia_int8.tflite", x_test)
"""
from __future__ import annotations

import contextlib
import html
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.arguments import count
from daylib.data.images import to_rgb_batch
from daylib.evaluate.inputs import as_labels, as_scores, predicted_labels
from daylib.evaluate.metrics import UndefinedMetricError, roc_auc
from daylib.models import compat
from daylib.models.inference import forward, predict
from daylib.models.layers import is_random_augmentation, require_model
from daylib.training.atomic import atomic_path

__all__ = ["QUANTIZE", "ExportReport", "to_tflite", "predict_tflite", "tflite_interpreter", "inference_model"]

QUANTIZE = (None, "dynamic", "int8")
"""The quantisation settings :func:`to_tflite` offers."""

_SETTING_TEXT = {None: "float32", "dynamic": "dynamic-range (int8 weights)", "int8": "full int8 (float in/out)"}


@dataclass
class ExportReport:
    """What :func:`to_tflite` wrote, and how the TFLite model compares with the Keras model.

    Attributes:
        path: the ``.tflite`` file.
        quantize: ``None``, ``"dynamic"`` or ``"int8"``.
        size_bytes: file size.
        images: how many images the comparison ran on (0: no ``images`` given).
        max_abs_diff: largest ``|p_tflite - p_keras|`` over all images and outputs.
        label_agreement: fraction of images whose predicted label is the same.
        auc_keras, auc_tflite: ROC AUC of each on ``labels`` (``None`` without labels, or undefined).
        latency_keras_ms, latency_tflite_ms: median CPU time per image at batch 1, after warm-up.
        interpreter: which interpreter ran the file.
        notes: anything the numbers above need to be read with.

    Example:
        >>> report = to_tflite(model, "model.tflite", images=x_test)
        >>> report.size_mb, report.max_abs_diff
        (13.4, 3.6e-07)
    """

    path: Path
    quantize: Optional[str]
    size_bytes: int
    images: int
    max_abs_diff: Optional[float]
    label_agreement: Optional[float]
    auc_keras: Optional[float]
    auc_tflite: Optional[float]
    latency_keras_ms: float
    latency_tflite_ms: float
    interpreter: str
    notes: list[str] = field(default_factory=list)

    @property
    def size_mb(self) -> float:
        """File size in megabytes (10**6 bytes).

        Example:
            >>> round(report.size_mb, 1)
            13.4
        """
        return self.size_bytes / 1e6

    @property
    def auc_change(self) -> Optional[float]:
        """``auc_tflite - auc_keras``, or ``None`` where either is undefined.

        Example:
            >>> report.auc_change
            0.0
        """
        if self.auc_keras is None or self.auc_tflite is None:
            return None
        return self.auc_tflite - self.auc_keras

    def rows(self) -> list[tuple[str, str]]:
        """The report as (quantity, value) rows, as the text and HTML views show them.

        Example:
            >>> dict(report.rows())["file size"]
            '13.40 MB (13,398,216 bytes)'
        """
        def shown(value: Optional[float], fmt: str) -> str:
            return "n/a" if value is None else format(value, fmt)

        auc = "n/a (no labels)" if self.auc_keras is None else (
            f"{shown(self.auc_keras, '.4f')} -> {shown(self.auc_tflite, '.4f')} (change {shown(self.auc_change, '+.4f')})")
        return [
            ("setting", _SETTING_TEXT[self.quantize]),
            ("file size", f"{self.size_mb:.2f} MB ({self.size_bytes:,} bytes)"),
            ("images compared", str(self.images)),
            ("max |delta p|", shown(self.max_abs_diff, ".2e")),
            ("label agreement", "n/a" if self.label_agreement is None else f"{self.label_agreement:.1%}"),
            ("ROC AUC Keras -> TFLite", auc),
            ("latency per image (CPU, batch 1)",
             f"TFLite {self.latency_tflite_ms:.2f} ms, Keras {self.latency_keras_ms:.2f} ms"),
            ("interpreter", self.interpreter),
        ]

    def __str__(self) -> str:
        width = max(len(name) for name, _ in self.rows())
        lines = [f"TFLite export: {self.path}"]
        lines += [f"  {name:<{width}}  {value}" for name, value in self.rows()]
        lines += [f"  Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>" for name, value in self.rows())
        notes = "".join(f"<p><b>Note:</b> {html.escape(note)}</p>" for note in self.notes)
        return f"<p>TFLite export: <code>{html.escape(str(self.path))}</code></p><table>{cells}</table>{notes}"


def tflite_interpreter(model_path: Union[str, Path], num_threads: Optional[int] = None) -> Any:
    """A LiteRT interpreter for a ``.tflite`` file, tensors allocated.

    ``ai_edge_litert.interpreter.Interpreter`` where the ``ai-edge-litert`` package is installed;
    otherwise ``tf.lite.Interpreter`` (deprecated by TensorFlow), with a warning.

    Raises:
        ValueError: the file does not exist.

    Example:
        >>> interpreter = tflite_interpreter("model.tflite")
        >>> interpreter.get_input_details()[0]["shape"]
        array([  1, 224, 224,   3], dtype=int32)
    """
    path = Path(model_path)
    if not path.is_file():
        raise ValueError(f"No TFLite file at {path}: write one first with daylib.export.to_tflite(model, {str(path)!r}).")
    threads = None if num_threads is None else count(num_threads, "num_threads", example=4)
    interpreter = _interpreter_class()(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def predict_tflite(model_path: Union[str, Path], images, *, num_threads: Optional[int] = None) -> np.ndarray:
    """The outputs of a ``.tflite`` model for ``images`` (RGB 0-255, as the Keras model takes them), one image a run.

    Raises:
        ImageError: images of the wrong shape or values (:func:`daylib.data.images.to_rgb_batch`).
        ValueError: no file at ``model_path``.

    Example:
        >>> predict_tflite("model.tflite", x_test[:4]).shape
        (4, 1)
    """
    interpreter = tflite_interpreter(model_path, num_threads)
    batch = to_rgb_batch(images, input_shape=tuple(interpreter.get_input_details()[0]["shape"][1:]), single=True)
    return _run_tflite(interpreter, batch)


def to_tflite(
    model: keras.Model,
    path: Union[str, Path],
    quantize: Optional[str] = None,
    representative_data=None,
    *,
    images=None,
    labels=None,
    threshold: float = 0.5,
    timing_runs: int = 10,
    num_threads: Optional[int] = None,
) -> ExportReport:
    """Convert ``model`` to a ``.tflite`` file (atomically) and compare it with the Keras model.

    Args:
        model: a Keras model with one image input of fixed size ``(H, W, 3)`` (RGB 0-255,
            preprocessing inside, as every course model) and one output.
        path: the file to write; it must end in ``.tflite`` and its folder must exist.
        quantize: ``None`` (float32), ``"dynamic"`` (int8 weights) or ``"int8"`` (full-integer
            weights and activations; float32 input and output kept).
        representative_data: images that calibrate the activation ranges for ``"int8"``
            (required there, refused with the other settings; a few hundred training images, RGB 0-255).
        images: images to compare the TFLite and Keras outputs on (e.g. a test split).
        labels: their labels, for the ROC AUC of both (needs ``images``).
        threshold: decision threshold of a one-unit (binary) model for the label agreement.
        timing_runs: timed batch-1 runs per model for the latency medians (after 2 warm-up runs).
        num_threads: CPU threads of the TFLite interpreter (default: the interpreter's choice).

    Returns:
        An :class:`ExportReport` (print it, or show it in a notebook).

    Raises:
        ValueError: not a Keras model, a model with several inputs or outputs or no fixed
            image size, an unknown ``quantize``, ``"int8"`` without ``representative_data`` (or
            ``representative_data`` with another setting),
            a ``path`` without ``.tflite`` or in a missing folder, ``labels`` without
            ``images`` or of another length, a converter failure (named, with the setting).
        ImageError: ``images`` or ``representative_data`` of the wrong shape or values.

    Example:
        >>> report = to_tflite(model, "pneumonia_int8.tflite", "int8", x_train[:200],
        ...                    images=x_test, labels=y_test)
        >>> report.label_agreement
        0.99
    """
    model = require_model(model)
    input_shape = _image_input_shape(model)
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}, got {quantize!r}.")
    target = Path(path)
    if target.suffix != ".tflite":
        raise ValueError(f"path must end in .tflite (the file TFLite runtimes load), got {str(target)!r}: "
                         f"e.g. {str(target.with_suffix('.tflite'))!r}.")
    if not target.parent.is_dir():
        raise ValueError(f"The folder {target.parent} does not exist: create it first (Path(...).mkdir(parents=True)).")
    timing_runs = count(timing_runs, "timing_runs", example=10)
    calibration = None
    if quantize == "int8":
        if representative_data is None:
            raise ValueError(
                "quantize='int8' needs representative_data: a few hundred training images (RGB 0-255) that "
                "calibrate the activation ranges, e.g. to_tflite(model, path, 'int8', representative_data=x_train[:200]).")
        calibration = to_rgb_batch(representative_data, input_shape=input_shape, single=True, role="representative_data")
    elif representative_data is not None:
        raise ValueError(f"representative_data calibrates full-integer quantisation only; with quantize={quantize!r} "
                         "nothing uses it. Pass quantize='int8', or leave representative_data out.")
    compared = None if images is None else to_rgb_batch(images, input_shape=input_shape, single=True)
    y = _checked_labels(labels, compared)

    with atomic_path(target) as tmp:
        tmp.write_bytes(_convert(model, quantize, calibration))
    interpreter = tflite_interpreter(target, num_threads)
    notes = [] if compared is not None else ["No images given: nothing compared (pass images=... for the parity check)."]
    report = ExportReport(path=target, quantize=quantize, size_bytes=target.stat().st_size, images=0,
                          max_abs_diff=None, label_agreement=None, auc_keras=None, auc_tflite=None,
                          latency_keras_ms=0.0, latency_tflite_ms=0.0, interpreter=_interpreter_name(interpreter),
                          notes=notes)
    timing_image = (compared if compared is not None else calibration if calibration is not None
                    else np.full((1, *input_shape), 127.5, np.float32))[:1]
    report.latency_keras_ms, report.latency_tflite_ms = _latencies(model, interpreter, timing_image, timing_runs)
    if compared is not None:
        _compare(report, model, interpreter, compared, y, threshold)
    return report


def _image_input_shape(model: keras.Model) -> tuple[int, int, int]:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"to_tflite exports models with one image input and one output; {model.name!r} has "
                         f"{len(model.inputs)} inputs and {len(model.outputs)} outputs.")
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or shape[-1] != 3 or None in shape:
        raise ValueError(f"to_tflite needs a fixed image input (H, W, 3); {model.name!r} takes {shape}. Build the "
                         "model at the size the device will use, e.g. build_classifier(..., input_shape=(224, 224, 3)).")
    return shape


def _checked_labels(labels, images: Optional[np.ndarray]) -> Optional[np.ndarray]:
    if labels is None:
        return None
    if images is None:
        raise ValueError("labels were given without images: pass images=... with labels=... to compare the AUCs.")
    y = as_labels(labels, "labels")
    if len(y) != len(images):
        raise ValueError(f"labels has {len(y)} entries but images has {len(images)}: pass one label per image.")
    return y


def inference_model(model: keras.Model) -> keras.Model:
    """``model`` without its random augmentation layers, which pass images through unchanged at inference.

    The TFLite converter has no kernels for their random ops (``StatelessRandomUniformV2``,
    ``ImageProjectiveTransformV3``), which stay in the exported graph even though inference skips
    them; the copy shares every other layer (and its weights) with ``model``. A model without
    such layers is returned as it is.

    Example:
        >>> inference_model(build_classifier("efficientnet_lite0", 2, augmentation=augmentation())).layers[1].name
        'efficientnet_lite0'
    """
    skipped = {layer.name for layer in model.layers if is_random_augmentation(layer)}
    if not skipped or not compat.is_functional(model):
        return model
    inputs = keras.Input(model.input_shape[1:], name=model.inputs[0].name.split(":")[0])

    def call(layer, *args, **kwargs):
        return args[0] if layer.name in skipped else layer(*args, **kwargs)

    return keras.Model(inputs, compat.run_through_graph(model, inputs, call), name=model.name)


def _convert(model: keras.Model, quantize: Optional[str], calibration: Optional[np.ndarray]) -> bytes:
    model = inference_model(model)
    with tempfile.TemporaryDirectory(prefix="daylib_export_") as folder, _tf_logs_above_info():
        model.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if quantize is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "int8":
            converter.representative_dataset = _representative(calibration)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        try:
            return converter.convert()
        except Exception as error:  # the converter raises ConverterError, RuntimeError or ValueError
            raise ValueError(
                f"TensorFlow's TFLite converter failed on {model.name!r} with quantize={quantize!r}: "
                f"{str(error).strip()[:600]}. A layer without a TFLite kernel for this setting cannot be exported; "
                "try quantize=None or 'dynamic'."
            ) from error


@contextlib.contextmanager
def _tf_logs_above_info() -> Iterator[None]:
    """Hide TensorFlow's Python INFO lines ("Assets written to ...") during the export; warnings still show."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def _representative(calibration: np.ndarray) -> Callable:
    def batches():
        for image in calibration:
            yield [image[None]]
    return batches


def _interpreter_class() -> type:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        warnings.warn(
            "The ai-edge-litert package is not installed (it has no wheel for this platform, e.g. Intel macOS): "
            "daylib.export runs the file with tf.lite.Interpreter, which TensorFlow deprecates. Install "
            "ai-edge-litert where it is available (pip install ai-edge-litert).", UserWarning, stacklevel=3)
        return tf.lite.Interpreter
    return Interpreter


def _interpreter_name(interpreter: Any) -> str:
    return f"{type(interpreter).__module__}.{type(interpreter).__name__}"


def _run_tflite(interpreter: Any, batch: np.ndarray) -> np.ndarray:
    source, result = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for image in batch:
        interpreter.set_tensor(source["index"], image[None].astype(source["dtype"]))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(result["index"]).astype(np.float32))
    return np.concatenate(outputs)


def _median_ms(run: Callable[[], Any], runs: int) -> float:
    for _ in range(2):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def _latencies(model: keras.Model, interpreter: Any, image: np.ndarray, runs: int) -> tuple[float, float]:
    keras_forward, tensor = forward(model), tf.constant(image)
    keras_ms = _median_ms(lambda: np.asarray(keras_forward(tensor)), runs)
    tflite_ms = _median_ms(lambda: _run_tflite(interpreter, image), runs)
    return keras_ms, tflite_ms


def _compare(report: ExportReport, model: keras.Model, interpreter: Any, images: np.ndarray,
             labels: Optional[np.ndarray], threshold: float) -> None:
    keras_out, _ = predict(model, images)
    tflite_out = _run_tflite(interpreter, images)
    report.images = len(images)
    report.max_abs_diff = float(np.max(np.abs(tflite_out - keras_out)))
    keras_scores, tflite_scores = as_scores(keras_out, len(images)), as_scores(tflite_out, len(images))
    agree = predicted_labels(keras_scores, threshold) == predicted_labels(tflite_scores, threshold)
    report.label_agreement = float(np.mean(agree))
    if labels is not None:
        try:
            report.auc_keras, report.auc_tflite = roc_auc(labels, keras_scores), roc_auc(labels, tflite_scores)
        except UndefinedMetricError as error:
            report.notes.append(f"ROC AUC not reported: {error}")
