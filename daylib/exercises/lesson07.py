"""Exercises of lesson 07 (project: pneumonia detection): checks, hints, solutions and worked answers.

Exercises 1, 2 and 4 change a setting and rerun the lesson: their worked answers read the learner's own
numbers (the validation table ``after_phase``, the test ``report``, the heatmap scores). Exercise 3 is checked:
the operating points are recomputed on the spot from the learner's own validation and test scores with
:func:`daylib.evaluate.choose_threshold` (the threshold on validation) and the test labels. Exercise 5's count
of patients shared between the splits is recomputed from the learner's splits with
:func:`daylib.data.splits.patient_id`. Tolerances: a specificity printed with three decimals is within 5e-4 of
its value, and one film more or less among N healthy films moves it by 1/N, so a specificity passes when it is
within half a film (0.5/N) or the print (6e-4), whichever is larger; counts are exact.

Example:
    >>> from daylib.exercises import lesson07 as ex
    >>> ex.q3.check(None, None, None, None, None).status
    'unanswered'
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

from daylib.arguments import count, fraction
from daylib.exercises.core import Exercise, correct, wrong

PRINTED = 6e-4  # three printed decimals
TARGETS = (0.8, 0.99)
"""Exercise 3's target sensitivities."""


def _auc_text(report) -> str:
    low_high = report.intervals.get("auc")
    interval = f" (95% CI {low_high[0]:.3f}-{low_high[1]:.3f})" if low_high else ""
    return f"{report['auc']:.3f}{interval}"


def _phases(after_phase) -> list[tuple[str, float, float]]:
    if not isinstance(after_phase, Mapping) or not after_phase:
        raise ValueError("pass the lesson's after_phase: {phase: (accuracy, AUC)} from sections 4 and 5.")
    return [(str(name), float(pair[0]), float(pair[1])) for name, pair in after_phase.items()]


# ---------------------------------------------------------------- q1: more fine-tuning (rerun: worked answer)

def _answer_q1(after_phase, report, fine_tune_epochs, top_n) -> str:
    rows = _phases(after_phase)
    table = "\n".join(["| validation | accuracy | AUC |", "|---|---|---|"]
                      + [f"| {name} | {acc:.3f} | {auc:.3f} |" for name, acc, auc in rows])
    change = rows[-1][2] - rows[0][2] if len(rows) > 1 else 0.0
    return f"""
Your run (`FINE_TUNE_EPOCHS = {fine_tune_epochs}`, `TOP_N = {top_n}`):

{table}

Phase 2 moved the validation AUC by **{change:+.3f}**; the test AUC is {_auc_text(report)}.

Read the change against two things. First, the validation films chose the kept epoch of both phases, so the
phase-2 row is a little flattered: the paired tests of section 6, on test, are the fair comparison. Second, the
test interval: with a few hundred films a change of a couple of AUC points lies inside it, and then more
fine-tuning did not show that it helped. More epochs and more unfrozen layers (40 instead of 20) give the model
more freedom to fit the training films; with a low learning rate and BatchNormalization frozen this rarely hurts,
but on a small data set it rarely helps much either, and the validation loss usually turns up after a few epochs
(daylib keeps the best epoch, so the extra epochs cost time, not accuracy). Run both settings and compare the two
intervals: if they overlap widely, the setting is not what decides your numbers.
"""


q1 = Exercise(
    "lesson07.q1", "More fine-tuning",
    answer=_answer_q1,
    hint="""
        Change the two constants in the parameters cell, restart and run all cells, then run this cell. Note the
        numbers before the change (or run this cell first) to compare.
    """,
    solution="",
)


# ---------------------------------------------------------------- q2: augmentation in phase 1 (worked answer)

