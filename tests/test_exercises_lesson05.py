"""Lesson 05's exercise checks: the solutions pass, plausible wrong answers fail with a helpful message.

Tiny stand-ins for the lesson's models: small CNNs at 32 px on a dozen phantom films, untrained (a check
recomputes its reference from whatever model it is given, trained or not).
"""
import warnings

import numpy as np
import pytest

from daylib.cam import GradCAM
from daylib.cam.metrics import heatmap_agreement
from daylib.data.images import to_rgb_batch
from daylib.data.phantom import make_phantom
from daylib.data.pipeline import augmentation
from daylib.evaluate import evaluate, scores_and_labels
from daylib.exercises import lesson05 as ex
from daylib.models import build_classifier, small_cnn, unfreeze

SIZE = 32


@pytest.fixture(scope="module")
def films():
    films = make_phantom(8, SIZE, seed=3)
    return to_rgb_batch(films.images), films.labels


def _small(name, **kwargs):
    return build_classifier(small_cnn((SIZE, SIZE, 3), filters=(4, 8)), 2, name=name, **kwargs)


@pytest.fixture(scope="module")
def models():
    return {
        "from scratch": _small("scratch"),
        "no flip": _small("no_flip", augmentation=augmentation(horizontal_flip=False, seed=0)),
        "flip": _small("flip", augmentation=augmentation(horizontal_flip=True, seed=0)),
    }


@pytest.fixture(scope="module")
def reports():
    """Three made-up reports with AUCs 1.0 > 0.75 > 0.5 on 40 films (baseline accuracy 0.5)."""
    labels = np.array([0, 1] * 20)
    rng = np.random.default_rng(0)
    perfect = labels * 0.8 + 0.1
    middling = np.where(rng.random(40) < 0.75, perfect, 1 - perfect) * 0.9 + 0.05
    noise = rng.random(40)
    return {name: evaluate(labels, scores, bootstrap=200)
            for name, scores in (("from scratch", noise), ("transfer", perfect), ("transfer + aug", middling))}


def _run(code: str, **namespace):
    exec(code, namespace)
    return namespace


def test_unanswered_placeholders(reports):
    for question in ex.EXERCISES:
        assert question.check(None, reports).status == "unanswered"
    assert len(ex.EXERCISES) == 5 and all(q.checkable and q.answerable for q in ex.EXERCISES)


def test_q1_interval_against_baseline(reports):
    solved = _run(ex.q1.solution_code, reports=reports)["scratch_beats_baseline"]
    assert solved is False  # random scores: the interval holds the baseline
    assert ex.q1.check(solved, reports["from scratch"])
    result = ex.q1.check(True, reports["from scratch"])
    assert not result and "interval" in result.message and "baseline" in result.message
    assert ex.q1.check(True, reports["transfer"]) and not ex.q1.check(False, reports["transfer"])
    assert "True or False" in ex.q1.check("yes", reports["from scratch"]).message
    scores = {name: {"pointing": 0.1, "energy lesions": 0.04, "energy lungs": 0.3} for name in reports}
    chance = {"pointing": 0.036, "energy lesions": 0.036, "energy lungs": 0.25}
    text = ex.q1.answer(reports, scores, chance).text
    assert f"{reports['from scratch']['accuracy']:.3f}" in text and "0.036" in text


def test_q2_no_flip_model(films, models):
    images, labels = films
    model = models["no flip"]
    accuracy = evaluate(labels, scores_and_labels(model, (images, labels))[0])["accuracy"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        corr = heatmap_agreement(GradCAM(model), images[labels == 1], classes=1, transform="hflip").correlation.mean()
    assert ex.q2.check(model, accuracy, corr, images, labels)
    flipped = ex.q2.check(models["flip"], accuracy, corr, images, labels)
    assert not flipped and "horizontal_flip=False" in flipped.message
    plain = ex.q2.check(models["from scratch"], accuracy, corr, images, labels)
    assert not plain and "no augmentation" in plain.message
    off = ex.q2.check(model, accuracy + 0.25, corr + 0.1, images, labels)
    assert not off and "heatmap_agreement" in off.message and "+0.100" in off.message and "+0.250" in off.message
    assert ex.q2.check(model, None, corr, images, labels).status == "unanswered"
    robustness = {name: {"flip corr.": 0.7} for name in ("transfer", "transfer + aug")}
    reports = {name: {"accuracy": 0.7} for name in ("transfer", "transfer + aug")}
    assert f"{corr:.3f}" in ex.q2.answer(reports, robustness, accuracy, corr).text


def test_q3_ranking(reports):
    ranking = _run(ex.q3.solution_code, reports=reports)["ranking"]
    assert ranking == ["transfer", "transfer + aug", "from scratch"]
    assert ex.q3.check(ranking, reports)
    result = ex.q3.check(ranking[::-1], reports)
    assert not result and "higher AUC" in result.message
    assert "each of" in ex.q3.check(["transfer"], reports).message
    scores = {name: {"pointing": 0.2, "energy lesions": 0.05} for name in reports}
    text = ex.q3.answer(reports, scores, {"pointing": 0.08, "energy lesions": 0.08}).text
    assert "0.080" in text and f"{reports['transfer + aug']['auc']:.3f}" in text


def test_q4_fine_tuned(films):
    images, labels = films
    model = _small("fine_tuned")
    auc = evaluate(labels, scores_and_labels(model, (images, labels))[0])["auc"]
    head_only = ex.q4.check(model, auc, images, labels)
    assert not head_only and "fine_tune_epochs" in head_only.message
    unfreeze(model, top_n=2)
    assert ex.q4.check(model, auc, images, labels)
    off = ex.q4.check(model, auc - 0.2, images, labels)
    assert not off and "evaluate" in off.message
    assert "Keras model" in ex.q4.check("model", auc, images, labels).message
    reports = {"transfer": evaluate(np.array([0, 1] * 10), np.linspace(0, 1, 20), bootstrap=100)}
    assert f"{auc:.3f}" in ex.q4.answer(reports, auc).text


def test_q5_large_rotation(films, models):
    images, labels = films
    sick = labels == 1
    cams = {name: GradCAM(models[name]) for name in ("from scratch", "no flip")}
    rotate_30 = _run(ex.q5.solution_code, heatmap_agreement=heatmap_agreement, cams=cams, x_test=images,
                     sick=sick)["rotate_30"]
    assert ex.q5.check(rotate_30, cams, images[sick])
    off = ex.q5.check({name: value + 0.05 for name, value in rotate_30.items()}, cams, images[sick])
    assert not off and "heatmap_agreement" in off.message and "amount=30" in off.message
    assert "no value" in ex.q5.check({"flip": 0.5}, cams, images[sick]).message
    robustness = {name: {"rotate 10° corr.": 0.912} for name in cams}
    text = ex.q5.answer(rotate_30, robustness).text
    assert all(f"{value:.3f}" in text for value in rotate_30.values()) and "0.912" in text
