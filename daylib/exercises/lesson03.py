"""Exercises of lesson 03 (class activation maps): checks, hints, solutions and worked answers.

Every check recomputes its reference from the learner's own inputs (their class maps, their
heatmaps, their photo) with daylib's API or the lesson's own three-line recipe, so it holds in
quick mode, in full mode and on any machine. No number is copied from a stored output.

Example:
    >>> from daylib.exercises import lesson03 as ex
    >>> ex.q4.check(None).status
    'unanswered'
"""
from __future__ import annotations

import numbers
from typing import Mapping, Optional

import numpy as np

from daylib.exercises import answers
from daylib.exercises.core import CheckResult, Exercise, correct, wrong

# Values the lesson prints with two significant digits (``.1e``, ``.2f``) may be typed in from the
# printout: half a unit of the second digit is at most 5 % of the value. Recomputing the same float32
# arithmetic on the same arrays differs by about 1e-7, far below that.
_PRINTED_RELATIVE = 0.05
_PRINTED = 0.005 + 1e-6
_FLOAT32 = 1e-6


def _close(value: float, reference: float, relative: float = _PRINTED_RELATIVE, absolute: float = _FLOAT32) -> bool:
    return abs(value - reference) <= absolute + relative * abs(reference)


def _class_maps(cam_maps, name: str = "cam_maps") -> np.ndarray:
    maps = np.asarray(cam_maps, dtype=np.float64)
    if maps.ndim != 4:
        raise ValueError(f"{name} must be the lesson's (images, classes, 7, 7) array of raw class maps; "
                         f"got shape {maps.shape}")
    return maps


def _name_list(values, name: str) -> list[str]:
    """Class names from a list of names or indices (indices are turned into names)."""
    from daylib.models.imagenet import class_names

    every = class_names()
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of class names, e.g. ['giant panda', 'bison']; got {values!r:.60}")
    out = []
    for value in values:
        if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
            if not 0 <= int(value) < len(every):
                raise ValueError(f"{name} holds {value}, which is not an ImageNet class index (0-999)")
            out.append(every[int(value)])
        elif isinstance(value, str):
            out.append(value)
        else:
            raise TypeError(f"{name} must hold class names (str), got {type(value).__name__} {value!r:.40}")
    return out


def _to_heatmap(raw_map: np.ndarray, height: int, width: int, interpolation: int) -> np.ndarray:
    """The lesson's ``to_heatmap``: ReLU, ``cv2.resize`` to (width, height), divide by the maximum."""
    import cv2

    positive = np.maximum(np.asarray(raw_map, np.float32), 0)
    upsampled = cv2.resize(positive, (width, height), interpolation=interpolation)
    with np.errstate(invalid="ignore", divide="ignore"):
        return upsampled / upsampled.max()


