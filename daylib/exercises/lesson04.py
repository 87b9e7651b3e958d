"""Exercises of lesson 04 (Grad-CAM): checks, hints, solutions and worked answers.

Every check recomputes its reference from the learner's own inputs (their model, photos, classes and
heatmaps) with daylib's API: :func:`daylib.cam.split_model` for the raw Grad-CAM maps, the CAM classes
for heatmaps at a layer, :mod:`daylib.cam.metrics` for the box scores. It holds in quick mode, in full
mode and on any machine; no number is copied from a stored output.

Example:
    >>> from daylib.exercises import lesson04 as ex
    >>> ex.q2.check(None).status
    'unanswered'
"""
from __future__ import annotations

import numbers
from typing import Mapping

import numpy as np

from daylib.exercises import answers
from daylib.exercises.core import CheckResult, Exercise, correct, wrong

EARLIER_LAYER = "block6a_expand_activation"
"""The 14×14 layer (at 224 px) of exercise 1, after a ReLU6 like the last layer."""
CAT_FACE_BOX = (60, 20, 200, 200)
"""The lesson's face box (x0, y0, x1, y1)."""
TIGHT_BOX = (60, 60, 190, 200)
"""Exercise 4's tighter box: eyes to nose."""

# Numbers the lesson prints with two decimals may be typed in from the printout: half a unit of the last
# digit (0.005). Recomputing the same float32 network on the same pixels differs by about 1e-6.
_PRINTED = 0.005 + 1e-6
# Raw map values recomputed by another graph (other batch size, other summation order) agree to a few
# float32 ulps of the largest value; 1e-3 of it is generous and still far below every effect the exercises
# measure (a shrink of 0.05-0.2, a map that changes by 10 % or more of its peak).
_RELATIVE = 1e-3
# Heatmaps in [0, 1] recomputed by daylib differ by ~1e-6; maps of another layer differ by 0.1 or more.
_HEATMAP = 1e-3


def _images(images, name: str = "images") -> np.ndarray:
    batch = np.asarray(images, np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"{name} must be a batch of RGB images (N, H, W, 3); got shape {batch.shape}")
    return batch


_CACHE: dict = {}
"""Split models and CAMs built by the checks, per (model, layer): a second check on the same model reuses them
(building one costs a Keras model and a graph trace, about a second on a laptop CPU)."""


def _cached(kind: str, model, layer, build):
    key = (kind, id(model), layer)
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not model:
        if len(_CACHE) > 16:
            _CACHE.clear()
        hit = _CACHE[key] = (model, build())
    return hit[1]


def _split(model, layer=None):
    from daylib.cam import split_model

    return _cached("split", model, layer, lambda: split_model(model, layer))


def _grad_cam(model, layer=None):
    from daylib.cam import GradCAM

    return _cached("gradcam", model, layer, lambda: GradCAM(model, layer=layer))


def raw_grad_cams(model, images, classes, scores=("logit",), batch_axis: bool = False, layer=None):
    """Raw Grad-CAM maps ``(B, h, w)`` after ReLU, at the layer's resolution: the lesson's ``grad_cam``.

    Returns ``({score: maps}, probabilities)`` for each of ``scores``, ``"logit"`` or ``"probability"``
    (the softmax output, as the articles differentiate), from one forward pass. ``batch_axis=True``
    averages the gradients over ``axis=(0, 1, 2)``, the batch included, as the MobileNet article does.
    Built on :func:`daylib.cam.split_model`, so the user's model is not changed.

    Example:
        >>> maps, p = raw_grad_cams(model, images, [285, 967], scores=("logit", "probability"))
        >>> maps["logit"].shape
        (2, 7, 7)
    """
    import tensorflow as tf

    split = _split(model, layer)
    batch = tf.constant(_images(images))
    classes = np.asarray(classes, np.int32).reshape(-1)
    if len(classes) != batch.shape[0]:
        raise ValueError(f"{len(classes)} classes for {batch.shape[0]} images: give one class per image")
    with tf.GradientTape(persistent=True) as tape:
        features, logits = split(batch)
        probabilities = split.head.probabilities(logits)
        picked = {"logit": logits, "probability": probabilities}
        targets = {score: tf.gather(picked[score], classes[:, None], batch_dims=1)[:, 0] for score in scores}
    maps = {}
    for score, target in targets.items():
        gradients = tape.gradient(target, features)
        if batch_axis:
            weights = tf.broadcast_to(tf.reduce_mean(gradients, axis=(0, 1, 2)), (batch.shape[0], gradients.shape[-1]))
        else:
            weights = tf.reduce_mean(gradients, axis=(1, 2))
        maps[score] = tf.nn.relu(tf.einsum("bhwk,bk->bhw", features, weights)).numpy()
    del tape
    return maps, probabilities.numpy()


