"""Every private Keras call daylib makes, in one place, each with the versions it was checked on.

Keras 3 has no public API for three things daylib needs. Each is wrapped here so that a
Keras upgrade that breaks one breaks it in one known place (the tests of the modules that
use these fail first). Checked on Keras 3.15.1 (TensorFlow 2.21) and on the oldest
supported pair in ``requirements.txt`` (see the README's "Tested versions").

- :func:`run_through_graph`: replay a functional model's graph with a function of our
  own per layer call (``Functional._run_through_graph``). Used to split a model at an
  inner layer of a nested base. ``keras.models.clone_model(call_function=...)`` does not
  do the job: with ``recursive=True`` it rebuilds each nested model as a new model of its
  own, so an inner layer's output stays in the inner graph and cannot be an output of
  one flat model ("graph disconnected"), which is the whole point of the split.
- :func:`reset_initial_epoch`: ``Model.fit`` with ``BackupAndRestore`` sets
  ``model._initial_epoch`` and never resets it, so the next ``fit`` of the same model
  would start at the wrong epoch.
- :func:`replay_early_stopping`: ``EarlyStopping`` keeps its best value and patience count
  in attributes (``best``, ``wait``, ``best_epoch``) and compares with ``_is_improvement``;
  a resumed run must replay the epochs logged before the interruption into them.

Example:
    >>> from daylib.models import compat
    >>> compat.is_functional(model)
    True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import keras

__all__ = ["is_functional", "run_through_graph", "reset_initial_epoch", "replay_early_stopping"]


def is_functional(model: keras.Model) -> bool:
    """True for a functional model (or a Sequential one, a functional model in Keras 3) whose graph can be replayed.

    Example:
        >>> is_functional(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
        True
    """
    return callable(getattr(model, "_run_through_graph", None))


def run_through_graph(model: keras.Model, inputs: Any, call: Callable[..., Any]) -> Any:
    """Run ``model``'s graph on ``inputs``, calling ``call(layer, *args, **kwargs)`` for each layer call.

    Uses ``Functional._run_through_graph(inputs, operation_fn)`` (Keras 3.0-3.15: the
    ``operation_fn`` keyword takes a layer and returns the callable to run for it).

    Example:
        >>> out = run_through_graph(model, keras.Input((64, 64, 3)), lambda layer, *a, **k: layer(*a, **k))
    """
    return model._run_through_graph(inputs, operation_fn=lambda layer: (lambda *a, **k: call(layer, *a, **k)))


def reset_initial_epoch(model: keras.Model) -> None:
    """Forget the epoch that ``BackupAndRestore`` left in ``model._initial_epoch`` (Keras 3.3-3.15).

    Example:
        >>> reset_initial_epoch(model)
    """
    model._initial_epoch = None


def replay_early_stopping(callback: keras.callbacks.EarlyStopping, past: Sequence[tuple[int, float]]) -> None:
    """Feed ``(epoch, monitored value)`` pairs of earlier epochs into an ``EarlyStopping`` that just began.

    Call it from ``on_train_begin`` after the parent's. Uses ``monitor_op`` /
    ``_set_monitor_op`` and ``_is_improvement`` (Keras 3.3-3.15; before 3.5 the monitor
    operation was set in ``__init__``).

    Example:
        >>> replay_early_stopping(stop, [(0, 0.7), (1, 0.6)])
        >>> stop.best
        0.6
    """
    if getattr(callback, "monitor_op", None) is None:
        callback._set_monitor_op()
    for epoch, value in past:
        callback.wait += 1
        if callback._is_improvement(value, callback.best):
            callback.best, callback.best_epoch, callback.wait = value, epoch, 0
