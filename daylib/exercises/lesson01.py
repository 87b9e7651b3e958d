"""Exercises of lesson 01 (transfer learning): checks, hints, solutions and worked answers.

Most exercises of this lesson change a setting and rerun a training: those that cost seconds have a
check (the head alone on cached features, a second image size); those that cost minutes (a second
from-scratch run) have a worked answer that reads the learner's own reports and histories.

Example:
    >>> from daylib.exercises import lesson01 as ex
    >>> ex.q3.check(None).status
    'unanswered'
"""
from __future__ import annotations

import math
import numbers

from daylib.exercises import answers
from daylib.exercises.core import CheckResult, Exercise, correct, wrong

# Accuracies are printed with three decimals; a learner who subtracts two printed values is off by at most
# one unit of the third decimal (two half-units).
_PRINTED_DIFFERENCE = 0.001 + 1e-9


def _report(value, name: str):
    if not (hasattr(value, "metrics") and hasattr(value, "intervals") and hasattr(value, "baseline")):
        raise TypeError(f"{name} must be a Report (what evaluate_model returns), got {type(value).__name__}")
    return value


def _reports(value) -> dict:
    if not isinstance(value, dict) or not value:
        raise TypeError("pass the lesson's `reports` dict {name: Report}")
    return {name: _report(report, f"reports[{name!r}]") for name, report in value.items()}


def _accuracy_line(report) -> str:
    low, high = report.intervals.get("accuracy", (float("nan"), float("nan")))
    return f"{report['accuracy']:.3f} (95% CI {low:.2f}-{high:.2f})"


def _off_baseline(report) -> bool:
    low = report.intervals.get("accuracy", (float("nan"),))[0]
    return low > report.baseline["accuracy"]


# ---------------------------------------------------------------- q1, q2: rerun with easy data, more data

def _side_by_side(reports) -> str:
    lines = []
    for name, report in reports.items():
        verdict = "above" if _off_baseline(report) else "not distinguishable from"
        lines.append(f"- **{name}**: test accuracy {_accuracy_line(report)}, AUC {report['auc']:.3f}; "
                     f"{verdict} the majority-class baseline ({report.baseline['accuracy']:.2f}).")
    return "\n".join(lines)


def _answer_q1(reports) -> str:
    reports = _reports(reports)
    scratch = reports.get("from scratch")
    if scratch is not None:
        got_off = _off_baseline(scratch)
        verdict = ("Your from-scratch model **got off the baseline**: the lower end of its accuracy interval is above "
                   "the majority class." if got_off else
                   "Your from-scratch model is **still not distinguishable from guessing**: its interval includes the "
                   "majority-class accuracy (quick mode trains too few epochs on too few films to tell).")
    else:
        verdict = ""
    return f"""Your run:

{_side_by_side(reports)}

{verdict}

With `DIFFICULTY = "easy"` the opacities are large and dense: a few convolution filters that respond to
bright blobs inside the lungs are enough, and a small CNN can learn those from 200 films. The frozen ImageNet
features solve the easy task too, so the gap shrinks. That is when transfer learning matters most: when the
signal is **subtle** and the data is **small**, so that learning good features from scratch is out of reach,
while generic features (edges, textures, blobs) learned from 1.3 million photos already separate the classes.
On an easy task with enough data, the pretrained base mostly saves time. (Compare with the lesson's stored run
at "medium": 84% for the head against the baseline for the small CNN.)
"""


q1 = Exercise(
    "lesson01.q1", "Easy lesions",
    answer=_answer_q1,
    hint="""
        Change `DIFFICULTY = "easy"` in the parameters cell and run the whole notebook again (Run All). Then look at
        the from-scratch row: is the lower end of its accuracy interval above the majority-class accuracy?
    """,
    solution="""
        # In the parameters cell: DIFFICULTY = "easy"; then Run All and read the side-by-side table.
        print({name: round(report["accuracy"], 3) for name, report in reports.items()})
    """,
)


def _answer_q2(reports) -> str:
    reports = _reports(reports)
    n_test = next(iter(reports.values())).n
    return f"""Your run (test set of {n_test} films):

{_side_by_side(reports)}

Compare these with your first run (or the lesson's stored one: head 84%, small CNN at the 50% baseline, with
200 training films). Usually the **from-scratch model gains more**: it has about a million weights to learn,
and every extra film helps it learn features instead of memorising films; the head on frozen features learns
1,281 weights, which 200 films already pin down, so more data moves it only a little. Two cautions before you
conclude: the test set did not grow, so each accuracy still carries an interval of about
±{100 * 1.96 * math.sqrt(0.25 / n_test):.0f} points, and a difference between two runs is noisier than either;
and the from-scratch model is also limited by its fixed epoch budget, so more data with the same epochs means
more steps, not only more information.
"""