def _scaled(heat: np.ndarray) -> np.ndarray:
    peak = float(np.max(heat))
    return heat / peak if peak > 0 else heat


def _raw_map(value, name: str, shape: tuple) -> np.ndarray:
    heat = np.asarray(value, np.float64)
    if heat.ndim == 3 and heat.shape[0] == 1:
        heat = heat[0]
    if heat.shape != tuple(shape):
        hint = (" (that is an upsampled heatmap: take the raw map at the layer's resolution, before resizing)"
                if heat.ndim == 2 and heat.shape[0] > shape[0] else "")
        raise ValueError(f"{name} has shape {heat.shape}; the cat's raw Grad-CAM map is {tuple(shape)}{hint}")
    return heat


def _energy_dict(value, name: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict {{method name: energy}}, e.g. {{'Grad-CAM': 0.55, ...}}; "
                        f"got {type(value).__name__}")
    return {str(key): answers.number(energy, f"{name}[{key!r}]") for key, energy in value.items()}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a), np.ravel(b)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


# ---------------------------------------------------------------- q1: methods at an earlier layer

def _check_q1(early_energy, early_maps, model, images, classes, box) -> CheckResult:
    from daylib.cam.metrics import energy_pointing

    energies = _energy_dict(early_energy, "early_energy")
    if not isinstance(early_maps, Mapping) or "Grad-CAM" not in early_maps:
        raise ValueError("early_maps must be a dict {method name: heatmaps} like method_maps, with at least 'Grad-CAM'")
    batch = _images(images)
    classes = np.asarray(classes).reshape(-1)
    reference = _grad_cam(model, EARLIER_LAYER)(batch, classes=classes)
    mine = np.asarray(early_maps["Grad-CAM"], np.float64)
    if mine.shape != reference.shape:
        return wrong(f"early_maps['Grad-CAM'] has shape {mine.shape}, expected {reference.shape}: one heatmap per photo, "
                     "as build(...)(images, classes=top_classes) returns.")
    off = float(np.abs(mine - reference).max())
    if off > _HEATMAP:
        last = _grad_cam(model)(batch, classes=classes)
        if float(np.abs(mine - last).max()) <= _HEATMAP:
            return wrong(f"early_maps['Grad-CAM'] are the last layer's maps: build each method with "
                         f"layer={EARLIER_LAYER!r}.")
        return wrong(f"early_maps['Grad-CAM'] differ from GradCAM(model, layer={EARLIER_LAYER!r}) by up to {off:.2f}: "
                     "build every method at that layer, for top_classes.")
    if "CAM" in early_maps:
        return wrong(f"early_maps has a 'CAM' entry, but CAM cannot be built at {EARLIER_LAYER!r} (it raises "
                     "ValueError: that layer does not feed GAP and the dense layer): leave it out.")
    problems, rows = [], []
    for name, maps in early_maps.items():
        expected = float(energy_pointing(np.asarray(maps)[:1], box)[0])
        rows.append(f"{name} {expected:.2f}")
        if name not in energies:
            problems.append(f"no energy for {name!r}")
        elif abs(energies[name] - expected) > _PRINTED:
            problems.append(f"{name}: {energies[name]:.3f}, but its cat map has {expected:.3f} of its energy in the box")
    extra = [name for name in energies if name not in early_maps]
    if extra:
        problems.append(f"energies for methods not in early_maps: {', '.join(extra)}")
    if problems:
        return wrong(problems, "Use energy_pointing(maps[:1], cat_box)[0] on the cat's map.")
    return correct(f"the maps are at {EARLIER_LAYER!r}; energy in the face box: {', '.join(rows)}. Now compare with the "
                   "last layer's numbers: ex.q1.answer(early_table, table) reads both tables.")


