"""Exercises of lesson 05 (transfer learning, augmentation and heatmap quality): checks, hints, solutions and
worked answers.

Most of the lesson's exercises change a setting and rerun part of the lesson. Each gets a check of the one
number (or ranking) it asks for, computed again on the spot from the learner's own models, films and reports
with daylib's API, and a worked answer that reads the learner's own tables. The tolerances allow the three
decimals the lesson's tables print (6e-4) and, for an accuracy, half a film (0.5 / N).

Example:
    >>> from daylib.exercises import lesson05 as ex
    >>> ex.q3.check(["transfer", "transfer + aug", "from scratch"], reports)   # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from typing import Mapping, Optional

import numpy as np

from daylib.exercises import answers
from daylib.exercises.core import Exercise, correct, wrong

MODEL_NAMES = ("from scratch", "transfer", "transfer + aug")
PRINTED = 6e-4  # the tables print three decimals: a number copied from them is within 5e-4 of the value
FINE_TUNE_TOP_N = 20
LARGE_ROTATION = 30


# ----------------------------------------------------------------------------------------------- helpers


def _f(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _agreement(cam, images, transform: str, amount: Optional[float] = None) -> float:
    from daylib.cam.metrics import heatmap_agreement

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-zero maps are part of the score
        return float(heatmap_agreement(cam, images, classes=1, transform=transform, amount=amount).correlation.mean())


def _report_numbers(model, images, labels) -> tuple[float, Optional[float], int]:
    """Accuracy (threshold 0.5) and AUC on the films, as in section 4, without the bootstrap."""
    from daylib.evaluate import evaluate, scores_and_labels

    scores = scores_and_labels(model, (images, labels))[0]
    report = evaluate(labels, scores, bootstrap=0)
    return float(report["accuracy"]), report["auc"], len(labels)


def _sick(images, labels) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} films but {len(labels)} labels: pass x_test and test.labels.")
    return np.asarray(images)[labels == 1]


def _close(name: str, value: float, reference: float, tolerance: float, how: str):
    if abs(value - reference) <= tolerance:
        return None
    return f"{name} is {value:.3f}, but {how} gives {reference:.3f} (off by {value - reference:+.3f})."


# ----------------------------------------------------------------------------------------------- exercise 1


def _check_q1(scratch_beats_baseline, report):
    claim = answers.flag(scratch_beats_baseline, "scratch_beats_baseline")
    if "accuracy" not in getattr(report, "intervals", {}):
        raise ValueError('Pass the from-scratch report with its interval: reports["from scratch"].')
    low, high = report.intervals["accuracy"]
    baseline = report.baseline["accuracy"]
    beats = bool(low > baseline)
    where = (f"its accuracy is {report['accuracy']:.3f}, 95% interval {low:.3f} to {high:.3f}, and the "
             f"always-one-class baseline scores {baseline:.3f}")
    if claim == beats:
        return correct(f"{where}: the interval lies {'above' if beats else 'not wholly above'} the baseline, "
                       f"so leaving chance is {'shown' if beats else 'not shown'}.")
    if beats:
        return wrong(f"{where}: the whole interval lies above the baseline, so the model does beat it.")
    return wrong(f"{where}: the interval still reaches down to the baseline, so beating it is not shown, "
                 f"whatever the point estimate {report['accuracy']:.3f} says.")


def _answer_q1(reports, scores, chance, history=None):
    report, row = reports["from scratch"], scores["from scratch"]
    low, high = report.intervals.get("accuracy", (float("nan"), float("nan")))
    baseline = report.baseline["accuracy"]
    beats = low > baseline
    epochs = ""
    if history is not None and "from scratch" in history:
        ran = len(history["from scratch"].history["val_accuracy"])
        epochs = (f" It trained for {ran} epochs: early stopping (patience 5 in this lesson) ends the run when "
                  "the validation loss stops falling, so 40 epochs is a ceiling, not a promise.")
    pointing, energy = row["pointing"], row["energy lesions"]
    above = pointing > chance["pointing"]
    verdict = ("lies above the baseline: the model has left chance" if beats
               else "still reaches the baseline: leaving chance is not shown")
    return f"""
