"""The two phases of transfer learning: train the new head, then fine-tune the top of the base.

Phase 1 (:func:`train_head`): the base is frozen and only the head learns. With
``cached=True`` (the default, the CPU fast path) the base runs once over the data and the
head trains on the cached features (no augmentation then; the features are kept on disk and
the compiled head for the session, so a re-run skips both the base and Keras's tracing);
``cached=False`` trains the full model with the frozen base inside, augmentation included.

Phase 2 (:func:`fine_tune`): the top layers of the base are unfrozen (BatchNormalization
stays frozen and in inference mode, because the base is called with ``training=False``),
the model is compiled again (Keras reads ``trainable`` at compile time) with a low
learning rate, and training continues at the next epoch number, so both phases make one
curve.

:func:`train_classifier` runs both and returns one :class:`TrainingHistory`.

Distribution: pass ``strategy=`` (``MirroredStrategy`` on a multi-GPU box, ``TPUStrategy``)
and a model *factory*, e.g. ``lambda: build_classifier(...)``: variables must be created
inside ``strategy.scope()``, so the factory is called there, and every compile (optimizer
and metric variables) happens there too. A model built outside the scope is refused with
an explanation.

Example:
    >>> history = train_classifier(model, (x, y), (x_val, y_val), head_epochs=5, fine_tune_epochs=5, top_n=20)
    >>> history.plot()
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import keras
import tensorflow as tf

from daylib import config
from daylib.models.classifier import freeze, unfreeze
from daylib.models.layers import augmentation_layers
from daylib.training.compiled_heads import reuse_compiled
from daylib.training.feature_cache import CachedFeatures, FeatureCache
from daylib.training.features import FeatureExtractor, feature_extractor, head_model, put_head_back
from daylib.training.history import TrainingHistory
from daylib.training.inputs import (
    Data, Inputs, as_inputs, check_class_weight, head_classes, loss_and_metrics, output_units, warn_if_single_class,
)
from daylib.training.runs import Run, fingerprint, fit_logged
from daylib.training.strategy import ModelOrFactory, resolve_model, scope, writes_files

__all__ = ["train_head", "fine_tune", "train_classifier", "HEAD_LEARNING_RATE", "FINE_TUNE_LEARNING_RATE"]

HEAD_LEARNING_RATE = 1e-3
"""Adam's usual rate: the new head starts from random weights and has far to go."""

FINE_TUNE_LEARNING_RATE = 1e-5
"""100x lower than for the head. The unfrozen pretrained weights are already good, and Adam
moves every weight by about the learning rate per step whatever the gradient's size, so
at 1e-3 a few steps on a small data set would overwrite the ImageNet features (the
"catastrophic forgetting" the fine-tuning recipe guards against)."""

@dataclass
class _Session:
    """What the phases of one training call share: the run folder, model, data and fit settings."""

    run: Run
    model: keras.Model
    train: Inputs
    validation: Optional[Inputs]
    batch_size: int
    class_weight: Optional[dict]
    monitor: str
    patience: Optional[int]
    callbacks: Sequence[keras.callbacks.Callback]
    strategy: Optional[tf.distribute.Strategy]
    verbose: int

    def compile(self, model: keras.Model, learning_rate: float) -> None:
        with scope(self.strategy):
            loss, metrics = loss_and_metrics(output_units(model), self.train.label_kind)
            model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)

    def fit(self, phase: str, model: keras.Model, train: Inputs, validation: Optional[Inputs], *,
            epochs: int, initial_epoch: int = 0) -> tuple[list[dict], Optional[int]]:
        return fit_logged(self.run, phase, model, train, validation, epochs=epochs, initial_epoch=initial_epoch,
                          batch_size=self.batch_size, class_weight=self.class_weight, monitor=self.monitor,
                          patience=self.patience, callbacks=[*train.callbacks(), *self.callbacks],
                          verbose=self.verbose)

    def history(self, phase: str, logs: list[dict], best: Optional[int]) -> TrainingHistory:
        return TrainingHistory.from_logs(
            logs, best_epochs={phase: best} if best is not None else {},
            run_dir=None if self.run.temporary else self.run.directory, model=self.model,
        )

    def finished(self, phase: str, learning_rate: float) -> Optional[TrainingHistory]:
        """A phase this run already finished: load its end weights instead of training again."""
        done = self.run.load_finished(phase, self.model)
        if done is None:
            return None
        self.compile(self.model, learning_rate)
        return self.history(phase, done["logs"], done["best_epoch"])

    def mark_done(self, phase: str, logs: list[dict], best: Optional[int]) -> TrainingHistory:
        self.run.mark_done(phase, self.model, logs, best)
        return self.history(phase, logs, best)


