"""Exercises of lesson 06 (Grad-CAM on mobile networks and fine-tuned heads): checks, hints, solutions and
worked answers.

Every check recomputes its reference on the spot: weight counts from Keras layers built at the learner's
widths, layer lists from the learner's model, heatmap scores from the learner's model and collages with
daylib's CAMs, class indices with ``class_index``. Tolerances allow the decimals the lesson prints (two for
ratios and energies: 0.005); recomputing the same float32 network on the same pixels differs by about 1e-6.

Example:
    >>> from daylib.exercises import lesson06 as ex
    >>> ex.q1.check(21.30, 144, 144, 5)   # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np

from daylib.exercises import answers
from daylib.exercises.core import Exercise, correct, wrong

PRINTED = 0.005 + 1e-6  # the lesson prints ratios and energies with two decimals
WIDTHS = (144, 144, 5)  # c_in, c_out, k of block3a_dwconv in EfficientNet-Lite0
BLOCK = "block6a_"


# ----------------------------------------------------------------------------------------------- helpers


def _f(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _half_energy(cam, collages, boxes, classes) -> float:
    """Mean share of energy on the correct half: both classes on both collages, as in section 3."""
    from daylib.cam.metrics import energy_pointing

    boxes = np.asarray(boxes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-zero maps score 0, as in the lesson
        maps = cam(collages, classes=[list(classes)])
    flat = maps.reshape(-1, *maps.shape[-2:])
    return float(energy_pointing(flat, boxes.reshape(-1, 4)).mean())


def _weights(c_in: int, c_out: int, k: int) -> tuple[int, int, int]:
    """Weights of a standard k x k convolution, its depthwise and its pointwise step (no biases), counted by Keras."""
    import keras

    shape = (None, 8, 8, c_in)
    standard = keras.layers.Conv2D(c_out, k, padding="same", use_bias=False)
    depthwise = keras.layers.DepthwiseConv2D(k, padding="same", use_bias=False)
    pointwise = keras.layers.Conv2D(c_out, 1, use_bias=False)
    for layer in (standard, depthwise, pointwise):
        layer.build(shape)
    return standard.count_params(), depthwise.count_params(), pointwise.count_params()


# ----------------------------------------------------------------------------------------------- exercise 1


def _check_q1(saving, c_in, c_out, k):
    value = answers.number(saving, "saving")
    widths = tuple(answers.whole(v, n) for v, n in ((c_in, "c_in"), (c_out, "c_out"), (k, "k")))
    if widths != WIDTHS:
        return wrong(f"the exercise asks for c_in, c_out, k = {', '.join(map(str, WIDTHS))} (block3a_dwconv); "
                     f"you have {', '.join(map(str, widths))}.")
    standard, depthwise, pointwise = _weights(*widths)
    reference = standard / (depthwise + pointwise)
    counts = (f"standard {standard:,d} weights, depthwise {depthwise:,d} + pointwise {pointwise:,d} = "
              f"{depthwise + pointwise:,d}")
    if abs(value - reference) <= PRINTED:
        return correct(f"{counts}: a saving of {reference:.2f}, against {WIDTHS[2] ** 2} = k² at most.")
    why = ""
    if abs(value - k ** 2) <= PRINTED:
        why = (f" {value:.2f} is k² = standard / pointwise: the depthwise step's {depthwise:,d} weights count too, "
               "so the saving is a little below k².")
    elif abs(value - standard / depthwise) <= PRINTED:
        why = f" {value:.2f} is standard / depthwise: add the pointwise step's {pointwise:,d} weights."
    elif reference and abs(value - 1 / reference) <= 0.001:
        why = " That is the inverse: divide the standard count by the separable one."
    return wrong(f"saving is {value:.2f}, but Keras counts {counts}, a ratio of {reference:.2f}.{why}")


def _answer_q1(c_in, c_out, k, saving=None):
    standard, depthwise, pointwise = _weights(int(c_in), int(c_out), int(k))
    ratio = standard / (depthwise + pointwise)
    formula = 1 / (1 / c_out + 1 / k ** 2)
    mine = "" if saving is None else f" (your value: {_f(saving)})"
    return f"""
