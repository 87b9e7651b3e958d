"""Lesson 04's exercise checks: each solution passes, plausible wrong answers fail with a message that says why.

The checks recompute Grad-CAM with daylib on whatever model they are given, so the tests use a tiny
network shaped and named like the lesson's EfficientNet-Lite0 (a ReLU layer ``block6a_expand_activation``,
a last ``top_activation``, then ``avg_pool``, ``top_dropout`` and a 1000-class ``predictions``; random
weights, 32 px) and the two shipped photos shrunk to 32 px: the lesson's own layer names, traced in a
fraction of a second. The solutions run in a namespace holding the lesson's ``class_gradients`` and
``grad_cam`` (copied from section 2).
"""
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from daylib.cam import LayerCAM
from daylib.cam.metrics import boxes_to_masks, energy_pointing, random_heatmaps
from daylib.data.images import resize
from daylib.exercises import lesson04 as ex
from daylib.exercises.core import Exercise
from daylib.models.imagenet import class_names

SIZE = 32


def lite0_shaped(size: int = SIZE) -> keras.Model:
    """A tiny GAP + dense classifier with the layer names the lesson uses."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 128.0, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)
    x = keras.layers.ReLU(6.0, name="block6a_expand_activation")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(x)
    x = keras.layers.ReLU(6.0, name="top_activation")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(0.2, name="top_dropout")(x)
    outputs = keras.layers.Dense(1000, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lite0_shaped")
CLASSES = np.array([285, 967])  # Egyptian cat, espresso


@pytest.fixture(scope="module")
def lesson(cat_photo, coffee_photo):
    """The names the lesson defines before its Exercises section, on a tiny model."""
    model = lite0_shaped()
    images = np.stack([resize(cat_photo, SIZE), resize(coffee_photo, SIZE)]).astype(np.float32)
    dense = model.get_layer("predictions")
    grad_model = keras.Model(model.input, [model.get_layer("top_activation").output,
                                           model.get_layer("top_dropout").output])

    def class_gradients(images, classes, score="logit", at=grad_model):
        with tf.GradientTape() as tape:
            features, pooled = at(images, training=False)
            logits = pooled @ dense.kernel + dense.bias
            outputs = logits if score == "logit" else tf.nn.softmax(logits)
            scores = tf.reduce_sum(outputs * tf.one_hot(classes, outputs.shape[-1]), axis=-1)
        return features, tape.gradient(scores, features)

    def grad_cam(images, classes, score="logit"):
        features, gradients = class_gradients(images, classes, score)
        weights = tf.reduce_mean(gradients, axis=(1, 2))
        return tf.nn.relu(tf.einsum("bhwk,bk->bhw", features, weights)).numpy()

    probabilities = model.predict(images, verbose=0)
    return {"np": np, "tf": tf, "model": model, "images": images, "dense": dense, "names": class_names(),
            "class_gradients": class_gradients, "grad_cam": grad_cam, "probabilities": probabilities,
            "top_classes": probabilities.argmax(axis=1), "size": SIZE, "energy_pointing": energy_pointing,
            "boxes_to_masks": boxes_to_masks}


def solve(exercise: Exercise, namespace: dict) -> dict:
    scope = dict(namespace)
    exec(textwrap.dedent(exercise.solution_code), scope)
    return scope


def test_every_exercise_has_a_check_or_an_answer():
    assert [q.key for q in ex.EXERCISES] == [f"lesson04.q{i}" for i in range(1, 6)]
    for q in [*ex.EXERCISES, *ex.QUESTIONS.values()]:
        assert q.checkable or q.answerable, q.key
    assert all(q.checkable and q.answerable and q.solution_code for q in ex.EXERCISES)


@pytest.mark.parametrize("q", ex.EXERCISES, ids=lambda q: q.key)
def test_none_is_unanswered(q):
    assert q.check(None).status == "unanswered"


def test_q1_earlier_layer(lesson):
    model, images = lesson["model"], lesson["images"]
    box = np.array([(5, 3, 25, 25)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        early = {"Grad-CAM": ex._grad_cam(model, ex.EARLIER_LAYER)(images, classes=CLASSES),  # the check's own CAM
                 "LayerCAM": LayerCAM(model, layer=ex.EARLIER_LAYER)(images, classes=CLASSES)}
        energy = {name: float(energy_pointing(maps[:1], box)[0]) for name, maps in early.items()}
        assert ex.q1.check(energy, early, model, images, CLASSES, box).passed
        assert ex.q1.check({k: round(v, 2) for k, v in energy.items()}, early, model, images, CLASSES, box).passed
        last = {"Grad-CAM": ex._grad_cam(model)(images, classes=CLASSES)}
        result = ex.q1.check({"Grad-CAM": 0.5}, last, model, images, CLASSES, box)
    assert result.status == "wrong" and "last layer" in result.message
    off = ex.q1.check({**energy, "LayerCAM": energy["LayerCAM"] + 0.1}, early, model, images, CLASSES, box)
    assert off.status == "wrong" and "LayerCAM" in off.message
    table = {"Grad-CAM": {"deletion": 0.20, "insertion": 0.62}, "LayerCAM": {"deletion": 0.19, "insertion": 0.60}}
    early_table = {"Grad-CAM": {"deletion": 0.23, "insertion": 0.28}, "LayerCAM": {"deletion": 0.15, "insertion": 0.67},
                   "random": {"deletion": 0.24, "insertion": 0.36}}
    text = ex.q1.answer(early_table, table, energy).text
    assert "0.620 → 0.280" in text and "**LayerCAM**" in text and "Grad-CAM no longer beats" in text


def test_q2_saturation(lesson):
    scope = solve(ex.q2, lesson)
    model, espresso = lesson["model"], lesson["images"][1:]
    assert scope["probability_peak"] < scope["logit_peak"]
    assert ex.q2.check(scope["probability_peak"], scope["logit_peak"], model, espresso).passed
    swapped = ex.q2.check(scope["logit_peak"], scope["probability_peak"], model, espresso)
    assert swapped.status == "wrong" and "swapped" in swapped.message
    normalised = ex.q2.check(1.0, scope["logit_peak"], model, espresso)
    assert "normalised" in normalised.message
    text = ex.q2.answer(scope["probability_peak"], scope["logit_peak"], scope["p"]).text
    assert f"{scope['logit_peak']:.3g}" in text and "p(1-p)" in text


def test_q3_batch_axis(lesson):
    scope = solve(ex.q3, {**lesson, "top_classes": CLASSES})
    args = (lesson["model"], lesson["images"], CLASSES)
    assert ex.q3.check(scope["batch_cat_map"], scope["single_cat_map"], *args).passed
    same = ex.q3.check(scope["single_cat_map"], scope["single_cat_map"], *args)
    assert same.status == "wrong" and "axis=(0, 1, 2)" in same.message
    upsampled = ex.q3.check(np.ones((SIZE, SIZE)), scope["single_cat_map"], *args)
    assert upsampled.status == "wrong" and "resolution" in upsampled.message
    assert "correlates" in ex.q3.answer(scope["batch_cat_map"], scope["single_cat_map"]).text


def test_q4_tight_box(lesson):
    maps = random_heatmaps((2, 224, 224), seed=5)
    namespace = {**lesson, "size": 224, "baseline": random_heatmaps((6, 224, 224), seed=1),
                 "method_maps": {"Grad-CAM": maps, "LayerCAM": maps ** 3}}
    scope = solve(ex.q4, namespace)
    args = (namespace["method_maps"], namespace["baseline"])
    assert ex.q4.check(scope["tight_energy"], scope["tight_random"], *args).passed
    old_box = np.array([ex.CAT_FACE_BOX])
    old = {name: float(energy_pointing(m[:1], old_box)[0]) for name, m in namespace["method_maps"].items()}
    result = ex.q4.check(old, scope["tight_random"], *args)
    assert result.status == "wrong" and "old box" in result.message
    assert ex.q4.check(scope["tight_energy"], None, *args).status == "unanswered"
    text = ex.q4.answer(scope["tight_energy"], scope["tight_random"], scope["tight_share"]).text
    assert f"{scope['tight_share']:.0%}" in text and "LayerCAM" in text


def test_q5_empty_maps(lesson):
    scope = solve(ex.q5, lesson)
    model, images = lesson["model"], lesson["images"]
    assert scope["empty_names"]
    assert ex.q5.check(scope["empty_names"], model, images).passed
    short = ex.q5.check(scope["empty_names"][1:], model, images)
    assert short.status == "wrong" and scope["empty_names"][0] in short.message
    text = ex.q5.answer(scope["empty_names"], lesson["probabilities"][1]).text
    assert scope["empty_names"][0] in text and "#" in text


def test_question_answer_uses_the_correlations():
    class FakeCam:
        last_classes = np.array([[285, 281]])

    maps = np.random.default_rng(0).random((1, 2, 8, 8))
    maps[0, 1] = maps[0, 0]
    text = ex.QUESTIONS["lesson04.question1"].answer(maps, FakeCam()).text
    assert "tabby 1.00" in text
