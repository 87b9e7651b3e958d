"""Every private Keras call daylib makes, in one place, each with the versions it was checked on.

Keras 3 has no public API for three things daylib needs. Each is wrapped here so that a
Keras upgrade that breaks one breaks it in one known place (the tests of the modules that
use these fail first). Checked on Keras 3.15.1 (TensorFlow 2.21) and on the oldest
supported pair in ``requirements.txt`` (see the README's "Tested versions").

- :func:`is_functional`: whether a model is a functional graph (``keras.Model(inputs,
  outputs)``, every ``keras.applications`` model) rather than a subclassed model with its
  own ``call()``. Keras exports no ``Functional`` class, so this is the ``isinstance``
  test ``keras.models.clone_model`` makes itself.
- :func:`run_through_graph`: replay a functional model's graph with our own function per
  layer call (``Functional._run_through_graph``, Keras 3.0-3.15). Splitting a model at an
  inner layer of a nested base (:mod:`daylib.models.split`) needs the inner layer's output
  and the head input as outputs of *one* flat model. The public
  ``keras.models.clone_model(clone_function=lambda layer: layer, call_function=...)``
  does this for a base nested straight after the input, but not for the course's own
  transfer models with augmentation: with a nested ``Sequential`` (the augmentation block)
  before the nested base, Keras 3.15 refuses the clone ("Output with path `` is not
  connected to `inputs`"; ``tests/test_cam.py`` keeps that case). With ``recursive=True``
  each nested model is rebuilt on new inputs, which fails the same way. So the replay stays.
- :func:`reset_initial_epoch`: ``Model.fit`` with ``BackupAndRestore`` sets
  ``model._initial_epoch`` and never resets it, so the next ``fit`` of the same model
  would start at the wrong epoch.
- :func:`replay_early_stopping`: ``EarlyStopping`` keeps its best value and patience count
  in attributes (``best``, ``wait``, ``best_epoch``) and compares with ``_is_improvement``;
  a resumed run must replay the epochs logged before the interruption into them.

Example:
    >>> from daylib.models import compat
    >>> compat.is_functional(keras.applications.MobileNetV2(weights=None))
    True
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import keras
import tensorflow as tf
from keras.src.models.functional import Functional

__all__ = ["is_functional", "run_through_graph", "reset_initial_epoch", "replay_early_stopping", "multi_worker_fit"]


def is_functional(model: keras.Model) -> bool:
    """True for a functional model, whose graph of layer calls can be followed (Keras 3.3-3.15).

    False for a Sequential model (its layers are a plain list: ``model.layers``) and for a
    subclassed one (its own ``call()``).

    Example:
        >>> is_functional(keras.Model(inputs, outputs)), is_functional(keras.Sequential([keras.Input((4,))]))
        (True, False)
    """
    return isinstance(model, Functional)


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


@contextlib.contextmanager
def multi_worker_fit(model: keras.Model) -> Iterator[None]:
    """Let ``model.fit`` run under ``MultiWorkerMirroredStrategy`` with several workers (Keras 3.15.1).

    Keras 3's TensorFlow trainer breaks there in two places (keras-team/keras#20585):
    ``_maybe_symbolic_build`` hands the whole first batch, a tuple of per-replica values, to
    ``strategy.reduce``, which takes one value (``ValueError: Attempt to convert a value
    (PerReplica...)``); and ``reduce_per_replica`` averages the per-step logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on the scalar logs ("Invalid reduction
    dimension 0"). For the call only, the build reads the shapes from this worker's part of the
    first batch (all the symbolic build needs), and the logs are averaged over replicas with
    ``axis=None``. Epoch logs are unaffected: Keras reads them from the metrics, summed over workers.

    Example:
        >>> with multi_worker_fit(model):
        ...     model.fit(x, y, epochs=2)
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    strategy = model.distribute_strategy
    original = trainer.reduce_per_replica

    def local(value):
        return strategy.experimental_local_results(value)[0] if isinstance(value, tf.distribute.DistributedValues) else value

    def symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(local, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    model._maybe_symbolic_build = symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        trainer.reduce_per_replica = original
        del model._maybe_symbolic_build