**Counts** for c_in, c_out, k = {c_in}, {c_out}, {k}: a standard convolution has k²·c_in·c_out = {standard:,d}
weights; the depthwise step k²·c_in = {depthwise:,d} and the pointwise step c_in·c_out = {pointwise:,d}. The
saving is {standard:,d} / {depthwise + pointwise:,d} = **{ratio:.2f}**{mine}, against 8 for 32 → 64 channels
with 3×3 kernels.

**The formula** 1 / (1/c_out + 1/k²) = {formula:.2f} predicts it exactly, not approximately: divide numerator and
denominator by k²·c_in·c_out and c_in cancels, so the input width never matters. Without biases there is nothing
else to count. The saving is bounded by whichever is smaller, k² or c_out: with a 5×5 kernel it can approach
25, and it gets there only when c_out is much larger than 25 (here {c_out}/25 = {c_out / k ** 2:.1f}, so
{ratio:.1f}). Larger kernels therefore save more, which is why EfficientNet can afford 5×5 depthwise filters.
"""


q1 = Exercise(
    "lesson06.q1", "Other widths",
    check=_check_q1, answer=_answer_q1,
    hint="""
    Build the three layers of section 1 at the new widths (`use_bias=False`), call `.build((None, 56, 56, c_in))`
    on each (or apply them to a `keras.Input`), then divide `standard.count_params()` by the sum of the
    depthwise and pointwise counts.
    """,
    solution="""
    c_in, c_out, k = 144, 144, 5
    wide_standard = keras.layers.Conv2D(c_out, k, padding="same", use_bias=False)
    wide_depthwise = keras.layers.DepthwiseConv2D(k, padding="same", use_bias=False)
    wide_pointwise = keras.layers.Conv2D(c_out, 1, use_bias=False)
    for layer in (wide_standard, wide_depthwise, wide_pointwise):
        layer.build((None, height, width, c_in))
    saving = wide_standard.count_params() / (wide_depthwise.count_params() + wide_pointwise.count_params())
    print(f"saving {saving:.2f}; formula 1 / (1/c_out + 1/k^2) = {1 / (1 / c_out + 1 / k**2):.2f}")
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 2


def _names(value, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of layer names, e.g. ['{BLOCK}expand_conv', ...].")
    return [item.name if hasattr(item, "name") and not isinstance(item, str) else str(item) for item in value]


def _check_q2(block6a, model):
    names = _names(block6a, "block6a")
    model = answers.keras_model(model, "model")
    reference = [layer.name for layer in model.layers if layer.name.startswith(BLOCK)]
    if not reference:
        raise ValueError(f"model has no layer named {BLOCK}...: pass the EfficientNet-Lite0 of section 2 (model).")
    if names == reference:
        return correct(f"{len(reference)} layers, from {reference[0]} to {reference[-1]}: no {BLOCK}add.")
    if names and all(n.startswith("block2b_") for n in names):
        return wrong(f"those are block2b's layers; select the names that start with {BLOCK!r}.")
    missing = [n for n in reference if n not in names]
    extra = [n for n in names if n not in reference]
    if not missing and not extra:
        return wrong("the right layers, but not in the model's order: keep the order of model.layers.")
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"not in {BLOCK} of the model: {', '.join(extra)}")
    return wrong(f"{'; '.join(parts)}. The block has {len(reference)} layers whose names start with {BLOCK!r}.")


def _answer_q2(model):
    layers = {layer.name: layer for layer in model.layers}
    first, dw, last = layers[f"{BLOCK}expand_conv"], layers[f"{BLOCK}dwconv"], layers[f"{BLOCK}project_bn"]
    given, out = tuple(first.input.shape[1:]), tuple(last.output.shape[1:])
    strides = getattr(dw, "strides", None)
    return f"""
**In your model** block 6a takes a {given} tensor and returns a {out} one: its depthwise convolution has strides
{strides}, so the map shrinks from {given[0]}×{given[1]} to {out[0]}×{out[1]}, and the projection widens the
channels from {given[-1]} to {out[-1]}.

**Why no `add`.** The residual connection adds the block's input to its output element by element, which needs
the same height, width and channels. The first block of each stage (6a here, like 2a, 3a, 4a) changes the
resolution or the width, so there is nothing the same shape to add, and MobileNetV2 and EfficientNet skip the
connection there. Only the repeats inside a stage (2b, 6b, 6c, 6d) keep the shape and end in an `add`.
"""


