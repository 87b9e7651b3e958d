"""Lesson 08's exercise checks: the solutions pass, plausible wrong answers fail with a helpful message.

The lesson's own functions (``test_results``, ``letter_test``, ``hide_marker``, ...) are taken from the notebook's
code cells, so the checks are tested against the notebook's definitions. Tiny stand-ins for its models, on a dozen
64 px phantom films: an untrained small CNN, and a "letter reader" whose score is the brightness of the marker
corner (R is drawn with more white than L), i.e. a model that takes the shortcut and nothing else.
"""
import ast
import re
import types

import keras
import nbformat
import numpy as np
import pytest

from daylib.config import REPO_DIR
from daylib.data.phantom import MARKER_LETTERS, make_phantom
from daylib.exercises import lesson08 as ex
from daylib.models import base_model, build_classifier, small_cnn

SIZE, N = 64, 12
NOTEBOOK = REPO_DIR / "notebooks" / "08_shortcut_learning.ipynb"
LESSON_FUNCTIONS = {"letters", "scores", "test_results", "print_results", "letter_energies", "letter_test",
                    "hide_marker"}


def _small(name):
    return build_classifier(small_cnn((SIZE, SIZE, 3), filters=(4, 8)), 2, name=name)


def _letter_reader(tests, box):
    """Bright pixels (grey level above 200) in ``box``, zero elsewhere, thresholded between R and L films."""
    x0, y0, x1, y1 = box
    inputs = keras.Input((SIZE, SIZE, 3))
    grey = keras.layers.Conv2D(1, 1, activation="relu", name="grey")(inputs)
    x = keras.layers.Cropping2D(((0, SIZE - y1), (0, SIZE - x1)))(grey)
    x = keras.layers.ZeroPadding2D(((0, SIZE - y1), (0, SIZE - x1)), name="corner")(x)
    model = build_classifier(keras.Model(inputs, x, name="reader"), 2, name="letter_reader")
    model.get_layer("reader").get_layer("grey").set_weights([np.full((1, 1, 3, 1), 1 / 3), np.full(1, -200.0)])
    films = tests["uninformative"]
    bright = np.maximum(films.images[:, y0:y1, x0:x1] - 200.0, 0).reshape(N, -1).sum(axis=1) / SIZE**2
    is_r = films.markers == MARKER_LETTERS.index("R")
    r, l = np.median(bright[is_r]), np.median(bright[~is_r])
    assert r > l, "an R has more white than an L"
    gain = 50.0 / (r - l)
    model.get_layer("predictions").set_weights([np.array([[gain]]), np.array([-gain * (r + l) / 2])])
    return model


@pytest.fixture(scope="module")
def lesson():
    """The notebook's functions and the names its exercises use, on tiny films and models."""
    tests = {"uninformative": make_phantom(N, size=SIZE, shortcut=0.5, seed=3),
             "flipped": make_phantom(N, size=SIZE, shortcut=0.0, seed=3)}
    unmarked = make_phantom(N, size=SIZE, shortcut=None, seed=3)
    rows, cols = np.nonzero((tests["uninformative"].images != unmarked.images).any(axis=0))
    box = (0, 0, int(cols.max()) + 1, int(rows.max()) + 1)
    ns = {"tests": tests, "test": tests["uninformative"], "flipped": tests["flipped"], "BOX": box,
          "corner": (slice(None), slice(box[1], box[3]), slice(box[0], box[2])), "IMAGE_SIZE": SIZE,
          "train": make_phantom(8, size=SIZE, shortcut=0.95, seed=1), "val": make_phantom(4, size=SIZE, shortcut=0.95, seed=2),
          "N_TRAIN": 8, "N_VAL": 4, "SHORTCUT": 0.95, "HEAD_EPOCHS": 1, "box_area": box[2] * box[3] / SIZE**2}
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    imports = next(cell.source for cell in notebook.cells if "from daylib.cam import GradCAM" in cell.source)
    exec(imports, ns)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            source = re.sub(r"^(\s*)[%!].*$", r"\1pass", cell.source, flags=re.M)  # IPython magics
            for node in ast.parse(source).body:
                if isinstance(node, ast.FunctionDef) and node.name in LESSON_FUNCTIONS:
                    exec(compile(ast.Module([node], []), str(NOTEBOOK), "exec"), ns)
    assert LESSON_FUNCTIONS <= set(ns)
    ns["reader"] = _letter_reader(tests, box)
    ns["shortcut_model"], ns["fixed_model"] = ns["reader"], _small("fixed")
    ns["prepare"] = lambda images: images
    ns["before"] = ns["test_results"](ns["reader"])
    ns["with_r"], ns["with_l"] = ns["letter_test"](ns["reader"])
    return ns


@pytest.fixture(scope="module")
def masked(lesson):
    """Exercise 1's solution, with the letter reader standing in for the masked model."""
    return _run(ex.q1.solution_code, lesson, train_model=lambda *args: lesson["reader"])


def _run(code, ns, **changes):
    ns = {**ns, **changes}
    exec(code, ns)
    return ns


def test_every_exercise_is_there():
    assert [q.key for q in ex.EXERCISES] == [f"lesson08.q{i}" for i in range(1, 6)]
    assert all(q.checkable and q.answerable for q in ex.EXERCISES) and ex.QUESTIONS == {}
    for q in ex.EXERCISES:
        assert q.check(None, None, None).status == "unanswered"


