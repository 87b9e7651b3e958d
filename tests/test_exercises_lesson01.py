"""Exercises of lesson 01: every check passes its solution, fails a plausible wrong answer, and None is unanswered;
every worked answer renders with the learner's numbers."""
import numpy as np
import pytest

from daylib.data import pneumonia
from daylib.evaluate import evaluate
from daylib.exercises import lesson01 as ex
from daylib.models import build_classifier, small_cnn
from daylib.training.history import TrainingHistory

TARGET = 0.75


def _history(val_accuracy):
    return TrainingHistory.from_logs([{"epoch": i, "val_accuracy": a, "val_loss": 1 - a}
                                      for i, a in enumerate(val_accuracy)])


@pytest.fixture(scope="module")
def reports():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    good = np.clip(labels * 0.6 + rng.uniform(0, 0.4, 60), 0, 1)[:, None]
    noise = rng.uniform(0, 1, 60)[:, None]
    return {"pretrained head": evaluate(labels, good, bootstrap=200),
            "from scratch": evaluate(labels, noise, bootstrap=200)}


def test_every_exercise_is_there():
    assert [q.key for q in ex.EXERCISES] == [f"lesson01.q{i}" for i in range(1, 7)]
    assert all(q.checkable or q.answerable for q in ex.EXERCISES)


@pytest.mark.parametrize("q", [q for q in ex.EXERCISES if q.checkable], ids=lambda q: q.key)
def test_none_is_unanswered(q):
    assert q.check(None, None, None).status == "unanswered"


def test_q3_epochs_to_target():
    head, slow = _history([0.6, 0.8, 0.85]), _history([0.5, 0.6, 0.7, 0.76])
    reached = [i + 1 for i, acc in enumerate(slow.history["val_accuracy"]) if acc >= TARGET]   # the solution's way
    result = ex.q3.check(reached[0] if reached else 0, slow, head, TARGET)
    assert result.passed and "+2 epochs" in result.message
    short = ex.q3.check(3, slow, head, TARGET)
    assert short.status == "wrong" and "one short" in short.message
    never = _history([0.5, 0.6])
    assert ex.q3.check(0, never, head, TARGET).passed
    assert "never reached" in ex.q3.check(2, never, head, TARGET).message
    assert ex.q3.check("not in 2", never, head, TARGET).status == "wrong"


def test_q4_accuracy_drop(reports):
    head, small = reports["pretrained head"], reports["from scratch"]
    drop = head["accuracy"] - small["accuracy"]
    assert ex.q4.check(drop, head, small).passed
    assert ex.q4.check(round(drop, 3), head, small).passed
    assert "wrong sign" in ex.q4.check(-drop, head, small).message
    assert "percentage points" in ex.q4.check(100 * drop, head, small).message
    assert ex.q4.check(drop + 0.05, head, small).status == "wrong"
    text = ex.q4.answer(drop, 12.0, 4.0).text
    assert f"{100 * drop:+.1f}" in text and "12.0 s" in text and "67%" in text


@pytest.mark.parametrize("q", [ex.q1, ex.q2], ids=lambda q: q.key)
def test_rerun_answers_use_the_reports(q, reports):
    text = q.answer(reports).text
    assert f"{reports['pretrained head']['accuracy']:.3f}" in text
    assert f"{reports['from scratch']['accuracy']:.3f}" in text


def test_q5_answer(reports):
    text = ex.q5.answer(reports, "mobilenet_v2").text
    assert "mobilenet_v2" in text and f"{reports['pretrained head']['accuracy']:.3f}" in text


def test_q6_answer_reads_the_learners_folder():
    own = pneumonia.load("phantom", phantom_counts=(8, 4, 12), phantom_size=32, verbose=False)
    own_model = build_classifier(small_cnn((32, 32, 3), filters=(4,)), num_classes=2)
    text = ex.q6.answer(own, own_model).text
    assert "12 images" in text and "±" in text
    with pytest.raises(TypeError):
        ex.q6.answer("my_xrays", own_model)