def _answer_q2(after_phase, head_epochs) -> str:
    rows = _phases(after_phase)
    name, accuracy, auc = rows[0]
    return f"""
Your phase-1 row: validation accuracy {accuracy:.3f}, AUC {auc:.3f} after up to {head_epochs} head epochs
(`{name}`).

With `cached=True` the frozen base runs once and the head is fitted on fixed features: every epoch sees exactly
the same films, so phase 1 has no augmentation at all (daylib warns). With `cached=False` each batch goes through
the augmentation layers and the whole base every epoch, tens of times slower on a CPU, and the head sees a
slightly different film each time. On a small training set that usually shows as a training loss that stays
higher and a validation loss that turns up later: augmentation is a regulariser. Whether the validation AUC gains
is a matter of this data: on phantoms, whose films differ mostly by lesion and noise, the gain is often small;
compare your two rows, and remember that a difference of a point or two is within the noise of a few hundred films
(section 6's intervals). The honest way to decide is the paired test of section 6 on the test films.
"""


q2 = Exercise(
    "lesson07.q2", "Augmentation in phase 1",
    answer=_answer_q2,
    hint="""
        Only the `train_head(...)` call of section 4 changes (`cached=False`). Run this cell before and after the
        change: it reads `after_phase`.
    """,
    solution="",
)


# ---------------------------------------------------------------- q3: another operating point (checked)

def _operating_point(y_val, s_val, y_test, s_test, target: float) -> dict:
    from daylib.evaluate import choose_threshold
    from daylib.evaluate.inputs import predicted_labels

    choice = choose_threshold(y_val, s_val, target_sensitivity=target)
    y, s = np.asarray(y_test).reshape(-1), np.asarray(s_test, np.float64).reshape(-1)
    predicted = predicted_labels(s, choice.threshold)
    negatives, positives = int((y == 0).sum()), int((y == 1).sum())
    false_positives = int(((predicted == 1) & (y == 0)).sum())
    false_negatives = int(((predicted == 0) & (y == 1)).sum())
    return {"threshold": choice.threshold, "specificity": 1 - false_positives / negatives,
            "sensitivity": 1 - false_negatives / positives, "false_positives": false_positives,
            "false_negatives": false_negatives, "negatives": negatives, "validation": choice}


def _points(value) -> dict[float, tuple[float, int]]:
    if not isinstance(value, Mapping):
        raise ValueError("operating_points must be a dict {0.8: (specificity, false_positives), 0.99: (...)}.")
    out = {}
    for target, pair in value.items():
        target = fraction(target, "a target sensitivity (key)", open_low=True)
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"operating_points[{target}] must be (specificity, false_positives), not {pair!r:.60}.")
        out[target] = (fraction(pair[0], f"the specificity at {target}"),
                       count(pair[1], f"the false positives at {target}", minimum=0, example=3))
    return out


def _matches(pair, point) -> bool:
    tolerance = max(PRINTED, 0.5 / point["negatives"])
    return abs(pair[0] - point["specificity"]) <= tolerance + 1e-12 and pair[1] == point["false_positives"]


def _check_q3(operating_points, y_val, s_val, y_test, s_test):
    given = _points(operating_points)
    missing = [t for t in TARGETS if not any(abs(t - k) < 1e-9 for k in given)]
    if missing:
        return wrong(f"no entry for target sensitivity {', '.join(map(str, missing))}: give one per target "
                     f"{TARGETS}.")
    problems, rows = [], []
    for target in TARGETS:
        pair = next(v for k, v in given.items() if abs(k - target) < 1e-9)
        point = _operating_point(y_val, s_val, y_test, s_test, target)
        rows.append(f"{target}: threshold {point['threshold']:.3f}, specificity {point['specificity']:.3f}, "
                    f"{point['false_positives']} false positives")
        if _matches(pair, point):
            continue
        on_test = _operating_point(y_test, s_test, y_test, s_test, target)
        if _matches(pair, on_test) and not _matches(pair, point):
            problems.append(f"at {target} your numbers belong to a threshold chosen on the test scores "
                            f"({on_test['threshold']:.3f}); choose it on validation (data.val.labels, s_val) "
                            "and only report it on test")
        elif abs(pair[0] - point["validation"].specificity) <= PRINTED:
            problems.append(f"at {target} {pair[0]:.3f} is the validation specificity; report the test one")
        else:
            problems.append(f"at {target}: yours (specificity {pair[0]:.3f}, {pair[1]} false positives), recomputed "
                            f"({point['specificity']:.3f}, {point['false_positives']} of {point['negatives']} "
                            "healthy test films)")
    if problems:
        return wrong(problems)
    return correct("; ".join(rows) + ". Then ex.q3.answer(data.val.labels, s_val, y_test, s_test) puts them beside "
                   "the lesson's target.")


