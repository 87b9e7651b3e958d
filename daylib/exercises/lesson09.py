"""Exercises of lesson 09 (can you trust a heatmap?): checks, hints, solutions and worked answers.

The checks read the learner's own :class:`daylib.cam.sanity.SanityResult` objects and recompute what the
lesson's ``verdict`` prints from them with daylib's API (``similarity``, ``passes``, ``steps``): the block that
changes a method most, the verdicts at another threshold, the gap between the signed and the absolute rank
correlation, which curve a product method follows. Nothing is copied from a stored output. Tolerances: the
lesson prints two decimals, so a copied number is within 0.005 of the value (0.0051 is allowed); a
recomputation of the same similarities differs by float rounding only (1e-6).

Example:
    >>> from daylib.exercises import lesson09 as ex
    >>> ex.q2.check(None, None, None).status
    'unanswered'
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from daylib.arguments import flag, names, number
from daylib.exercises.core import Exercise, correct, wrong

PRINTED = 0.0051  # two printed decimals: a copied number is within 0.005 of the value
EARLY_LAYER = "block6a_expand_activation"
"""Exercise 5's 14x14 layer of EfficientNet-Lite0 (at 224 px)."""
EARLY_LABEL = "Guided Grad-CAM (14x14)"


def _result(value, name: str, test: str = None):
    from daylib.cam.sanity import SanityResult

    if not isinstance(value, SanityResult):
        raise ValueError(f"{name} must be what a sanity check returns (a SanityResult), not {type(value).__name__}.")
    if test is not None and value.test != test:
        raise ValueError(f"{name} is a {value.test!r} result; this exercise needs the {test!r} one.")
    return value


def _rule(result) -> dict[str, float]:
    """label -> |spearman_abs| averaged over the images and the steps: what ``passes()`` compares."""
    return {label: float(np.abs(grid).mean()) for label, grid in result.similarity("spearman_abs").items()}


def _curve(result, label: str) -> np.ndarray:
    """The method's mean |rho| per step, over the images (the curve of ``plot_similarity``)."""
    return np.abs(result.similarity("spearman_abs")[label]).mean(axis=1)


# ------------------------------------------------------------------ q1: independent randomization

def _most_changed(result) -> dict[str, list[str]]:
    """label -> the block(s) whose randomization leaves the lowest mean |rho| (ties within rounding)."""
    out = {}
    for label in result.methods:
        curve = _curve(result, label)
        out[label] = [step for step, value in zip(result.steps, curve) if value <= curve.min() + 1e-6]
    return out


def _check_q1(most_changed, agrees, independent, cascade):
    independent = _result(independent, "independent", "independent")
    cascade = _result(cascade, "cascade", "cascading")
    agrees = flag(agrees, "agrees")
    if not isinstance(most_changed, Mapping):
        raise ValueError('most_changed must be a dict {"Grad-CAM": block, "Guided Backprop": block}.')
    reference = _most_changed(independent)
    problems = []
    for label in ("Grad-CAM", "Guided Backprop"):
        if label not in reference:
            return wrong(f"independent has no {label!r}: run independent_randomization with the methods of SANITY.")
        given = most_changed.get(label)
        if given is None:
            problems.append(f"no block for {label}")
        elif str(given) not in reference[label]:
            curve = dict(zip(independent.steps, _curve(independent, label)))
            hint = (f" (its mean |ρ| there is {curve[str(given)]:.2f})" if str(given) in curve
                    else f"; the blocks are {', '.join(independent.steps)}")
            problems.append(f"{label}: {given!r} is not the block that changes it most{hint}; the lowest mean |ρ| "
                            f"over the images is after randomizing {reference[label][0]!r} "
                            f"({_curve(independent, label).min():.2f})")
    mine, theirs = independent.passes(), cascade.passes()
    common = [label for label in mine if label in theirs]
    differ = [label for label in common if mine[label] != theirs[label]]
    if agrees != (not differ):
        problems.append("agrees should be " + (f"False: {', '.join(differ)} get{'s' if len(differ) == 1 else ''} "
                                               "another verdict" if differ else "True: every method gets the same "
                                               "verdict") + " from independent.passes() and cascade.passes()")
    if problems:
        return wrong(problems)
    return correct(f"Grad-CAM changes most when {reference['Grad-CAM'][0]!r} is randomized, Guided Backprop when "
                   f"{reference['Guided Backprop'][0]!r} is; the verdicts "
                   + ("agree for every method." if not differ else f"differ for {', '.join(differ)}.")
                   + " ex.q1.answer(independent, cascade) reads the two tests side by side.")