def _open_session(kind: str, phases: tuple[str, ...], settings: dict, model: ModelOrFactory, train: Data,
                  validation: Optional[Data], *, cached: bool, run_dir, batch_size: int, class_weight: Optional[dict],
                  monitor: str, patience: Optional[int], callbacks, strategy, verbose: Optional[int],
                  seed: int) -> _Session:
    config.seed_everything(seed)
    model = resolve_model(model, strategy)
    if cached:
        feature_extractor(model)
    shape, classes = model.input_shape[1:], head_classes(model)
    train_inputs = as_inputs(train, input_shape=shape, classes=classes)
    val_inputs = (as_inputs(validation, role="validation", input_shape=shape, classes=classes)
                  if validation is not None else None)
    weights = check_class_weight(class_weight, output_units(model))
    _, metrics = loss_and_metrics(output_units(model), train_inputs.label_kind)
    allowed = ["val_loss"] + [f"val_{m.name}" for m in metrics]
    if monitor not in allowed:
        raise ValueError(f"monitor={monitor!r} is not logged for this model; use one of {', '.join(allowed)}.")
    settings = dict(settings, batch_size=batch_size, class_weight=weights, monitor=monitor, patience=patience,
                    seed=seed)
    run = Run.open(run_dir, fingerprint(kind, settings, model, train_inputs, val_inputs), phases,
                   strategy=strategy)
    return _Session(run, model, train_inputs, val_inputs, batch_size, weights, monitor, patience, list(callbacks),
                    strategy, (0 if config.QUICK else 1) if verbose is None else int(verbose))


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return f"{int(seconds)} s ago"


def _say_features(extract: FeatureExtractor, cache: Union[bool, FeatureCache],
                  found: dict[str, tuple[Inputs, CachedFeatures]]) -> None:
    """One printed line on where phase 1's features came from, when the cache was asked and did something."""
    if not cache:
        return
    if not extract.uses_disk_cache(cache):
        print("phase 1: the feature cache is off under a multi-worker strategy (the workers would race on it); "
              "every worker runs the frozen base itself.")
        return
    streamed = [role for role, (inputs, _) in found.items() if inputs.is_dataset]
    if streamed:
        print(f"phase 1: the {' and '.join(streamed)} features come from a tf.data dataset, which is not cached on "
              "disk (its digest covers its structure and size, not its images), so they are computed afresh; pass "
              "(images, labels) arrays to reuse them across runs.")
    reused = [(role, result) for role, (_, result) in found.items() if result.reused]
    if reused:
        counts = " and ".join(f"{len(result.labels)} {role}" for role, result in reused)
        oldest = min(result.created for _, result in reused)
        print(f"phase 1: reusing cached features for {counts} images (computed {_ago(time.time() - oldest)}) "
              f"from {FeatureCache().directory if cache is True else cache.directory}; feature_cache=False "
              "computes them again.")


