"""Lesson 09's exercise checks: each solution passes, plausible wrong answers fail with a message that says why.

The checks read SanityResult objects, so the tests run the lesson's cascade on a tiny network shaped and named like
its EfficientNet-Lite0 (a ReLU6 ``block6a_expand_activation``, a last ``top_activation``, GAP and a softmax head;
random weights, 32 px) with the four quick-mode methods, and exec the solutions in a namespace holding the names
the lesson defines before its Exercises section (``model``, ``photos``, ``method``, ``cascade``, ...).
"""
import dataclasses
import functools
import textwrap

import keras
import numpy as np
import pytest

from _helpers_cam import images as blob_images
from daylib.cam import METHODS
from daylib.cam.sanity import PASS_THRESHOLD, cascading_randomization
from daylib.exercises import lesson09 as ex

SIZE = 32
SANITY = ["Grad-CAM", "Saliency", "Guided Backprop", "Guided Grad-CAM"]


def lite0_shaped(size: int = SIZE) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 128.0, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem_conv")(x)
    x = keras.layers.ReLU(6.0, name="block6a_expand_activation")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="top_conv")(x)
    x = keras.layers.ReLU(6.0, name="top_activation")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lite0_shaped")


@pytest.fixture(scope="module")
def lesson():
    model = lite0_shaped()
    photos = blob_images(2, SIZE, seed=3)
    top_classes = model.predict(photos, verbose=0).argmax(axis=1)

    @functools.cache
    def build(label, model):
        return METHODS[label](model)

    def method(label):
        return functools.partial(build, label)

    cascade = cascading_randomization(model, photos, {label: method(label) for label in SANITY},
                                      classes=top_classes, seed=0, progress=False)
    return {"np": np, "model": model, "photos": photos, "top_classes": top_classes, "SANITY": SANITY,
            "method": method, "cascade": cascade, "PASS_THRESHOLD": PASS_THRESHOLD, "METHODS": METHODS,
            "cascading_randomization": cascading_randomization, "ex": ex}


def solve(exercise, namespace: dict) -> dict:
    scope = dict(namespace)
    exec(textwrap.dedent(exercise.solution_code), scope)
    return scope


def test_every_exercise_has_a_check_or_an_answer():
    assert [q.key for q in ex.EXERCISES] == [f"lesson09.q{i}" for i in range(1, 6)]
    for q in [*ex.EXERCISES, *ex.QUESTIONS.values()]:
        assert q.checkable or q.answerable, q.key
    assert all(q.solution_code for q in ex.EXERCISES if q.checkable)
    assert len(ex.QUESTIONS) == 4


@pytest.mark.parametrize("q", [q for q in ex.EXERCISES if q.checkable], ids=lambda q: q.key)
def test_none_is_unanswered(q):
    assert q.check(None, None, None, None).status == "unanswered"


def test_q1_independent_randomization(lesson):
    scope = solve(ex.q1, lesson)
    independent, cascade = scope["independent"], lesson["cascade"]
    assert ex.q1.check(scope["most_changed"], scope["agrees"], independent, cascade).passed
    flipped = ex.q1.check(scope["most_changed"], not scope["agrees"], independent, cascade)
    assert flipped.status == "wrong" and "agrees should be" in flipped.message
    other = next(step for step in independent.steps if step != scope["most_changed"]["Grad-CAM"])
    result = ex.q1.check({**scope["most_changed"], "Grad-CAM": other}, scope["agrees"], independent, cascade)
    assert result.status == "wrong" and "Grad-CAM" in result.message and "lowest mean |ρ|" in result.message
    swapped = ex.q1.check(scope["most_changed"], scope["agrees"], cascade, cascade)
    assert swapped.status == "wrong" and "'independent'" in swapped.message
    text = ex.q1.answer(independent, cascade).text
    assert independent.steps[0] in text and "| Grad-CAM |" in text


def test_q2_stricter_bar(lesson):
    scope = solve(ex.q2, lesson)
    strict, cascade = scope["strict"], lesson["cascade"]
    assert ex.q2.check(scope["flipped"], strict, cascade).passed
    failing = [label for label, ok in cascade.passes().items() if not ok]
    everything_failing = [label for label, ok in strict.passes().items() if not ok]
    if failing:  # listing every method that fails at the stricter bar, the ones that failed already included
        result = ex.q2.check(everything_failing, strict, cascade)
        assert result.status == "wrong" and "already failed" in result.message
    result = ex.q2.check(["Grad-CAM", "Saliency", "Guided Backprop", "Guided Grad-CAM"], strict, cascade)
    assert result.status == "wrong"
    assert ex.q2.check(scope["flipped"], cascade, cascade).status == "wrong"  # not the halved threshold
    assert "|---|" in ex.q2.answer(strict, cascade).text