def _answer_q1(independent, cascade) -> str:
    rows = [f"| {label} | " + " | ".join(f"{v:.2f}" for v in _curve(independent, label)) + " | "
            f"{'passes' if independent.passes()[label] else 'fails'} | "
            f"{'passes' if cascade.passes().get(label) else 'fails'} |" for label in independent.methods]
    header = "| method | " + " | ".join(independent.steps) + " | independent | cascading |"
    rule = "|---" * (len(independent.steps) + 3) + "|"
    table = "\n".join([header, rule, *rows])
    return f"""
Mean |ρ| over your images after randomizing **only** that block (the other blocks keep their trained weights):

{table}

The cascade asks "how much of the model must go before the map changes?", the independent test "which block
does the map depend on?". A map that explains the class should fall when the **head** alone is random: Grad-CAM's
channel weights are gradients of the class score. Guided Backprop ignores the head (it zeroes the negative
gradients at every ReLU, so the image's edges dominate) and drops only when a low block, which shapes those edges,
is random. Each independent step changes one block, so similarities stay higher than in the cascade and a method
can pass one test and fail the other: read the curves, not one pass/fail.
"""


q1 = Exercise(
    "lesson09.q1", "Independent randomization",
    check=_check_q1, answer=_answer_q1,
    hint="""
        `independent_randomization` takes the same arguments as `cascading_randomization` (model, photos, the
        methods dict, `classes=top_classes`, `seed=0`, `progress=False`). The block that changes a method most is
        the step with the lowest mean |ρ| over the images: `np.abs(result.similarity("spearman_abs")[label])`
        is (steps, images). Compare `independent.passes()` with `cascade.passes()`.
    """,
    solution="""
        from daylib.cam.sanity import independent_randomization

        independent = independent_randomization(model, photos, {label: method(label) for label in SANITY},
                                                classes=top_classes, seed=0, progress=False)
        rho = {label: np.abs(grid).mean(axis=1) for label, grid in independent.similarity("spearman_abs").items()}
        most_changed = {label: independent.steps[int(np.argmin(rho[label]))] for label in ("Grad-CAM", "Guided Backprop")}
        agrees = independent.passes() == cascade.passes()
        print(most_changed, "verdicts agree:", agrees)
    """,
)


# ------------------------------------------------------------------ q2: a stricter bar

def _check_q2(flipped, strict, cascade):
    strict, cascade = _result(strict, "strict", "cascading"), _result(cascade, "cascade", "cascading")
    given = set(names(flipped, "flipped"))
    if abs(strict.threshold - cascade.threshold / 2) > 1e-9:
        return wrong(f"strict has threshold {strict.threshold:g}, not {cascade.threshold / 2:g}: pass "
                     "threshold=PASS_THRESHOLD / 2.")
    before, after = cascade.passes(), strict.passes()
    reference = {label for label in before if label in after and before[label] != after[label]}
    rule = _rule(cascade)
    between = {label for label, value in rule.items() if strict.threshold <= value < cascade.threshold}
    if reference != between:  # a rerun whose similarities differ from section 3's
        return wrong(f"strict's verdicts flip {sorted(reference)}, but the section-3 values between the thresholds "
                     f"are {sorted(between)}: strict is not the same cascade; rerun it with seed=0 and the same "
                     "methods, or use dataclasses.replace(cascade, threshold=PASS_THRESHOLD / 2).")
    unknown = given - set(before)
    if unknown:
        return wrong(f"{', '.join(sorted(unknown))} {'is' if len(unknown) == 1 else 'are'} not among the methods "
                     f"({', '.join(before)}).")
    if given == reference:
        listed = ", ".join(f"{label} ({rule[label]:.2f})" for label in sorted(reference)) or "none"
        return correct(f"flipped: {listed}, exactly those with |ρ| all steps in [{strict.threshold:g}, "
                       f"{cascade.threshold:g}); a failing method fails at any lower bar, and a method below "
                       f"{strict.threshold:g} passes both.")
    parts = []
    failing = sorted(label for label in given - reference if not before[label])
    passing = sorted(label for label in given - reference if before[label])
    if failing:
        parts.append(f"{', '.join(failing)} already failed at {cascade.threshold:g}: a stricter bar cannot make "
                     "it pass, so it does not flip")
    if passing:
        parts.append(f"{', '.join(f'{m} ({rule[m]:.2f})' for m in passing)} stays below {strict.threshold:g} "
                     "and still passes")
    missing = sorted(reference - given)
    if missing:
        parts.append(f"missing: {', '.join(f'{m} ({rule[m]:.2f})' for m in missing)}, which passed at "
                     f"{cascade.threshold:g} and fails at {strict.threshold:g}")
    return wrong("; ".join(parts) + ".")