def _fit_cached_head(session: _Session, *, epochs: int, learning_rate: float,
                     feature_cache: Union[bool, FeatureCache]) -> tuple[list[dict], Optional[int]]:
    model = session.model
    augmenting = augmentation_layers(model)
    if augmenting:
        warnings.warn(
            f"cached=True trains the head on features computed once, without augmentation, so the "
            f"model's {augmenting} layers are not used in phase 1. Pass cached=False to augment.",
            stacklevel=4,
        )
    extract = FeatureExtractor(model, session.strategy)
    found: dict[str, tuple[Inputs, CachedFeatures]] = {}
    for role, inputs in (("training", session.train), ("validation", session.validation)):
        if inputs is None:
            continue
        result = extract.features(inputs, batch_size=session.batch_size, cache=feature_cache,
                                  verbose=session.verbose)
        if role == "training" and inputs.is_dataset and inputs.label_kind == "sparse":
            warn_if_single_class(result.labels, stacklevel=5)  # arrays were checked at the door
        found[role] = (inputs, result)
    if writes_files(session.strategy):
        _say_features(extract, feature_cache, found)

    def as_features(role: str) -> Optional[Inputs]:
        if role not in found:
            return None
        inputs, result = found[role]
        return Inputs(result.features, result.labels, inputs.label_kind)

    train, validation = as_features("training"), as_features("validation")
    with scope(session.strategy):
        head = head_model(model)
    if session.strategy is None:
        head = reuse_compiled(head, lambda fresh: session.compile(fresh, learning_rate), learning_rate=learning_rate)
    else:
        session.compile(head, learning_rate)
    logs, best = session.fit("head", head, train, validation, epochs=epochs)
    put_head_back(head, model)
    session.compile(model, learning_rate)
    return logs, best


def _check_feature_cache(feature_cache) -> Union[bool, FeatureCache]:
    if not isinstance(feature_cache, (bool, FeatureCache)):
        raise TypeError(
            f"feature_cache must be True (reuse phase-1 features from the cache in {FeatureCache().directory}), "
            f"False (compute them every run) or a daylib.training.FeatureCache(folder); got {feature_cache!r}."
        )
    return feature_cache


def _head_phase(session: _Session, *, epochs: int, cached: bool, learning_rate: float,
                feature_cache: Union[bool, FeatureCache]) -> TrainingHistory:
    finished = session.finished("head", learning_rate)
    if finished is not None:
        return finished
    freeze(session.model)
    if cached:
        logs, best = _fit_cached_head(session, epochs=epochs, learning_rate=learning_rate,
                                      feature_cache=feature_cache)
    else:
        session.compile(session.model, learning_rate)
        logs, best = session.fit("head", session.model, session.train, session.validation, epochs=epochs)
    return session.mark_done("head", logs, best)


def _fine_tune_phase(session: _Session, *, initial_epoch: int, epochs: int, fine_tune_at, top_n,
                     learning_rate: float) -> TrainingHistory:
    unfreeze(session.model, fine_tune_at=fine_tune_at, top_n=top_n)
    finished = session.finished("fine_tune", learning_rate)
    if finished is not None:
        return finished
    session.compile(session.model, learning_rate)
    logs, best = session.fit("fine_tune", session.model, session.train, session.validation,
                             epochs=initial_epoch + epochs, initial_epoch=initial_epoch)
    return session.mark_done("fine_tune", logs, best)


def _check_layers(epochs: int, fine_tune_at, top_n) -> None:
    if epochs > 0 and (fine_tune_at is None) == (top_n is None):
        raise ValueError(
            "Fine-tuning needs exactly one of fine_tune_at (index or name of the first base layer to train) "
            "or top_n (how many top layers of the base to unfreeze), e.g. top_n=20."
        )


