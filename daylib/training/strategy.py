"""Distribution strategies: build the model inside the strategy's scope, refuse one built outside it.

Variables must be created inside ``strategy.scope()`` to be distributed, so the training
functions take a model *factory* with ``strategy=`` and call it there; a model built outside
the scope is refused with an explanation. Every compile happens inside :func:`scope` too.

Several machines (``MultiWorkerMirroredStrategy``, one process per worker, each with its own
``TF_CONFIG``): :func:`check_tf_config` checks the variable before TensorFlow reads it;
:func:`writes_files` is the one rule for who writes (the chief); :func:`chief_value` and
:func:`agree` let the other workers follow the chief's decisions (they are collective
operations: every worker calls them at the same point); :func:`fit_context` wraps every
``fit`` in Keras's fixes for several workers.

Example:
    >>> model = resolve_model(lambda: build_classifier("efficientnet_lite0", 2), strategy)
    >>> with scope(strategy):
    ...     model.compile("adam", "binary_crossentropy")
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from typing import Callable, Mapping, Optional, Union

import keras
import tensorflow as tf

from daylib.models import compat

__all__ = ["ModelOrFactory", "scope", "resolve_model", "check_tf_config", "workers", "writes_files", "chief_value",
           "agree", "fit_context"]

ModelOrFactory = Union[keras.Model, Callable[[], keras.Model]]

_ADDRESS = re.compile(r"[^\s:]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}")


def scope(strategy: Optional[tf.distribute.Strategy]):
    """``strategy.scope()``, or a context that does nothing without a strategy.

    Example:
        >>> with scope(None):
        ...     model = build_classifier("efficientnet_lite0", 2)
    """
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def resolve_model(model: ModelOrFactory, strategy: Optional[tf.distribute.Strategy]) -> keras.Model:
    """The model to train: ``model`` itself, or what the factory builds inside the strategy's scope.

    Raises:
        TypeError: neither a model nor a function returning one.
        ValueError: a model built outside ``strategy.scope()``; the message says how to build it.

    Example:
        >>> resolve_model(lambda: build_classifier(tiny_base(), 2), None).name
        'tiny_base_classifier'
    """
    if not isinstance(model, keras.Model):
        if not callable(model):
            raise TypeError(f"Pass a keras Model or a function that builds one; got {type(model).__name__}.")
        with scope(strategy):
            model = model()
        if not isinstance(model, keras.Model):
            raise TypeError(f"The model factory returned {type(model).__name__}, not a keras Model.")
    if strategy is not None:
        outside = [w.path for w in model.weights if not strategy.extended.variable_created_in_scope(w.value)]
        if outside:
            raise ValueError(
                f"Model {model.name!r} was built outside strategy.scope(): its variables (e.g. {outside[0]!r}) "
                "live on one device, so the strategy cannot distribute them. Pass a function that builds the "
                "model instead (train_classifier(lambda: build_classifier(...), ..., strategy=strategy)), "
                "or build it inside `with strategy.scope():`."
            )
    return model


def check_tf_config(environ: Optional[Mapping[str, str]] = None) -> Optional[tuple[int, int]]:
    """Check ``TF_CONFIG`` before a ``MultiWorkerMirroredStrategy`` reads it: ``(this worker's rank, workers)``.

    ``None`` when ``TF_CONFIG`` is not set (one machine). The rank counts the ``chief`` task
    first (when the cluster has one), then the ``worker`` list; rank 0 writes the run folder.
    TensorFlow reads the variable with a bare ``json.loads`` and, given an index past the end
    of the list, can wait for a peer that never comes; the checks here catch what one worker
    can see on its own (a worker list that differs between machines it cannot see).

    Raises:
        ValueError: ``TF_CONFIG`` is not JSON, has no ``cluster`` with a ``worker`` (or
            ``chief``) list of ``host:port`` addresses, lists an address twice, or its
            ``task`` is not one of those.

    Example:
        >>> check_tf_config({"TF_CONFIG": '{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, '
        ...                  '"task": {"type": "worker", "index": 1}}'})
        (1, 2)
    """
    raw = (os.environ if environ is None else environ).get("TF_CONFIG")
    if raw is None or not raw.strip():
        return None
    example = ('{"cluster": {"worker": ["host0:2222", "host1:2222"]}, "task": {"type": "worker", "index": 0}} '
               "(the same cluster on every machine, each with its own index)")
    try:
        tf_config = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {raw[:80]!r}. Set it to e.g. {example}.") from None
    cluster = tf_config.get("cluster") if isinstance(tf_config, dict) else None
    jobs = {job: cluster.get(job, []) for job in ("chief", "worker")} if isinstance(cluster, dict) else {}
    if not jobs or not all(isinstance(tasks, list) for tasks in jobs.values()) or not sum(map(len, jobs.values())):
        raise ValueError(f"TF_CONFIG has no cluster.worker list of addresses; set it to e.g. {example}.")
    addresses = jobs["chief"] + jobs["worker"]
    bad = [address for address in addresses if not (isinstance(address, str) and _ADDRESS.fullmatch(address))]
    if bad:
        raise ValueError(f"TF_CONFIG's worker address {bad[0]!r} is not host:port (e.g. '10.0.0.1:2222').")
    if len(set(addresses)) != len(addresses):
        twice = next(address for address in addresses if addresses.count(address) > 1)
        raise ValueError(f"TF_CONFIG lists the address {twice!r} twice: each worker needs its own host:port.")
    task = tf_config.get("task")
    kind, index = (task.get("type"), task.get("index")) if isinstance(task, dict) else (None, None)
    if kind not in jobs or type(index) is not int:
        raise ValueError(f"TF_CONFIG's task is {task!r}; it must name this machine's place in the worker list, "
                         "e.g. {\"type\": \"worker\", \"index\": 0} (0 is the chief, which writes the run folder).")
    if not 0 <= index < len(jobs[kind]):
        raise ValueError(f"TF_CONFIG's task index {index} is not a {kind} of its cluster, which lists "
                         f"{len(jobs[kind])} (indices 0 to {len(jobs[kind]) - 1}). Give each machine its own index.")
    return index + (len(jobs["chief"]) if kind == "worker" else 0), len(addresses)


def workers(strategy: Optional[tf.distribute.Strategy]) -> int:
    """How many processes run the training call together: its workers under ``MultiWorkerMirroredStrategy``.

    1 for every other strategy: ``MirroredStrategy`` is one process, and so is ``TPUStrategy``
    (one Python program drives every TPU host).

    Example:
        >>> workers(tf.distribute.MirroredStrategy())
        1
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, sum(len(spec.get(job, ())) for job in ("chief", "worker")))