def _answer_q2(strict, cascade) -> str:
    rule = _rule(cascade)
    before, after = cascade.passes(), strict.passes()
    rows = "\n".join(f"| {label} | {rule[label]:.2f} | {'passes' if before[label] else 'fails'} | "
                     f"{'passes' if after[label] else 'fails'} |" for label in cascade.methods)
    return f"""
| method | mean \\|ρ\\| all steps | at {cascade.threshold:g} | at {strict.threshold:g} |
|---|---|---|---|
{rows}

The threshold changes only the verdict, never the maps, so exactly the methods whose mean |ρ| lies between the
two bars flip. Two maps of unrelated models still share the image, so their correlation rarely reaches 0: at 0.25
even a method that follows the weights can fail for the image's sake. A verdict that flips with the bar was a
close call; the curve tells you more than the side of a line it ends on.
"""


q2 = Exercise(
    "lesson09.q2", "A stricter bar",
    check=_check_q2, answer=_answer_q2,
    hint="""
        The threshold is used only by `passes()`: `dataclasses.replace(cascade, threshold=PASS_THRESHOLD / 2)` is
        the rerun without the cost (a rerun with `seed=0` gives the same similarities). `flipped` lists the methods
        whose `passes()` differs between the two results.
    """,
    solution="""
        import dataclasses

        strict = dataclasses.replace(cascade, threshold=PASS_THRESHOLD / 2)  # the same maps: only the bar moves
        flipped = [label for label, ok in cascade.passes().items() if strict.passes()[label] != ok]
        print("verdicts that change at", strict.threshold, ":", flipped or "none")
    """,
)


# ------------------------------------------------------------------ q3: signed or absolute

def _gaps(cascade) -> dict[str, float]:
    absolute = cascade.similarity("spearman_abs")
    signed = cascade.similarity("spearman_signed")
    return {label: float(absolute[label].mean() - signed[label].mean()) for label in signed}


def _check_q3(sign_gaps, cascade):
    cascade = _result(cascade, "cascade", "cascading")
    if not isinstance(sign_gaps, Mapping):
        raise ValueError("sign_gaps must be a dict {method: mean spearman_abs - mean spearman_signed}.")
    reference = _gaps(cascade)
    given = {str(k): number(v, f"sign_gaps[{k!r}]") for k, v in sign_gaps.items()}
    extra = sorted(set(given) - set(reference))
    if extra:
        return wrong(f"{', '.join(extra)} ha{'s' if len(extra) == 1 else 've'} no signed maps (spearman_signed is "
                     f"None there); the methods with signed maps are {', '.join(reference)}.")
    missing = sorted(set(reference) - set(given))
    if missing:
        return wrong(f"no gap for {', '.join(missing)}: give one for every method with signed maps.")
    off = {label: value for label, value in given.items() if abs(value - reference[label]) > PRINTED}
    if off:
        last = {label: float(cascade.similarity("spearman_abs")[label][-1].mean()
                             - cascade.similarity("spearman_signed")[label][-1].mean()) for label in reference}
        if all(abs(given[label] - last[label]) <= PRINTED for label in reference):
            return wrong("those are the gaps at the last step only: average over every step (and image), as the "
                         "pass rule does.")
        shown = "; ".join(f"{label}: yours {value:+.3f}, recomputed {reference[label]:+.3f}" for label, value in off.items())
        return wrong(f"{shown}. The gap is similarity('spearman_abs')[label].mean() minus the same of "
                     "'spearman_signed' (mean over steps and images).")
    order = sorted(reference, key=reference.get, reverse=True)
    return correct("largest gap first: " + ", ".join(f"{label} {reference[label]:+.2f}" for label in order)
                   + ". ex.q3.answer(sign_gaps) says why.")


