"""The fast phase-1 path: run the frozen base once, cache its features, train the head on them.

A frozen base computes the same features for an image in every epoch, so computing
them once and training only the small head on them saves almost all of the work of
phase 1 on a CPU. The head of :func:`daylib.models.build_classifier` is
``avg_pool -> head_dropout -> predictions``; pooling has no weights, so the cache holds
the *pooled* features (``(N, C)``: 49 times smaller than the ``7 x 7 x C`` maps at
224 px) and the equivalent head is ``Dropout -> Dense``. After training, the Dense
weights go back into the full model's ``predictions`` layer. Across runs the features are
kept on disk (``cache=True``): :mod:`daylib.training.feature_cache`.

The price: no data augmentation on cached features (an image is seen exactly as it
was on the single pass), so use the plain path (``cached=False``) when augmenting.

Example:
    >>> features, labels = extract_features(model, (x_train, y_train))
    >>> head = head_model(model)
    >>> head.compile("adam", "binary_crossentropy"); head.fit(features, labels, epochs=5)
    >>> put_head_back(head, model)          # model(x) now equals head(features)
"""
from __future__ import annotations

import time
from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.models.digest import model_digest
from daylib.models.inference import predict
from daylib.models.layers import head_layers
from daylib.training.feature_cache import CachedFeatures, FeatureCache, cache_key
from daylib.training.inputs import Data, Inputs, as_inputs, stream_errors
from daylib.training.strategy import workers

__all__ = ["feature_extractor", "FeatureExtractor", "extract_features", "head_model", "put_head_back"]


def feature_extractor(model: keras.Model) -> keras.Model:
    """The part of a transfer model up to its pooled features (input -> ... -> ``avg_pool``).

    It shares its layers (and weights) with ``model``.

    Example:
        >>> feature_extractor(model).output_shape
        (None, 1280)
    """
    avg_pool = head_layers(model)[0]
    return keras.Model(model.input, avg_pool.output, name=f"{model.name}_features")


