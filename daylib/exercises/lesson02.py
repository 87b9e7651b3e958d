"""Exercises of lesson 02 (fine-tuning): checks, hints, solutions and worked answers.

Counting what ``unfreeze`` does needs no training, so those exercises have checks that call daylib's
``unfreeze`` on the learner's model and put every ``trainable`` flag back afterwards. One short
fine-tuning epoch is affordable (the 1e-3 learning rate); longer reruns get worked answers that read the
learner's own histories and paired tests.

Example:
    >>> from daylib.exercises import lesson02 as ex
    >>> ex.q4.check(None, None, None).status
    'unanswered'
"""
from __future__ import annotations

import math
import numbers

from daylib.exercises import answers
from daylib.exercises.core import CheckResult, Exercise, correct, wrong


def _unfreeze_and_count(model, **where) -> tuple[list[str], int]:
    """What ``unfreeze(model, **where)`` returns and how many weights the model then trains; flags restored."""
    from daylib.models import base_model, unfreeze

    base = base_model(model)
    saved_base = base.trainable
    saved = [(layer, layer.trainable) for layer in base.layers]
    try:
        names = unfreeze(model, **where)
        weights = sum(math.prod(w.shape) for w in model.trainable_weights)
    finally:
        base.trainable = saved_base
        for layer, flag in saved:
            layer.trainable = flag
    return names, int(weights)


def _paired(value, name: str):
    if not all(hasattr(value, a) for a in ("estimate", "interval", "p_value")):
        raise TypeError(f"{name} must be a paired test (what mcnemar_exact returns), got {type(value).__name__}")
    return value


def _kept(history, phase: str) -> tuple[int, float, float]:
    i = history.epoch.index(history.best_epochs[phase])
    return history.epoch[i] + 1, history.history["val_loss"][i], history.history["val_accuracy"][i]


# ---------------------------------------------------------------- q1: a lower rate, more epochs

def _answer_q1(history, accuracy_test) -> str:
    history, test = answers.training_history(history, "history"), _paired(accuracy_test, "accuracy_test")
    if "head" not in history.best_epochs or "fine_tune" not in history.best_epochs:
        raise ValueError("history must be the joined history of both phases (fine_tune(..., after=head_history))")
    head_epoch, head_loss, head_acc = _kept(history, "head")
    tune_epoch, tune_loss, tune_acc = _kept(history, "fine_tune")
    tuned_epochs = history.epochs - history.fine_tune_epoch
    improved = tune_loss < head_loss
    jump = test.interval.low > 0
    return f"""Your run: phase 2 ran **{tuned_epochs} epochs** and kept epoch {tune_epoch} (validation loss
**{tune_loss:.3f}**, accuracy {tune_acc:.3f}) against phase 1's epoch {head_epoch} (loss **{head_loss:.3f}**,
accuracy {head_acc:.3f}): the validation loss {'went down' if improved else 'did not go below its phase-1 value'}.
On the test films, paired: accuracy {100 * test.estimate:+.1f} points, 95% CI
{test.interval.low:+.3f} to {test.interval.high:+.3f}, p = {test.p_value:.2f}.
{'That is a second jump: the interval excludes 0.' if jump else 'The interval includes 0 (or lies below it): no second jump is shown.'}

A low rate (1e-5) with many epochs makes small, safe moves: it does not wreck the features the way 1e-2 does,
and given enough steps it can adapt the top layers. Whether that pays off depends on what the top layers can
still learn from {'these' if tuned_epochs else 'the'} 200 training films: with faint phantom lesions and a head
that already reads ImageNet features well, there is little to gain and a lot of room to overfit (watch the
training accuracy climb while the validation loss stalls). "A second jump" is a claim about one data set; the
paired test on the same films is how you check it.
"""


q1 = Exercise(
    "lesson02.q1", "A lower rate, more epochs",
    answer=_answer_q1,
    hint="""
        Set `FINE_TUNE_LEARNING_RATE = 1e-5` and `FINE_TUNE_EPOCHS = 15` in the parameters cell and run all (it takes
        a while in full mode). Then read section 3's table and the paired test `accuracy_test`: does its interval
        exclude 0?
    """,
    solution="""
        # In the parameters cell: FINE_TUNE_LEARNING_RATE = 1e-5, FINE_TUNE_EPOCHS = 15; then Run All.
        print(accuracy_test)
    """,
)


# ---------------------------------------------------------------- q2: 1e-3, safe or not?