def _listing(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ---------------------------------------------------------------- q1: other classes, and a misspelling

def _check_q1(suggestion, misspelled) -> CheckResult:
    from daylib.models.imagenet import _normalize, class_index

    if not isinstance(misspelled, str) or not isinstance(suggestion, str):
        raise TypeError("misspelled and suggestion must both be strings, e.g. misspelled = 'tabbby', "
                        "suggestion = 'tabby'")
    try:
        index = class_index(misspelled)
    except ValueError as error:
        message = str(error)
    else:
        return wrong(f"{misspelled!r} is a real class name (index {index}), so class_index suggests nothing: "
                     "misspell it on purpose, e.g. double or drop one letter ('tabbby').")
    if "Did you mean:" not in message:
        return wrong(f"class_index found no close name for {misspelled!r} ({message}). Misspell a real name by one "
                     "or two letters, so that some names are similar enough to suggest.")
    offered = message.split("Did you mean:", 1)[1].split("?")[0]
    if repr(_normalize(suggestion)) in offered:
        return correct(f"class_index({misspelled!r}) suggests{offered}. It compares your text with all 1000 "
                       "names by similarity (Python's difflib) and offers the closest; that is why the lesson looks "
                       "classes up by name and prints the name next to every index.")
    try:
        other = class_index(suggestion)
        what = f"{suggestion!r} is a class (index {other}), but not one that class_index offered"
    except ValueError:
        what = f"{suggestion!r} is not a class name at all"
    return wrong(f"{what}: for {misspelled!r} it suggests{offered}. Copy one of those names.")


def _answer_q1(cam, class_maps) -> str:
    from daylib.models.imagenet import class_names

    names = class_names()
    maps = np.asarray(class_maps)
    lines = []
    for row, (klasses, row_maps) in enumerate(zip(cam.last_classes, maps)):
        first = row_maps[0].ravel()
        parts = []
        for klass, heat in zip(klasses, row_maps):
            corr = np.corrcoef(first, heat.ravel())[0, 1] if heat.std() > 0 and first.std() > 0 else float("nan")
            parts.append(f"{names[klass]} (p = {cam.last_probabilities[row, klass]:.2g}, corr {corr:.2f})")
        lines.append(f"- image {row}: " + ", ".join(parts))
    listing = "\n".join(lines)
    return f"""
Your classes, with the probability the model gives each and the correlation of its map with the image's
first map:

{listing}

Two things to read there. Every map is scaled to its own maximum, so a class with p around 1e-5 still gets
a bright spot: the picture says "if the answer were this class, the evidence would be here", and only the
probability says how much that evidence is worth. And classes that share features (tabby, tiger cat and
Egyptian cat; cup, coffee mug and espresso) have dense weights that point the same way in the 1280-channel
space, so their maps correlate strongly; a class unrelated to the photo correlates weakly or negatively.

The misspelling: `class_index` compares the text with all 1000 names by difflib's similarity ratio and
lists the closest ones (a ratio of at least 0.6), so a typo costs one look at the suggestions instead of a
heatmap for a silently wrong class.
"""


q1 = Exercise(
    "lesson03.q1", "Other classes",
    check=_check_q1, answer=_answer_q1,
    hint="""
        `class_index` raises a `ValueError` for a name it does not know; its message ends with
        "Did you mean: ...?". Call it inside `try: ... except ValueError as error: print(error)` and copy
        one of the suggested names into `suggestion`.
    """,
    solution="""
        CLASSES = {"cat": ["tabby", "lynx", "Egyptian cat", "tiger cat"],
                   "espresso": ["coffee mug", "plate", "espresso", "cup"]}
        wanted = [[class_index(name) for name in CLASSES[title][:CLASSES_PER_PHOTO]] for title in PHOTOS]
        class_maps = cam(images, classes=wanted)
        show_heatmaps(images, class_maps, classes=cam.last_classes, class_names=names, size=1.8)
        misspelled = "tabbby"
        try:
            class_index(misspelled)
        except ValueError as error:
            print(error)
        suggestion = "tabby"
    """,
)


# ---------------------------------------------------------------- q2: cubic interpolation

def _check_q2(cubic_difference, cubic_min, cam_maps, top_classes, daylib_maps) -> CheckResult:
    import cv2

    difference = answers.number(cubic_difference, "cubic_difference")
    low = answers.number(cubic_min, "cubic_min")
    maps = _class_maps(cam_maps)
    heatmaps = np.asarray(daylib_maps, np.float32)
    classes = np.asarray(top_classes).ravel()
    if heatmaps.ndim != 3 or len(heatmaps) != len(classes):
        raise ValueError(f"daylib_maps must be the (images, H, W) heatmaps of section 5, one per entry of "
                         f"top_classes; got shape {heatmaps.shape} for {len(classes)} classes")
    height, width = heatmaps.shape[1:]
    cubic = np.stack([_to_heatmap(maps[b, c], height, width, cv2.INTER_CUBIC) for b, c in enumerate(classes)])
    linear = np.stack([_to_heatmap(maps[b, c], height, width, cv2.INTER_LINEAR) for b, c in enumerate(classes)])
    reference, reference_low = float(np.abs(cubic - heatmaps).max()), float(cubic.min())
    linear_difference = float(np.abs(linear - heatmaps).max())
    problems = []
    if not _close(difference, reference):
        if _close(difference, linear_difference, absolute=1e-6):
            problems.append(f"cubic_difference = {difference:.2g} is the INTER_LINEAR difference (float32 rounding): "
                            "build the by-hand heatmaps again with cv2.INTER_CUBIC before comparing")
        else:
            problems.append(f"cubic_difference = {difference:.3g}, but max |cubic by hand - daylib| is {reference:.3g} "
                            "over both photos")
    if not _close(low, reference_low):
        per_photo = [float(m.min()) for m in cubic]
        if low >= 0:
            problems.append(f"cubic_min = {low:.3g} is not below zero, but the cubic heatmaps reach {reference_low:.3g}: "
                            "take .min() of the cubic heatmaps themselves (daylib's are clipped to [0, 1], and "
                            "np.maximum comes before the resize, not after)")
        elif any(_close(low, value) for value in per_photo):
            problems.append(f"cubic_min = {low:.3g} is one photo's minimum; over both photos it is {reference_low:.3g}")
        else:
            problems.append(f"cubic_min = {low:.3g}, but the lowest value of the cubic heatmaps is {reference_low:.3g}")
    if problems:
        return wrong(problems)
    return correct(f"cubic upsampling differs from daylib's bilinear maps by up to {reference:.2f} (linear: "
                   f"{linear_difference:.0e}), and it dips to {reference_low:.3f}, below zero: the cubic kernel has "
                   "negative lobes, so next to a sharp step it overshoots. Clip before colouring.")


def _answer_q2(cubic_difference, cubic_min) -> str:
    difference, low = answers.number(cubic_difference, "cubic_difference"), answers.number(cubic_min, "cubic_min")
    return f"""
Your cubic heatmaps differ from daylib's by up to **{difference:.2f}** (on a [0, 1] scale), where the linear
ones agreed to float32 rounding: daylib, like `tf.image.resize`, upsamples bilinearly, so only the same
interpolation reproduces it exactly. Neither adds detail: both draw a smooth surface through the same 49 values.

Why **{low:.3f}**, a value below zero? Bilinear interpolation is a weighted *average* of the 4 nearest cells
with weights between 0 and 1, so it never leaves the range of the cells. OpenCV's bicubic interpolation fits
a cubic through 4 × 4 cells, and its kernel (Keys, a = -0.75) has **negative lobes**: cells two steps away get
a negative weight. After the ReLU, a positive cell next to cells that were set to zero is a sharp step, and the
cubic overshoots on the zero side, like ringing. Dividing by the maximum keeps those negative values, and
`colorize`/`overlay` refuse a map outside [0, 1]: clip with `np.clip(heatmap, 0, 1)` (or stay with linear).
"""


q2 = Exercise(
    "lesson03.q2", "Interpolation",
    check=_check_q2, answer=_answer_q2,
    hint="""
        Build the same stack as `by_hand` in section 5, passing `cv2.INTER_CUBIC` as the third argument of
        `to_heatmap`; then `np.abs(by_hand_cubic - daylib_maps).max()` and `by_hand_cubic.min()`.
    """,
    solution="""
        by_hand_cubic = np.stack([to_heatmap(cam_maps[b, c], size, cv2.INTER_CUBIC) for b, c in enumerate(top_classes)])
        cubic_difference = float(np.abs(by_hand_cubic - daylib_maps).max())
        cubic_min = float(by_hand_cubic.min())
        print(f"max |cubic by hand - daylib| = {cubic_difference:.3f}, lowest cubic value {cubic_min:.3f}")
    """,
)


# ---------------------------------------------------------------- q3: colours and blending

def _check_q3(my_blend, image, heatmap) -> CheckResult:
    from daylib.viz.heatmaps import overlay

    blend = np.asarray(my_blend, dtype=np.float64)
    reference = overlay(image, heatmap, alpha=0.6, colormap="inferno").astype(np.float64)
    if blend.shape != reference.shape:
        raise ValueError(f"my_blend has shape {blend.shape}; the blend of images[0] is {reference.shape} (H, W, 3)")
    if blend.max() <= 1.0 + 1e-6 and reference.max() > 2:
        return wrong("my_blend has values in [0, 1]; blend on the image's own 0-255 scale (keep colorize's "
                     "uint8 levels, do not divide by 255).")
    off = float(np.abs(blend - reference).max())
    if off <= 1.0 + 1e-6:  # rounding instead of truncating moves a level by at most 1
        return correct(f"your blend matches overlay(images[0], smooth, alpha=0.6, colormap='inferno') to "
                       f"{off:.0f} grey level: (1 - alpha) * image + alpha * colour, rounded and clipped.")
    from daylib.viz.heatmaps import colorize

    image_f = np.asarray(image, np.float64)
    colour = colorize(np.asarray(heatmap), "inferno").astype(np.float64)
    candidates = {
        "you added 0.6 x colour to the whole image (the article's `heatmap * 0.4 + img`), so it is brighter and "
        "clips at 255; blend instead: (1 - 0.6) * image + 0.6 * colour": np.clip(image_f + 0.6 * colour, 0, 255),
        "red and blue are swapped: colorize returns RGB already (cv2.applyColorMap alone returns BGR)":
            np.clip(np.round(0.4 * image_f + 0.6 * colour[..., ::-1]), 0, 255),
        "the image and the colour have swapped weights: alpha = 0.6 goes with the colour, 1 - alpha with the image":
            np.clip(np.round(0.6 * image_f + 0.4 * colour), 0, 255),
    }
    for colormap in ("turbo", "jet"):
        for alpha in (0.6, 0.4):
            key = f"that is the {colormap!r} colour map at alpha = {alpha}; the exercise asks for 'inferno' at 0.6"
            candidates[key] = overlay(image, heatmap, alpha=alpha, colormap=colormap).astype(np.float64)
    for why, candidate in candidates.items():
        if float(np.abs(blend - candidate).max()) <= 1.0 + 1e-6:
            return wrong(f"{why}.")
    return wrong(f"my_blend differs from overlay(images[0], smooth, alpha=0.6, colormap='inferno') by up to {off:.0f} "
                 "grey levels: blend (1 - 0.6) * images[0] + 0.6 * colorize(smooth, 'inferno'), then round and clip to "
                 "0-255.")


def _answer_q3() -> str:
    from daylib.viz.heatmaps import colorize

    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)[None]
    rows = []
    for colormap in ("jet", "turbo", "inferno"):
        rgb = colorize(ramp, colormap)[0].astype(np.float64) / 255.0
        lightness = rgb @ np.array([0.2126, 0.7152, 0.0722])  # relative luminance (Rec. 709 weights)
        steps = np.diff(lightness)
        monotonic = "rises all the way" if (steps >= -1e-3).all() else f"peaks at level {lightness.argmax() / 255:.2f}"
        rows.append(f"| {colormap} | {lightness[0]:.2f} | {lightness.max():.2f} | {lightness[-1]:.2f} | {monotonic} |")
    table = "\n".join(rows)
    return f"""
There is no single right answer, but there is a measurable reason to prefer some maps. Here is the
lightness (luminance, 0 = black, 1 = white) of each colour map along the heatmap's range, computed with
`colorize` on a ramp from 0 to 1:

| colour map | at 0 | brightest | at 1 | lightness |
|---|---|---|---|---|
{table}

The eye reads *lightness* as "more" far more reliably than hue. In **inferno** lightness rises steadily from
black to pale yellow, so "high" is always "lighter" (also for colour-blind readers and in grayscale print).
**jet** and **turbo** are rainbows: they are brightest in the middle (yellow-green) and darker again at the
top, so a mid-level region can look hotter than the peak, and jet's bands create edges that are not in the
data. Turbo is a smoother jet, better but still a rainbow. With alpha = 0.6 the colour dominates the photo:
good for reading the map, worse for seeing what lies under it; 0.4 is a compromise.
"""