def _answer_q1(early_table, table, early_energy=None) -> str:
    if not isinstance(early_table, Mapping) or not isinstance(table, Mapping):
        raise TypeError("pass the two faithfulness tables: ex.q1.answer(early_table, table)")
    chance = early_table.get("random") or table.get("random")
    rows, verdicts = [], {}
    for name, early in early_table.items():
        if name == "random" or name not in table:
            continue
        last = table[name]
        d_change = early["deletion"] - last["deletion"]
        i_change = early["insertion"] - last["insertion"]
        beats = chance is not None and early["deletion"] < chance["deletion"] and early["insertion"] > chance["insertion"]
        verdicts[name] = (i_change - d_change, beats)
        energy = f" | {early_energy[name]:.2f}" if early_energy and name in early_energy else (" | " if early_energy else "")
        rows.append(f"| {name} | {last['deletion']:.3f} → {early['deletion']:.3f} | "
                    f"{last['insertion']:.3f} → {early['insertion']:.3f} | {'yes' if beats else 'no'}{energy} |")
    if not rows:
        return "The two tables have no method in common: pass early_table (at the earlier layer) and table (section 8)."
    header = "| method | deletion AUC (last → 14×14) | insertion AUC (last → 14×14) | beats random at 14×14 |"
    rule = "|---|---|---|---|"
    if early_energy:
        header += " energy in box |"
        rule += "---|"
    best = max(verdicts, key=lambda n: verdicts[n][0])
    worst = min(verdicts, key=lambda n: verdicts[n][0])
    lost = [n for n, (_, beats) in verdicts.items() if not beats]
    chance_text = (f" The random row stays at deletion {chance['deletion']:.3f}, insertion {chance['insertion']:.3f}: "
                   "random maps do not depend on the layer." if chance else "")
    lost_text = (f" On your run {', '.join(lost)} no longer beat{'s' if len(lost) == 1 else ''} the random maps on "
                 "both curves." if lost else " On your run every method still beats the random maps on both curves.")
    table_text = "\n".join([header, rule, *rows])
    return f"""
Your two faithfulness tables side by side (lower deletion and higher insertion are better):

{table_text}

{chance_text} The method that gained most (insertion up, deletion down) is **{best}**, the one that lost most is
**{worst}**.{lost_text}

Why they part here and not at the last layer: at `top_activation` the gradient of the logit is the same at
every position (w/49), so all gradient methods are re-weighted versions of CAM. At 14×14 the gradient varies
from position to position and can be negative in places. **Grad-CAM** averages it over the whole map, so where
a channel helps in one place and hurts in another the two cancel and the map can drift off the object;
**LayerCAM** keeps each position's own positive gradient, and **Score-CAM** asks the model itself (masked
images), so both tend to keep their score. **CAM** is not defined at this layer at all (it refused). This is
two photos and one layer: read it as where to look, not as a ranking.
"""


q1 = Exercise(
    "lesson04.q1", "Methods at an earlier layer",
    check=_check_q1, answer=_answer_q1,
    hint="""
        Every method takes `layer=...`: `GradCAM(model, layer=EARLIER_LAYER)`, and Score-CAM also
        `max_channels=SCORE_CAM_CHANNELS`. CAM refuses that layer with a ValueError (it needs GAP + dense right
        after), so catch it and leave CAM out. Then `faithfulness_table(...)` as in section 8, and
        `energy_pointing(maps[:1], cat_box)[0]` per method.
    """,
    solution="""
        early_maps = {}
        for name in COMPARED:
            method = METHODS[name]
            try:
                explainer = (method(model, layer=EARLIER_LAYER, max_channels=SCORE_CAM_CHANNELS) if method is ScoreCAM
                             else method(model, layer=EARLIER_LAYER))
            except ValueError as error:
                print(f"{name} refused: {error}")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # empty maps, if any, come back as zeros
                early_maps[name] = explainer(images, classes=top_classes)
        early_table = faithfulness_table(model, images, early_maps, top_classes, steps=CURVE_STEPS)
        early_energy = {name: float(energy_pointing(maps[:1], cat_box)[0]) for name, maps in early_maps.items()}
        for name, row in early_table.items():
            energy = f"{early_energy[name]:.2f}" if name in early_energy else "-"
            print(f"{name:12s} deletion {row['deletion']:.3f} insertion {row['insertion']:.3f} energy in box {energy}")
    """,
)


