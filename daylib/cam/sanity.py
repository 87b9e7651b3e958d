"""Sanity checks for heatmaps (Adebayo et al., NeurIPS 2018): does the map change when the model does?

A heatmap that explains the model must change when the model's weights are destroyed,
or when the model is trained on labels that mean nothing. A map that stays the same is an
edge detector of the image, whatever it looks like. Three tests:

- :func:`cascading_randomization`: on a copy of the model, re-initialise the weights block
  by block from the logits downwards (the changes add up) and recompute every method's maps
  after each step;
- :func:`independent_randomization`: re-initialise one block at a time, the others intact;
- :func:`data_randomization`: train the same small transfer model twice, on the true and
  on permuted labels, and compare the two models' maps.

Each compares the maps with the original ones per image by four similarities:
``spearman_abs`` (Spearman rank correlation of the returned [0, 1] maps),
``spearman_signed`` (of ``last_signed_maps``, where the method has them; ``None`` otherwise),
``ssim`` (:func:`skimage.metrics.structural_similarity`, ``data_range=1``) and ``hog``
(Pearson correlation of :func:`skimage.feature.hog` of both maps, 8 x 8 cells per map, 2 x 2 cells
per block). A correlation between two constant maps (e.g. two all-zero maps) is 1 if they are
equal and 0 otherwise; a constant map against a varying one is 0. Zero-map warnings of the
methods are silenced during the checks: a randomised model often gives all-zero maps.

Pass rule: a method **passes** a test when ``|spearman_abs|``, averaged over the images and over
all the steps, is below ``threshold`` (default :data:`PASS_THRESHOLD` = 0.5); for the data test
there is one step, the random-label model. The mean over the steps is the area under the
cascading curve: a map that explains the model must change as soon as the top blocks (which hold
the class) are gone, not only once the first convolutions are re-initialised too, since by then any
map loses the image. Why 0.5: two maps of unrelated models still share the image's structure
(objects, edges), so their rank correlation rarely falls to 0, while a map that ignores the weights
stays at 1; halfway separates "follows the weights" from "follows the image". Measured on the
bundled EfficientNet-Lite0 (the cat photo, 6 blocks, December 2026): mean over the steps 0.29 for
Grad-CAM and 0.23 for Saliency (pass), 0.59 for Guided Backprop and 0.52 for Guided Grad-CAM (fail),
as Adebayo et al. found; at the last step alone all four are below 0.5, so the last step is not the
rule. It is a rule of thumb, not a test of significance: read the curves
(:func:`daylib.viz.sanity.plot_similarity`) as well.

Example:
    >>> from daylib.cam.sanity import cascading_randomization
    >>> result = cascading_randomization(model, images, ["gradcam", "saliency", "guided_backprop"])
    >>> result.summary()[:2]                 # mean and spread over images per method x step
    >>> result.passes()
    {'Grad-CAM': True, 'Saliency': True, 'Guided Backprop': False}
    >>> from daylib.viz.sanity import show_randomization, plot_similarity
    >>> show_randomization(result); plot_similarity(result)
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import keras
import numpy as np
from tqdm.auto import tqdm

from daylib.arguments import flag, fraction, one_or_many, optional_seed
from daylib.cam.metrics import class_probabilities
from daylib.cam.registry import method_key, methods as registered_methods
from daylib.cam.targets import as_heatmaps, check_class_range, class_array
from daylib.data.images import to_rgb_batch
from daylib.cam.randomize import block_paths, copy_model, randomization_blocks, reinitialize
from daylib.cam.sanity_result import PASS_THRESHOLD, SanityResult
from daylib.cam.similarity import MIN_SIZE, SIMILARITIES, map_similarity
from daylib.models.layers import require_model

__all__ = [
    "PASS_THRESHOLD", "SIMILARITIES", "SanityResult", "randomization_blocks", "copy_model", "map_similarity",
    "cascading_randomization", "independent_randomization", "data_randomization",
]


MethodSpec = Union[str, type, Callable[[keras.Model], Callable[..., np.ndarray]]]
"""A registry key or label (``"gradcam"``, ``"Grad-CAM"``), a method class, or a function ``model -> method``
where ``method(images, classes)`` returns ``(B, H, W)`` maps in [0, 1]."""

Methods = Union[Sequence[MethodSpec], Mapping[str, MethodSpec]]
"""Several methods: a list (labels from the registry, or the function's ``__name__``) or a dict label -> method."""


def cascading_randomization(
    model: keras.Model,
    images: np.ndarray,
    methods: Methods,
    classes: Union[None, int, Sequence[int], np.ndarray] = None,
    *,
    blocks: Union[None, Sequence[str], Mapping[str, Sequence[str]]] = None,
    seed: int = 0,
    threshold: float = PASS_THRESHOLD,
    progress: bool = True,
) -> SanityResult:
    """Re-initialise the model block by block from the logits down, and compare each method's maps with the originals.

    Works on a copy of ``model`` (:func:`copy_model`; the user's model is never changed).
    Each layer's weights are drawn again from the layer's own initializers, seeded (a Dense or
    Conv kernel from its ``kernel_initializer``, a depthwise kernel from its
    ``depthwise_initializer``, biases from theirs, usually zeros); a BatchNormalization layer
    gets its initial state back from its own initializers (gamma 1, beta 0, moving mean 0,
    moving variance 1). A weight whose layer names no initializer for it gets a seeded truncated
    normal with standard deviation 0.01 (the paper's choice). The maps explain the class the
    *original* model predicts (or
    ``classes``), at every step.

    Args:
        model: a Keras classifier (functional or Sequential, nested bases included).
        images: ``(B, H, W, 3)`` 0-255 (see :func:`daylib.data.images.to_rgb_batch`), at least 16 x 16.
        methods: see :data:`Methods`; a method class or key is built as ``cls(model)`` on each model.
        classes: one int, or one per image; ``None``: the original model's predicted classes.
        blocks: ``None`` for :func:`randomization_blocks`; a list of layer names/paths (one block
            each, top-down); or a dict block name -> layer names/paths, top-down.
        seed: seeds the re-initialisation (step ``k`` uses ``seed + k``).
        threshold: the pass threshold on the mean ``|spearman_abs|``.
        progress: show a tqdm progress bar over the steps.

    Raises:
        ValueError: unknown methods, blocks naming no layer or a layer without weights, bad
            images or classes (with the fix).

    Example:
        >>> result = cascading_randomization(model, images, ["gradcam", "guided_backprop"])
        >>> result.passes()
    """
    return _randomization("cascading", model, images, methods, classes, blocks, seed, threshold, progress)


def independent_randomization(
    model: keras.Model,
    images: np.ndarray,
    methods: Methods,
    classes: Union[None, int, Sequence[int], np.ndarray] = None,
    *,
    blocks: Union[None, Sequence[str], Mapping[str, Sequence[str]]] = None,
    seed: int = 0,
    threshold: float = PASS_THRESHOLD,
    progress: bool = True,
) -> SanityResult:
    """Re-initialise one block at a time (the others keep their trained weights) and compare the maps.

    Arguments and re-initialisation as for :func:`cascading_randomization`; each step starts
    again from a fresh copy of the original weights.

    Example:
        >>> independent_randomization(model, images, ["gradcam"]).summary()
    """
    return _randomization("independent", model, images, methods, classes, blocks, seed, threshold, progress)


def data_randomization(
    build_model: Callable[[], keras.Model],
    train_images: np.ndarray,
    train_labels: np.ndarray,
    images: np.ndarray,
    methods: Methods,
    classes: Union[None, int, Sequence[int], np.ndarray] = None,
    *,
    validation: Optional[tuple[np.ndarray, np.ndarray]] = None,
    train: Optional[Mapping[str, Any]] = None,
    seed: int = 0,
    threshold: float = PASS_THRESHOLD,
) -> SanityResult:
    """Train the same model on the true labels and on permuted labels, and compare the two models' maps.

    ``build_model()`` must return a fresh, identically initialised transfer model each call
    (e.g. ``lambda: build_classifier(base, 2)`` after ``seed_everything``); each is trained with
    :func:`daylib.training.train_head` (``train`` holds its keyword arguments, e.g.
    ``{"epochs": 3}``; the run gets no validation data, so that the true labels cannot steer the
    random-label run's early stopping or best epoch). The labels are permuted once with ``seed``.
    ``validation`` (default: a seeded fifth of the training images held out) is scored against the
    true labels for both models. The maps explain ``classes`` or the true-label model's predicted
    classes.

    Raises:
        ValueError: ``build_model`` is not a function returning a Keras model; labels that do
            not fit the images; bad images, classes or methods.

    Example:
        >>> result = data_randomization(lambda: build_classifier(base, 2), x, y, x_test[:4], ["gradcam"],
        ...                             train={"epochs": 3})
        >>> result.accuracy["random labels"]["validation"]      # near chance
    """
    from daylib.training import train_head  # training imports models only; kept lazy so daylib.cam stays light

    if not callable(build_model) or isinstance(build_model, keras.Model):
        raise ValueError(
            "build_model must be a function that builds a fresh model, e.g. lambda: build_classifier(base, 2); "
            f"got {type(build_model).__name__}. Both trainings need their own, identically initialised model."
        )
    seed = optional_seed(seed)
    threshold = fraction(threshold, "threshold")
    options = dict(train or {})
    x = to_rgb_batch(train_images, single=True)
    y = _labels(train_labels, len(x), "train_labels")
    rng = np.random.default_rng(seed)
    if validation is None:
        held = rng.permutation(len(x))
        cut = max(1, len(x) // 5)
        if len(x) - cut < 1:
            raise ValueError("data_randomization needs at least 2 training images to hold one out for validation.")
        (x, y), validation = (x[held[cut:]], y[held[cut:]]), (x[held[:cut]], y[held[:cut]])
    if not isinstance(validation, tuple) or len(validation) != 2:
        raise ValueError("validation must be a pair (images, labels), e.g. (x_val, y_val), or None.")
    x_val = to_rgb_batch(validation[0], single=True)
    y_val = _labels(validation[1], len(x_val), "validation labels")
    permuted = rng.permutation(y)
    batch = to_rgb_batch(images, single=True)
    specs = _methods(methods)
    trained, accuracy = {}, {}
    for name, labels in (("true labels", y), ("random labels", permuted)):
        model = build_model()
        if not isinstance(model, keras.Model):
            raise ValueError(f"build_model() must return a Keras model, got {type(model).__name__}.")
        history = train_head(model, (x, labels), seed=0 if seed is None else seed, **options)
        model = model if history.model is None else history.model
        accuracy[name] = {
            "train": float(np.mean(class_probabilities(model, x, 32).argmax(axis=1) == labels)),
            "validation": float(np.mean(class_probabilities(model, x_val, 32).argmax(axis=1) == y_val)),
        }
        trained[name] = model
    targets = _targets(trained["true labels"], batch, classes)
    original, signed = _all_maps(_build(specs, trained["true labels"]), batch, targets)
    after, after_signed = _all_maps(_build(specs, trained["random labels"]), batch, targets)
    maps = {label: after[label][None] for label in after}
    rows = _rows(original, signed, {label: [after[label]] for label in after},
                 {label: [after_signed[label]] for label in after}, ["random labels"])
    return SanityResult("data", list(original), ["random labels"], targets, original, maps, rows, threshold,
                        accuracy=accuracy)


def _labels(labels, size: int, what: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != size or not np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        raise ValueError(f"{what} must be {size} integer class indices (one per image), got shape {array.shape} "
                         f"of dtype {array.dtype}.")
    return array


def _methods(methods: Methods) -> list[tuple[str, Callable]]:
    items = list(methods.items()) if isinstance(methods, Mapping) else [(None, spec) for spec in one_or_many(methods, "methods")]
    if not items:
        raise ValueError("methods is empty: pass e.g. ['gradcam', 'saliency'].")
    registry = {method.cls: method for method in registered_methods()}
    out: dict[str, Callable] = {}
    for label, spec in items:
        if isinstance(spec, str):
            key = method_key(spec)
            entry = next(method for method in registered_methods() if method.key == key)
            name, factory = entry.label, entry.cls
        elif isinstance(spec, type):
            name, factory = (registry[spec].label if spec in registry else spec.__name__), spec
        elif callable(spec) and not isinstance(spec, keras.Model):
            name, factory = getattr(spec, "__name__", type(spec).__name__), spec
        else:
            raise ValueError(
                f"A method must be a registry key or label ('gradcam'), a method class, or a function model -> method; "
                f"got {spec!r:.60} ({type(spec).__name__})."
            )
        name = name if label is None else str(label)
        if name in out:
            raise ValueError(f"Method {name!r} is listed twice; give each method once (or a dict of distinct labels).")
        out[name] = factory
    return list(out.items())


def _targets(model: keras.Model, batch: np.ndarray, classes) -> np.ndarray:
    probabilities = class_probabilities(model, batch, 32)
    if classes is None:
        return probabilities.argmax(axis=1).astype(np.int32)
    targets = class_array(classes, len(batch), allow_2d=False)[0][:, 0]
    check_class_range(targets, probabilities.shape[1])
    return targets


def _build(specs, model: keras.Model) -> dict[str, Callable]:
    """One method per label on ``model``. Built once per model: the randomization steps change the
    twin's weights in place and the methods read the variables when they run, so rebuilding (and
    retracing) them at every step would only cost time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {label: factory(model) for label, factory in specs}


def _maps(method: Callable, label: str, batch: np.ndarray, classes: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        heat = method(batch, classes)
    heat = as_heatmaps(heat, f"the maps of {label}")
    if heat.shape != batch.shape[:3]:
        raise ValueError(
            f"{label} returned maps {heat.shape} for images {batch.shape}: one (H, W) map per image is needed."
        )
    signed = getattr(method, "last_signed_maps", None)
    if signed is not None:
        signed = np.asarray(signed, np.float32)
        signed = signed[:, 0] if signed.ndim == 4 else signed
    return heat, signed


def _all_maps(built: dict[str, Callable], batch, classes):
    maps, signed = {}, {}
    for label, method in built.items():
        maps[label], signed[label] = _maps(method, label, batch, classes)
    return maps, signed


def _rows(original, signed, after, after_signed, steps) -> list[dict[str, Any]]:
    rows = []
    for label in original:
        for s, step in enumerate(steps):
            for image, values in enumerate(map_similarity(original[label], after[label][s], signed[label],
                                                          after_signed[label][s])):
                rows.append({"method": label, "step": step, "image": image, **values})
    return rows


def _randomization(test, model, images, methods, classes, blocks, seed, threshold, progress) -> SanityResult:
    model = require_model(model)
    seed = optional_seed(seed)
    threshold = fraction(threshold, "threshold")
    progress = flag(progress, "progress")
    batch = to_rgb_batch(images, single=True)
    if min(batch.shape[1:3]) < MIN_SIZE:
        raise ValueError(
            f"Images of {batch.shape[1]}x{batch.shape[2]} pixels are too small: use at least {MIN_SIZE}x{MIN_SIZE}."
        )
    specs = _methods(methods)
    twin = copy_model(model)
    named = block_paths(twin, blocks)
    targets = _targets(model, batch, classes)
    original, signed = _all_maps(_build(specs, model), batch, targets)
    on_twin = _build(specs, twin)
    trained = twin.get_weights()
    after = {label: [] for label in original}
    after_signed = {label: [] for label in original}
    for step, (name, paths) in enumerate(tqdm(named.items(), desc=f"{test} randomisation", disable=not progress)):
        if test == "independent":
            twin.set_weights(trained)
        reinitialize(twin, paths, None if seed is None else seed + step)
        maps, signed_maps = _all_maps(on_twin, batch, targets)
        for label in original:
            after[label].append(maps[label])
            after_signed[label].append(signed_maps[label])
    steps = list(named)
    rows = _rows(original, signed, after, after_signed, steps)
    stacked = {label: np.stack(after[label]) for label in after}
    return SanityResult(test, list(original), steps, targets, original, stacked, rows, threshold, blocks=named)