**Your run:** the small CNN reaches accuracy {_f(report['accuracy'])} (95% interval {_f(low)} to {_f(high)}) and
AUC {_f(report['auc'])}; the always-one-class baseline scores {_f(baseline)}. The interval {verdict}.{epochs}

Its heatmaps: pointing game {_f(pointing)} against {_f(chance['pointing'])} for a flat map, energy in the lesions
{_f(energy)} against {_f(chance['energy lesions'])}, energy in the lungs {_f(row['energy lungs'])} against
{_f(chance['energy lungs'])}. The pointing game is {'above' if above else 'not above'} the chance level in the
table; section 6's comparison with random maps (`compare_proportions`) says whether that gap is more than noise.

**Why it can go either way.** Three times the films and twice the epochs give the 60 thousand random weights
more to learn from, so accuracy often rises. But accuracy and localisation are separate questions: a CNN can
score well from the overall brightness or texture of the lungs, and its last layer is a coarse grid, so its
hottest cell can sit beside a lesion rather than on it. Read the accuracy interval against the baseline, and
the pointing game against the random-map baseline, before calling either better; with one seed, a
difference of a few films is noise.
"""


q1 = Exercise(
    "lesson05.q1", "More data or more epochs",
    check=_check_q1, answer=_answer_q1,
    hint="""
    Read `reports["from scratch"].intervals["accuracy"]`, a (low, high) pair, and the baseline
    `reports["from scratch"].baseline["accuracy"]`. The model is shown to beat the baseline only when the
    *lower* end of the interval is above it.
    """,
    solution="""
    # after setting N_TRAIN = 600 (full mode) and SCRATCH_EPOCHS = 40 in the parameters cell and rerunning
    scratch_beats_baseline = bool(reports["from scratch"].intervals["accuracy"][0]
                                  > reports["from scratch"].baseline["accuracy"])
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 2


def _check_q2(no_flip_model, no_flip_accuracy, no_flip_corr, images, labels):
    import keras

    from daylib.cam import GradCAM
    from daylib.models.layers import is_random_augmentation, iter_layers

    model = answers.keras_model(no_flip_model, "no_flip_model")
    accuracy = answers.number(no_flip_accuracy, "no_flip_accuracy")
    corr = answers.number(no_flip_corr, "no_flip_corr")
    layers = list(iter_layers(model))
    flips = [path for path, layer in layers if isinstance(layer, keras.layers.RandomFlip)]
    if flips:
        return wrong(f"no_flip_model still flips its films ({', '.join(flips)}): build its augmentation with "
                     "augmentation(..., horizontal_flip=False).")
    if not any(is_random_augmentation(layer) for _path, layer in layers):
        return wrong("no_flip_model has no augmentation at all, so it is the plain transfer model: pass "
                     "augmentation=augmentation(rotation=10, ..., horizontal_flip=False) to build_classifier.")
    ref_accuracy, _auc, n = _report_numbers(model, images, labels)
    problems = [
        _close("no_flip_accuracy", accuracy, ref_accuracy, max(0.5 / n, PRINTED),
               f"evaluate(test.labels, scores_and_labels(no_flip_model, ...)[0]) on your {n} test films"),
        _close("no_flip_corr", corr, _agreement(GradCAM(model), _sick(images, labels), "hflip"), PRINTED,
               "the mean of heatmap_agreement(GradCAM(no_flip_model), x_test[sick], classes=1, "
               "transform='hflip').correlation"),
    ]
    problems = [p for p in problems if p]
    if problems:
        return wrong(" ".join(problems) + " Score the test films, and the flip agreement on those with pneumonia.")
    return correct(f"without flips in training: accuracy {accuracy:.3f}, flip correlation {corr:.3f}. "
                   "Compare them with the 'transfer + aug' rows, then open the worked answer.")