def _answer_q3(y_val, s_val, y_test, s_test, lesson_target: float = 0.95) -> str:
    rows = []
    for target in sorted({*TARGETS, lesson_target}):
        p = _operating_point(y_val, s_val, y_test, s_test, target)
        rows.append(f"| {target} | {p['threshold']:.3f} | {p['sensitivity']:.3f} | {p['specificity']:.3f} | "
                    f"{p['false_negatives']} | {p['false_positives']} |")
    table = "\n".join(["| target (validation) | threshold | test sensitivity | test specificity | missed (FN) | "
                       "false alarms (FP) |", "|---|---|---|---|---|---|", *rows])
    return f"""
Your three operating points, each threshold chosen on validation and reported on test:

{table}

A higher target sensitivity lowers the threshold: fewer pneumonias are missed and more healthy patients are
flagged, so specificity falls and the false positives rise. The curve (ROC) is the same; the threshold only picks
where you stand on it. The test sensitivity can fall short of the target, because the threshold was fitted to the
validation films.

**Screening** (find every sick patient; a false alarm costs a second look) wants the high-sensitivity point,
0.99 here, and pays for it in false alarms. **Confirming** (a positive leads to treatment; a false positive
treats a healthy patient) wants high specificity, the 0.8 point or stricter. Neither is "the" right threshold:
it is a clinical decision about the cost of each kind of error, made on validation data before the test set is
looked at.
"""


q3 = Exercise(
    "lesson07.q3", "Another operating point",
    check=_check_q3, answer=_answer_q3,
    hint="""
        `choose_threshold(data.val.labels, s_val, target_sensitivity=t)` picks the threshold on validation; on
        test, the false positives are the healthy films (`y_test == 0`) with `s_test >= threshold`, and
        `evaluate(y_test, s_test, threshold=choice, bootstrap=0)["specificity"]` is the test specificity.
    """,
    solution="""
        operating_points = {}
        for target in (0.8, 0.99):
            choice_t = choose_threshold(data.val.labels, s_val, target_sensitivity=target)
            at_t = evaluate(y_test, s_test, threshold=choice_t, bootstrap=0)
            false_positives = int(((s_test >= choice_t.threshold) & (y_test == 0)).sum())
            operating_points[target] = (at_t["specificity"], false_positives)
            print(f"target {target}: threshold {choice_t.threshold:.3f}, test sensitivity {at_t['recall']:.3f}, "
                  f"specificity {at_t['specificity']:.3f}, {false_positives} false positives")
    """,
)


# ---------------------------------------------------------------- q4: a harder problem (worked answer)