def _answer_q3(sign_gaps) -> str:
    order = sorted(sign_gaps, key=sign_gaps.get, reverse=True)
    listing = ", ".join(f"{label} {sign_gaps[label]:+.2f}" for label in order)
    return f"""
Your gaps (mean spearman_abs minus mean spearman_signed, largest first): {listing}.

Expect the largest gaps for the **input-gradient** methods (in your run: {order[0]}). A pixel's gradient on a network of ReLUs is large where
the image has contrast, whatever the weights: the magnitude follows the edges of the object, and that part
survives randomization. Its **sign** says whether brightening the pixel raises or lowers *this* class's score,
which is exactly what the weights decide; random weights give a random sign, so the signed correlation falls
near 0 while the absolute one stays up. Dropping the sign (or squaring, or taking the ReLU) before comparing keeps
the image's structure and throws away the model's part: one reason the paper reports both. Grad-CAM's signed map
is the weighted sum before the ReLU; its gap is small when the map's sign pattern and its magnitude change together.
"""


q3 = Exercise(
    "lesson09.q3", "Signed or absolute",
    check=_check_q3, answer=_answer_q3,
    hint="""
        `cascade.similarity("spearman_signed")` holds only the methods with signed maps; for each of them take
        `cascade.similarity("spearman_abs")[label].mean() - cascade.similarity("spearman_signed")[label].mean()`
        (the means over every step and image).
    """,
    solution="""
        signed = cascade.similarity("spearman_signed")
        sign_gaps = {label: float(cascade.similarity("spearman_abs")[label].mean() - grid.mean())
                     for label, grid in signed.items()}
        print({label: round(gap, 2) for label, gap in sign_gaps.items()})
    """,
)


# ------------------------------------------------------------------ q4: a harder task (rerun: worked answer)

def _answer_q4(report, lesion_scores, difficulty, shuffled=None) -> str:
    from daylib.evaluate import paired_scores

    n = report.n
    accuracy = report["accuracy"]
    margin = 1.96 * np.sqrt(0.25 / n)  # the half-width of a 95% interval around chance, p = 0.5
    learns = accuracy - 0.5 > margin
    rows = []
    for label in sorted({label for label, _ in lesion_scores}):
        trained, random = np.asarray(lesion_scores[label, "trained"]), np.asarray(lesion_scores[label, "random"])
        comparison = paired_scores(trained, random, names=("trained", "random"))
        rows.append(f"| {label} | {trained.mean():.3f} | {random.mean():.3f} | {trained.mean() - random.mean():+.3f} | "
                    f"{comparison.conclusion()} |")
    memorised = ""
    if shuffled is not None and shuffled.accuracy:
        acc = shuffled.accuracy["random labels"]
        memorised = (f" The shuffled-label head reached {acc['train']:.3f} on its own labels and {acc['validation']:.3f} "
                     "on the true validation labels.")
    table = "\n".join(["| method | energy, trained | energy, random model | difference | paired test |",
                       "|---|---|---|---|---|", *rows])
    return f"""
This run used `DIFFICULTY = {difficulty!r}`: test accuracy {accuracy:.3f} on {n} films, AUC {report['auc']:.3f}.
Chance is 0.5, and with {n} films a 95% interval around it reaches ±{margin:.2f}, so this model
**{'learns' if learns else 'does not clearly beat chance'}**.{memorised}

Energy on the lesions of section 5 (the trained model against the fully randomized one):

{table}

Fainter lesions make the task harder: accuracy and AUC fall. If the trained and the random rows move *together*,
the maps follow the image (bright spots, edges), not the model; only a gap the paired test confirms is the
model's. Compare with the same cell run at `"easy"`, and read the intervals: {n} films leave them wide.
"""


q4 = Exercise(
    "lesson09.q4", "A harder task",
    answer=_answer_q4,
    hint="""
        Set `DIFFICULTY = "medium"` in the parameters cell, restart and run up to section 6, then run this cell;
        run it once at "easy" too to have both sets of numbers.
    """,
    solution="",
)


# ------------------------------------------------------------------ q5: Guided Grad-CAM at an earlier layer