# ---------------------------------------------------------------- q2: saturation by hand

def _check_q2(probability_peak, logit_peak, model, images) -> CheckResult:
    p_peak, z_peak = answers.number(probability_peak, "probability_peak"), answers.number(logit_peak, "logit_peak")
    batch = _images(images)
    _, logits = _split(model)(batch)
    classes = np.argmax(logits.numpy(), axis=1)  # each photo's predicted class, as top_classes
    maps, probabilities = raw_grad_cams(model, batch, classes, scores=("logit", "probability"))
    reference_z, reference_p = float(maps["logit"].max()), float(maps["probability"].max())
    p = float(probabilities[0, classes[0]])
    saturation = p * (1 - p)
    z_ok = abs(z_peak - reference_z) <= _RELATIVE * reference_z + 1e-7
    p_ok = abs(p_peak - reference_p) <= _RELATIVE * reference_z + 1e-7
    if z_ok and p_ok:
        return correct(f"the probability map peaks at {reference_p:.3g}, the logit map at {reference_z:.3g}: "
                       f"shrunk by {reference_p / reference_z:.3f}, against p(1-p) = {saturation:.3f} (p = {p:.3f}). "
                       "ex.q2.answer(...) explains the gap.")
    if abs(p_peak - reference_z) <= _RELATIVE * reference_z and abs(z_peak - reference_p) <= _RELATIVE * reference_z:
        return wrong("the two peaks are swapped: the probability map is the small one.")
    if p_ok is False and abs(p_peak - 1.0) < 1e-6:
        return wrong("probability_peak = 1 is the maximum of a normalised heatmap: take .max() of the raw map that "
                     "grad_cam(..., score='probability') returns, before naive_heatmaps.")
    problems = []
    if not z_ok:
        problems.append(f"logit_peak = {z_peak:.4g}, but the espresso's raw logit map peaks at {reference_z:.4g}")
    if not p_ok:
        problems.append(f"probability_peak = {p_peak:.4g}, but the raw probability map peaks at {reference_p:.4g}")
    return wrong(problems, "Use grad_cam(images[1:], top_classes[1:]) and the same call with score='probability', "
                           "on the espresso photo only, and take .max() of each.")


def _answer_q2(probability_peak, logit_peak, p) -> str:
    p_peak, z_peak, p = (answers.number(probability_peak, "probability_peak"), answers.number(logit_peak, "logit_peak"),
                         answers.number(p, "p"))
    ratio = p_peak / z_peak if z_peak else float("nan")
    saturation = p * (1 - p)
    relation = "smaller than" if ratio < saturation else "larger than"
    return f"""
On your run the probability map peaks at **{p_peak:.3g}** and the logit map at **{z_peak:.3g}**: the map shrank
by a factor **{ratio:.3f}**, {relation} p(1-p) = {p:.3f} × {1 - p:.3f} = **{saturation:.3f}**.

The chain rule says why both numbers are close but not equal. For the winning class c,

∂p_c/∂A = p_c (∂z_c/∂A − Σ_j p_j ∂z_j/∂A) = p_c(1 − p_c) ∂z_c/∂A − p_c Σ_(j≠c) p_j ∂z_j/∂A.

The first term is the logit gradient scaled by p(1-p): the **shrink**, which goes to zero as the model becomes
sure (the softmax saturates). The second term **mixes** in the other classes' gradients, weighted by their
probabilities. The runners-up (cup, coffee mug, ...) use many of the same channels, so this term removes part of
the espresso's own evidence and the map shrinks more than p(1-p) alone predicts. A p of 0.99 would give
p(1-p) ≈ 0.01: weights that small sink into float32 noise, which is why daylib differentiates the logit.
"""