# Two validation losses within 10% of each other (a log-distance of log 1.1) are closer than what the lesson's
# first epochs move by at a safe rate, so then 1e-3 counts as halfway and either answer passes.
_HALFWAY = math.log(1.1)


def _first_losses(lr_histories) -> dict[float, float]:
    if not isinstance(lr_histories, dict) or not lr_histories:
        raise TypeError("lr_histories must be the lesson's dict {learning rate: history}")
    out = {}
    for rate, run in lr_histories.items():
        run = answers.training_history(run, f"lr_histories[{rate!r}]")
        start = run.fine_tune_epoch or 0
        if len(run.history["val_loss"]) <= start:
            raise ValueError(f"the run at {rate:g} has no fine-tuning epoch")
        out[float(rate)] = float(run.history["val_loss"][start])
    return out


def _check_q2(closer_to, lr_histories) -> CheckResult:
    if isinstance(closer_to, bool) or not isinstance(closer_to, numbers.Real):
        raise TypeError(f"closer_to must be a learning rate (a number such as 1e-2 or 1e-4), got {closer_to!r:.40}")
    losses = _first_losses(lr_histories)
    probe = next((rate for rate in losses if math.isclose(rate, 1e-3)), None)
    if probe is None:
        return wrong("lr_histories has no run at 1e-3: fine-tune from after_head at learning_rate=1e-3 and store it "
                     "in lr_histories[1e-3]")
    high = [r for r in losses if r > probe]
    low = [r for r in losses if r < probe]
    if not high or not low:
        return wrong("lr_histories needs a rate above 1e-3 (the lesson's 1e-2) and one below (the main run's "
                     "FINE_TUNE_LEARNING_RATE) to compare with")
    distance = {r: abs(math.log(losses[r] / losses[probe])) for r in high + low}
    near_high, near_low = min(high, key=distance.get), min(low, key=distance.get)
    table = ", ".join(f"{r:.0e}: {loss:.3f}" for r, loss in sorted(losses.items(), reverse=True))
    value = float(closer_to)
    if math.isclose(value, probe):
        raise ValueError("closer_to must be one of the other rates (1e-2 or a safe one), not 1e-3 itself")
    halfway = abs(distance[near_high] - distance[near_low]) < _HALFWAY
    reference_high = distance[near_high] < distance[near_low]
    learner_high = value > probe
    if halfway or learner_high == reference_high:
        where = ("about halfway: its first-epoch loss is within 10% as far from both" if halfway else
                 ("on the side of 1e-2: it disturbed the features too" if reference_high else
                  "on the side of the safe rates: the pretrained features survived its first epoch"))
        return correct(f"first fine-tuning epoch, validation loss: {table}. 1e-3 is {where}.")
    side = "1e-2's side (it disturbed the features)" if reference_high else "the safe rates' side"
    return wrong(f"first fine-tuning epoch, validation loss: {table}. 1e-3's loss {losses[probe]:.3f} is "
                 f"{math.exp(distance[near_high]):.2f}x off {near_high:.0e}'s and {math.exp(distance[near_low]):.2f}x "
                 f"off {near_low:.0e}'s, so it is on {side}. Compare ratios (a log scale, as in the figure), "
                 "not differences.")


q2 = Exercise(
    "lesson02.q2", "Is 1e-3 safe?",
    check=_check_q2,
    hint="""
        As in section 4: `model.set_weights(after_head)`, then `fine_tune(model, train, val, top_n=TOP_N, epochs=1,
        learning_rate=1e-3, after=head_history, patience=None, verbose=0)`, stored in `lr_histories[1e-3]`. Compare
        each run's first fine-tuning validation loss, `run.history["val_loss"][run.fine_tune_epoch]`, on a log scale,
        and set `closer_to` to the rate whose loss is nearest.
    """,
    solution="""
        model.set_weights(after_head)
        lr_histories[1e-3] = fine_tune(model, train, val, top_n=TOP_N, epochs=1, learning_rate=1e-3,
                                       after=head_history, patience=None, verbose=0)
        first_loss = {rate: run.history["val_loss"][run.fine_tune_epoch] for rate, run in lr_histories.items()}
        print({f"{rate:.0e}": round(loss, 3) for rate, loss in sorted(first_loss.items(), reverse=True)})
        closer_to = min((rate for rate in first_loss if rate != 1e-3),
                        key=lambda rate: abs(np.log(first_loss[rate] / first_loss[1e-3])))
    """,
)