q2 = Exercise(
    "lesson01.q2", "Twice the training data",
    answer=_answer_q2,
    hint="""
        Set `SPLIT_SIZES = pick(quick=(120, 40, 60), full=(400, 100, 200))`, run all, and write down each model's
        accuracy and interval before and after. A gain counts when it is larger than the intervals.
    """,
    solution="""
        # In the parameters cell: SPLIT_SIZES = pick(quick=(120, 40, 60), full=(400, 100, 200)); then Run All.
        print({name: round(report["accuracy"], 3) for name, report in reports.items()})
    """,
)


# ---------------------------------------------------------------- q3: the head's learning rate

def _first_epoch_at(history, target: float) -> int:
    reached = [i + 1 for i, acc in enumerate(history.history["val_accuracy"]) if acc >= target]
    return reached[0] if reached else 0


def _check_q3(slow_epochs, slow_history, head_history, target) -> CheckResult:
    if isinstance(slow_epochs, bool) or not isinstance(slow_epochs, numbers.Integral):
        raise TypeError(f"slow_epochs must be a whole number of epochs (0 if the target was never reached), "
                        f"got {type(slow_epochs).__name__} {slow_epochs!r:.40}")
    slow_history = answers.training_history(slow_history, "slow_history", needs="val_accuracy")
    head_history = answers.training_history(head_history, "head_history", needs="val_accuracy")
    target = answers.number(target, "TARGET_ACCURACY")
    reference = _first_epoch_at(slow_history, target)
    fast = _first_epoch_at(head_history, target)
    ran = len(slow_history.history["val_accuracy"])
    if int(slow_epochs) != reference:
        if reference == 0:
            return wrong(f"your head at 1e-3 never reached {target:.0%} validation accuracy in its {ran} epochs "
                         f"(best {max(slow_history.history['val_accuracy']):.3f}): the answer is 0")
        if int(slow_epochs) == reference - 1:
            return wrong(f"{slow_epochs} is one short: epochs count from 1, so the first epoch index i with "
                         f"val_accuracy >= {target} is epoch i + 1 = {reference}")
        return wrong(f"{slow_epochs} is not the first epoch whose val_accuracy reached {target}: that is epoch "
                     f"{reference} of slow_history (its val_accuracy: "
                     f"{', '.join(f'{a:.2f}' for a in slow_history.history['val_accuracy'][:reference])})")
    if reference == 0:
        return correct(f"never in {ran} epochs at 1e-3"
                       + (f", against epoch {fast} at 1e-2" if fast else "; nor did the head at 1e-2")
                       + ". With a ten times smaller step the head needs more epochs than the budget allows.")
    compare = (f"{reference - fast:+d} epochs compared with the 1e-2 head (epoch {fast})" if fast else
               "while the 1e-2 head never reached it")
    return correct(f"epoch {reference} at 1e-3, {compare}. One dense layer on fixed features is a convex problem: "
                   "a large step is safe there and simply gets to the minimum sooner.")


q3 = Exercise(
    "lesson01.q3", "The head's learning rate",
    check=_check_q3,
    hint="""
        Train a fresh head, not the one you already trained: `slow_model = build_classifier(...)` as in section 3,
        then `slow_history = train_head(slow_model, train, val, epochs=EPOCHS, learning_rate=1e-3, patience=None,
        verbose=0)` (the features come from the cache, so it is quick). `epochs_to(slow_history, TARGET_ACCURACY)`
        reads the answer; write it as a number, or 0 if it says "not in ...".
    """,
    solution="""
        slow_model = build_classifier(BACKBONE, num_classes=2, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
        slow_history = train_head(slow_model, train, val, epochs=EPOCHS, learning_rate=1e-3, patience=None, verbose=0)
        print(f"epochs to {TARGET_ACCURACY:.0%}: 1e-2 {epochs_to(head_history, TARGET_ACCURACY)}, "
              f"1e-3 {epochs_to(slow_history, TARGET_ACCURACY)}")
        reached = [i + 1 for i, acc in enumerate(slow_history.history["val_accuracy"]) if acc >= TARGET_ACCURACY]
        slow_epochs = reached[0] if reached else 0
    """,
)


# ---------------------------------------------------------------- q4: a smaller input size