q2 = Exercise(
    "lesson04.q2", "Saturation by hand",
    check=_check_q2, answer=_answer_q2,
    hint="""
        `grad_cam(images[1:], top_classes[1:])` is the espresso's raw map (7×7, after ReLU) scoring the logit;
        add `score="probability"` for the articles' version. Compare the two maxima, and compute
        `p = probabilities[1, top_classes[1]]` for p(1-p).
    """,
    solution="""
        logit_peak = float(grad_cam(images[1:], top_classes[1:]).max())
        probability_peak = float(grad_cam(images[1:], top_classes[1:], score="probability").max())
        p = float(probabilities[1, top_classes[1]])
        print(f"logit map max {logit_peak:.4f}, probability map max {probability_peak:.4f}: "
              f"shrunk by {probability_peak / logit_peak:.3f}; p(1-p) = {p * (1 - p):.3f}")
    """,
)


# ---------------------------------------------------------------- q3: the batch axis

def _check_q3(batch_cat_map, single_cat_map, model, images, classes) -> CheckResult:
    batch = _images(images)
    classes = np.asarray(classes).reshape(-1)
    if len(batch) < 2:
        raise ValueError("pass both photos (images), so the check can average over a batch as the article does")
    reference_batch = raw_grad_cams(model, batch, classes, batch_axis=True)[0]["logit"][0]
    reference_single = raw_grad_cams(model, batch[:1], classes[:1])[0]["logit"][0]
    mine_batch = _raw_map(batch_cat_map, "batch_cat_map", reference_batch.shape)
    mine_single = _raw_map(single_cat_map, "single_cat_map", reference_single.shape)
    batch_off = float(np.abs(_scaled(mine_batch) - _scaled(reference_batch)).max())
    single_off = float(np.abs(_scaled(mine_single) - _scaled(reference_single)).max())
    between = float(np.abs(_scaled(reference_batch) - _scaled(reference_single)).max())
    if single_off > _RELATIVE:
        return wrong(f"single_cat_map differs from the cat's Grad-CAM map by up to {single_off:.2f} of its peak: use the "
                     "lesson's grad_cam on the cat alone, grad_cam(images[:1], top_classes[:1])[0].")
    if batch_off > _RELATIVE:
        if float(np.abs(_scaled(mine_batch) - _scaled(reference_single)).max()) <= _RELATIVE:
            return wrong("batch_cat_map is the same as the single-image map: average the gradients over axis=(0, 1, 2) "
                         "and call the changed function on both photos at once (images, top_classes).")
        return wrong(f"batch_cat_map differs from the batch-averaged map by up to {batch_off:.2f} of its peak: weights "
                     "= tf.reduce_mean(gradients, axis=(0, 1, 2)), one weight per channel for the whole batch, then "
                     "the cat's map is row 0 of relu(einsum('bhwk,k->bhw', features, weights)).")
    corr = _correlation(reference_batch, reference_single)
    return correct(f"averaging over the batch changes the cat's map by up to {between:.0%} of its peak (correlation "
                   f"{corr:.2f} with the cat-alone map): its weights now mix in the espresso's class.")


def _answer_q3(batch_cat_map, single_cat_map) -> str:
    a, b = np.asarray(batch_cat_map, np.float64).squeeze(), np.asarray(single_cat_map, np.float64).squeeze()
    if a.shape != b.shape:
        raise ValueError(f"the two maps must have the same shape, got {a.shape} and {b.shape}")
    corr = _correlation(a, b)
    change = float(np.abs(_scaled(a) - _scaled(b)).max())
    ya, xa = np.unravel_index(a.argmax(), a.shape)
    yb, xb = np.unravel_index(b.argmax(), b.shape)
    moved = ("the peak stays at the same cell" if (ya, xa) == (yb, xb)
             else f"the peak moves from cell ({yb}, {xb}) to ({ya}, {xa})")
    return f"""
On your run the cat's map computed in a batch with the espresso correlates at **{corr:.2f}** with the map of the
cat alone, differs by up to **{change:.0%}** of its peak, and {moved}.

What went wrong: `axis=(0, 1, 2)` averages over images too, so there is **one** weight per channel for the
whole batch, the mean of the cat's and the espresso's. Each image's gradient only depends on its own score, so
on this GAP + dense head the gradient of image b is w_(k, c_b)/49 everywhere and the shared weight is
(w_(k, cat) + w_(k, espresso)) / 2 / 49: the cat's "Grad-CAM" is half the cat's CAM plus half the *espresso's*
CAM on the cat photo. With one image the batch mean is that image's mean, which is why the article never
noticed. The correlation can stay high because both classes like some of the same channels (textures, edges),
but the map now answers a question nobody asked, and it changes with whatever else is in the batch. Average
over `axis=(1, 2)` only, one weight vector per image, as `grad_cam` and daylib do.
"""


