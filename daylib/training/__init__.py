"""Training for the course: phase 1 (frozen base, new head), phase 2 (fine-tuning), one history.

- :func:`train_classifier` runs both phases; :func:`train_head` and :func:`fine_tune` run one each.
- Phase 1 has a CPU fast path (``cached=True``): the frozen base runs once, the head trains on the
  cached features and is put back (:func:`extract_features`, :func:`head_model`, :func:`put_head_back`);
  the features stay on disk, so a repeat with other head settings skips the base
  (:func:`feature_cache_info`, :func:`clear_feature_cache`; ``feature_cache=False`` turns it off),
  and the compiled head is kept for the session, so Keras does not trace its step again.
- Every run logs each epoch, keeps the best validation weights (per-epoch states + early stopping)
  and resumes after an interruption when the same call is repeated.
- ``strategy=`` trains under a ``tf.distribute.Strategy``; pass a model *factory* so the model
  is built inside its scope.

- Inputs are checked at the door (arrays) or in the stream (tf.data): NaN/inf pixels, the
  0-255 range, the model's image size, labels that are class indices of the head, empty data.
- Every file a run writes is written to a temporary name and renamed; a resumed run reads
  its files back checked, falls back to the last good state and says so.

Import from here; the modules inside are the machinery: :mod:`~daylib.training.inputs`
(arrays or tf.data, their rules, loss and metrics) with :mod:`~daylib.training.stream` (the
rules checked inside a tf.data stream), :mod:`~daylib.training.features` (the cached path) with
:mod:`~daylib.training.feature_cache` (its features kept on disk across runs) and
:mod:`~daylib.training.compiled_heads` (its compiled heads kept for the session),
:mod:`~daylib.training.runs` (run folders, logs, resume), :mod:`~daylib.training.states`
(per-epoch states), :mod:`~daylib.training.atomic` (atomic writes),
:mod:`~daylib.training.strategy`, :mod:`~daylib.training.history`, :mod:`~daylib.training.phases`.

Example:
    >>> from daylib.models import build_classifier
    >>> from daylib.training import train_classifier
    >>> history = train_classifier(
    ...     lambda: build_classifier("efficientnet_lite0", 2, input_shape=(160, 160, 3)),
    ...     (x_train, y_train), (x_val, y_val), head_epochs=5, fine_tune_epochs=5, top_n=20)
    >>> model = history.model
    >>> history.plot()
"""
from daylib.training.feature_cache import FeatureCache, clear_feature_cache, feature_cache_info
from daylib.training.features import FeatureExtractor, extract_features, feature_extractor, head_model, put_head_back
from daylib.training.history import TrainingHistory
from daylib.training.inputs import Data
from daylib.training.phases import (
    FINE_TUNE_LEARNING_RATE,
    HEAD_LEARNING_RATE,
    fine_tune,
    train_classifier,
    train_head,
)

__all__ = [
    "Data", "TrainingHistory", "train_classifier", "train_head", "fine_tune",
    "FeatureExtractor", "extract_features", "FeatureCache", "clear_feature_cache", "feature_cache_info", "feature_extractor", "head_model", "put_head_back",
    "HEAD_LEARNING_RATE", "FINE_TUNE_LEARNING_RATE",
]