def _answer_q2(reports, robustness, no_flip_accuracy, no_flip_corr):
    with_flips = reports["transfer + aug"]["accuracy"]
    plain = reports["transfer"]["accuracy"]
    flip_with = robustness["transfer + aug"]["flip corr."]
    flip_plain = robustness["transfer"]["flip corr."]
    return f"""
**Your numbers:** accuracy {_f(no_flip_accuracy)} without flips, {_f(with_flips)} with them and {_f(plain)}
with no augmentation; flip correlation {_f(no_flip_corr)} without flips, {_f(flip_with)} with them and
{_f(flip_plain)} with no augmentation.

**Accuracy.** The test films are never flipped, so flips in training only add films the model will not meet;
expect little change, and read any gap against the accuracy intervals of section 4 (tens of test films give
intervals several points wide). The flip was the article's; dropping it is what daylib does for X-rays, because
a flipped chest film puts the heart on the wrong side.

**Flip agreement.** Training with flips shows the model each film and its mirror image with the same label, which
invites features that work on both; it does not force the heatmap to mirror with the film. In the stored run the
model trained with flips was not shown to agree better under flips than plain transfer (0.73 against 0.77), and
a difference of {_f(abs(no_flip_corr - flip_with))} between your two augmented models is within what one seed
moves. Test it paired on the same films, as section 6 does: `paired_scores(...)` on the per-film correlations.
And remember that agreement measures consistency, not correctness: a map that always covers the heart agrees
perfectly.
"""