q3 = Exercise(
    "lesson04.q3", "A batch limitation",
    check=_check_q3, answer=_answer_q3,
    hint="""
        Copy `grad_cam` into a new function, change `tf.reduce_mean(gradients, axis=(1, 2))` to
        `axis=(0, 1, 2)`, and the einsum to `"bhwk,k->bhw"` (the weights lost their batch axis). Call it on
        `images, top_classes` and take row 0; compare with `grad_cam(images[:1], top_classes[:1])[0]`.
    """,
    solution="""
        def grad_cam_batch_axis(images, classes, score="logit"):
            features, gradients = class_gradients(images, classes, score)
            weights = tf.reduce_mean(gradients, axis=(0, 1, 2))  # the article's axes: the batch is averaged too
            return tf.nn.relu(tf.einsum("bhwk,k->bhw", features, weights)).numpy()


        batch_cat_map = grad_cam_batch_axis(images, top_classes)[0]
        single_cat_map = grad_cam(images[:1], top_classes[:1])[0]
        print(f"corr(batch map, single map) = {np.corrcoef(batch_cat_map.ravel(), single_cat_map.ravel())[0, 1]:.2f}")
    """,
)


# ---------------------------------------------------------------- q4: a tighter box

def _check_q4(tight_energy, tight_random, method_maps, baseline) -> CheckResult:
    from daylib.cam.metrics import energy_pointing

    energies = _energy_dict(tight_energy, "tight_energy")
    chance = answers.number(tight_random, "tight_random")
    if not isinstance(method_maps, Mapping) or not method_maps:
        raise ValueError("method_maps must be section 8's dict {method name: heatmaps}")
    tight, old = np.array(TIGHT_BOX), np.array(CAT_FACE_BOX)
    expected = {name: float(energy_pointing(np.asarray(maps)[:1], tight)[0]) for name, maps in method_maps.items()}
    old_energy = {name: float(energy_pointing(np.asarray(maps)[:1], old)[0]) for name, maps in method_maps.items()}
    expected_chance = float(energy_pointing(baseline, tight).mean())
    old_chance = float(energy_pointing(baseline, old).mean())
    missing = [name for name in expected if name not in energies]
    if missing:
        return wrong(f"tight_energy has no value for {', '.join(missing)}: one per method of method_maps.")
    off = [name for name in expected if abs(energies[name] - expected[name]) > _PRINTED]
    problems = []
    if off:
        if all(abs(energies[name] - old_energy[name]) <= _PRINTED for name in off):
            problems.append(f"tight_energy holds the old box's energies (e.g. {off[0]} {old_energy[off[0]]:.2f}): "
                            f"use the box {TIGHT_BOX}")
        else:
            problems.append("tight_energy is off for " + ", ".join(
                f"{name} ({energies[name]:.3f}, expected {expected[name]:.3f})" for name in off))
    if abs(chance - expected_chance) > _PRINTED:
        if abs(chance - old_chance) <= _PRINTED:
            problems.append(f"tight_random = {chance:.3f} is the old box's random energy; in the tight box it is "
                            f"{expected_chance:.3f}")
        else:
            problems.append(f"tight_random = {chance:.3f}, but the random maps' mean energy in the tight box is "
                            f"{expected_chance:.3f} (energy_pointing(baseline, box).mean())")
    if problems:
        return wrong(problems)
    listing = ", ".join(f"{name} {old_energy[name]:.2f} → {expected[name]:.2f}" for name in expected)
    return correct(f"random maps: {old_chance:.2f} → {expected_chance:.2f}; {listing}. ex.q4.answer(...) compares them "
                   "with the box's share.")