def _check_q5(early_passes, follows, early_cascade, cascade):
    early_cascade = _result(early_cascade, "early_cascade", "cascading")
    cascade = _result(cascade, "cascade", "cascading")
    early_passes = flag(early_passes, "early_passes")
    if str(follows) not in ("Grad-CAM", "Guided Backprop"):
        raise ValueError(f"follows is {follows!r:.40}; choose 'Grad-CAM' or 'Guided Backprop'.")
    labels = [label for label in early_cascade.methods if label.startswith("Guided Grad-CAM")]
    if len(labels) != 1:
        return wrong(f"early_cascade should hold one Guided Grad-CAM at {EARLY_LAYER!r}; it holds "
                     f"{early_cascade.methods}.")
    label = labels[0]
    missing = [m for m in ("Grad-CAM", "Guided Backprop") if m not in cascade.methods]
    if missing or early_cascade.steps != cascade.steps:
        return wrong("early_cascade must be run like section 3's cascade (the same model, photos and seed), and "
                     "cascade must hold Grad-CAM and Guided Backprop.")
    if "Guided Grad-CAM" in cascade.original and np.allclose(early_cascade.original[label],
                                                             cascade.original["Guided Grad-CAM"], atol=1e-5):
        return wrong(f"these are the last layer's Guided Grad-CAM maps: build it with layer={EARLY_LAYER!r} "
                     "(a new function, not build(...), which is cached per label).")
    reference_pass = early_cascade.passes()[label]
    curve = _curve(early_cascade, label)
    distance = {m: float(np.abs(curve - _curve(cascade, m)).mean()) for m in ("Grad-CAM", "Guided Backprop")}
    closer = min(distance, key=distance.get)
    rule = float(np.abs(early_cascade.similarity("spearman_abs")[label]).mean())
    if abs(distance["Grad-CAM"] - distance["Guided Backprop"]) < 0.01:
        closer = follows  # a tie at the printed two decimals: either reading is right
    problems = []
    if early_passes != reference_pass:
        problems.append(f"its mean |ρ| over the steps is {rule:.2f}, {'below' if reference_pass else 'not below'} "
                        f"{early_cascade.threshold:g}, so early_passes is {reference_pass}")
    if follows != closer:
        problems.append(f"its curve is on average {distance[closer]:.2f} from {closer}'s and "
                        f"{distance[follows]:.2f} from {follows}'s (mean |difference| of mean |ρ| per step)")
    if problems:
        return wrong(problems)
    return correct(f"at {EARLY_LAYER} the product {'passes' if reference_pass else 'fails'} ({rule:.2f}) and its "
                   f"curve follows {closer} (mean distance {distance[closer]:.2f}, against {max(distance.values()):.2f}). "
                   "ex.q5.answer(early_cascade, cascade) explains.")


def _answer_q5(early_cascade, cascade) -> str:
    label = next(label for label in early_cascade.methods if label.startswith("Guided Grad-CAM"))
    curves = {f"{label}": _curve(early_cascade, label)}
    curves.update({m: _curve(cascade, m) for m in ("Grad-CAM", "Guided Backprop", "Guided Grad-CAM") if m in cascade.methods})
    rows = "\n".join(f"| {name} | " + " | ".join(f"{v:.2f}" for v in curve) + " |" for name, curve in curves.items())
    header = "| method | " + " | ".join(cascade.steps) + " |\n" + "|---" * (len(cascade.steps) + 1) + "|"
    return f"""
Mean |ρ| per cascade step, your run:

{header}
{rows}

Guided Grad-CAM is guided backprop (edge-like, blind to the head) times an upsampled Grad-CAM map. At the last
layer the Grad-CAM factor is a 7×7 blob that only picks *which region* of the guided picture survives; the ranking
inside it is guided backprop's. At 14×14 the factor has four times as many cells, so the product can follow
Grad-CAM more. Either way it inherits the guided factor's blindness: what it shows about the class comes from
Grad-CAM, so read Grad-CAM itself.
"""


q5 = Exercise(
    "lesson09.q5", "Guided Grad-CAM at an earlier layer",
    check=_check_q5, answer=_answer_q5,
    hint="""
        A method for the cascade is a function model -> method: `lambda m: METHODS["Guided Grad-CAM"](m,
        layer=ex.EARLY_LAYER)`, under the label `ex.EARLY_LABEL`. Run section 3's cascade with that one method, then
        compare its mean |ρ| per step (`np.abs(result.similarity("spearman_abs")[label]).mean(axis=1)`) with
        Grad-CAM's and Guided Backprop's curves in `cascade`.
    """,
    solution="""
        early = {ex.EARLY_LABEL: lambda m: METHODS["Guided Grad-CAM"](m, layer=ex.EARLY_LAYER)}
        early_cascade = cascading_randomization(model, photos, early, classes=top_classes, seed=0, progress=False)
        curve = np.abs(early_cascade.similarity("spearman_abs")[ex.EARLY_LABEL]).mean(axis=1)
        distance = {m: np.abs(curve - np.abs(cascade.similarity("spearman_abs")[m]).mean(axis=1)).mean()
                    for m in ("Grad-CAM", "Guided Backprop")}
        early_passes = early_cascade.passes()[ex.EARLY_LABEL]
        follows = min(distance, key=distance.get)
        print("passes:", early_passes, "| follows:", follows, {m: round(float(d), 2) for m, d in distance.items()})
    """,
)