q2 = Exercise(
    "lesson05.q2", "No flips",
    check=_check_q2, answer=_answer_q2,
    hint="""
    Copy the recipe of `models["transfer + aug"]` and `history["transfer + aug"]`: `augmentation(...)` with
    `horizontal_flip=False`, `build_classifier(BACKBONE, 2, input_shape=shape, augmentation=...)` and
    `train_classifier(..., cached=False, ...)`. Then score it as in section 4 (`scores_and_labels`, `evaluate`)
    and section 6 (`heatmap_agreement(GradCAM(model), x_test[sick], classes=1, transform="hflip")`).
    """,
    solution="""
    no_flips = augmentation(rotation=10, zoom=0.1, translation=0.05, contrast=0.2, horizontal_flip=False, seed=0)
    no_flip_model = build_classifier(BACKBONE, 2, input_shape=shape, augmentation=no_flips, name="transfer_no_flip")
    train_classifier(no_flip_model, **data, head_epochs=HEAD_EPOCHS, head_learning_rate=HEAD_LEARNING_RATE,
                     cached=False, **fit)
    no_flip_accuracy = evaluate(test.labels, scores_and_labels(no_flip_model, (x_test, test.labels))[0])["accuracy"]
    no_flip_corr = heatmap_agreement(GradCAM(no_flip_model), x_test[sick], classes=1,
                                     transform="hflip").correlation.mean()
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 3


def _check_q3(ranking, reports):
    if isinstance(ranking, str) or not isinstance(ranking, (list, tuple)):
        raise ValueError(f"ranking must be a list of the model names, best AUC first, e.g. {list(MODEL_NAMES)}.")
    names = list(reports)
    if sorted(map(str, ranking)) != sorted(names):
        raise ValueError(f"ranking must hold each of {names} once; got {list(ranking)}.")
    auc = {name: reports[name]["auc"] for name in names}
    if any(value is None for value in auc.values()):
        raise ValueError("an AUC in reports is undefined (one class only?): rerun section 4.")
    reference = sorted(names, key=lambda name: -auc[name])
    listing = ", ".join(f"{name} {auc[name]:.3f}" for name in reference)
    for better, worse in zip(ranking, ranking[1:]):
        if auc[better] < auc[worse]:
            return wrong(f"{worse!r} has the higher AUC ({auc[worse]:.3f} against {auc[better]:.3f}); your run's "
                         f"order is: {listing}.")
    return correct(f"by AUC: {listing}. Now check with the intervals whether neighbours are really apart.")


def _answer_q3(reports, scores, chance):
    lines = "\n".join(
        f"| {name} | {_f(reports[name]['accuracy'])} | {_f(reports[name]['auc'])} | {_f(scores[name]['pointing'])} "
        f"| {_f(scores[name]['energy lesions'])} |" for name in reports)
    return f"""
**Your run:**

| model | accuracy | AUC | pointing | energy in lesions |
|---|---|---|---|---|
{lines}
| chance (flat map) | | 0.500 | {_f(chance['pointing'])} | {_f(chance['energy lesions'])} |

**What moves.** "Easy" opacities are larger and denser, so first the accuracy and AUC rise, most for the small
CNN, which at "medium" could not find the faint lesions from a few hundred films. The chance row moves too: the
lesions now cover {_f(chance['energy lesions'])} of the image, so compare the heatmap scores with *this* run's
chance row, not with the medium run's; a higher pointing game is partly just a larger target.

**The ranking.** Transfer learning usually keeps its lead in AUC, because ImageNet features separate a dense
opacity easily, while the scratch model's gain is the largest; whether the order changes in your run is what the
table above shows. For the heatmaps, the last layer is still a coarse grid (section 7), so the pointing game stays
limited by resolution even when the model is nearly always right: easier data makes the models better, not
necessarily their Grad-CAM at the last layer.
"""


q3 = Exercise(
    "lesson05.q3", "Easier lessons",
    check=_check_q3, answer=_answer_q3,
    hint="""
    `reports[name]["auc"]` is each model's AUC; `sorted(reports, key=..., reverse=True)` orders the names by it.
    """,
    solution="""
    # after setting DIFFICULTY = "easy" in the parameters cell and rerunning the lesson
    ranking = sorted(reports, key=lambda name: reports[name]["auc"], reverse=True)
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 4


def _check_q4(fine_tuned, fine_tuned_auc, images, labels):
    from daylib.models import trainable_layer_names

    model = answers.keras_model(fine_tuned, "fine_tuned")
    auc = answers.number(fine_tuned_auc, "fine_tuned_auc")
    in_base = [path for path in trainable_layer_names(model) if "/" in path]
    if not in_base:
        return wrong("fine_tuned has no trainable layer inside its base: only the head was trained. Pass "
                     f"fine_tune_epochs=3, top_n={FINE_TUNE_TOP_N} to train_classifier.")
    _accuracy, ref_auc, n = _report_numbers(model, images, labels)
    if ref_auc is None:
        raise ValueError("the AUC is undefined on these films (one class only): pass x_test and test.labels.")
    problem = _close("fine_tuned_auc", auc, ref_auc, PRINTED,
                     f"evaluate(test.labels, scores_and_labels(fine_tuned, ...)[0])['auc'] on your {n} test films")
    if problem:
        return wrong(problem + " Use the test films and the model's scores, as in section 4.")
    return correct(f"fine-tuned ({len(in_base)} layers of the base trainable): test AUC {auc:.3f}.")


def _answer_q4(reports, fine_tuned_auc, fine_tuned_scores=None):
    plain = reports["transfer"]
    low, high = plain.intervals.get("auc", (float("nan"), float("nan")))
    inside = low <= fine_tuned_auc <= high
    heat = ""
    if fine_tuned_scores is not None:
        heat = (f" Its heatmap scores: pointing game {_f(fine_tuned_scores['pointing'])}, energy in the lesions "
                f"{_f(fine_tuned_scores['energy lesions'])}.")
    return f"""
**Your numbers:** test AUC {_f(fine_tuned_auc)} after fine-tuning, against {_f(plain['auc'])} for the head
alone (95% interval {_f(low)} to {_f(high)}); the fine-tuned AUC lies {'inside' if inside else 'outside'} that
interval.{heat}

**What to expect.** Fine-tuning lets the top of the base (here its last {FINE_TUNE_TOP_N} layers, BatchNormalization
kept frozen) adapt from ImageNet's photos to faint opacities on X-rays, at a learning rate low enough not to wreck
what was learned. With a few hundred films that can help or overfit; three epochs is a cautious budget. A fair
comparison is paired on the same films: `paired_bootstrap(test.labels, scores_a, scores_b, "auc")`.

**The heatmaps.** Grad-CAM at the last layer is still read from a 5×5 grid at 160 px, the limit section 7 found,
so even a better classifier rarely points at 30-pixel lesions from there; the finer `block5c_add` with LayerCAM is
where a change in the model's features shows. A model that learned more is not the same as a heatmap that shows
more: measure both, as sections 4 to 7 do.
"""


q4 = Exercise(
    "lesson05.q4", "Fine-tuning",
    check=_check_q4, answer=_answer_q4,
    hint="""
    Build a fresh `build_classifier(BACKBONE, 2, input_shape=shape)` and train it with
    `train_classifier(model, **data, head_epochs=HEAD_EPOCHS, head_learning_rate=HEAD_LEARNING_RATE,
    fine_tune_epochs=3, top_n=20, cached=True, **fit)`; phase 1 uses cached features, phase 2 runs the base.
    Then `evaluate(test.labels, scores_and_labels(model, (x_test, test.labels))[0])["auc"]`.
    """,
    solution="""
    fine_tuned = build_classifier(BACKBONE, 2, input_shape=shape, name="transfer_fine_tuned")
    train_classifier(fine_tuned, **data, head_epochs=HEAD_EPOCHS, head_learning_rate=HEAD_LEARNING_RATE,
                     fine_tune_epochs=3, top_n=20, cached=True, **fit)
    fine_tuned_auc = evaluate(test.labels, scores_and_labels(fine_tuned, (x_test, test.labels))[0])["auc"]
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 5


def _check_q5(rotate_30, cams, images):
    if not isinstance(rotate_30, Mapping):
        raise ValueError("rotate_30 must be a dict {model name: mean correlation}, like the rows of section 6.")
    missing = [name for name in cams if name not in rotate_30]
    if missing:
        raise ValueError(f"rotate_30 has no value for {missing}; give one for each of {list(cams)}.")
    problems, shown = [], []
    for name, cam in cams.items():
        value = answers.number(rotate_30[name], f"rotate_30[{name!r}]")
        reference = _agreement(cam, images, "rotate", LARGE_ROTATION)
        shown.append(f"{name} {reference:.3f}")
        problem = _close(f"rotate_30[{name!r}]", value, reference, PRINTED,
                         f"heatmap_agreement(cams[{name!r}], x_test[sick], classes=1, transform='rotate', "
                         f"amount={LARGE_ROTATION})")
        if problem:
            problems.append(problem)
    if problems:
        return wrong(" ".join(problems) + f" Did you pass amount={LARGE_ROTATION}? Without it the rotation is 10°.")
    best = max(cams, key=lambda name: rotate_30[name])
    return correct(f"mean correlation under a {LARGE_ROTATION}° rotation: {', '.join(shown)}; the most stable maps "
                   f"are those of {best!r}.")


def _answer_q5(rotate_30, robustness):
    rows = []
    for name, value in rotate_30.items():
        small = next((v for k, v in robustness.get(name, {}).items() if k.startswith("rotate") and "corr" in k), None)
        rows.append(f"| {name} | {_f(small)} | {_f(value)} |")
    best = max(rotate_30, key=lambda name: rotate_30[name])
    table = "\n".join(rows)
    return f"""
**Your numbers** (mean correlation between the heatmap of the rotated film and the rotated heatmap):

| model | section 6 (small rotation) | {LARGE_ROTATION}° |
|---|---|---|
{table}

The most stable maps at {LARGE_ROTATION}° are those of **{best}**.

**Why.** Agreement falls for every model as the rotation grows: the rotated film is further from the upright
films the models learned on, and more of the image's border is filled with black. The augmented model saw at most
±10° in training, so at {LARGE_ROTATION}° it has no advantage it was trained for. A model whose maps follow the
bright body (the from-scratch CNN, in the stored run) keeps agreeing, because the body rotates with the film;
that says nothing about whether it finds lesions (section 5's table). High agreement is consistency, not
correctness: read it beside the localisation scores.
"""


q5 = Exercise(
    "lesson05.q5", "Larger rotations",
    check=_check_q5, answer=_answer_q5,
    hint=f"""
    As in section 6, for each `name, cam in cams.items()`: `heatmap_agreement(cam, x_test[sick], classes=1,
    transform="rotate", amount={LARGE_ROTATION}).correlation.mean()`, collected in a dict.
    """,
    solution=f"""
    rotate_30 = {{name: heatmap_agreement(cam, x_test[sick], classes=1, transform="rotate",
                                         amount={LARGE_ROTATION}).correlation.mean()
                 for name, cam in cams.items()}}
    """,
)

EXERCISES = [q1, q2, q3, q4, q5]