# ---------------------------------------------------------------- q3: most of the base

def _check_q3(layers_100, weights_100, model, top_n: int = 100) -> CheckResult:
    layers_100, weights_100 = answers.whole(layers_100, "layers_100"), answers.whole(weights_100, "weights_100")
    model = answers.keras_model(model)
    names, weights = _unfreeze_and_count(model, top_n=top_n)
    problems = []
    if layers_100 != len(names):
        if layers_100 == top_n:
            problems.append(f"unfreeze(model, top_n={top_n}) returns {len(names)} names, not {top_n}: the "
                            f"{top_n - len(names)} BatchNormalization layers among the top {top_n} stay frozen")
        else:
            problems.append(f"layers_100 is {layers_100}, but unfreeze(model, top_n={top_n}) returns {len(names)} names")
    if weights_100 != weights:
        head_only = weights - sum(math.prod(w.shape) for layer in _top_layers(model, top_n) for w in layer.weights
                                  if not _is_bn(layer))
        if weights_100 == weights - head_only:
            problems.append(f"weights_100 leaves out the head's {head_only:,} weights: trainable_count(model) counts "
                            f"every trainable weight, {weights:,}")
        else:
            problems.append(f"weights_100 is {weights_100:,}, but with top_n={top_n} the model trains {weights:,} "
                            "weights (trainable_count(model) right after unfreeze)")
    if problems:
        return wrong(problems)
    return correct(f"top_n={top_n} trains {len(names)} layers and {weights:,} weights. ex.q3.answer(results) "
                   "compares the time per epoch and the accuracy once you have rerun section 5 with it.")


