"""Exercises of lesson 08 (shortcut learning): checks, hints, solutions and worked answers.

Every exercise trains or explains one more model and reads the lesson's two test rows (the same patients,
marker uninformative and marker flipped) or its letter test. The checks recompute those numbers on the spot
from the learner's own models and films with daylib's API (``evaluate``, ``GradCAM``, ``energy_pointing``,
``mcnemar_exact``), the way the lesson's ``test_results`` and ``letter_test`` do. Tolerances: the tables print
three decimals (a copied number is within 5e-4, so 6e-4) and an accuracy may be off by half a film (0.5 / N).
Whether a gap between the two rows is more than noise is the paired exact McNemar interval on the same films.

Example:
    >>> from daylib.exercises import lesson08 as ex
    >>> ex.q4.check(None, None, None).status
    'unanswered'
"""
from __future__ import annotations

import warnings
from typing import Callable, Mapping, Optional

import numpy as np

from daylib.arguments import count, flag, number
from daylib.exercises import answers
from daylib.exercises.core import Exercise, correct, wrong

PRINTED = 6e-4  # the lesson prints three decimals: a copied number is within 5e-4 of the value
EARLY_LAYER = "efficientnet_lite0/block4a_expand_activation"
ROWS = ("uninformative", "flipped")


# ----------------------------------------------------------------------------------------------- helpers



def _tests(tests) -> dict:
    if not isinstance(tests, Mapping) or any(not hasattr(tests.get(k), "images") for k in ROWS):
        raise ValueError('pass the lesson\'s `tests`: {"uninformative": ..., "flipped": ...} of make_phantom films.')
    return {k: tests[k] for k in ROWS}


def _box(box) -> tuple[int, int, int, int]:
    if not isinstance(box, (tuple, list)) or len(box) != 4:
        raise ValueError(f"BOX must be the lesson's (x0, y0, x1, y1), not {box!r:.60}.")
    return tuple(count(v, f"BOX[{i}]", minimum=0) for i, v in enumerate(box))