q3 = Exercise(
    "lesson03.q3", "Colours and blending",
    check=_check_q3, answer=_answer_q3,
    hint="""
        `overlay` computes `(1 - alpha) * image + alpha * colour`, rounded and clipped to 0-255, where the
        colour is `colorize(heatmap, colormap)` (RGB, uint8). Compute that by hand for alpha = 0.6 and
        "inferno" and compare with what `overlay` drew.
    """,
    solution="""
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
        for ax, colormap in zip(axes, ("turbo", "inferno")):
            ax.imshow(overlay(images[0], smooth, alpha=0.6, colormap=colormap))
            ax.set_title(f"alpha = 0.6, {colormap}", fontsize=9)
            ax.axis("off")
        plt.show()
        my_blend = np.clip(np.round((1 - 0.6) * images[0] + 0.6 * colorize(smooth, "inferno")), 0, 255)
    """,
)


# ---------------------------------------------------------------- q4: classes with no evidence

def _check_q4(negative_count, negative_names, cam_maps) -> CheckResult:
    from daylib.models.imagenet import class_names

    if isinstance(negative_count, bool) or not isinstance(negative_count, (numbers.Integral, np.integer)):
        if isinstance(negative_count, numbers.Real) and float(negative_count).is_integer():
            negative_count = int(negative_count)
        else:
            raise TypeError(f"negative_count must be a whole number, got {negative_count!r:.60}")
    count = int(negative_count)
    given = _name_list(negative_names, "negative_names")
    maps = _class_maps(cam_maps)
    empty = maps[0].max(axis=(1, 2)) <= 0
    reference = int(empty.sum())
    names = class_names()
    expected = [names[i] for i in np.flatnonzero(empty)]
    if count != reference:
        if count == int((maps[0] <= 0).sum()):
            why = "that counts negative *cells* over all maps; count classes whose whole map is <= 0"
        elif len(maps) > 1 and count == int((maps[1].max(axis=(1, 2)) <= 0).sum()):
            why = "that is the espresso photo (cam_maps[1]); the cat is cam_maps[0]"
        elif count == int((maps[0].min(axis=(1, 2)) < 0).sum()):
            why = "that counts classes with a negative cell *somewhere*; the exercise asks for maps negative everywhere"
        else:
            why = "use (cam_maps[0].max(axis=(1, 2)) <= 0).sum()"
        return wrong(f"negative_count = {count}, but {reference} classes have a map <= 0 everywhere on the cat: {why}.")
    missing = [n for n in expected if n not in given]
    extra = [n for n in given if n not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_listing(missing)}")
        if extra:
            parts.append(f"not all-negative on the cat: {_listing(extra)}")
        return wrong(f"the count ({count}) is right, but the names are not: " + "; ".join(parts)
                     + ". Take names[c] for c in np.flatnonzero(cam_maps[0].max(axis=(1, 2)) <= 0).")
    return correct(f"{reference} classes have no positive cell on the cat: {_listing(expected)}. After the ReLU their "
                   "maps are all zero, and to_heatmap divides 0 by 0.")