def _is_bn(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


def _top_layers(model, top_n: int):
    from daylib.models import base_model

    return base_model(model).layers[-top_n:]


def _answer_q3(results) -> str:
    if not isinstance(results, dict) or not results:
        raise TypeError("pass the lesson's `results` dict {top_n: (layers, weights, timer, run, report)}")
    rows = []
    for top_n, (layers, weights, timer, _run, report) in sorted(results.items()):
        rows.append(f"| {top_n} | {layers} | {weights:,} | {timer.typical():.1f} | {report['accuracy']:.3f} | "
                    f"{report['auc']:.3f} |")
    (n0, (_, w0, timer0, _, _)), (n1, (_, w1, timer1, _, _)) = min(results.items()), max(results.items())
    t0, t1 = timer0.typical(), timer1.typical()
    growth = (f"From top_n={n0} to top_n={n1} the trained weights grew {w1 / w0:.1f}x and the time per epoch "
              f"{t1 / t0:.1f}x." if t0 > 0 and w0 > 0 and n1 != n0 else "")
    return f"""Your section 5:

| top_n | layers trained | weights trained | s/epoch | test acc | test AUC |
|---|---|---|---|---|---|
{chr(10).join(rows)}

{growth} The time grows much more slowly than the weights: every epoch runs the *whole* base forward whether
it is frozen or not, and unfreezing adds only the backward pass through the unfrozen part (and deeper layers
work on larger feature maps, so they cost more per weight than the top ones). Accuracy does not follow the
weight count: unfreezing most of the base gives millions of weights to 200 training films, which is an
invitation to overfit, and the test intervals (about ±7 points on 200 films) are wider than any gain you can
expect. Compare each row with the head alone using the paired tests the lesson printed, not by eye.
"""


q3 = Exercise(
    "lesson02.q3", "Unfreeze most of the base",
    check=_check_q3, answer=_answer_q3,
    hint="""
        Counting needs no training: `layers_100 = len(unfreeze(model, top_n=100))` and, right after it,
        `weights_100 = trainable_count(model)`. For the time and the accuracy, set
        `OTHER_TOP_N = pick(quick=(47, 100), full=(11, 47, 100))` and rerun section 5 (slow in full mode).
    """,
    solution="""
        layers_100 = len(unfreeze(model, top_n=100))
        weights_100 = trainable_count(model)
        print(f"top_n=100: {layers_100} layers, {weights_100:,} weights trained")
    """,
)


# ---------------------------------------------------------------- q4: a named first layer

_FIRST = "block6a_expand_conv"


def _check_q4(n_returned, same_top_n, model, layer: str = _FIRST) -> CheckResult:
    n_returned, same_top_n = answers.whole(n_returned, "n_returned"), answers.whole(same_top_n, "same_top_n")
    model = answers.keras_model(model)
    from daylib.models import base_model

    layers = base_model(model).layers
    names_all = [item.name for item in layers]
    if layer not in names_all:
        raise ValueError(f"the model's base has no layer {layer!r}")
    start = names_all.index(layer)
    top_n = len(layers) - start
    names, _ = _unfreeze_and_count(model, fine_tune_at=layer)
    same, _ = _unfreeze_and_count(model, top_n=top_n)
    assert names == same, "unfreeze(fine_tune_at=name) and unfreeze(top_n=...) disagree"
    problems = []
    if n_returned != len(names):
        why = (f": that is the number of layers from {layer!r} to the end; the {top_n - len(names)} BatchNormalization "
               "layers among them are not returned" if n_returned == top_n else "")
        problems.append(f"unfreeze(model, fine_tune_at={layer!r}) returns {len(names)} names, not {n_returned}{why}")
    if same_top_n != top_n:
        why = (f": {start} is the index of {layer!r}; top_n counts from the end, len(base.layers) - {start}"
               if same_top_n == start else
               ": top_n counts every layer from there to the end, BatchNormalization included, not the returned names"
               if same_top_n == len(names) else "")
        problems.append(f"the same layers are top_n={top_n}, not {same_top_n}{why}")
    if problems:
        return wrong(problems)
    return correct(f"{len(names)} names; {layer!r} is layer {start} of {len(layers)}, so it is top_n={top_n} "
                   f"({top_n - len(names)} BatchNormalization layers stay frozen). A name says what you mean; a count "
                   "depends on how the network is split into layers.")


q4 = Exercise(
    "lesson02.q4", "Start at a named layer",
    check=_check_q4,
    hint="""
        `unfreeze(model, fine_tune_at="block6a_expand_conv")` returns the names it unfroze: count them. For `top_n`,
        find the layer's index in `base.layers` (`[layer.name for layer in base.layers].index(...)`); `top_n` counts
        from there to the end of the base, BatchNormalization layers included.
    """,
    solution="""
        n_returned = len(unfreeze(model, fine_tune_at="block6a_expand_conv"))
        same_top_n = len(base.layers) - [layer.name for layer in base.layers].index("block6a_expand_conv")
        print(f"{n_returned} layers returned; the same as top_n={same_top_n}")
    """,
)


# ---------------------------------------------------------------- q5: more data

def _answer_q5(accuracy_test, data) -> str:
    test = _paired(accuracy_test, "accuracy_test")
    if not hasattr(data, "train"):
        raise TypeError("pass the lesson's `data` (what pneumonia.load returns)")
    n_train = len(data.train.labels)
    shown = test.interval.low > 0
    return f"""Your run with **{n_train} training films**: fine-tuning changed the test accuracy by
**{100 * test.estimate:+.1f} points** (95% CI {test.interval.low:+.3f} to {test.interval.high:+.3f}, exact McNemar
p = {test.p_value:.2f}), against the lesson's stored run with 200 films: -3.0 points (-0.082 to +0.023, p = 0.35).
{'With more data fine-tuning shows a gain: the interval is above 0.' if shown else 'The interval still includes 0 (or lies below it): no gain is shown.'}

More training data is what fine-tuning needs most: it has hundreds of thousands to millions of weights to adapt
(the head alone has 1,281), and with 200 films they mostly fit the training set. Twice the data halves
nothing by itself, though: the test set (and so the width of the interval) did not change, a gain of a few points
stays within the noise, and phase 1 improves with more data too, so the *difference* between the phases can stay
small. The honest conclusion is the interval, not the sign of the estimate.
"""


q5 = Exercise(
    "lesson02.q5", "More data for fine-tuning",
    answer=_answer_q5,
    hint="""
        Set `SPLIT_SIZES = pick(quick=(120, 40, 60), full=(400, 100, 200))` (the test set stays the same size) and run
        all. Then read `accuracy_test`, the paired difference between phase 2 and phase 1 on the same test films.
    """,
    solution="""
        # In the parameters cell: SPLIT_SIZES = pick(quick=(120, 40, 60), full=(400, 100, 200)); then Run All.
        print(len(data.train.labels), "training films:", accuracy_test)
    """,
)


EXERCISES = [q1, q2, q3, q4, q5]
QUESTIONS: dict[str, Exercise] = {}     # lesson 02 asks no in-text *Question:*