q2 = Exercise(
    "lesson06.q2", "A different block",
    check=_check_q2, answer=_answer_q2,
    hint=f"""
    Section 2's list comprehension, with `"{BLOCK}"` instead of `"block2b_"`. Then compare the input of
    `{BLOCK}expand_conv` with the output of `{BLOCK}project_bn` (`layer.input.shape`, `layer.output.shape`).
    """,
    solution="""
    block6a = [layer.name for layer in model.layers if layer.name.startswith("block6a_")]
    for name in block6a:
        layer = model.get_layer(name)
        print(f"{name:26s} {type(layer).__name__:20s} {str(tuple(layer.output.shape)):>18s}")
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 3


def _check_q3(layercam_energy, model, collages, boxes, wanted):
    from daylib.cam import LayerCAM
    from daylib.models import stage_layers

    if not isinstance(layercam_energy, Mapping):
        raise ValueError("layercam_energy must be a dict {layer: mean energy on the correct half}, one per layer "
                         "of depth_layers.")
    missing = [layer for layer in stage_layers(model) if layer not in layercam_energy]
    if missing:
        raise ValueError(f"layercam_energy has no value for {', '.join(missing)}: give one for each of depth_layers.")
    problems, shown = [], []
    for layer, value in layercam_energy.items():
        value = answers.number(value, f"layercam_energy[{layer!r}]")
        reference = _half_energy(LayerCAM(model, layer=layer), collages, boxes, wanted)
        shown.append(f"{layer} {reference:.2f}")
        if abs(value - reference) > PRINTED:
            problems.append(f"at {layer} you have {value:.2f}, LayerCAM gives {reference:.2f}.")
    if problems:
        return wrong(" ".join(problems) + " Use LayerCAM(model, layer=layer) in half_scores and the mean of "
                                          "energy_pointing over the four maps.")
    return correct("LayerCAM's energy on the correct half: " + ", ".join(shown) + ".")


def _answer_q3(layercam_energy, scored):
    rows, better = [], []
    for layer, value in layercam_energy.items():
        grad = scored[layer][1] if layer in scored else None
        if grad is not None and value > grad + 0.05:
            better.append(layer)
        rows.append(f"| {layer} | {_f(grad)} | {_f(value)} |")
    table = "\n".join(rows)
    verdict = (f"In your run LayerCAM gains more than 0.05 at {', '.join(better)}."
               if better else "In your run LayerCAM gains no more than 0.05 at any layer.")
    return f"""
**Your numbers** (energy on the correct half, chance 0.50):

| layer | Grad-CAM | LayerCAM |
|---|---|---|
{table}

{verdict}

**Why early layers can improve.** Grad-CAM averages each channel's gradient over all positions into one weight,
then adds up the channels. An early channel (an edge or a colour) fires on both photos; with one weight per
channel its map lights up both halves alike, whatever class is asked for. LayerCAM multiplies each position's
activation by that position's *own* positive gradient, so the class score's spatial sensitivity survives: where
the cat's score does not depend on the pixel, the gradient is near zero and the map stays dark.

**Why the last layer changes little.** At `top_activation`, right before global average pooling and a dense
layer, the gradient of the class score is the same at every position (lesson 04). LayerCAM then only drops
the channels whose weight is negative, so the map barely moves. Four maps on two photos are few: a difference
of one or two peaks is not a rule.
"""


q3 = Exercise(
    "lesson06.q3", "LayerCAM",
    check=_check_q3, answer=_answer_q3,
    hint="""
    `from daylib.cam import LayerCAM`; for each layer of `depth_layers`, `LayerCAM(model, layer=layer)(collages,
    classes=[wanted])` gives the four maps (2 collages × 2 classes); reshape them to (4, 224, 224) and take the
    mean of `energy_pointing(maps, boxes.reshape(4, 4))`, as `half_scores` does.
    """,
    solution="""
    from daylib.cam import LayerCAM

    layercam_energy = {}
    for layer in depth_layers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-zero maps score 0
            layer_maps = LayerCAM(model, layer=layer)(collages, classes=[wanted]).reshape(4, *collages.shape[1:3])
        layercam_energy[layer] = energy_pointing(layer_maps, boxes.reshape(4, 4)).mean()
        print(f"{layer:28s} Grad-CAM {scored[layer][1]:.2f}  LayerCAM {layercam_energy[layer]:.2f}")
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 4

LESSON_CLASSES = ("Egyptian cat", "espresso")


def _check_q4(my_classes, my_class_names):
    from daylib.models.imagenet import class_index, class_names

    if isinstance(my_class_names, str) or not isinstance(my_class_names, Sequence) or len(my_class_names) != 2:
        raise ValueError('my_class_names must be two ImageNet class names, e.g. ["tabby", "coffee mug"].')
    if isinstance(my_classes, (str, int)) or not isinstance(my_classes, (Sequence, np.ndarray)) \
            or len(my_classes) != 2:
        raise ValueError("my_classes must be the two class indices, in the order of my_class_names.")
    indices = [answers.whole(value, "each of my_classes") for value in my_classes]
    reference = [class_index(name) for name in my_class_names]  # an unknown name: ValueError with suggestions
    lesson = [class_index(name) for name in LESSON_CLASSES]
    if sorted(reference) == sorted(lesson):
        return wrong(f"{list(my_class_names)} are the lesson's classes; pick two others (e.g. 'tabby', 'coffee mug').")
    names = class_names()
    problems = []
    for got, ref, name in zip(indices, reference, my_class_names):
        if got != ref:
            what = repr(names[got]) if 0 <= got < len(names) else "outside 0-999"
            problems.append(f"class {got} is {what}, not {name!r}: class_index({name!r}) is {ref}.")
    if problems:
        return wrong(" ".join(problems) + " Look indices up, never type them from memory.")
    return correct(", ".join(f"{name!r} is class {i}" for name, i in zip(my_class_names, indices))
                   + ". Now rerun the depth table with them.")


def _answer_q4(my_classes, my_energy=None):
    from daylib.models.imagenet import class_names

    names = class_names()
    chosen = " and ".join(f"{names[int(c)]!r} ({int(c)})" for c in my_classes)
    table = ""
    if my_energy:
        rows = "\n".join(f"| {layer} | {_f(value)} |" for layer, value in my_energy.items())
        best = max(my_energy, key=lambda layer: my_energy[layer])
        table = f"""
| layer | energy on the correct half |
|---|---|
{rows}

Your best layer is `{best}` ({_f(my_energy[best])}); chance is 0.50.
"""
    return f"""
**Your classes:** {chosen}.
{table}
**What to expect.** A class that is really on its half ("tabby" or "tiger cat" on the cat, "coffee mug" or "cup"
on the espresso) usually behaves like the lesson's pair: near chance at the early layers, selective at
`top_activation`, because only the last layers know objects. A class that is *not* in the picture still gets a
map, scaled to its own maximum (section 4): check its probability first (`model.predict(collages)[:, index]`).
Near neighbours share features, so a "tabby" map and an "Egyptian cat" map look alike.

**Misspelt names.** `class_index("tabbby")` raises a ValueError whose message suggests the closest names
(difflib matches such as 'tabby'); an ambiguous name such as "crane" asks for the WordNet id instead. Nothing
like that protects a typed number: 243 silently means "bull mastiff".
"""


q4 = Exercise(
    "lesson06.q4", "Your classes",
    check=_check_q4, answer=_answer_q4,
    hint="""
    `class_index("tabby")` returns the index; `[class_index(name) for name in my_class_names]` does both. To
    rerun the depth table, use those indices where section 3 uses `wanted`.
    """,
    solution="""
    my_class_names = ["tabby", "coffee mug"]
    my_classes = [class_index(name) for name in my_class_names]
    my_energy = {}
    for layer in depth_layers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-zero maps score 0
            my_maps = GradCAM(model, layer=layer)(collages, classes=[my_classes]).reshape(4, *collages.shape[1:3])
        my_energy[layer] = energy_pointing(my_maps, boxes.reshape(4, 4)).mean()
        print(f"{layer:28s} energy on its half {my_energy[layer]:.2f}")
    try:
        class_index("tabbby")
    except ValueError as error:
        print(error)
    """,
)


# ----------------------------------------------------------------------------------------------- exercise 5


def _check_q5(photo_model_4, four_energy, collages, boxes):
    from daylib.cam import GradCAM

    model = answers.keras_model(photo_model_4, "photo_model_4")
    value = answers.number(four_energy, "four_energy")
    units = model.output_shape[-1]
    if units != 4:
        return wrong(f"photo_model_4 has {units} outputs; build it with build_classifier(MODEL, 4, ...) for the "
                     "three classes of section 5 and your fourth.")
    reference = _half_energy(GradCAM(model), collages, boxes, (0, 1))
    if abs(value - reference) > PRINTED:
        return wrong(f"four_energy is {value:.2f}, but the 'cat' and 'coffee' maps (classes 0 and 1) of "
                     f"photo_model_4 put {reference:.2f} of their energy on the correct half. Use "
                     "GradCAM(photo_model_4)(collages, classes=[[0, 1]]) and the mean over the four maps.")
    return correct(f"with four classes the cat and coffee maps put {reference:.2f} of their energy on the "
                   "correct half.")


def _answer_q5(four_energy, energy):
    three = float(np.mean(energy))
    return f"""
**Your numbers:** the "cat" and "coffee" maps put {_f(four_energy)} of their energy on the correct half with
four classes, against {_f(three)} with three.

**Why they change little.** Grad-CAM of class c at the last layer weights each channel by the head's dense weight
for c (times 1/49 from the pooling). Adding a class adds one column to the dense layer; the cat and coffee
columns are retrained from new random starting weights, but they still have to separate the same two photos, so
they pick out much the same channels. With softmax, the classes compete: a fourth class that looks nothing like
a cat or a cup (flipped films) barely enters their gradient. A fourth class close to one of them (another photo
of a cat) would share its channels, and the maps of the two would then differ only where the photos differ.
Two photos, crops of themselves for training: a change of a few hundredths is noise from the training run.
"""


q5 = Exercise(
    "lesson06.q5", "Four classes",
    check=_check_q5, answer=_answer_q5,
    hint="""
    Flipped phantom films make an easy fourth class: `np.repeat(films[:, :, ::-1, None], 3, axis=-1)` with label 3.
    Append them to `x_photo` and `y_photo`, build `build_classifier(MODEL, 4, input_shape=(224, 224, 3))`, train
    it like `photo_model`, then score `GradCAM(...)(collages, classes=[[0, 1]])` as in section 5.
    """,
    solution="""
    four_classes = NEW_CLASSES + ["flipped film"]
    x_photo_4 = np.concatenate([x_photo, np.repeat(films[:, :, ::-1, None], 3, axis=-1)]).astype("float32")
    y_photo_4 = np.repeat(np.arange(len(four_classes)), CROPS_PER_CLASS)
    photo_model_4 = build_classifier(MODEL, len(four_classes), input_shape=(224, 224, 3), name="photo_head_4")
    train_classifier(photo_model_4, (x_photo_4, y_photo_4), head_epochs=PHOTO_EPOCHS, verbose=0)
    four_maps = GradCAM(photo_model_4)(collages, classes=[[0, 1]])
    four_energy = energy_pointing(four_maps.reshape(4, *collages.shape[1:3]), boxes.reshape(4, 4)).mean()
    """,
)

EXERCISES = [q1, q2, q3, q4, q5]