def _answer_q4(negative_names, cam_maps=None, size: int = 224) -> str:
    from daylib.models.imagenet import class_index

    names = _name_list(negative_names, "negative_names")
    if not names:
        return ("On your run no class has a map that is negative everywhere on the cat. Try the espresso "
                "(cam_maps[1]): a class with no positive cell gives an all-zero map after the ReLU.")
    shown = ""
    if cam_maps is not None:
        maps = _class_maps(cam_maps)
        import cv2

        raw = maps[0, class_index(names[0])]
        nan_share = float(np.isnan(_to_heatmap(raw, size, size, cv2.INTER_LINEAR)).mean())
        shown = (f" On your run `to_heatmap(cam_maps[0, class_index({names[0]!r})], size)` is NaN on "
                 f"**{nan_share:.0%}** of its pixels (its raw maximum is {raw.max():.2f}).")
    return f"""
Your {len(names)} classes ({_listing(names)}) have no cell that speaks for them anywhere on the cat: every
position of the 7×7 map is ≤ 0. `to_heatmap` then keeps the positive part, which is **all zeros**, resizes the
zeros, and divides by their maximum, 0: 0 / 0 is NaN, with at most a RuntimeWarning.{shown}

A NaN heatmap is worse than an error: `np.uint8(255 * heatmap)` turns NaN into arbitrary integers and every
metric on it becomes NaN. Lesson 04 shows daylib's answer: return the all-zero map, warn, and record which maps
were empty in `last_zero_maps`. Do the names make sense? Mostly animals, vehicles or objects with nothing in
common with a cat's fur and face; note that "no positive cell" is not the same as "least probable": the bias
and the size of the negative values matter too.
"""