def _answer_q4(report, cam, x_test, y_test, m_test, cells) -> str:
    from daylib.cam.metrics import pointing_game, random_heatmaps
    from daylib.evaluate import mcnemar_exact

    if m_test is None:
        return (f"Test AUC {_auc_text(report)}. These films have no lesion masks, so the pointing game cannot be "
                "scored: use phantom data (`DATA_SOURCE = \"phantom\"`) for this exercise.")
    sick = np.flatnonzero(np.asarray(y_test) == 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        maps = cam(x_test[sick], classes=1)
    chance = random_heatmaps(maps.shape, seed=0, cells=cells)
    on_lesion, by_chance = pointing_game(maps, m_test[sick]), pointing_game(chance, m_test[sick])
    share = float(m_test[sick].mean())
    paired = mcnemar_exact(np.asarray(on_lesion, bool), np.asarray(by_chance, bool), names=("Grad-CAM", "random"))
    return f"""
This run: test AUC {_auc_text(report)}; pointing game on {len(sick)} pneumonia films: Grad-CAM
{on_lesion.mean():.3f}, random maps {by_chance.mean():.3f} (lesions cover {share:.1%} of the image). Paired on
the same films (exact McNemar): {paired.conclusion()}

Run this cell once with the default difficulty and once with `difficulty="hard"` and compare. Smaller, fainter
lesions make both scores harder at once: the classifier finds fewer of them (the AUC falls), and a smaller lesion
is a smaller target for the heatmap's peak, while the random maps' hit rate falls with the lesions' area too.
So compare the *gap* to chance, not the raw pointing game. A model can still classify above chance on a hard set
while its heatmap points at chance level: it may use something else than the lesion (overall brightness, the
size of the lung field), which is what the heatmap score is there to reveal.
"""


q4 = Exercise(
    "lesson07.q4", "A harder problem",
    answer=_answer_q4,
    hint="""
        Add `difficulty="hard"` to the `pneumonia.load(...)` call of section 1 (phantom data), restart and run all
        cells; then run this cell.
    """,
    solution="",
)


# ---------------------------------------------------------------- q5: the real films

def _patients(split) -> set:
    from daylib.data.splits import patient_id

    return {patient_id(path) for path in (split.paths or [])} - {None}


def _check_q5(patients_in_both, data):
    given = count(patients_in_both, "patients_in_both", minimum=0, example=0)
    if not hasattr(data, "train") or not hasattr(data, "val"):
        raise ValueError("pass the lesson's data (what pneumonia.load returns).")
    shared = _patients(data.train) & _patients(data.val)
    if getattr(data, "source", None) != "kaggle":
        reference, why = 0, "phantom films are independent draws: every film is its own patient"
    else:
        reference, why = len(shared), "split_by_patient puts each patient on one side only"
    if given == reference:
        return correct(f"{reference} patients in both train and val ({why}).")
    from daylib.data.splits import patient_id

    films = sum(patient_id(path) in shared for path in data.val.paths or [])
    if films and given == films:
        return wrong(f"{given} counts the validation *films* of shared patients; count the patients.")
    return wrong(f"{given}, but recomputed from the file names there are {reference} patients in both ({why}). "
                 "Count the patient ids (patient_id) common to data.train.paths and data.val.paths.")


def _answer_q5(report, patients_in_both=None) -> str:
    from daylib.evaluate import compare_to_paper
    from daylib.evaluate.paper import PAPER

    paper = ", ".join(f"{key} {value:.3f}" for key, value in PAPER.items())
    mine = ", ".join(f"{key} {report[key]:.3f}" for key in PAPER if report[key] is not None)
    shared = "" if patients_in_both is None else f" Patients in both train and val: {patients_in_both}."
    return f"""
Your test numbers: {mine}, on {report.n} {report.dataset} films. Kermany et al. (2018): {paper}.{shared}

{compare_to_paper(report)}

The numbers are comparable only on the same test split (the real films' 624 test images): on phantoms they
measure a different task. On the real films, look past the accuracy: the paper's operating point and yours differ
(compare sensitivity and specificity, not only accuracy), your intervals are wide with a few hundred films, and a
model that shares no patient between training and validation was chosen honestly; if patients were shared (a split
by film), the validation score that picked the kept epochs would be optimistic, and so would the threshold.
"""


q5 = Exercise(
    "lesson07.q5", "The real films",
    check=_check_q5, answer=_answer_q5,
    hint="""
        Section 2's `shared_patients(a, b)` counts the patient ids common to two splits; on phantom data there are
        no file names (every film is its own patient), so the count is 0.
    """,
    solution="""
        patients_in_both = shared_patients(data.train, data.val) if data.source == "kaggle" else 0
        print(f"source {data.source}: {patients_in_both} patients in both train and val")
    """,
)

EXERCISES = [q1, q2, q3, q4, q5]