def test_q2_recognises_exactly_the_methods_between_the_thresholds(lesson):
    cascade = lesson["cascade"]
    rule = ex._rule(cascade)
    label = sorted(rule)[0]
    loose = dataclasses.replace(cascade, threshold=min(1.0, rule[label] + 0.01))  # label passes just under the bar
    strict = dataclasses.replace(loose, threshold=loose.threshold / 2)
    expected = [m for m, value in rule.items() if strict.threshold <= value < loose.threshold]
    assert label in expected
    assert ex.q2.check(expected, strict, loose).passed
    missing = ex.q2.check([m for m in expected if m != label], strict, loose)
    assert missing.status == "wrong" and f"missing: {label}" in missing.message


def test_q3_signed_or_absolute(lesson):
    scope = solve(ex.q3, lesson)
    cascade = lesson["cascade"]
    assert set(scope["sign_gaps"]) <= set(SANITY) and "Saliency" in scope["sign_gaps"]
    assert ex.q3.check(scope["sign_gaps"], cascade).passed
    assert ex.q3.check({k: round(v, 2) for k, v in scope["sign_gaps"].items()}, cascade).passed
    off = ex.q3.check({**scope["sign_gaps"], "Saliency": scope["sign_gaps"]["Saliency"] + 0.2}, cascade)
    assert off.status == "wrong" and "Saliency" in off.message
    absolute, signed = cascade.similarity("spearman_abs"), cascade.similarity("spearman_signed")
    last = {label: float(absolute[label][-1].mean() - signed[label][-1].mean()) for label in signed}
    if any(abs(last[label] - scope["sign_gaps"][label]) > 0.01 for label in last):
        assert "last step" in ex.q3.check(last, cascade).message
    missing = ex.q3.check({"Saliency": scope["sign_gaps"]["Saliency"]}, cascade)
    assert missing.status == "wrong"
    assert ex.q3.check("Saliency", cascade).status == "wrong"  # a name instead of the dict
    assert f"{scope['sign_gaps']['Saliency']:+.2f}" in ex.q3.answer(scope["sign_gaps"]).text


def test_q4_answer_reads_the_run():
    from daylib.evaluate import evaluate

    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(10, int), np.ones(10, int)]
    report = evaluate(labels, np.clip(labels * 0.6 + rng.random(20) * 0.5, 0, 1), bootstrap=0)
    scores = {("Grad-CAM", "trained"): rng.random(6) * 0.2, ("Grad-CAM", "random"): rng.random(6) * 0.1}
    text = ex.q4.answer(report, scores, "medium").text
    assert "'medium'" in text and f"{report['accuracy']:.3f}" in text and "| Grad-CAM |" in text


def test_q5_guided_gradcam_at_an_earlier_layer(lesson):
    scope = solve(ex.q5, lesson)
    early, cascade = scope["early_cascade"], lesson["cascade"]
    assert ex.q5.check(scope["early_passes"], scope["follows"], early, cascade).passed
    other = "Grad-CAM" if scope["follows"] == "Guided Backprop" else "Guided Backprop"
    result = ex.q5.check(scope["early_passes"], other, early, cascade)
    assert result.status == "wrong" and "curve is on average" in result.message
    result = ex.q5.check(not scope["early_passes"], scope["follows"], early, cascade)
    assert result.status == "wrong" and "early_passes is" in result.message
    assert ex.q5.check(scope["early_passes"], "Saliency", early, cascade).status == "wrong"
    last_layer = dataclasses.replace(  # section 3's last-layer product under the new label: the cached build(...)
        cascade, methods=[ex.EARLY_LABEL], original={ex.EARLY_LABEL: cascade.original["Guided Grad-CAM"]},
        rows=[dict(row, method=ex.EARLY_LABEL) for row in cascade.rows if row["method"] == "Guided Grad-CAM"])
    result = ex.q5.check(scope["early_passes"], scope["follows"], last_layer, cascade)
    assert result.status == "wrong" and "last layer" in result.message
    assert ex.EARLY_LABEL in ex.q5.answer(early, cascade).text


def test_in_text_questions_use_the_run(lesson):
    cascade = lesson["cascade"]
    assert "Guided Backprop" in ex.QUESTIONS["lesson09.question1"].answer(cascade).text
    assert cascade.steps[0] in ex.QUESTIONS["lesson09.question2"].answer(cascade).text
    scores = {("Saliency", "trained"): np.array([0.1, 0.2]), ("Saliency", "random"): np.array([0.3, 0.5])}
    assert "Saliency 0.400" in ex.QUESTIONS["lesson09.question3"].answer(scores, 0.05).text

    class Curve:
        def __init__(self, auc):
            self.auc = np.array([auc])

    curves = {"Saliency": {"deletion": Curve(0.1), "ROAD": Curve(0.6)}}
    assert "deletion 0.100, ROAD 0.600" in ex.QUESTIONS["lesson09.question4"].answer(curves).text