q4 = Exercise(
    "lesson03.q4", "Classes with no evidence",
    check=_check_q4, answer=_answer_q4,
    hint="""
        `cam_maps[0]` holds the cat's 1000 raw maps, `(1000, 7, 7)`. A map is negative everywhere when its
        largest value is <= 0: `cam_maps[0].max(axis=(1, 2)) <= 0` is a boolean per class, `np.flatnonzero`
        gives their indices, and `names[i]` their names.
    """,
    solution="""
        empty = cam_maps[0].max(axis=(1, 2)) <= 0
        negative_count = int(empty.sum())
        negative_names = [names[c] for c in np.flatnonzero(empty)]
        print(negative_count, "classes:", ", ".join(negative_names))
        if negative_count:
            with np.errstate(invalid="ignore"):
                empty_heatmap = to_heatmap(cam_maps[0, np.flatnonzero(empty)[0]], size)
            print(f"to_heatmap of {negative_names[0]!r}: {np.isnan(empty_heatmap).mean():.0%} NaN")
    """,
)


# ---------------------------------------------------------------- q5: online models

_ONLINE = ("mobilenet_v2", "resnet50")


def _check_q5(picked_layers) -> CheckResult:
    from daylib.models import BACKBONES

    if not isinstance(picked_layers, Mapping):
        raise TypeError("picked_layers must be a dict {model name: layer name}, e.g. "
                        "{'mobilenet_v2': ..., 'resnet50': ...}")
    missing = [name for name in _ONLINE if name not in picked_layers]
    if missing:
        return wrong(f"picked_layers has no entry for {', '.join(missing)}: give the layer of both "
                     f"{' and '.join(_ONLINE)}.")
    problems = []
    for name, layer in picked_layers.items():
        if name not in BACKBONES:
            problems.append(f"{name!r} is not in BACKBONES ({', '.join(BACKBONES)})")
            continue
        expected = BACKBONES[name].last_conv_layer
        if layer != expected:
            owner = [other for other, spec in BACKBONES.items() if spec.last_conv_layer == layer]
            whose = f" ({', '.join(owner)}'s layer)" if owner else ""
            problems.append(f"for {name!r} the registry picks {expected!r}, not {layer!r}{whose}")
    if problems:
        return wrong(problems, "Look it up with BACKBONES[name].last_conv_layer.")
    listing = ", ".join(f"{name}: {BACKBONES[name].last_conv_layer!r} at {BACKBONES[name].default_size} px"
                        for name in picked_layers)
    return correct(f"{listing}. Each is the last 4-D layer before the network's GAP and dense head, so CAM accepts it; "
                   "CAM(model) with no layer finds the same one by itself.")


