"""Phase-1 heads kept compiled for the session, so re-running a training cell does not trace Keras's step again.

On cached features the head is tiny (Dropout -> Dense on a pooled vector) and its five epochs
take milliseconds; most of a warm ``train_head`` call used to be Keras tracing a new
``train_step`` and ``test_step`` graph for the new head model (about half a second on a
2-core CPU, measured in ``benchmarks/bench_training.py --profile``). Keras keeps the traced
functions on a compiled model as long as it is not compiled again, so this module keeps
the last few compiled heads, keyed by their architecture, loss and metrics, and hands one
back **in the exact state of a fresh head**:

- every variable of the model (Dense weights, the Dropout layer's seed state) is copied
  from the freshly built head, which is still built every time, so Python's random stream
  advances exactly as before and a new head's draws are kept;
- every optimizer variable is zeroed (Adam's step count and moments, as a new Adam has them)
  and the learning rate is set.

So a run that reuses a head gives the same weights and logs, bit for bit, as one that
compiled a new head (``tests/test_train_compiled_heads.py`` checks it). Keras has no
"reset this compiled model" call, hence this small module. Not used under a
``tf.distribute`` strategy, whose variables belong to its scope.

Example:
    >>> head = reuse_compiled(head_model(model), compile_head, learning_rate=1e-3)
    >>> head.fit(features, labels, epochs=5)
"""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Callable

import keras

__all__ = ["reuse_compiled", "forget_compiled_heads", "MAX_KEPT"]

MAX_KEPT = 4
"""Compiled heads kept at most (oldest out first); each is a few kB of weights and two traced graphs."""

_KEPT: "OrderedDict[str, keras.Model]" = OrderedDict()


def _key(head: keras.Model) -> str:
    config = head.get_config()
    config.pop("name", None)  # the classifier's name, numbered per process by Keras, changes nothing traced
    metrics = [type(metric).__name__ for metric in head.metrics]
    return json.dumps({"model": config, "loss": [type(head.loss).__name__, head.loss.get_config()],
                       "metrics": metrics}, sort_keys=True, default=str)


def _reset_optimizer(optimizer: keras.optimizers.Optimizer, learning_rate: float) -> None:
    for variable in optimizer.variables:
        if variable is optimizer._learning_rate:
            variable.assign(learning_rate)
        else:
            variable.assign(keras.ops.zeros(variable.shape, variable.dtype))


def reuse_compiled(fresh: keras.Model, compile_head: Callable[[keras.Model], None], *,
                   learning_rate: float) -> keras.Model:
    """``fresh`` compiled, or a kept head of the same kind set to ``fresh``'s state with a new optimizer state.

    Args:
        fresh: a newly built, uncompiled head (:func:`daylib.training.features.head_model`).
        compile_head: compiles a head (the training call's loss, metrics and Adam at ``learning_rate``).
        learning_rate: the rate a kept head's optimizer is set to.

    Example:
        >>> head = reuse_compiled(head_model(model), lambda h: h.compile(keras.optimizers.Adam(1e-3),
        ...                       "binary_crossentropy"), learning_rate=1e-3)
    """
    compile_head(fresh)
    key = _key(fresh)  # the same architecture (input width included), so the same variables in the same order
    kept = _KEPT.get(key)
    if kept is None:
        _KEPT[key] = fresh
        while len(_KEPT) > MAX_KEPT:
            _KEPT.popitem(last=False)
        return fresh
    _KEPT.move_to_end(key)
    for target, source in zip(kept.variables, fresh.variables):
        target.assign(source)
    _reset_optimizer(kept.optimizer, learning_rate)
    return kept


def forget_compiled_heads() -> None:
    """Drop every kept head (the next ``train_head`` traces its step again).

    Example:
        >>> forget_compiled_heads()
    """
    _KEPT.clear()