def _check_q4(accuracy_drop, head_report, small_report) -> CheckResult:
    value = answers.number(accuracy_drop, "accuracy_drop")
    head_report, small_report = _report(head_report, "head_report"), _report(small_report, "small_report")
    reference = head_report["accuracy"] - small_report["accuracy"]
    if abs(value - reference) <= _PRINTED_DIFFERENCE:
        low, high = head_report.intervals.get("accuracy", (float("nan"), float("nan")))
        half = (high - low) / 2
        within = abs(reference) <= half
        return correct(f"{reference:+.3f} ({100 * reference:+.1f} points): {_accuracy_line(head_report)} at the lesson's "
                       f"size against {_accuracy_line(small_report)} at the smaller size. "
                       + ("That is within the ±{:.2f} half-width of one accuracy's interval: this run does not show "
                          "a loss.".format(half) if within else
                          "That is more than the ±{:.2f} half-width of one accuracy's interval.".format(half))
                       + " ex.q4.answer(accuracy_drop, head_seconds, small_seconds) weighs it against the time.")
    if abs(value + reference) <= _PRINTED_DIFFERENCE and reference != 0:
        return wrong(f"{value:+.3f} has the wrong sign: the drop is the lesson's accuracy minus the smaller size's, "
                     f"{head_report['accuracy']:.3f} - {small_report['accuracy']:.3f} = {reference:+.3f}")
    if abs(value - 100 * reference) <= 100 * _PRINTED_DIFFERENCE and reference != 0:
        return wrong(f"{value:g} looks like percentage points; give the drop as a fraction of 1: {reference:+.3f}")
    return wrong(f"{value:+.3f} is {value - reference:+.3f} off the difference of the two test accuracies "
                 f"({head_report['accuracy']:.3f} - {small_report['accuracy']:.3f} = {reference:+.3f}). Use "
                 "report['accuracy'] of each, the pretrained head at the lesson's size first.")


def _answer_q4(accuracy_drop, head_seconds, small_seconds) -> str:
    drop = answers.number(accuracy_drop, "accuracy_drop")
    big, small = answers.number(head_seconds, "head_seconds"), answers.number(small_seconds, "small_seconds")
    saved = 1 - small / big if big > 0 else float("nan")
    return f"""Your run: the smaller images cost **{100 * drop:+.1f} accuracy points** on the test set and took
**{small:.1f} s** against **{big:.1f} s** (feature extraction plus the head), a saving of **{saved:.0%}**.

The cost of a forward pass grows with the number of pixels: 128 x 128 is a third of 224 x 224, so the
feature extraction should take roughly a third of the time. It is less clear-cut in practice, because fixed
costs (building the model, loading the data, training the head on cached features) do not shrink, and if the
features at one size were already in daylib's cache (an earlier run), that run skipped the extraction
altogether: compare times from fresh runs only.

Accuracy is the other side. The backbone learned its filters on objects at 224 px; at 128 px a lesion
covers fewer pixels and the last feature map has 4 x 4 cells instead of 7 x 7, so some detail is lost. Whether
that shows depends on the task: faint, small lesions suffer more than large ones. A drop smaller than the
width of the accuracy's confidence interval is not a measured loss; for a CPU laptop, a smaller size is often
the right trade, and it is the size lesson 02 fine-tunes at (160 px).
"""


q4 = Exercise(
    "lesson01.q4", "A smaller input size",
    check=_check_q4, answer=_answer_q4,
    hint="""
        Do it beside the lesson's model rather than changing IMAGE_SIZE: load the phantoms again with
        `phantom_size=128`, build a classifier with `input_shape=(128, 128, 3)`, time `train_head`, evaluate on the
        128 px test split (`pipeline.dataset_from_split(..., image_size=128)`). Then
        `accuracy_drop = reports["pretrained head"]["accuracy"] - small_report["accuracy"]`.
    """,
    solution="""
        SMALL_SIZE = 128
        small_data = pneumonia.load("phantom", phantom_counts=SPLIT_SIZES, phantom_size=SMALL_SIZE,
                                    difficulty=DIFFICULTY, verbose=False)
        small_model = build_classifier(BACKBONE, num_classes=2, input_shape=(SMALL_SIZE, SMALL_SIZE, 3))
        start = time.perf_counter()
        train_head(small_model, (small_data.train.images, small_data.train.labels),
                   (small_data.val.images, small_data.val.labels), epochs=EPOCHS,
                   learning_rate=HEAD_LEARNING_RATE, patience=None, verbose=0)
        small_seconds = time.perf_counter() - start
        small_report = evaluate_model(small_model, pipeline.dataset_from_split(small_data.test, image_size=SMALL_SIZE),
                                      dataset="phantom", class_names=list(small_data.class_names))
        accuracy_drop = reports["pretrained head"]["accuracy"] - small_report["accuracy"]
        print(f"{IMAGE_SIZE} px: {reports['pretrained head']['accuracy']:.3f} in {head_seconds:.1f} s; "
              f"{SMALL_SIZE} px: {small_report['accuracy']:.3f} in {small_seconds:.1f} s")
    """,
)