def train_head(
    model: ModelOrFactory,
    train: Data,
    validation: Optional[Data] = None,
    *,
    epochs: int = 5,
    cached: bool = True,
    learning_rate: float = HEAD_LEARNING_RATE,
    batch_size: int = 32,
    class_weight: Optional[dict] = None,
    monitor: str = "val_loss",
    patience: Optional[int] = 3,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    run_dir: Union[str, Path, None] = None,
    feature_cache: Union[bool, FeatureCache] = True,
    strategy: Optional[tf.distribute.Strategy] = None,
    verbose: Optional[int] = None,
    seed: int = 0,
) -> TrainingHistory:
    """Phase 1, feature extraction: freeze the base, train the new head.

    Args:
        model: a model from :func:`daylib.models.build_classifier`, or a function that builds one
            (needed with ``strategy``: the model must be built inside ``strategy.scope()``).
        train, validation: ``(images, labels)`` arrays or batched ``tf.data.Dataset`` of pairs.
        epochs: head epochs (early stopping may end sooner).
        cached: the fast path: run the frozen base once, train the head on the cached pooled
            features, put the trained head back. No augmentation is possible on cached features
            (a warning says so when the model has augmentation layers). ``False``: fit the full
            model with the frozen base inside, augmentation active.
        learning_rate: Adam's learning rate for the head.
        batch_size: batch size for arrays (datasets come batched).
        class_weight: ``{class: weight}`` for imbalanced data, e.g. from
            ``daylib.data.pipeline.class_weights(labels)``.
        monitor: validation metric for the best-epoch checkpoint and early stopping.
        patience: epochs without improvement before stopping; ``None`` turns early stopping off.
        callbacks: extra Keras callbacks (on the cached path they see the head model).
        run_dir: folder for per-epoch states, logs and end weights, kept afterwards; default: a temporary folder
            in the cache, deleted when the run finishes. Either way a repeated call resumes an
            interrupted run (see :mod:`daylib.training.runs`).
        feature_cache: on the cached path, reuse the frozen base's features from the on-disk cache
            (:mod:`daylib.training.feature_cache`) when the same base, data arrays and image size
            were seen before, and say so in one printed line; store them there otherwise.
            ``False``: compute them every run. A
            :class:`~daylib.training.feature_cache.FeatureCache` uses that folder or size cap.
            Datasets and multi-worker strategies are never cached (a printed line says so).
        strategy: a ``tf.distribute.Strategy`` (MirroredStrategy, TPUStrategy, ...) to compile and
            train under.
        verbose: Keras progress bars; default on, off in quick mode (``DAYLIB_QUICK=1``).
        seed: passed to ``daylib.config.seed_everything`` first.

    At the end the model holds the weights of the best validation epoch (no validation data:
    the last epoch) and is compiled, ready for ``evaluate``/``predict``.

    Example:
        >>> history = train_head(model, (x_train, y_train), (x_val, y_val), epochs=5)
        >>> history.best_epochs["head"]
        4
    """
    _check_feature_cache(feature_cache)
    session = _open_session(
        "train_head", ("head",), dict(epochs=epochs, cached=cached, learning_rate=learning_rate), model, train,
        validation,
        cached=cached, run_dir=run_dir, batch_size=batch_size, class_weight=class_weight, monitor=monitor,
        patience=patience, callbacks=callbacks, strategy=strategy, verbose=verbose, seed=seed,
    )
    history = _head_phase(session, epochs=epochs, cached=cached, learning_rate=learning_rate,
                          feature_cache=feature_cache)
    session.run.finish()
    return history


def fine_tune(
    model: keras.Model,
    train: Data,
    validation: Optional[Data] = None,
    *,
    fine_tune_at: Union[int, str, None] = None,
    top_n: Optional[int] = None,
    epochs: int = 5,
    after: Union[TrainingHistory, keras.callbacks.History, None] = None,
    learning_rate: float = FINE_TUNE_LEARNING_RATE,
    batch_size: int = 32,
    class_weight: Optional[dict] = None,
    monitor: str = "val_loss",
    patience: Optional[int] = 3,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    run_dir: Union[str, Path, None] = None,
    strategy: Optional[tf.distribute.Strategy] = None,
    verbose: Optional[int] = None,
    seed: int = 0,
) -> TrainingHistory:
    """Phase 2: unfreeze the top of the base and continue training with a low learning rate.

    Args:
        model: the model after phase 1 (built inside ``strategy.scope()`` when distributing).
        fine_tune_at: index into ``base.layers`` or name of the first layer to train; or
        top_n: how many top layers of the base to unfreeze. BatchNormalization layers stay frozen
            either way (see :func:`daylib.models.unfreeze`).
        epochs: fine-tuning epochs.
        after: the phase-1 history: training continues at its next epoch (``initial_epoch``) and
            the returned history joins both phases, ``fine_tune_epoch`` marking the start.
        learning_rate: default :data:`FINE_TUNE_LEARNING_RATE` (1e-5), see there for why.
        Other arguments as in :func:`train_head`.

    Example:
        >>> head = train_head(model, train, val, epochs=5)
        >>> history = fine_tune(model, train, val, top_n=20, epochs=5, after=head)
        >>> history.fine_tune_epoch
        5
    """
    _check_layers(max(epochs, 1), fine_tune_at, top_n)
    if isinstance(after, keras.callbacks.History):
        after = TrainingHistory.from_keras(after)
    initial_epoch = after.next_epoch if after is not None else 0
    settings = dict(epochs=epochs, initial_epoch=initial_epoch, fine_tune_at=fine_tune_at, top_n=top_n,
                    learning_rate=learning_rate)
    session = _open_session(
        "fine_tune", ("fine_tune",), settings, model, train, validation, cached=False, run_dir=run_dir,
        batch_size=batch_size, class_weight=class_weight, monitor=monitor, patience=patience, callbacks=callbacks,
        strategy=strategy, verbose=verbose, seed=seed,
    )
    history = _fine_tune_phase(session, initial_epoch=initial_epoch, epochs=epochs, fine_tune_at=fine_tune_at,
                               top_n=top_n, learning_rate=learning_rate)
    session.run.finish()
    if after is None:
        history.fine_tune_epoch = history.epoch[0] if history.epoch else None
        return history
    return after.then(history, fine_tune=True)