def test_the_letter_reader_takes_the_shortcut(lesson):
    uninformative, flipped = lesson["before"]["uninformative"][0], lesson["before"]["flipped"][0]
    assert flipped < 0.2 < uninformative


def test_q1_masked_model(masked):
    ns = masked
    assert ex.q1.check(ns["mask_after"], ns["mask_letter"], ns["mask_model"], ns["tests"], ns["BOX"])
    raw = ns["test_results"](ns["mask_model"])          # forgot hide_marker
    result = ex.q1.check(raw, ns["mask_letter"], ns["mask_model"], ns["tests"], ns["BOX"])
    assert result.status == "wrong" and "hide_marker" in result.message and "flipped" in result.message
    unhidden_letter = ns["letter_test"](ns["mask_model"])
    assert "letter_test(mask_model, hide_marker)" in ex.q1.check(ns["mask_after"], unhidden_letter, ns["mask_model"],
                                                                 ns["tests"], ns["BOX"]).message
    assert "Keras model" in ex.q1.check(ns["mask_after"], ns["mask_letter"], "model", ns["tests"], ns["BOX"]).message
    text = ex.q1.answer(ns["before"], raw, ns["mask_after"], ns["mask_letter"]).text
    assert f"{ns['mask_after']['uninformative'][0]:.3f}" in text and "the same number" in text


def test_q2_weaker_shortcuts(lesson):
    ns = _run(ex.q2.solution_code, lesson, train_model=lambda *args: lesson["fixed_model"])
    assert sorted(ns["gaps"]) == [0.6, 0.75, 0.95]
    result = ex.q2.check(ns["gaps"], ns["models_by_strength"], ns["tests"])
    assert result.passed and "0.95: accuracy uninformative - flipped" in result.message, result.message
    reader = {0.95: lesson["reader"]}
    backwards = {0.95: lesson["before"]["flipped"][0] - lesson["before"]["uninformative"][0]}
    result = ex.q2.check(backwards, reader, ns["tests"])
    assert result.status == "wrong" and "subtract the other way" in result.message
    assert "no entry" in ex.q2.check({0.95: 0.5}, ns["models_by_strength"], ns["tests"]).message
    text = ex.q2.answer(ns["gaps"], ns["weak_letters"]).text
    assert f"{ns['gaps'][0.95]:+.3f}" in text and f"{ns['weak_letters'][0.95][0]:.3f}" in text


def test_q3_unmasked_films(masked):
    ns = _run(ex.q3.solution_code, masked)
    assert ex.q3.check(ns["unhidden"], ns["mask_model"], ns["tests"], ns["BOX"])
    result = ex.q3.check(ns["mask_after"], ns["mask_model"], ns["tests"], ns["BOX"])
    assert result.status == "wrong" and "corner hidden" in result.message
    text = ex.q3.answer(ns["unhidden"], ns["mask_after"]).text
    assert f"{ns['unhidden']['flipped'][0]:.3f}" in text


def test_q4_frozen_base(lesson):
    def train_classifier(factory, train, val, **settings):   # the arguments are checked, the training is skipped
        assert settings["fine_tune_epochs"] == 0 and len(train[0]) == len(train[1]) == 8 and len(val[0]) == 4
        return types.SimpleNamespace(model=factory())

    ns = _run(ex.q4.solution_code, lesson, BACKBONE=small_cnn((SIZE, SIZE, 3), filters=(4, 8)),
              train_classifier=train_classifier)
    assert ex.q4.check(ns["takes_shortcut"], ns["frozen_model"], ns["tests"])
    reader = lesson["reader"]
    assert ex.q4.check(True, reader, ns["tests"])              # the letter reader takes it, beyond noise
    result = ex.q4.check(False, reader, ns["tests"])
    assert result.status == "wrong" and "above 0" in result.message
    assert "True or False" in ex.q4.check("yes", reader, ns["tests"]).message
    tuned = _small("tuned")
    base_model(tuned).trainable = True
    assert "fine_tune_epochs=0" in ex.q4.check(True, tuned, ns["tests"]).message
    text = ex.q4.answer(ns["frozen_results"], ns["frozen_letter"], lesson["before"],
                        (lesson["with_r"], lesson["with_l"])).text
    assert f"{lesson['before']['flipped'][0]:.3f}" in text and f"{ns['frozen_letter'][0]:.3f}" in text


@pytest.mark.filterwarnings("ignore:GradCAM.*all zero:RuntimeWarning")
def test_q5_early_layer(lesson):
    early = "reader/grey"
    code = ex.q5.solution_code.replace(ex.EARLY_LAYER, early)
    ns = _run(code, lesson, fixed_model=lesson["reader"])
    args = (ns["shortcut_model"], ns["fixed_model"], ns["test"], ns["BOX"], ns["prepare"])
    assert ex.q5.check(ns["early_box"], *args, layer=early)
    last = _run(code.replace('layer=early_layer', 'layer=None'), ns)["early_box"]
    result = ex.q5.check(last, *args, layer=early)
    assert result.status == "wrong" and "last layer" in result.message, result.message
    heat = {"energy in marker box": 0.127}
    text = ex.q5.answer(ns["early_box"], heat, {"energy in marker box": 0.031}, ns["box_area"]).text
    assert f"{ns['early_box']['fixed']:.3f}" in text and "0.127" in text
    per_film = {"energy in marker box": np.array([0.1, 0.154])}  # the lesson's heatmap_scores: one score per film
    assert "0.127" in ex.q5.answer(ns["early_box"], per_film, {"energy in marker box": 0.031}, ns["box_area"]).text
