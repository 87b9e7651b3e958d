"""Exercises of lesson 00 (setup and tour): checks, hints, solutions and worked answers.

Every check recomputes its reference from the learner's own inputs (their photo, their phantoms,
their model) with daylib's API, so it holds in quick mode, in full mode and on any machine.

Example:
    >>> from daylib.exercises import lesson00 as ex
    >>> ex.q3.check(None).status
    'unanswered'
"""
from __future__ import annotations

import numbers
from functools import lru_cache
from pathlib import Path

import numpy as np

from daylib.exercises import answers
from daylib.exercises.core import CheckResult, Exercise, correct, wrong

# Probabilities and ratios are printed with two or three decimals in the lesson; a learner who types a
# printed value is off by at most half a unit of the last printed digit (0.005). Recomputing the same
# float32 network on the same pixels differs by about 1e-6, far below that.
_PRINTED = 0.005 + 1e-6
# Lesion areas are printed in percent with one decimal: half a unit of that digit.
_PRINTED_PERCENT = 0.05 + 1e-6


def _image(image, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{name} must be one RGB image (H, W, 3), as load_image returns; got shape {image.shape}")
    return image


# ---------------------------------------------------------------- q1: your own photo

def _check_q1(my_top1, my_photo, model) -> CheckResult:
    from daylib.models.imagenet import class_index, class_names, decode_predictions

    photo = _image(my_photo, "my_photo")
    size = tuple(model.input_shape[1:3])
    if None not in size and photo.shape[:2] != size:
        raise ValueError(f"my_photo is {photo.shape[0]}x{photo.shape[1]} px but the model takes {size[0]}x{size[1]}: "
                         f"load it with load_image(path, size=PHOTO_SIZE)")
    top5 = decode_predictions(np.asarray(model(photo[None].astype("float32"), training=False)), top=5)[0]
    if isinstance(my_top1, str):
        index = class_index(my_top1)          # ValueError for an unknown name (shown as "Not yet")
    elif isinstance(my_top1, numbers.Integral) and not isinstance(my_top1, bool):
        index = int(my_top1)
    else:
        raise TypeError(f"my_top1 must be a class index (int) or a class name (str), got {type(my_top1).__name__}")
    (best, name, p), (_, _, p2) = top5[0], top5[1]
    listing = ", ".join(f"{n} {q:.2f}" for _, n, q in top5)
    # a near-tie of the two best classes (closer than float32 noise) makes either one a right top-1
    if index == best or (index == top5[1][0] and p - p2 < 1e-5):
        return correct(f"class {index} {class_names()[index]!r} (probability {p:.2f}). The whole top-5: {listing}. "
                       "Are the runners-up related to the winner (other breeds, other cups)? That is the "
                       "shared feature the next lesson reuses.")
    where = next((rank for rank, (i, _, _) in enumerate(top5, 1) if i == index), None)
    place = f"it is number {where} of the top-5" if where else "it is not even in the top-5"
    return wrong(f"class {index} {class_names()[index]!r} is not the top-1 of this photo: {place}. The top-1 is "
                 f"{best} {name!r} ({p:.2f}). Take top[0] of decode_predictions(...)[0], the first of the five.")


q1 = Exercise(
    "lesson00.q1", "Your own photo",
    check=_check_q1,
    hint="""
        `load_image(path, size=PHOTO_SIZE)` reads any image file (or keeps one of the shipped photos);
        `model.predict(my_photo[None], verbose=0)` wants a batch, hence `[None]`; `decode_predictions(...)[0]`
        gives that photo's top-5 as `(index, name, probability)`. The top-1 is the first of them.
    """,
    solution="""
        my_photo = load_image(PHOTOS["cat"], size=PHOTO_SIZE)   # or load_image("path/to/your/photo.jpg", size=PHOTO_SIZE)
        my_top5 = decode_predictions(model.predict(my_photo[None], verbose=0), top=5)[0]
        print(my_top5)
        my_top1 = my_top5[0][0]
    """,
)


# ---------------------------------------------------------------- q2: input size

@lru_cache(maxsize=1)
def _any_size_lite0():
    """EfficientNet-Lite0 with its ImageNet weights, built for any input size (the reference of q2)."""
    from daylib.models import efficientnet_lite0

    return efficientnet_lite0(weights="imagenet", input_shape=(None, None, 3))


def _top1_at(path, size: int, model) -> float:
    from daylib.data.images import load_image

    image = load_image(path, size=size).astype("float32")
    return float(np.max(np.asarray(model(image[None], training=False))[0]))   # a call, not predict: no retracing per size


def _sizes(top1_at) -> dict[int, float]:
    if not isinstance(top1_at, dict) or not top1_at:
        raise TypeError("top1_at must be a dict {size: top-1 probability}, e.g. {128: 0.9, 224: 0.8, 320: 0.4}")
    out = {}
    for size, p in top1_at.items():
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 32:
            raise ValueError(f"the keys of top1_at are image sizes in pixels (whole numbers >= 32), got {size!r}")
        out[int(size)] = answers.number(p, f"top1_at[{size}]")
    return out


def _check_q2(top1_at, photo_path) -> CheckResult:
    values = _sizes(top1_at)
    missing = [s for s in (128, 320) if s not in values]
    if missing:
        return wrong(f"top1_at has no entry for {missing}: give the top-1 probability at 128 and at 320 px "
                     "(and 224 to compare)")
    model = _any_size_lite0()
    off = []
    reference = {}
    for size, p in sorted(values.items()):
        reference[size] = _top1_at(Path(photo_path), size, model)
        if abs(p - reference[size]) > _PRINTED:
            off.append(f"at {size} px you have {p:.3f}, the network gives {reference[size]:.3f}")
    if off:
        return wrong("; ".join(off) + ". Build the model for any size (input_shape=(None, None, 3)), load the photo "
                     "at each size with load_image(path, size=...) and take the largest of the 1,000 probabilities.")
    line = ", ".join(f"{s} px: {p:.2f}" for s, p in sorted(reference.items()))
    return correct(f"{line}. The same photo, the same weights: only the number of pixels changed. "
                   "ex.q2.answer(top1_at) explains why a network trained at 224 px cares.")


def _answer_q2(top1_at) -> str:
    values = _sizes(top1_at)
    line = ", ".join(f"**{s} px: {p:.2f}**" for s, p in sorted(values.items()))
    grid = ", ".join(f"{s} px -> {s // 32}x{s // 32}" for s in sorted(values))
    return f"""
        Your top-1 probabilities: {line}.

        Why the size matters to a network trained at 224 px:

        - **Filters have a fixed size in pixels.** A 3x3 kernel and the receptive field of each unit cover
          the same number of *pixels* at every input size. Resize the photo and the cat's ear, eye or
          fur texture covers a different number of pixels, so it is no longer at the scale the filters
          learned on ImageNet (where objects mostly fill a 224 px frame).
        - **The last feature map changes shape.** EfficientNet-Lite0 divides the side by 32: {grid}.
          Global average pooling then averages over more or fewer cells, and at a large size many of
          them see background, not the cat.
        - **The network can still run** at any size (it is all convolutions until the pooling), which is
          why `input_shape=(None, None, 3)` works, but "runs" is not "was trained for".

        A higher probability at one size is not a better model: the probability of the top class is a
        confidence, not an accuracy, and one photo is one sample. What your numbers do show is that
        the input size is part of what a pretrained network expects, like its preprocessing. Use the
        size it was trained at ({224} px here) unless you fine-tune it at another one.
    """


q2 = Exercise(
    "lesson00.q2", "The input size",
    check=_check_q2, answer=_answer_q2,
    hint="""
        `model` was built for 224 x 224 inputs (`model.input_shape`), so a 128 px photo makes it raise. Build a
        second one that takes any size: `efficientnet_lite0(weights="imagenet", input_shape=(None, None, 3))`.
        For each size, `load_image(PHOTOS["cat"], size=size)`, predict, and keep the largest probability
        (`.max()`).
    """,
    solution="""
        any_size = efficientnet_lite0(weights="imagenet", input_shape=(None, None, 3))
        top1_at = {}
        for size in (128, 224, 320):
            photo = load_image(PHOTOS["cat"], size=size)
            top1_at[size] = float(any_size.predict(photo[None], verbose=0).max())
        print(top1_at)
    """,
)


# ---------------------------------------------------------------- q3: hard phantoms

def _phantoms(value, name: str):
    if not all(hasattr(value, attr) for attr in ("images", "labels", "masks", "lungs")):
        raise TypeError(f"{name} must be what make_phantom returns (images, labels, masks, lungs), "
                        f"got {type(value).__name__}")
    return value


def _lesion_percent(phantoms) -> float:
    sick = np.asarray(phantoms.labels) == 1
    if not sick.any():
        raise ValueError("these phantoms have no PNEUMONIA image, so there is no lesion to measure: draw more of them")
    return float(100 * np.mean([m.mean() for m in np.asarray(phantoms.masks)[sick]]))


def _contrast(phantoms) -> float:
    """Mean gray level inside the lesions minus the mean of the rest of the lungs, over PNEUMONIA images."""
    images, masks, lungs = (np.asarray(a) for a in (phantoms.images, phantoms.masks, phantoms.lungs))
    sick = (np.asarray(phantoms.labels) == 1) & masks.reshape(len(masks), -1).any(axis=1)
    gaps = [images[i][masks[i]].mean() - images[i][lungs[i] & ~masks[i]].mean() for i in np.flatnonzero(sick)]
    return float(np.mean(gaps)) if gaps else float("nan")


def _check_q3(hard_lesion_percent, hard, phantoms) -> CheckResult:
    value = answers.number(hard_lesion_percent, "hard_lesion_percent")
    hard, phantoms = _phantoms(hard, "hard"), _phantoms(phantoms, "phantoms")
    reference = _lesion_percent(hard)
    medium = _lesion_percent(phantoms)
    close = abs(value - reference) <= _PRINTED_PERCENT
    if not close and (abs(value - 100 * reference) <= 100 * _PRINTED_PERCENT or abs(value - reference / 100) <= 1e-4):
        return wrong(f"{value:g} looks like the lesion area as a fraction or scaled twice; give it in percent of the "
                     f"image: {reference:.1f}")
    if not close:
        per_image = _lesion_percent(_Subset(hard, [int(np.flatnonzero(np.asarray(hard.labels) == 1)[0])]))
        return wrong(f"{value:.2f}% is {value - reference:+.2f} points off the mean lesion area of your hard "
                     f"PNEUMONIA phantoms, {reference:.2f}% (the first one alone: {per_image:.2f}%). Average "
                     "mask.mean() over the PNEUMONIA images only (labels == 1), times 100; NORMAL masks are empty.")
    return correct(f"{reference:.1f}% of the image on average, against {medium:.1f}% for the medium phantoms above. "
                   f"The lesions are also fainter: {_contrast(hard):.1f} gray levels brighter than the rest of the "
                   f"lungs, against {_contrast(phantoms):.1f} at medium. ex.q3.answer(hard, phantoms) discusses it.")


class _Subset:
    def __init__(self, phantoms, index):
        self.labels = np.asarray(phantoms.labels)[index]
        self.masks = np.asarray(phantoms.masks)[index]


def _answer_q3(hard, phantoms) -> str:
    hard, phantoms = _phantoms(hard, "hard"), _phantoms(phantoms, "phantoms")
    return f"""
        Your numbers: the mean lesion area is **{_lesion_percent(hard):.1f}%** of the image at "hard" against
        **{_lesion_percent(phantoms):.1f}%** at "medium", and the lesions are **{_contrast(hard):.1f}** gray levels
        brighter than the surrounding lung at "hard" against **{_contrast(phantoms):.1f}** at "medium" (0-255
        scale, averaged over the PNEUMONIA images).

        The difficulty knob makes opacities smaller and fainter at once. Without the red outlines, a hard lesion
        of a few gray levels sits inside rib shadows and noise of a similar size, so you will often *not* see it:
        neither will a small network trained on a few hundred such films. That is the point of the knob: the
        task must be hard enough that a model cannot solve it by accident, and a heatmap later in the course
        must find a lesion you cannot spot by eye. The masks keep the answer known even when the eye fails.
    """


q3 = Exercise(
    "lesson00.q3", "Hard phantoms",
    check=_check_q3, answer=_answer_q3,
    hint="""
        Draw them with `hard = make_phantom(8, size=PHANTOM_SIZE, difficulty="hard", seed=1)` and show them with
        `show_xrays`. The lesion area of one image is `mask.mean()` (the share of its pixels); average it over the
        PNEUMONIA images (`hard.labels == 1`) and multiply by 100, as the lesson did for `phantoms`.
    """,
    solution="""
        hard = make_phantom(8, size=PHANTOM_SIZE, difficulty="hard", seed=1)
        show_xrays(hard.images, hard.labels, hard.masks, panel_size=2.2)
        hard_lesion_percent = 100 * np.mean([m.mean() for m in hard.masks[hard.labels == 1]])
        print(f"mean lesion area: hard {hard_lesion_percent:.1f}%, medium "
              f"{100 * np.mean([m.mean() for m in phantoms.masks[phantoms.labels == 1]]):.1f}%")
    """,
)


# ---------------------------------------------------------------- q4: the Kaggle error

def _expected_kaggle_errors() -> tuple[type, ...]:
    from daylib.data.kaggle import DownloadError
    from daylib.data.kaggle_credentials import KaggleCredentialsError, find_kaggle_credentials

    if find_kaggle_credentials() is None:
        return (KaggleCredentialsError,)
    return (DownloadError, KaggleCredentialsError)    # credentials present: no network, or rejected


def _check_q4(kaggle_error) -> CheckResult:
    from daylib.data.splits import ChestXrays

    if isinstance(kaggle_error, ChestXrays):
        return correct(f"no error at all: load('kaggle') found or fetched the real films on this machine "
                       f"({kaggle_error.source}). The message you would see elsewhere explains how to get credentials.")
    if isinstance(kaggle_error, type) and issubclass(kaggle_error, BaseException):
        raise TypeError("kaggle_error is an exception class; keep the raised exception itself: "
                        "`except Exception as error: kaggle_error = error`")
    if not isinstance(kaggle_error, BaseException):
        raise TypeError(f"kaggle_error must be the exception that pneumonia.load(source='kaggle', ...) raised, "
                        f"got {type(kaggle_error).__name__}; catch it with `except Exception as error`")
    expected = _expected_kaggle_errors()
    if not isinstance(kaggle_error, expected):
        names = " or ".join(e.__name__ for e in expected)
        return wrong(f"this is a {type(kaggle_error).__name__} ({str(kaggle_error)[:80]!r}), not what load('kaggle') "
                     f"raises on this machine ({names}). Call pneumonia.load(source='kaggle', ...) in the try block, "
                     "with source spelled exactly so.")
    first = str(kaggle_error).strip().splitlines()[0] if str(kaggle_error).strip() else type(kaggle_error).__name__
    return correct(f"{type(kaggle_error).__name__}: {first!r}. Read the rest of it: it lists the steps to get "
                   "credentials and names the offline fallback. ex.q4.answer(kaggle_error) sums it up.")


def _answer_q4(kaggle_error) -> str:
    text = str(kaggle_error).strip() if isinstance(kaggle_error, BaseException) else ""
    quoted = "\n".join(f"> {line.strip()}  " for line in text.splitlines() if line.strip()) or "> (no error: the data loaded)"
    return f"""What your machine said ({type(kaggle_error).__name__}):

{quoted}

It tells you three things, in this order: **what failed** (no credentials, so no download), **how to fix it**
(create an API token on kaggle.com and put `kaggle.json` where the client looks, or set
`KAGGLE_USERNAME`/`KAGGLE_KEY`, e.g. as Colab secrets), and **what to do meanwhile** (`load("phantom")`).
With `source="auto"` the same situation is not an error: `load` prints why it chose phantoms and carries on.
`source="kaggle"` means "the real films or nothing", so it stops at once instead of silently training on
synthetic data. A good error message is one you can act on without reading the source code.
"""


q4 = Exercise(
    "lesson00.q4", "Asking for the real data",
    check=_check_q4, answer=_answer_q4,
    hint="""
        Call `pneumonia.load(source="kaggle", phantom_counts=SPLIT_SIZES, phantom_size=PHANTOM_SIZE)` inside
        `try:` and keep the exception: `except Exception as error: kaggle_error = error`. Then print it.
    """,
    solution="""
        try:
            kaggle_error = pneumonia.load(source="kaggle", phantom_counts=SPLIT_SIZES, phantom_size=PHANTOM_SIZE)
        except Exception as error:
            kaggle_error = error
            print(f"{type(error).__name__}: {error}")
    """,
)


# ---------------------------------------------------------------- q5: which channels to show

def _channel_ratio(model, image) -> tuple[float, str]:
    from daylib.models.layers import stage_layers
    from daylib.widgets import FeatureMaps

    layer = stage_layers(model)[-1]
    means = FeatureMaps(model, image)(layer).mean(axis=(0, 1))
    top = np.sort(means)[::-1][:5].mean()
    if top == 0:
        raise ValueError(f"every channel of {layer} is zero for this image: try another image")
    return float(means[:5].mean() / top), layer


def _check_q5(ratio, model, image) -> CheckResult:
    value = answers.number(ratio, "ratio")
    reference, layer = _channel_ratio(model, _image(image, "image"))
    tolerance = max(_PRINTED, 1e-3 * abs(reference))
    if reference > 0 and abs(value * reference - 1) < 0.01 and abs(reference - 1) > 0.05:
        return wrong(f"{value:.3f} is the ratio upside down: divide the mean of channels 0-4 by the mean of the five "
                     f"most active, which gives {reference:.3f}")
    if abs(value - reference) > tolerance:
        return wrong(f"{value:.3f} is {value - reference:+.3f} off: at {layer!r} (the last row of the figure) the mean "
                     f"activation of channels 0-4 is {reference:.3f} times that of the five most active channels. "
                     "Average each channel over the 7x7 cells (axis=(0, 1)) first, then compare.")
    return correct(f"at {layer!r} channels 0-4 carry {reference:.1%} of the activation of the five most active "
                   "channels: the fixed channels show mostly dark tiles. ex.q5.answer(ratio) says what each figure is "
                   "good for.")


def _answer_q5(ratio) -> str:
    value = answers.number(ratio, "ratio")
    return f"""
        In your run, channels 0-4 of the last stage reach **{value:.1%}** of the mean activation of its five most
        active channels.

        **The most active channels tell you more about this image.** Out of 1,280 channels at the last stage, any
        one photo excites a few strongly and leaves most near zero (after the ReLU6 they are exactly zero in many
        cells). Channels 0-4 are an arbitrary choice: their index means nothing, so their tiles are mostly dark
        and say little about the cat.

        **Fixed channels tell you something else:** how *one* channel behaves across layers is not what they show
        (channel 3 of one layer has nothing to do with channel 3 of the next), but with the same channels on two
        different photos you can compare what a given unit responds to. Ranking by activation picks, per image
        and per layer, the features that drive the answer, which is also the idea behind class activation maps
        (lesson 03): weight the feature maps by how much they matter.
    """


q5 = Exercise(
    "lesson00.q5", "Which channels to show",
    check=_check_q5, answer=_answer_q5,
    hint="""
        First draw both figures: `plot_feature_maps(model, photos[0], channels=range(5), size=1.4)`. For the number:
        `from daylib.widgets import FeatureMaps` and `from daylib.models.layers import stage_layers`;
        `FeatureMaps(model, photos[0])(stage_layers(model)[-1])` is the last row's `(7, 7, 1280)` maps. Average each
        channel over the cells, then divide the mean of channels 0-4 by the mean of the five largest.
    """,
    solution="""
        from daylib.models.layers import stage_layers
        from daylib.widgets import FeatureMaps

        plot_feature_maps(model, photos[0], channels=range(5), size=1.4)
        channel_means = FeatureMaps(model, photos[0])(stage_layers(model)[-1]).mean(axis=(0, 1))
        ratio = channel_means[:5].mean() / np.sort(channel_means)[::-1][:5].mean()
        print(f"channels 0-4 reach {ratio:.1%} of the five most active channels")
    """,
)


EXERCISES = [q1, q2, q3, q4, q5]
QUESTIONS: dict[str, Exercise] = {}     # lesson 00 asks no in-text *Question:*