def _answer_q5(online_maps: Optional[np.ndarray] = None, daylib_maps: Optional[np.ndarray] = None) -> str:
    from daylib.models import BACKBONES

    rows = "\n".join(f"- `{name}`: `{BACKBONES[name].last_conv_layer}` at {BACKBONES[name].default_size} px, a "
                     f"{BACKBONES[name].default_size // 32}×{BACKBONES[name].default_size // 32} map"
                     for name in _ONLINE)
    agreement = ""
    if online_maps is not None and daylib_maps is not None:
        a, b = np.asarray(online_maps), np.asarray(daylib_maps)
        if a.shape == b.shape:
            corr = [np.corrcoef(x.ravel(), y.ravel())[0, 1] for x, y in zip(a, b)]
            agreement = ("\n\nOn your run the online model's heatmaps correlate with EfficientNet-Lite0's at "
                         + ", ".join(f"{r:.2f}" for r in corr) + " (per photo).")
        else:
            agreement = (f"\n\nYour two sets of heatmaps have shapes {a.shape} and {b.shape}: resize one to the other "
                         "(or load the photos at the same size) before correlating them.")
    return f"""
The registry stores, per network, the last layer that feeds its global average pool:

{rows}

All three networks (and EfficientNet-Lite0's `top_activation`) downsample by 32, so at 224 px each map is
7×7; only InceptionV3 at 299 px gives 8×8.{agreement}

Do the heatmaps agree? Usually on *where* the object is (the cat's face, the cup) but not in detail: each
network learned its own features, and each 7×7 cell covers 32 px of the photo, so small shifts of the peak
or a second blob are the rule. Agreement of two networks is weak evidence that the heatmap reflects the
photo rather than one model's quirks, and no evidence that either model is right.
"""