def writes_files(strategy: Optional[tf.distribute.Strategy]) -> bool:
    """Whether this process writes run folders, logs, states and caches: **the one rule for that**.

    Every process writes without a strategy or on one machine. With several workers only the
    chief does (worker 0, or the ``chief`` task): ``strategy.extended.should_checkpoint``, the
    rule TensorFlow's own checkpointing uses. The others train the same replicated weights and
    read the chief's run folder, which must therefore be on storage every worker sees.

    Example:
        >>> writes_files(None)
        True
    """
    return strategy is None or workers(strategy) == 1 or bool(strategy.extended.should_checkpoint)


def chief_value(strategy: Optional[tf.distribute.Strategy], value: float) -> float:
    """The chief's ``value`` on every worker (``value`` itself on one machine).

    A collective operation: every worker must call it at the same point, so it is also a
    barrier (what the chief wrote before it, the others can read after it). Whole numbers
    up to 2**52 come back exact.

    Example:
        >>> chief_value(None, 3)
        3
    """
    if workers(strategy) == 1:
        return value
    mine = tf.constant(value if writes_files(strategy) else 0, tf.float64)
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, mine, axis=None))


def agree(strategy: Optional[tf.distribute.Strategy], value: int, what: str, fix: str) -> int:
    """Check that every worker holds the chief's whole number ``value``; return it.

    Raises:
        ValueError: this worker's ``value`` differs from the chief's; the message names
            ``what`` and ``fix``.

    Example:
        >>> agree(None, 3, "the epoch to resume from", "share the run folder")
        3
    """
    chiefs = int(chief_value(strategy, value))
    if chiefs != value:
        raise ValueError(f"This worker's {what} ({value}) differs from the chief's ({chiefs}): {fix}")
    return value


def fit_context(model: keras.Model):
    """The context every ``model.fit`` of daylib runs in: Keras's fixes for several workers, else nothing.

    Keras 3.15's ``fit`` fails under ``MultiWorkerMirroredStrategy`` with more than one worker
    (keras-team/keras#20585): it reduces the first batch as one structure, and the per-step
    logs along an axis they do not have. :func:`daylib.models.compat.multi_worker_fit`
    works around both for the duration of the call.

    Example:
        >>> with fit_context(model):
        ...     model.fit(x, y)
    """
    strategy = model.distribute_strategy
    if workers(strategy) == 1:
        return contextlib.nullcontext()
    return compat.multi_worker_fit(model)