def _answer_q4(tight_energy, tight_random, tight_share) -> str:
    energies = _energy_dict(tight_energy, "tight_energy")
    chance, share = answers.number(tight_random, "tight_random"), answers.number(tight_share, "tight_share")
    lifts = {name: energy / share for name, energy in energies.items()} if share > 0 else {}
    rows = "\n".join(f"| {name} | {energy:.2f} | {lifts.get(name, float('nan')):.2f} |" for name, energy in energies.items())
    best = max(lifts, key=lifts.get) if lifts else "-"
    return f"""
The tighter box covers **{share:.0%}** of the image, and the random maps put **{chance:.2f}** of their energy into
it: chance follows the box's share, because a map that knows nothing spreads its mass evenly on average.
So an energy only means something next to the share. Divide by it (1 = chance):

| method | energy in the tight box | energy / share |
|---|---|---|
{rows}

Every method's energy dropped too (a smaller box holds less of anything), but what matters is how far above the
share it stays: on your run **{best}** keeps the largest margin. A map concentrated on the eyes and nose keeps
most of its energy; a map spread over the whole head loses it at the same rate as the random maps. Tighter
boxes are stricter tests, and lower chance makes a hit mean more; with one photo it is still one number per
method, so no ranking follows from it.
"""


q4 = Exercise(
    "lesson04.q4", "A tighter box",
    check=_check_q4, answer=_answer_q4,
    hint="""
        No need to rerun the notebook: make the box `np.array([(60, 60, 190, 200)])` and call
        `energy_pointing(maps[:1], box)` for each method's cat map, and `energy_pointing(baseline, box[0]).mean()`
        for the random maps; `boxes_to_masks(box, (size, size))[0].mean()` is the box's share.
    """,
    solution="""
        tight_box = np.array([(60, 60, 190, 200)])
        tight_share = float(boxes_to_masks(tight_box, (size, size))[0].mean())
        tight_random = float(energy_pointing(baseline, tight_box[0]).mean())
        tight_energy = {name: float(energy_pointing(maps[:1], tight_box)[0]) for name, maps in method_maps.items()}
        print(f"tight box: {tight_share:.0%} of the image, random maps {tight_random:.2f}; "
              + ", ".join(f"{name} {energy:.2f}" for name, energy in tight_energy.items()))
    """,
)


# ---------------------------------------------------------------- q5: more empty maps

def _empty_classes(model, image: np.ndarray) -> list[str]:
    from daylib.models.imagenet import class_names

    split = _split(model)
    if split.head.dense is None:
        raise ValueError("this model's scores do not come from a Dense layer, so it has no CAM maps")
    features, _ = split(image[None])
    all_maps = np.einsum("hwk,kc->chw", features.numpy()[0], split.head.class_weights().numpy())
    names = class_names()
    return [names[i] for i in np.flatnonzero(all_maps.max(axis=(1, 2)) <= 0)]


def _check_q5(empty_names, model, images) -> CheckResult:
    from daylib.models.imagenet import class_names

    if isinstance(empty_names, (str, bytes)) or not hasattr(empty_names, "__iter__"):
        raise TypeError(f"empty_names must be a list of class names, got {empty_names!r:.60}")
    every = class_names()
    given = [every[int(v)] if isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool) else v
             for v in empty_names]
    if not all(isinstance(v, str) for v in given):
        raise TypeError("empty_names must hold class names (str), e.g. names[i]")
    batch = _images(images)
    if len(batch) < 2:
        raise ValueError("pass both photos (images): the espresso is images[1]")
    expected = _empty_classes(model, batch[1])
    if sorted(given) == sorted(expected):
        return correct(f"{len(expected)} classes have an all-zero map on the espresso: {', '.join(expected)}.")
    if sorted(given) == sorted(_empty_classes(model, batch[0])):
        return wrong("those are the cat's empty classes (images[0]); the espresso is images[1].")
    missing = [n for n in expected if n not in given]
    extra = [n for n in given if n not in expected]
    parts = ([f"missing {', '.join(missing[:10])}"] if missing else []) + (
        [f"not empty on the espresso: {', '.join(extra[:10])}"] if extra else [])
    return wrong(f"{len(expected)} classes have an all-zero map on the espresso; " + "; ".join(parts)
                 + ". Keep the classes whose whole raw map is <= 0: all_maps.max(axis=(1, 2)) <= 0.")


