"""Lesson 07's exercise checks: each solution passes, plausible wrong answers fail with a message that says why.

Exercise 3 needs only scores and labels, so the tests draw validation and test scores of a model that separates
the classes imperfectly; exercise 5 needs splits with Kaggle-style file names. The worked answers get a test
report from ``evaluate`` and a stand-in heatmap method. No model is built: the file runs in well under a second.
"""
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from daylib.data.splits import Split, patient_id
from daylib.evaluate import choose_threshold, evaluate
from daylib.exercises import lesson07 as ex


def scores(n: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.6).astype(int)
    return labels, np.clip(0.35 * labels + rng.normal(0.35, 0.18, n), 0, 1)


@pytest.fixture(scope="module")
def lesson():
    y_val, s_val = scores(60, 1)
    y_test, s_test = scores(90, 2)
    data = SimpleNamespace(source="phantom", val=SimpleNamespace(labels=y_val), train=None)
    report = evaluate(y_test, s_test, bootstrap=50)
    return {"np": np, "choose_threshold": choose_threshold, "evaluate": evaluate, "data": data, "s_val": s_val,
            "y_test": y_test, "s_test": s_test, "report": report}


def solve(exercise, namespace: dict) -> dict:
    scope = dict(namespace)
    exec(textwrap.dedent(exercise.solution_code), scope)
    return scope


def test_every_exercise_has_a_check_or_an_answer():
    assert [q.key for q in ex.EXERCISES] == [f"lesson07.q{i}" for i in range(1, 6)]
    assert all(q.checkable or q.answerable for q in ex.EXERCISES)
    assert all(q.solution_code for q in ex.EXERCISES if q.checkable)


@pytest.mark.parametrize("q", [q for q in ex.EXERCISES if q.checkable], ids=lambda q: q.key)
def test_none_is_unanswered(q):
    placeholders = (None,) * (5 if q is ex.q3 else 2)
    assert q.check(*placeholders).status == "unanswered"


def test_q3_operating_points(lesson):
    scope = solve(ex.q3, lesson)
    points = scope["operating_points"]
    args = (lesson["data"].val.labels, lesson["s_val"], lesson["y_test"], lesson["s_test"])
    assert ex.q3.check(points, *args).passed
    assert ex.q3.check({k: (round(s, 3), fp) for k, (s, fp) in points.items()}, *args).passed
    one_more = ex.q3.check({**points, 0.8: (points[0.8][0], points[0.8][1] + 1)}, *args)
    assert one_more.status == "wrong" and "recomputed" in one_more.message
    on_test = {}
    for target in (0.8, 0.99):  # the threshold tuned on the test scores: the mistake the lesson warns about
        choice = choose_threshold(lesson["y_test"], lesson["s_test"], target_sensitivity=target)
        fp = int(((lesson["s_test"] >= choice.threshold) & (lesson["y_test"] == 0)).sum())
        on_test[target] = (evaluate(lesson["y_test"], lesson["s_test"], threshold=choice, bootstrap=0)["specificity"], fp)
    if on_test != points:
        result = ex.q3.check(on_test, *args)
        assert result.status == "wrong" and "chosen on the test scores" in result.message
    assert "no entry for target sensitivity 0.99" in ex.q3.check({0.8: points[0.8]}, *args).message
    assert "percentage" in ex.q3.check({0.8: (85, 3), 0.99: points[0.99]}, *args).message
    assert ex.q3.check(points, None, *args[1:]).status == "unanswered"
    text = ex.q3.answer(*args).text
    assert f"{points[0.99][0]:.3f}" in text and "| 0.95 |" in text and "Screening" in text


def test_q5_patients_in_both():
    names = ["person1_bacteria_1.jpeg", "person1_bacteria_2.jpeg", "person2_virus_3.jpeg", "IM-0115-0001.jpeg"]
    train = Split(labels=np.array([1, 1, 1, 0]), paths=names)
    val = Split(labels=np.array([1, 1, 0]), paths=["person1_bacteria_5.jpeg", "person1_bacteria_6.jpeg",
                                                   "IM-0999-0001.jpeg"])
    data = SimpleNamespace(source="kaggle", train=train, val=val)

    def shared_patients(a, b):  # the lesson's section-2 function
        return len({patient_id(p) for p in a.paths} & {patient_id(p) for p in b.paths})

    scope = solve(ex.q5, {"data": data, "shared_patients": shared_patients})
    assert scope["patients_in_both"] == 1 and ex.q5.check(1, data).passed
    films = ex.q5.check(2, data)
    assert films.status == "wrong" and "films" in films.message
    assert "must be a whole number" in ex.q5.check(1.0, data).message
    phantom = SimpleNamespace(source="phantom", train=Split(labels=np.array([0, 1])), val=Split(labels=np.array([1])))
    assert solve(ex.q5, {"data": phantom, "shared_patients": shared_patients})["patients_in_both"] == 0
    assert ex.q5.check(0, phantom).passed and ex.q5.check(3, phantom).status == "wrong"


def test_worked_answers_read_the_numbers(lesson):
    report = lesson["report"]
    after_phase = {"phase 1 (head)": (0.81, 0.874), "phase 2 (fine-tuned)": (0.83, 0.902)}
    text = ex.q1.answer(after_phase, report, 10, 40).text
    assert "+0.028" in text and "`TOP_N = 40`" in text and f"{report['auc']:.3f}" in text
    assert "0.874" in ex.q2.answer(after_phase, 30).text
    rng = np.random.default_rng(0)
    y_test = lesson["y_test"]
    x_test = np.zeros((len(y_test), 16, 16, 3), np.float32)
    masks = np.zeros((len(y_test), 16, 16), bool)
    masks[:, 4:8, 4:8] = True

    def cam(images, classes=None):  # a stand-in heatmap method: its peak on the lesion every time
        heat = rng.random((len(images), 16, 16)) * 0.1
        heat[:, 5, 5] = 1.0
        return heat

    text = ex.q4.answer(report, cam, x_test, y_test, masks, 4).text
    assert "Grad-CAM\n1.000" in text and "Grad-CAM is better" in text
    assert "no lesion masks" in ex.q4.answer(report, cam, x_test, y_test, None, 4).text
    text = ex.q5.answer(report, 0).text
    assert "0.968" in text and "Patients in both train and val: 0" in text