EXERCISES = [q1, q2, q3, q4, q5]


# ------------------------------------------------------------------ in-text questions

def _answer_question1(cascade) -> str:
    first = {label: float(np.abs(grid[0]).mean()) for label, grid in cascade.similarity("spearman_abs").items()}
    listing = ", ".join(f"{label} {value:.2f}" for label, value in first.items())
    return f"""
No: sharpness and placement belong to the picture; evidence is whether the picture depends on the model. With
only the output layer re-initialised, the mean |ρ| with the original maps was, in your run: {listing}. A method
near 1.00 draws the same map whatever the weights that define the class, so its crisp outline is the image's
edges passed through the network, and any edge detector "sits on the cat".
"""


def _answer_question2(cascade) -> str:
    rho = cascade.similarity("spearman_abs").get("Grad-CAM")
    row = ", ".join(f"{step} {value:+.2f}" for step, value in zip(cascade.steps, rho[:, 1])) if rho is not None \
        and rho.shape[1] > 1 else "(no second photo in this run)"
    return f"""
Grad-CAM's ρ for the espresso after each step, in your run: {row}.

A random network of ReLUs still responds most where the image has most signal: the bright, high-contrast cup in
the middle. Its 7×7 map is a blob on the cup, where the trained "espresso" map is too. Spearman's ρ compares
*rankings*, and two central blobs rank the pixels almost alike, whatever made them. One object in the middle is a
weak test for a coarse map: use more photos, objects off centre, and read the spread over the images.
"""


def _answer_question3(lesion_scores, share) -> str:
    rows = ", ".join(f"{label} {np.mean(lesion_scores[label, 'random']):.3f}"
                     for label in sorted({label for label, which in lesion_scores if which == "random"}))
    return f"""
Mean energy on the lesions of the **randomized** model's maps in your run: {rows} (the lesions cover
{share:.1%} of the films: the chance level).

Expect the methods that carry the image into the map: **Integrated Gradients** multiplies the gradient by the
image, so bright pixels get large attributions; **Guided Backprop** (and Guided Grad-CAM's guided factor) draws
the image's edges, and an opacity has edges; **Saliency** follows contrast too, more weakly. A random network is a
fixed filter bank, and bright blobs excite filters; Grad-CAM's coarse map depends on the head's weights. So a
lesion score means little without the same score of a randomized model beside it.
"""


def _answer_question4(curves) -> str:
    rows = ", ".join(f"{label}: deletion {pair['deletion'].auc.mean():.3f}, ROAD {pair['ROAD'].auc.mean():.3f}"
                     for label, pair in curves.items())
    return f"""
Your areas (lower = the removed pixels mattered more): {rows}.

Black pixels change the image twice: the content removed, and the holes themselves. One black blob is a dark
patch, a shape a network has seen. The same number of black pixels scattered everywhere is salt-and-pepper noise:
every convolution sees broken texture and the probability collapses, whichever pixels went. So a scattered map
(Saliency, Guided Backprop) gets a low deletion area from the *pattern* of its holes. ROAD fills each removed pixel
from its neighbours, so only the content removed counts, and the ranking changes, as in your table.
"""


QUESTIONS = {
    key: Exercise(key, title, answer=function, hint=hint, solution="")
    for key, title, function, hint in (
        ("lesson09.question1", "Is a sharp map on the cat evidence?", _answer_question1,
         "Look at the first column of section 3's table: the output layer alone re-initialised."),
        ("lesson09.question2", "Why does the espresso's Grad-CAM survive randomization?", _answer_question2,
         "Spearman compares rankings; where is the cup in the photo?"),
        ("lesson09.question3", "Which methods light up bright opacities on a random network?", _answer_question3,
         "Which methods multiply by the image, or pass back only positive signals?"),
        ("lesson09.question4", "Why do scattered maps win at black-pixel deletion?", _answer_question4,
         "What does a network see in an image with thousands of single black pixels?"),
    )
}
