"""Exercises of lesson 02: every check passes its solution, fails a plausible wrong answer, and None is unanswered;
every worked answer renders with the learner's numbers; checks leave the model's trainable flags as they were."""
import types

import keras
import numpy as np
import pytest

from daylib.data import pneumonia
from daylib.evaluate import evaluate, mcnemar_exact
from daylib.exercises import lesson02 as ex
from daylib.models import base_model, build_classifier, unfreeze
from daylib.training.history import TrainingHistory


@pytest.fixture(scope="module")
def model():
    """A tiny stand-in for EfficientNet-Lite0: seven conv + BN + ReLU blocks named like its blocks."""
    inputs = keras.Input((32, 32, 3), name="image")
    x = inputs
    for i in range(1, 8):
        x = keras.layers.Conv2D(4, 3, padding="same", name=f"block{i}a_expand_conv")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}a_expand_bn")(x)
        x = keras.layers.ReLU(name=f"block{i}a_expand_activation")(x)
    return build_classifier(keras.Model(inputs, x, name="tiny_base"), num_classes=2)


def _flags(model):
    return [layer.trainable for layer in base_model(model).layers] + [base_model(model).trainable]


def _trainable_count(net):
    return sum(w.numpy().size for w in net.trainable_weights)


def _run(val_losses, start=1):
    n = len(val_losses)
    return TrainingHistory(history={"val_loss": list(val_losses), "val_accuracy": [0.6] * n, "loss": [0.5] * n},
                           epoch=list(range(n)), fine_tune_epoch=start,
                           best_epochs={"head": 0, "fine_tune": start})


def test_every_exercise_is_there():
    assert [q.key for q in ex.EXERCISES] == [f"lesson02.q{i}" for i in range(1, 6)]
    assert all(q.checkable or q.answerable for q in ex.EXERCISES)


@pytest.mark.parametrize("q", [q for q in ex.EXERCISES if q.checkable], ids=lambda q: q.key)
def test_none_is_unanswered(q):
    assert q.check(None, None, None).status == "unanswered"


def test_q2_closer_to():
    lr_histories = {1e-4: _run([0.62, 0.63]), 1e-2: _run([0.62, 5.8]), 1e-3: _run([0.62, 0.75])}
    first = {rate: run.history["val_loss"][run.fine_tune_epoch] for rate, run in lr_histories.items()}
    closer_to = min((r for r in first if r != 1e-3), key=lambda r: abs(np.log(first[r] / first[1e-3])))
    result = ex.q2.check(closer_to, lr_histories)
    assert result.passed and "safe" in result.message
    assert ex.q2.check(1e-5, lr_histories).passed                  # another safe rate: the same side
    wrong = ex.q2.check(1e-2, lr_histories)
    assert wrong.status == "wrong" and "ratios" in wrong.message
    lr_histories[1e-3] = _run([0.62, 4.0])
    assert ex.q2.check(1e-2, lr_histories).passed
    assert "no run at 1e-3" in ex.q2.check(1e-2, {1e-4: _run([0.6, 0.6]), 1e-2: _run([0.6, 5])}).message
    assert ex.q2.check("1e-2", lr_histories).status == "wrong"


def test_q3_counts_and_restores_flags(model):
    before = _flags(model)
    names = unfreeze(model, top_n=10)          # the solution, with a top_n the tiny base has
    layers, weights = len(names), _trainable_count(model)
    for layer, flag in zip(base_model(model).layers, before):
        layer.trainable = flag
    base_model(model).trainable = before[-1]
    assert _flags(model) == before
    result = ex.q3.check(layers, weights, model, top_n=10)
    assert result.passed, result.message
    assert _flags(model) == before                                  # the check put every flag back
    no_bn = ex.q3.check(10, weights, model, top_n=10)
    assert no_bn.status == "wrong" and "BatchNormalization" in no_bn.message
    head = ex.q3.check(layers, weights - 5, model, top_n=10)       # the tiny head has 4 + 1 weights
    assert head.status == "wrong" and "head" in head.message


def test_q3_answer():
    report = evaluate([0, 1, 0, 1], [0.2, 0.9, 0.6, 0.7], bootstrap=0)
    timer = types.SimpleNamespace(typical=lambda: 2.5)
    slow = types.SimpleNamespace(typical=lambda: 4.0)
    text = ex.q3.answer({20: (13, 1000, timer, None, report), 100: (70, 9000, slow, None, report)}).text
    assert "9,000" in text and "9.0x" in text and "1.6x" in text


def test_q4_named_layer(model):
    base = base_model(model)
    n_returned = len(unfreeze(model, fine_tune_at="block6a_expand_conv"))
    same_top_n = len(base.layers) - [layer.name for layer in base.layers].index("block6a_expand_conv")
    before = _flags(model)
    result = ex.q4.check(n_returned, same_top_n, model)
    assert result.passed, result.message
    assert _flags(model) == before
    assert "BatchNormalization" in ex.q4.check(same_top_n, same_top_n, model).message
    start = same_top_n and len(base.layers) - same_top_n
    assert "counts from the end" in ex.q4.check(n_returned, start, model).message
    assert ex.q4.check(n_returned, 2.5, model).status == "wrong"


def test_answers_use_the_learners_numbers():
    fine = np.array([True] * 40 + [False] * 10)
    head = np.array([True] * 35 + [False] * 15)
    test = mcnemar_exact(fine, head, names=("phase 2", "phase 1"))
    history = _run([0.62, 0.58, 0.60])
    text = ex.q1.answer(history, test).text
    assert "0.580" in text and f"{100 * test.estimate:+.1f}" in text
    data = pneumonia.load("phantom", phantom_counts=(12, 4, 4), phantom_size=32, verbose=False)
    assert "12 training films" in ex.q5.answer(test, data).text