# ---------------------------------------------------------------- q5: another backbone

def _answer_q5(reports, backbone_name: str = "efficientnet_lite0") -> str:
    reports = _reports(reports)
    head = reports.get("pretrained head", next(iter(reports.values())))
    return f"""Your run with `BACKBONE = {backbone_name!r}`: the pretrained head scored {_accuracy_line(head)},
AUC {head['auc']:.3f}.

Without internet, `build_classifier("mobilenet_v2", ...)` stops at once with an `OfflineWeightsError` that
says how to get the weights (lesson 00): only EfficientNet-Lite0's weights ship with the course. With the
weights, MobileNetV2 (about 2.3 million parameters without its top, 1,280 pooled features like Lite0) usually
lands within a few points of EfficientNet-Lite0 on this task. Two things to read before you call one better:
both accuracies carry intervals of about ±{100 * 1.96 * math.sqrt(0.25 / max(head.n, 1)):.0f} points on
{head.n} test films, so a difference of a few points is noise; and MobileNetV2 expects its inputs scaled to
-1..1, which daylib's preprocessing layer inside the model does for you. That is why you can swap the backbone
by changing one name: everything else (head, training, evaluation) stays the same.
"""


q5 = Exercise(
    "lesson01.q5", "Another backbone",
    answer=_answer_q5,
    hint="""
        Needs the internet (once) for MobileNetV2's ImageNet weights: on Colab, or a machine where
        `environment_report()["internet"]` says yes. Set `BACKBONE = "mobilenet_v2"`, Run All, and compare the
        side-by-side tables of the two runs.
    """,
    solution="""
        # In the parameters cell: BACKBONE = "mobilenet_v2" (needs the internet once); then Run All.
        print(BACKBONE, {name: round(report["accuracy"], 3) for name, report in reports.items()})
    """,
)


# ---------------------------------------------------------------- q6: your own folder

def _answer_q6(own, own_model) -> str:
    from daylib.data import pipeline
    from daylib.evaluate import evaluate_model, wilson_interval

    if not hasattr(own, "test") or not hasattr(own, "class_names"):
        raise TypeError("pass the lesson's `own` data (what load_class_folders returns) and `own_model`")
    size = own_model.input_shape[1]
    report = evaluate_model(own_model, pipeline.dataset_from_split(own.test, image_size=size), dataset="own",
                            class_names=list(own.class_names), bootstrap=0)
    n, accuracy = report.n, report["accuracy"]
    interval = wilson_interval(round(accuracy * n), n)
    p = min(max(accuracy, 0.05), 0.95)
    needed = {points: math.ceil(1.96 ** 2 * p * (1 - p) / (points / 100) ** 2) for points in (10, 5, 2)}
    return f"""Your folder: {len(own.class_names)} classes, a test split of **{n} images**; accuracy
**{accuracy:.3f}**, 95% Wilson interval **{interval.low:.2f}-{interval.high:.2f}**, that is about
±{100 * (interval.high - interval.low) / 2:.0f} points.

The width of the interval shrinks like 1/sqrt(n): to halve it you need four times the test images. At your
accuracy, a test set of about **{needed[10]}** images gives ±10 points, **{needed[5]}** gives ±5 and
**{needed[2]}** gives ±2 (the usual approximation 1.96² p(1-p)/margin²). Those are *test* images, on top of the
training and validation ones, and they must be independent: several films of one patient count as little more
than one. So before you trust a difference between two models, make sure the test set is large enough for
that difference to be wider than the noise; for a few dozen images, only a large gap means anything.
"""


q6 = Exercise(
    "lesson01.q6", "Your own folder",
    answer=_answer_q6,
    hint="""
        Set `OWN_FOLDER = Path("~/my_xrays").expanduser()` (your folder, one sub-folder per class) and skip the cell
        that writes phantom films, then run section 7. Read the interval of the accuracy, not only the accuracy.
    """,
    solution="""
        # OWN_FOLDER = Path("~/my_xrays").expanduser(), skip the cell that writes phantoms, rerun section 7; then:
        print(own.summary())
    """,
)


EXERCISES = [q1, q2, q3, q4, q5, q6]
QUESTIONS: dict[str, Exercise] = {}     # lesson 01 asks no in-text *Question:*
