"""Distribution strategies: build the model inside the strategy's scope, refuse one built outside it.

Variables must be created inside ``strategy.scope()`` to be distributed, so the training
functions take a model *factory* with ``strategy=`` and call it there; a model built outside
the scope is refused with an explanation. Every compile happens inside :func:`scope` too.

Example:
    >>> model = resolve_model(lambda: build_classifier("efficientnet_lite0", 2), strategy)
    >>> with scope(strategy):
    ...     model.compile("adam", "binary_crossentropy")
"""
from __future__ import annotations

import contextlib
from typing import Callable, Optional, Union

import keras
import tensorflow as tf

__all__ = ["ModelOrFactory", "scope", "resolve_model"]

ModelOrFactory = Union[keras.Model, Callable[[], keras.Model]]


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