class FeatureExtractor:
    """Runs the frozen part of a transfer model (input -> ``avg_pool``) over one or more data sets.

    The forward passes go through :func:`daylib.models.inference.predict`: one compiled
    function for any batch size, traced once for all the data sets this extractor is called on
    (``model.predict`` would trace the network again for each new extractor and each partial
    batch: seconds on a CPU). With a strategy, ``model.predict`` distributes them.

    With ``cache=`` the features are read from (or stored in) the on-disk feature cache,
    :mod:`daylib.training.feature_cache`. The extractor's weights are hashed once, the first
    time the cache is asked: an extractor stands for one frozen base, so build a new one
    after changing the base's weights. Arrays only (a ``tf.data.Dataset`` is computed
    afresh), and never under a multi-worker strategy (every worker computes its own).

    Example:
        >>> extract = FeatureExtractor(model)
        >>> train_features, train_labels = extract((x_train, y_train), cache=True)
        >>> val_features, val_labels = extract((x_val, y_val))
    """

    def __init__(self, model: keras.Model, strategy: Optional[tf.distribute.Strategy] = None):
        self.model = feature_extractor(model)
        self.strategy = strategy
        self._digest: Optional[str] = None

    def digest(self) -> str:
        """:func:`daylib.models.digest.model_digest` of the extractor, computed once.

        Example:
            >>> len(FeatureExtractor(model).digest())
            32
        """
        if self._digest is None:
            self._digest = model_digest(self.model)
        return self._digest

    def uses_disk_cache(self, cache: Union[bool, FeatureCache]) -> bool:
        """Whether ``cache=`` reaches the disk here: not when off, nor under a multi-worker strategy.

        Example:
            >>> FeatureExtractor(model).uses_disk_cache(True)
            True
        """
        return bool(cache) and workers(self.strategy) == 1

    def __call__(
        self,
        data: Union[Data, Inputs],
        *,
        batch_size: int = 32,
        cache: Union[bool, FeatureCache] = False,
        verbose: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pooled ``features (N, C)`` and labels of ``data``; see :func:`extract_features`.

        ``data`` may also be :class:`~daylib.training.inputs.Inputs` that were checked already.

        Example:
            >>> features, labels = FeatureExtractor(model)((x_val, y_val), cache=True)
        """
        found = self.features(data, batch_size=batch_size, cache=cache, verbose=verbose)
        return found.features, found.labels

    def features(
        self,
        data: Union[Data, Inputs],
        *,
        batch_size: int = 32,
        cache: Union[bool, FeatureCache] = False,
        verbose: int = 0,
    ) -> CachedFeatures:
        """Like calling the extractor, and also says whether the features came from the cache, and when made.

        Example:
            >>> FeatureExtractor(model).features((x_val, y_val), cache=True).reused
            False
        """
        inputs = data if isinstance(data, Inputs) else as_inputs(data, input_shape=self.model.input_shape[1:])

        def compute() -> tuple[np.ndarray, np.ndarray]:
            with stream_errors():  # a dataset's batches are checked as they are read
                return predict(self.model, inputs.validation(), batch_size=batch_size, strategy=self.strategy,
                               verbose=verbose)

        if not isinstance(cache, (bool, FeatureCache)):
            raise TypeError(f"cache must be True, False or a FeatureCache; got {type(cache).__name__}.")
        if not self.uses_disk_cache(cache) or inputs.is_dataset:
            return CachedFeatures(*compute(), reused=False, created=time.time())
        store = cache if isinstance(cache, FeatureCache) else FeatureCache()
        key = cache_key(self.digest(), inputs, self.model.input_shape[1:])
        return store.features(key, compute, count=len(inputs.y), width=int(self.model.output_shape[-1]))


def extract_features(
    model: keras.Model,
    data: Data,
    *,
    batch_size: int = 32,
    cache: Union[bool, FeatureCache] = False,
    strategy: Optional[tf.distribute.Strategy] = None,
    verbose: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the frozen base once over ``data``; return pooled ``features (N, C)`` and their labels.

    Inference mode throughout: augmentation layers are skipped and BatchNormalization uses its
    moving statistics, exactly as the frozen base behaves inside the training model. To extract
    several data sets, one :class:`FeatureExtractor` is faster (it traces the network once).

    Args:
        model: a model from :func:`daylib.models.build_classifier`.
        data: ``(images, labels)`` arrays or a batched dataset of ``(images, labels)``.
        batch_size: images per forward pass (arrays only).
        cache: ``True`` reuses features from the on-disk cache (:mod:`daylib.training.feature_cache`,
            keyed by the extractor's weights, the arrays' content and the image size) and stores
            new ones there; a :class:`~daylib.training.feature_cache.FeatureCache` uses that cache.
            Datasets and multi-worker strategies are never cached.
        strategy: distribute the forward passes with this strategy.
        verbose: progress bar (1) or not (0).

    Example:
        >>> features, labels = extract_features(model, (x_train, y_train), cache=True)
    """
    return FeatureExtractor(model, strategy)(data, batch_size=batch_size, cache=cache, verbose=verbose)


def head_model(model: keras.Model) -> keras.Model:
    """A stand-alone copy of the model's head, ``Dropout -> Dense``, on pooled features.

    It starts with the current weights of the model's ``predictions`` layer.

    Example:
        >>> head_model(model).input_shape
        (None, 1280)
    """
    _, dropout, predictions = head_layers(model)
    inputs = keras.Input(shape=(predictions.kernel.shape[0],), name="pooled_features")
    x = keras.layers.Dropout(dropout.rate, name="head_dropout")(inputs)
    outputs = keras.layers.Dense(predictions.units, activation=predictions.activation, name="predictions")(x)
    head = keras.Model(inputs, outputs, name=f"{model.name}_head")
    head.get_layer("predictions").set_weights(predictions.get_weights())
    return head


def put_head_back(head: keras.Model, model: keras.Model) -> keras.Model:
    """Copy the trained head's Dense weights into the full model's ``predictions`` layer.

    Example:
        >>> put_head_back(head, model).get_layer("predictions").get_weights()[1].shape
        (1,)
    """
    predictions = head_layers(model)[2]
    trained = head.get_layer("predictions").get_weights()
    if [w.shape for w in trained] != [tuple(w.shape) for w in predictions.weights]:
        raise ValueError(
            f"The head's weights {[w.shape for w in trained]} do not fit the model's predictions layer "
            f"{[tuple(w.shape) for w in predictions.weights]}; build the head with head_model(model)."
        )
    predictions.set_weights(trained)
    return model
