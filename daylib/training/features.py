"""The fast phase-1 path: run the frozen base once, cache its features, train the head on them.

A frozen base computes the same features for an image in every epoch, so computing
them once and training only the small head on them saves almost all of the work of
phase 1 on a CPU. The head of :func:`daylib.models.build_classifier` is
``avg_pool -> head_dropout -> predictions``; pooling has no weights, so the cache holds
the *pooled* features (``(N, C)``: 49 times smaller than the ``7 x 7 x C`` maps at
224 px) and the equivalent head is ``Dropout -> Dense``. After training, the Dense
weights go back into the full model's ``predictions`` layer.

The price: no data augmentation on cached features (an image is seen exactly as it
was on the single pass), so use the plain path (``cached=False``) when augmenting.

Example:
    >>> features, labels = extract_features(model, (x_train, y_train))
    >>> head = head_model(model)
    >>> head.compile("adam", "binary_crossentropy"); head.fit(features, labels, epochs=5)
    >>> put_head_back(head, model)          # model(x) now equals head(features)
"""
from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.models.digest import model_digest
from daylib.models.inference import predict
from daylib.models.layers import head_layers
from daylib.training.atomic import atomic_path
from daylib.training.inputs import Data, Inputs, as_inputs, stream_errors

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

    Example:
        >>> extract = FeatureExtractor(model)
        >>> train_features, train_labels = extract((x_train, y_train))
        >>> val_features, val_labels = extract((x_val, y_val))
    """

    def __init__(self, model: keras.Model, strategy: Optional[tf.distribute.Strategy] = None):
        self.model = feature_extractor(model)
        self.strategy = strategy

    def __call__(
        self,
        data: Union[Data, Inputs],
        *,
        batch_size: int = 32,
        cache_file: Union[str, Path, None] = None,
        verbose: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pooled ``features (N, C)`` and labels of ``data``; see :func:`extract_features`.

        ``data`` may also be :class:`~daylib.training.inputs.Inputs` that were checked already.

        Example:
            >>> features, labels = FeatureExtractor(model)((x_val, y_val), cache_file="features/val.npz")
        """
        inputs = data if isinstance(data, Inputs) else as_inputs(data, input_shape=self.model.input_shape[1:])
        if cache_file is None:
            return self._run(inputs, batch_size, verbose)
        path = Path(cache_file)
        if path.suffix != ".npz":
            raise ValueError(f"cache_file must end in .npz, got {path.name!r}.")
        fingerprint = model_digest(self.model) + inputs.digest()
        stored = _read_cache(path, fingerprint)
        if stored is not None:
            return stored
        features, labels = self._run(inputs, batch_size, verbose)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            np.savez(tmp, features=features, labels=labels, fingerprint=np.array(fingerprint))
        return features, labels

    def _run(self, inputs: Inputs, batch_size: int, verbose: int) -> tuple[np.ndarray, np.ndarray]:
        with stream_errors():  # a dataset's batches are checked as they are read
            return predict(self.model, inputs.validation(), batch_size=batch_size, strategy=self.strategy,
                           verbose=verbose)


def _read_cache(path: Path, fingerprint: str) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The stored features and labels when ``path`` holds them for ``fingerprint``; ``None`` otherwise."""
    if not path.exists():
        return None
    try:
        with np.load(path) as stored:
            if str(stored["fingerprint"]) != fingerprint:
                return None
            return stored["features"], stored["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        warnings.warn(f"The feature cache {path} is unreadable (an interrupted write?); computing the features again.",
                      stacklevel=3)
        return None


def extract_features(
    model: keras.Model,
    data: Data,
    *,
    batch_size: int = 32,
    cache_file: Union[str, Path, None] = None,
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
        cache_file: an ``.npz`` to reuse across runs. It stores a fingerprint of the extractor's
            weights and of the data (arrays: their content; datasets: their structure and size);
            a file with another fingerprint is recomputed and overwritten, and so is an
            unreadable one (with a warning). It is written to a temporary name and renamed.
        strategy: distribute the forward passes with this strategy.
        verbose: progress bar (1) or not (0).

    Example:
        >>> features, labels = extract_features(model, (x_train, y_train), cache_file="features/train.npz")
    """
    return FeatureExtractor(model, strategy)(data, batch_size=batch_size, cache_file=cache_file, verbose=verbose)


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
