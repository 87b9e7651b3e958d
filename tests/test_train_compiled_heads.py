"""Phase-1 heads kept compiled across train_head calls: traced once, and bit for bit a fresh head's results."""
import numpy as np
import pytest
from _helpers_train import make_model, phantom_data

from daylib import config
from daylib.training import compiled_heads, train_head
from daylib.training.compiled_heads import MAX_KEPT, forget_compiled_heads


@pytest.fixture(autouse=True)
def _no_kept_heads(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    forget_compiled_heads()
    yield
    forget_compiled_heads()


@pytest.fixture
def compiled(monkeypatch):
    """The heads that were compiled for training (reused ones are not compiled again)."""
    heads = []
    real = compiled_heads.reuse_compiled

    def spy(fresh, compile_head, **kwargs):
        head = real(fresh, compile_head, **kwargs)
        heads.append(head)
        return head

    monkeypatch.setattr("daylib.training.phases.reuse_compiled", spy)
    return heads


def _head_phase(learning_rate: float):
    train, val = phantom_data()
    history = train_head(make_model, train, val, epochs=3, learning_rate=learning_rate, patience=None, verbose=0)
    weights = [w.copy() for w in history.model.get_layer("predictions").get_weights()]
    return weights, history.history["val_loss"], history.history["loss"]


def test_a_reused_head_trains_exactly_like_a_fresh_one(compiled):
    first = _head_phase(0.01)
    _head_phase(0.05)  # another learning rate: the optimizer state must not leak into the next call
    again = _head_phase(0.01)
    assert compiled[0] is compiled[1] is compiled[2]  # one head, traced once
    assert len(compiled[0].optimizer.variables) > 2  # Adam's moments were built and then zeroed
    forget_compiled_heads()
    fresh = _head_phase(0.01)
    assert compiled[3] is not compiled[0]
    for run in (again, fresh):
        for a, b in zip(run[0], first[0]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(run[1], first[1])
        np.testing.assert_array_equal(run[2], first[2])


def test_the_python_random_stream_advances_as_with_a_fresh_head():
    import random

    _head_phase(0.01)
    after_fresh = random.random()
    _head_phase(0.01)  # reused
    assert random.random() == after_fresh


def test_another_head_kind_gets_its_own_and_the_oldest_is_dropped(compiled, monkeypatch):
    from _helpers_train import tiny_base

    from daylib.models import build_classifier

    train, val = phantom_data()
    train_head(make_model, train, val, epochs=1, verbose=0)
    train_head(make_model, train, val, epochs=1, class_weight={0: 1.0, 1: 2.0}, verbose=0)  # same kind of head
    assert compiled[1] is compiled[0]
    monkeypatch.setattr(compiled_heads, "MAX_KEPT", 1)
    train_head(lambda: build_classifier(tiny_base(), 2, dropout=0.5), train, val, epochs=1, verbose=0)
    assert compiled[2] is not compiled[0] and list(compiled_heads._KEPT.values()) == [compiled[2]]
    train_head(make_model, train, val, epochs=1, verbose=0)  # its kept head was dropped: a new one
    assert compiled[3] is not compiled[0]
    assert MAX_KEPT >= 2  # by default a learner switching between two head settings keeps both