def _answer_q5(empty_names, probabilities=None) -> str:
    names = [str(n) for n in empty_names]
    if not names:
        return "No class has an all-zero map on your espresso photo: every class finds some positive evidence."
    ranks = ""
    if probabilities is not None:
        from daylib.models.imagenet import class_index

        row = np.asarray(probabilities, np.float64).reshape(-1)
        order = np.argsort(row)  # least probable first
        position = {int(c): r + 1 for r, c in enumerate(order)}
        listed = ", ".join(f"{n} #{position[class_index(n)]}" for n in names[:12])
        ranks = (f"\n\nTheir places among the least probable classes (1 = least probable of {len(row)}): {listed}. An "
                 "all-zero map is not the same as the lowest probability: the logit is the *mean* of the map plus the "
                 "bias, so a class with a few small negative cells and a low bias can be less likely than a class "
                 "with no positive cell.")
    return f"""
On your run {len(names)} classes have no positive cell anywhere on the espresso photo: {", ".join(names)}.

Every one of their 49 cells is ≤ 0: whatever the network sees in the cup, the saucer and the table, it counts
*against* them. Do they make sense? Mostly yes: things with nothing of a cup's round shapes, shiny surfaces and
brown liquid in them. Some may surprise you; a class whose features are anti-correlated with the photo's is
not necessarily one a person would call "the least related". For each of them Grad-CAM (= CAM here) after ReLU
is all zero: the plain "divide by the maximum" would give NaN, and daylib returns zeros and flags them in
`last_zero_maps`.{ranks}
"""


q5 = Exercise(
    "lesson04.q5", "More empty maps",
    check=_check_q5, answer=_answer_q5,
    hint="""
        `features[0]` is the espresso's `(7, 7, 1280)` feature map and `dense.kernel.numpy()` is `(1280, 1000)`:
        the einsum gives all 1000 raw maps `(1000, 7, 7)`. A map is empty after ReLU when its maximum is <= 0;
        `np.flatnonzero` turns the boolean into indices, `names[i]` into names.
    """,
    solution="""
        features, _ = class_gradients(images[1:], [0])
        all_maps = np.einsum("hwk,kc->chw", features[0], dense.kernel.numpy())
        empty_names = [names[i] for i in np.flatnonzero(all_maps.max(axis=(1, 2)) <= 0)]
        print(len(empty_names), "classes with an all-zero map on the espresso:", ", ".join(empty_names))
    """,
)

EXERCISES = [q1, q2, q3, q4, q5]


# ---------------------------------------------------------------- in-text questions

def _answer_question1(class_maps, cam) -> str:
    from daylib.models.imagenet import class_names

    names = class_names()
    maps = np.asarray(class_maps)
    lines = []
    for row, (klasses, row_maps) in enumerate(zip(cam.last_classes, maps)):
        parts = [f"{names[int(c)]} {_correlation(row_maps[0], m):.2f}" for c, m in zip(klasses[1:], row_maps[1:])]
        lines.append(f"- image {row}, {names[int(klasses[0])]}: " + (", ".join(parts) if parts else "(one class only)"))
    listing = "\n".join(lines)
    return f"""
The correlations of each runner-up's map with the winner's, on your run:

{listing}

The cat's runners-up are other cats, and their maps are nearly the same picture. That is what to expect: all
classes read the **same** 7×7×1280 feature map; a class's map is the feature map weighted by that class's 1280
weights. Egyptian cat, tabby and tiger cat are told apart by fine details (stripes, colour), so their weight
vectors point almost the same way, and a weighted sum with nearly the same weights gives nearly the same map.
Where two classes need different *places* (a cup and a table) their maps differ; where they differ in *kind*
at the same place (three cat breeds), a heatmap cannot show the difference. It shows where, not why.
"""


QUESTIONS = {
    "lesson04.question1": Exercise(
        "lesson04.question1", "Do the runner-up cats' maps differ from the winner's?",
        answer=_answer_question1,
        hint="All maps come from one feature map; only the 1280 weights per class differ.",
        solution="",
    ),
}