def _hide(images: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    hidden = np.array(images, copy=True)
    hidden[:, y0:y1, x0:x1] = 0
    return hidden


def _predict(model, images) -> np.ndarray:
    from daylib.data.images import to_rgb_batch

    return model.predict(to_rgb_batch(images), verbose=0)[:, 0]


def _rows(model, tests, box=None) -> dict[str, tuple[float, float, np.ndarray]]:
    """As the lesson's ``test_results``: per row (accuracy, AUC, right per film), the corner hidden if ``box``."""
    from daylib.evaluate import metric

    out = {}
    for name, films in _tests(tests).items():
        scores = _predict(model, films.images if box is None else _hide(films.images, box))
        auc = metric("auc", films.labels, scores)  # the same numbers as evaluate(..., bootstrap=0), only lighter
        out[name] = (float(metric("accuracy", films.labels, scores)), float("nan") if auc is None else float(auc),
                     (scores >= 0.5) == (films.labels == 1))
    return out


def _results(value, name: str) -> dict[str, tuple[float, float]]:
    if not isinstance(value, Mapping) or set(ROWS) - set(value):
        raise ValueError(f'{name} must be what test_results returns: {{"uninformative": (accuracy, auc), '
                         f'"flipped": (accuracy, auc)}}.')
    out = {}
    for row in ROWS:
        pair = value[row]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{name}[{row!r}] must be (accuracy, auc), not {pair!r:.60}.")
        out[row] = (number(pair[0], f"{name}[{row!r}][0]"), number(pair[1], f"{name}[{row!r}][1]"))
    return out


def _pair(value, name: str) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be the pair (with_r, with_l) that letter_test returns, not {value!r:.60}.")
    return number(value[0], f"{name}[0]"), number(value[1], f"{name}[1]")


def _differ(value, reference, n: int) -> list[str]:
    """The rows of ``value`` that differ from ``reference`` by more than half a film (accuracy) or the print (AUC)."""
    off = []
    for row in ROWS:
        (acc, auc), (ref_acc, ref_auc, _) = value[row], reference[row]
        if abs(acc - ref_acc) > 0.5 / n + 1e-9 or abs(auc - ref_auc) > PRINTED:
            off.append(f"{row}: yours ({acc:.3f}, {auc:.3f}), recomputed ({ref_acc:.3f}, {ref_auc:.3f})")
    return off


def _letter(model, tests, box, hidden: bool) -> tuple[float, float]:
    """As the lesson's ``letter_test``: PNEUMONIA-map energy in the box with an R and with an L."""
    from daylib.cam import GradCAM
    from daylib.cam.metrics import energy_pointing
    from daylib.data.images import to_rgb_batch
    from daylib.data.phantom import MARKER_LETTERS

    tests, cam = _tests(tests), GradCAM(model)
    energy = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, films in tests.items():
            images = _hide(films.images, box) if hidden else films.images
            energy[name] = energy_pointing(cam(to_rgb_batch(images), classes=1), np.tile(box, (len(images), 1)))
    test, flipped = tests["uninformative"], tests["flipped"]
    differ = test.markers != flipped.markers
    has_r = test.markers == MARKER_LETTERS.index("R")
    with_r = np.where(has_r, energy["uninformative"], energy["flipped"])[differ]
    with_l = np.where(has_r, energy["flipped"], energy["uninformative"])[differ]
    return float(with_r.mean()), float(with_l.mean())


def _paired(rows):
    from daylib.evaluate import mcnemar_exact

    return mcnemar_exact(rows["uninformative"][2], rows["flipped"][2], names=ROWS)


def _verdict(test) -> str:
    low, high = test.interval.low, test.interval.high
    return (f"accuracy uninformative - flipped = {test.estimate:+.3f} (95% CI {low:+.3f} to {high:+.3f}, paired): "
            + ("the letter decides part of the answers" if low > 0 else "no reliance on the letter is shown"))


def _row_text(results) -> str:
    return ", ".join(f"{row} {results[row][0]:.3f} (AUC {results[row][1]:.3f})" for row in ROWS)


# ----------------------------------------------------------------------------------------------- q1: the other fix


def _check_q1(mask_after, mask_letter, mask_model, tests, box):
    mask_after, mask_letter = _results(mask_after, "mask_after"), _pair(mask_letter, "mask_letter")
    model, box = answers.keras_model(mask_model, "mask_model"), _box(box)
    n = len(_tests(tests)["uninformative"].labels)
    hidden = _rows(model, tests, box)
    off = _differ(mask_after, hidden, n)
    if off:
        raw = _rows(model, tests)
        why = (" They match the films as they are: pass hide_marker, test_results(mask_model, hide_marker), so the "
               "model meets the corner at test time as it was trained, blacked out." if not _differ(mask_after, raw, n)
               else " Use test_results(mask_model, hide_marker).")
        return wrong("mask_after is not the masked model's test rows: " + "; ".join(off) + "." + why)
    ref = _letter(model, tests, box, hidden=True)
    if max(abs(a - b) for a, b in zip(mask_letter, ref)) > PRINTED:
        return wrong(f"mask_letter is ({mask_letter[0]:.3f}, {mask_letter[1]:.3f}), but letter_test(mask_model, "
                     f"hide_marker) gives ({ref[0]:.3f}, {ref[1]:.3f}). Without hide_marker the heatmaps are of films "
                     "the model was never trained on.")
    return correct(f"masked corner: {_row_text(mask_after)}; letter test R {ref[0]:.3f}, L {ref[1]:.3f}. "
                   "ex.q1.answer(before, after, mask_after, mask_letter) compares it with the data fix.")


def _answer_q1(before, after, mask_after, mask_letter) -> str:
    before, after = _results(before, "before"), _results(after, "after")
    mask_after, (r, l) = _results(mask_after, "mask_after"), _pair(mask_letter, "mask_letter")
    gain = {name: res["uninformative"][0] - before["uninformative"][0]
            for name, res in (("uncorrelated", after), ("mask", mask_after))}
    lead = max(gain, key=gain.get)
    return f"""Your runs, test accuracy with the marker uninformative / flipped:

| model | uninformative | flipped |
|---|---|---|
| shortcut | {before['uninformative'][0]:.3f} | {before['flipped'][0]:.3f} |
| fix "uncorrelated" | {after['uninformative'][0]:.3f} | {after['flipped'][0]:.3f} |
| fix "mask" | {mask_after['uninformative'][0]:.3f} | {mask_after['flipped'][0]:.3f} |

On the uninformative row the data fix gained {gain['uncorrelated']:+.3f} and the mask {gain['mask']:+.3f};
"{lead}" is ahead by {abs(gain['uncorrelated'] - gain['mask']):.3f}. With N_TEST films, one seed and one run each, a
few points is noise: unless the gap is large, call the fixes equal. Both take away all the letter gave.

The masked model's letter test reads R {r:.3f} and L {l:.3f}: {'the same number' if abs(r - l) < 1e-6 else
'almost the same'}, because with the corner black the "R" and the "L" film are the same image. The test has nothing
left to change, so it can show neither reliance nor its absence: the model is blind to the letter *by
construction*, not because it learned to ignore it. That is the mask's strength (no new data needed) and its limit:
only the data fix's letter test shows that a model *shown* the letter does not use it.
"""


q1 = Exercise(
    "lesson08.q1", "The other fix",
    check=_check_q1, answer=_answer_q1,
    hint="""
        Keep `FIX = "uncorrelated"` and train the masked model as section 5 does for `"mask"`:
        `train_model(train, val, hide_marker)`. The model must see the films at test time as in training, so pass
        `hide_marker` to `test_results` and to `letter_test` too.
    """,
    solution="""
        mask_model = train_model(train, val, hide_marker)
        mask_after = test_results(mask_model, hide_marker)
        mask_letter = letter_test(mask_model, hide_marker)
        print_results("model with the corner masked", mask_after)
        print(f"letter test: with an R {mask_letter[0]:.3f}, with an L {mask_letter[1]:.3f}")
    """,
)


# ----------------------------------------------------------------------------------------------- q2: weaker shortcuts


def _check_q2(gaps, models_by_strength, tests):
    if not isinstance(gaps, Mapping) or not gaps:
        raise ValueError("gaps must be a dict {shortcut strength: accuracy uninformative - accuracy flipped}.")
    if not isinstance(models_by_strength, Mapping) or not models_by_strength:
        raise ValueError("models_by_strength must be a dict {shortcut strength: model trained at that strength}.")
    missing = sorted(set(models_by_strength) - set(gaps))
    if missing:
        return wrong(f"gaps has no entry for the strength(s) {missing}: one gap per model in models_by_strength.")
    lines, off = [], []
    for strength in sorted(models_by_strength, reverse=True):
        model = answers.keras_model(models_by_strength[strength], f"models_by_strength[{strength!r}]")
        rows = _rows(model, tests)
        reference = rows["uninformative"][0] - rows["flipped"][0]
        value = number(gaps[strength], f"gaps[{strength!r}]")
        n = len(rows["flipped"][2])
        if abs(value - reference) > 1.0 / n + 1e-9:
            hint = (" (that is flipped - uninformative: subtract the other way)" if abs(value + reference) <= 1.0 / n
                    else "")
            off.append(f"at {strength}: yours {value:+.3f}, recomputed {reference:+.3f}{hint}")
        lines.append(f"{strength}: {_verdict(_paired(rows))}")
    if off:
        return wrong("the gap is test accuracy (marker uninformative) - test accuracy (marker flipped), from "
                     "test_results(model): " + "; ".join(off) + ".")
    return correct("; ".join(lines) + ". ex.q2.answer(gaps, weak_letters) reads them with the letter test.")


def _answer_q2(gaps, weak_letters) -> str:
    if not isinstance(gaps, Mapping) or not isinstance(weak_letters, Mapping):
        raise ValueError("pass gaps {strength: gap} and weak_letters {strength: letter_test(model)}.")
    rows = []
    for strength in sorted(gaps, reverse=True):
        r, l = _pair(weak_letters[strength], f"weak_letters[{strength!r}]") if strength in weak_letters else (None,) * 2
        letter = "n/a | n/a" if r is None else f"{r:.3f} | {l:.3f}"
        rows.append(f"| {strength} | {number(gaps[strength], 'gap'):+.3f} | {letter} |")
    return f"""Your runs:

| SHORTCUT | accuracy gap (uninformative - flipped) | letter test R | letter test L |
|---|---|---|---|
{chr(10).join(rows)}

A shortcut pays when it predicts the label better than the real evidence: at 0.95 the letter is right on 95% of
the films, far more than the faint lesions give. At 0.6 it is right on 60%, below what the lungs give (the fixed
model's accuracy in section 5), so the gap should close towards noise; the check said, per strength, whether the
paired interval still excludes 0 (one run per strength: read a trend, not a threshold). The letter test's R-minus-L
difference should follow the gap. Even a weak shortcut can leave one: a crisp letter is far easier to read than a
faint opacity, and a network takes whatever is easy.
"""


q2 = Exercise(
    "lesson08.q2", "A weaker shortcut",
    check=_check_q2, answer=_answer_q2,
    hint="""
        Draw the training and validation films as section 1 does, only with `shortcut=0.75` (then `0.6`), the same
        seeds: `train_model(make_phantom(N_TRAIN, size=IMAGE_SIZE, shortcut=0.75, seed=1), make_phantom(N_VAL, ...,
        seed=2))`. The test films stay as they are. The gap of a model is `r["uninformative"][0] - r["flipped"][0]`
        with `r = test_results(model)`.
    """,
    solution="""
        models_by_strength = {SHORTCUT: shortcut_model}
        for strength in (0.75, 0.6):
            models_by_strength[strength] = train_model(
                make_phantom(N_TRAIN, size=IMAGE_SIZE, shortcut=strength, seed=1),
                make_phantom(N_VAL, size=IMAGE_SIZE, shortcut=strength, seed=2))
        weak_results = {strength: test_results(model) for strength, model in models_by_strength.items()}
        gaps = {strength: r["uninformative"][0] - r["flipped"][0] for strength, r in weak_results.items()}
        weak_letters = {strength: letter_test(model) for strength, model in models_by_strength.items()}
        for strength in gaps:
            print(f"SHORTCUT={strength}: gap {gaps[strength]:+.3f}, letter test R {weak_letters[strength][0]:.3f}, "
                  f"L {weak_letters[strength][1]:.3f}")
    """,
)


# ----------------------------------------------------------------------------------------------- q3: hidden in training only


def _check_q3(unhidden, mask_model, tests, box):
    unhidden, model, box = _results(unhidden, "unhidden"), answers.keras_model(mask_model, "mask_model"), _box(box)
    n = len(_tests(tests)["uninformative"].labels)
    raw = _rows(model, tests)
    off = _differ(unhidden, raw, n)
    if off:
        why = (" Those are the rows with the corner hidden: here the model meets the films as they are, "
               "test_results(mask_model) without hide_marker." if not _differ(unhidden, _rows(model, tests, box), n)
               else " Use test_results(mask_model).")
        return wrong("unhidden is not the masked model's rows on the unmasked films: " + "; ".join(off) + "." + why)
    return correct(f"on the films as they are: {_row_text(unhidden)}; {_verdict(_paired(raw))}. "
                   "ex.q3.answer(unhidden, mask_after) explains the change.")


def _answer_q3(unhidden, mask_after) -> str:
    unhidden, mask_after = _results(unhidden, "unhidden"), _results(mask_after, "mask_after")
    drop = {row: mask_after[row][0] - unhidden[row][0] for row in ROWS}
    spread = unhidden["uninformative"][0] - unhidden["flipped"][0]
    return f"""Your masked model, test accuracy:

| test films | marker uninformative | marker flipped |
|---|---|---|
| corner hidden (as trained) | {mask_after['uninformative'][0]:.3f} | {mask_after['flipped'][0]:.3f} |
| films as they are | {unhidden['uninformative'][0]:.3f} | {unhidden['flipped'][0]:.3f} |

Showing the corner changes the accuracy by {-drop['uninformative']:+.3f} and {-drop['flipped']:+.3f}, and the two
rows of the unmasked films differ by {spread:+.3f}.

The model never saw a letter: in training the corner was always black. At test time a bright tag appears there,
a pattern outside all it learned from. Convolutions respond to it, global average pooling mixes that into the
features the head reads, and the scores shift in a direction nobody trained: accuracy can drop on both rows, by an
amount you cannot predict. The letter never went with a label for this model, so a gap between the rows, if any,
is an accident (an R and an L push the scores by different amounts), not a learned meaning. The rule: a
preprocessing step that is part of the fix (masking, cropping) belongs to the model, in training, test and use alike.
"""


q3 = Exercise(
    "lesson08.q3", "Hidden in training only",
    check=_check_q3, answer=_answer_q3,
    hint="""
        Use the masked model of exercise 1, `mask_model`, and leave out the `prepare` argument:
        `test_results(mask_model)` scores it on the films with their markers.
    """,
    solution="""
        unhidden = test_results(mask_model)
        print_results("masked model, films as they are", unhidden)
    """,
)


# ----------------------------------------------------------------------------------------------- q4: frozen base


def _check_q4(takes_shortcut, frozen_model, tests):
    claim, model = flag(takes_shortcut, "takes_shortcut"), answers.keras_model(frozen_model, "frozen_model")
    from daylib.models import base_model

    try:
        tuned = [layer.name for layer in base_model(model).layers if layer.trainable and layer.weights]
    except ValueError:
        tuned = []
    if tuned and base_model(model).trainable:
        return wrong(f"frozen_model's base has trainable layers ({', '.join(tuned[:3])}, ...): it was fine-tuned. "
                     "Train it with fine_tune_epochs=0.")
    rows = _rows(model, tests)
    test = _paired(rows)
    takes = bool(test.interval.low > 0)
    where = f"{_row_text(rows)}; {_verdict(test)}"
    if claim == takes:
        return correct(f"{where}. ex.q4.answer(frozen_results, frozen_letter, before, (with_r, with_l)) compares "
                       "its heatmaps.")
    if takes:
        return wrong(f"{where}: the interval lies above 0, so the frozen model does take the shortcut; ImageNet "
                     "features already see a sharp letter.")
    return wrong(f"{where}: the interval reaches 0, so a shortcut is not shown, whatever the estimate says.")


def _answer_q4(frozen_results, frozen_letter, before, shortcut_letter) -> str:
    frozen, before = _results(frozen_results, "frozen_results"), _results(before, "before")
    (fr, fl), (sr, sl) = _pair(frozen_letter, "frozen_letter"), _pair(shortcut_letter, "(with_r, with_l)")
    return f"""Your runs:

| model | test acc, uninformative | test acc, flipped | letter test R | letter test L |
|---|---|---|---|---|
| fine-tuned (the lesson) | {before['uninformative'][0]:.3f} | {before['flipped'][0]:.3f} | {sr:.3f} | {sl:.3f} |
| frozen base, linear head | {frozen['uninformative'][0]:.3f} | {frozen['flipped'][0]:.3f} | {fr:.3f} | {fl:.3f} |

A linear head on frozen ImageNet features can only weigh what the base already computes, and a high-contrast
letter on a dark tag is just what ImageNet features encode well (edges, strokes), unlike a faint opacity: the
shortcut can be there without fine-tuning (your frozen model's gap between the rows:
{frozen['uninformative'][0] - frozen['flipped'][0]:+.3f}; the check gave its paired interval). Fine-tuning can sharpen
the letter detector, so the letter test's R-minus-L difference ({sr - sl:+.3f} fine-tuned, {fr - fl:+.3f} frozen)
may grow with it, but it does not create the shortcut. The last layer's coarse cells blur the corner in both maps;
the letter test, which flips only the letter, does not depend on how sharp the map is.
"""


q4 = Exercise(
    "lesson08.q4", "Frozen base only",
    check=_check_q4, answer=_answer_q4,
    hint="""
        `train_model` uses `FINE_TUNE_EPOCHS`; call `train_classifier` as it does, with `fine_tune_epochs=0` (then
        `top_n` is not needed), and take `.model`. `takes_shortcut` is True when the flipped row's accuracy is below
        the uninformative row's by more than noise: the paired test is `mcnemar_exact` on the films right in each row.
    """,
    solution="""
        frozen_model = train_classifier(
            lambda: build_classifier(BACKBONE, 2, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)),
            (to_rgb_batch(train.images), train.labels), (to_rgb_batch(val.images), val.labels),
            head_epochs=HEAD_EPOCHS, fine_tune_epochs=0, verbose=0).model
        frozen_results = test_results(frozen_model)
        frozen_letter = letter_test(frozen_model)
        print_results("frozen base, linear head", frozen_results)
        print(f"letter test: with an R {frozen_letter[0]:.3f}, with an L {frozen_letter[1]:.3f}")
        from daylib.evaluate import mcnemar_exact
        right = {name: (scores(frozen_model, films.images) >= 0.5) == (films.labels == 1) for name, films in tests.items()}
        paired = mcnemar_exact(right["uninformative"], right["flipped"], names=("uninformative", "flipped"))
        print(paired)
        takes_shortcut = bool(paired.interval.low > 0)
    """,
)


# ----------------------------------------------------------------------------------------------- q5: an early layer


def _box_energy(model, images, box, layer: str) -> float:
    from daylib.cam import GradCAM
    from daylib.cam.metrics import energy_pointing
    from daylib.data.images import to_rgb_batch

    maps = GradCAM(model, layer=layer)(to_rgb_batch(images))
    return float(energy_pointing(maps, np.tile(box, (len(images), 1))).mean())


def _check_q5(early_box, shortcut_model, fixed_model, test, box, prepare: Optional[Callable] = None,
              layer: str = EARLY_LAYER):
    if not isinstance(early_box, Mapping) or {"shortcut", "fixed"} - set(early_box):
        raise ValueError('early_box must be a dict {"shortcut": energy, "fixed": energy}.')
    if not hasattr(test, "images"):
        raise ValueError("pass the lesson's `test` films (the uninformative version, tests[\"uninformative\"]).")
    box, prepare = _box(box), prepare or (lambda images: images)
    models = {"shortcut": answers.keras_model(shortcut_model, "shortcut_model"), "fixed": answers.keras_model(fixed_model, "fixed_model")}
    images = {"shortcut": test.images, "fixed": prepare(test.images)}
    reference = {name: _box_energy(models[name], images[name], box, layer) for name in models}
    off = []
    for name in models:
        value = number(early_box[name], f"early_box[{name!r}]")
        if abs(value - reference[name]) > PRINTED:
            last = _box_energy(models[name], images[name], box, None)
            why = " (that is the last layer's number: pass layer= to GradCAM)" if abs(value - last) <= PRINTED else ""
            off.append(f"{name}: yours {value:.3f}, at {layer} {reference[name]:.3f}{why}")
    if off:
        return wrong("energy in the marker box, predicted-class Grad-CAM on test.images: " + "; ".join(off) + ".")
    return correct(f"at {layer}: shortcut model {reference['shortcut']:.3f}, fixed model {reference['fixed']:.3f}. "
                   "ex.q5.answer(early_box, heat_before, heat_after, box_area) reads them against the last layer.")


def _mean(value):
    """The lesson's heatmap scores are per film (an array); a single number is taken as it is."""
    return np.mean(value) if isinstance(value, np.ndarray) else value


def _answer_q5(early_box, heat_before, heat_after, box_area) -> str:
    s, f = number(early_box["shortcut"], "early_box"), number(early_box["fixed"], "early_box")
    ls, lf = (number(_mean(h["energy in marker box"]), "energy in marker box") for h in (heat_before, heat_after))
    chance = number(box_area, "box_area")
    return f"""Your numbers, Grad-CAM energy in the marker box (a uniform map: {chance:.3f}):

| layer | shortcut model | fixed model |
|---|---|---|
| early (block4a) | {s:.3f} | {f:.3f} |
| last (the lesson) | {ls:.3f} | {lf:.3f} |

At the last layer the shortcut model puts {ls:.3f} in the box and the fixed one {lf:.3f}. At the early layer the
fixed model, trained on films whose letter says nothing about the label, puts {f / chance:.1f}x the uniform share
in the box, {'close to' if abs(s - f) < 0.5 * max(s, f, 1e-9) else 'against'}
{s / chance:.1f}x for the shortcut model. Early layers respond to sharp, high-contrast structure, and a white letter
on a dark tag is the sharpest thing on the film, used downstream or not. So early-layer heat on the tag is no
evidence of a shortcut by itself: only a control, a model known not to use the letter, tells what part of it is
reliance. The later the layer, the closer its map is to the decision.
"""


q5 = Exercise(
    "lesson08.q5", "Earlier layers need a control",
    check=_check_q5, answer=_answer_q5,
    hint="""
        `GradCAM(model, layer="efficientnet_lite0/block4a_expand_activation")` on `to_rgb_batch(images)` gives the
        predicted-class maps; `energy_pointing(maps, np.tile(BOX, (len(images), 1))).mean()` their share in the box.
        The fixed model sees `prepare(test.images)`.
    """,
    solution="""
        early_layer = "efficientnet_lite0/block4a_expand_activation"
        early_box = {}
        for name, model, images in (("shortcut", shortcut_model, test.images), ("fixed", fixed_model, prepare(test.images))):
            maps = GradCAM(model, layer=early_layer)(to_rgb_batch(images))
            early_box[name] = energy_pointing(maps, np.tile(BOX, (len(images), 1))).mean()
        print(f"energy in the marker box at {early_layer}: shortcut {early_box['shortcut']:.3f}, "
              f"fixed {early_box['fixed']:.3f} (uniform {box_area:.3f})")
    """,
)


EXERCISES = [q1, q2, q3, q4, q5]
QUESTIONS: dict[str, Exercise] = {}     # lesson 08 asks no in-text *Question:*