def train_classifier(
    model: ModelOrFactory,
    train: Data,
    validation: Optional[Data] = None,
    *,
    head_epochs: int = 5,
    fine_tune_epochs: int = 0,
    fine_tune_at: Union[int, str, None] = None,
    top_n: Optional[int] = None,
    cached: bool = True,
    head_learning_rate: float = HEAD_LEARNING_RATE,
    fine_tune_learning_rate: float = FINE_TUNE_LEARNING_RATE,
    batch_size: int = 32,
    class_weight: Optional[dict] = None,
    monitor: str = "val_loss",
    patience: Optional[int] = 3,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    run_dir: Union[str, Path, None] = None,
    feature_cache: Union[bool, FeatureCache] = True,
    strategy: Optional[tf.distribute.Strategy] = None,
    verbose: Optional[int] = None,
    seed: int = 0,
) -> TrainingHistory:
    """Both phases in one call: train the head, then (``fine_tune_epochs > 0``) fine-tune the top of the base.

    Phase 2 starts at the epoch after the last phase-1 epoch that ran and from the best
    phase-1 weights. The returned history joins both phases; ``history.fine_tune_epoch`` is
    where phase 2 began and ``history.model`` is the trained model (built here when
    ``model`` is a factory). Interrupt it (Ctrl-C, a killed kernel) and repeat the same call
    (same settings, data and freshly built model): a finished phase 1 is skipped and the
    interrupted phase continues from its last finished epoch. Arguments are those of
    :func:`train_head` and :func:`fine_tune`.

    Example:
        >>> history = train_classifier(lambda: build_classifier("efficientnet_lite0", 2), (x, y), (xv, yv),
        ...                            head_epochs=5, fine_tune_epochs=5, top_n=20, run_dir="runs/lite0")
        >>> history.fine_tune_epoch, history.epochs
        (5, 10)
    """
    _check_layers(fine_tune_epochs, fine_tune_at, top_n)
    _check_feature_cache(feature_cache)
    settings = dict(head_epochs=head_epochs, fine_tune_epochs=fine_tune_epochs, fine_tune_at=fine_tune_at,
                    top_n=top_n, cached=cached, head_learning_rate=head_learning_rate,
                    fine_tune_learning_rate=fine_tune_learning_rate)
    session = _open_session(
        "train_classifier", ("head", "fine_tune") if fine_tune_epochs > 0 else ("head",), settings, model, train,
        validation, cached=cached, run_dir=run_dir,
        batch_size=batch_size, class_weight=class_weight, monitor=monitor, patience=patience, callbacks=callbacks,
        strategy=strategy, verbose=verbose, seed=seed,
    )
    history = _head_phase(session, epochs=head_epochs, cached=cached, learning_rate=head_learning_rate,
                          feature_cache=feature_cache)
    if fine_tune_epochs > 0:
        later = _fine_tune_phase(session, initial_epoch=history.next_epoch, epochs=fine_tune_epochs,
                                 fine_tune_at=fine_tune_at, top_n=top_n, learning_rate=fine_tune_learning_rate)
        history = history.then(later, fine_tune=True)
    session.run.finish()
    return history