q5 = Exercise(
    "lesson03.q5", "Online",
    check=_check_q5, answer=_answer_q5,
    hint="""
        `BACKBONES[name]` is the registry entry of a network: its `.last_conv_layer` is the layer CAM uses and
        its `.default_size` the input size. The lookup needs no internet; the heatmaps with ImageNet weights do.
    """,
    solution="""
        picked_layers = {name: BACKBONES[name].last_conv_layer for name in ("mobilenet_v2", "resnet50")}
        print(picked_layers)
    """,
)

EXERCISES = [q1, q2, q3, q4, q5]


# ---------------------------------------------------------------- in-text questions

def _answer_question1(features, size: int) -> str:
    grid = int(np.shape(features)[1])
    step = size / grid
    return f"""
Your feature map is {grid}×{grid} for a {size}×{size} photo, so one cell stands for **{size} / {grid} =
{step:g} pixels** per side, {step * step:g} pixels in all. The CAM has one number per cell: it cannot say
which part of a {step:g}-pixel square mattered, and upsampling only smooths the blocks into blobs. So a CAM
can point at the cat's face, not at an eye or a whisker. (Each cell's number is computed from a receptive
field far larger than {step:g} px, too: the last layer has seen most of the photo.) Sharper maps need an
earlier, larger feature map (lesson 04) or a larger input.
"""


def _answer_question2(class_maps, cam) -> str:
    from daylib.models.imagenet import class_index, class_names

    names = class_names()
    spoon = class_index("wooden spoon")
    rows = np.argwhere(np.asarray(cam.last_classes) == spoon)
    if not len(rows):
        return ("Your maps do not include 'wooden spoon': put it into CLASSES['espresso'] and rerun section 6 "
                "first.")
    row, column = (int(i) for i in rows[0])
    maps = np.asarray(class_maps)
    heat, first = maps[row, column], maps[row, 0]
    y, x = np.unravel_index(heat.argmax(), heat.shape)
    corr = np.corrcoef(first.ravel(), heat.ravel())[0, 1]
    p = cam.last_probabilities[row, spoon]
    return f"""
On your run the "wooden spoon" map peaks at row {y}, column {x} of the {heat.shape[0]}×{heat.shape[1]} photo,
its probability is **{p:.2g}**, and its map correlates at **{corr:.2f}** with the map of
"{names[int(cam.last_classes[row][0])]}". Compare the peak with where the metal spoon lies in the photo.

Whatever you see, the lesson is the same: a CAM is not an object detector. It shows where the features that
the *wooden spoon* weights like are strongest, and on this photo those are features of the cup, the saucer and
the spoon-like shapes around them, which is why the map looks much like the espresso map. A map for a class the
model gives p ≈ {p:.0e} still has a bright spot because every map is scaled to its own maximum. It cannot tell
you that a wooden spoon is *there*, only where the evidence would be if it were.
"""


QUESTIONS = {
    "lesson03.question1": Exercise(
        "lesson03.question1", "How many pixels per cell?",
        answer=_answer_question1,
        hint="Divide the photo's size by the number of cells per side.",
        solution="",
    ),
    "lesson03.question2": Exercise(
        "lesson03.question2", "Does the wooden-spoon map sit on the spoon?",
        answer=_answer_question2,
        hint="Look at the probability of 'wooden spoon' and at how much its map resembles the espresso map.",
        solution="",
    ),
}
