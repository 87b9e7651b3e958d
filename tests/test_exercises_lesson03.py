"""Lesson 03's exercise checks: each solution passes, plausible wrong answers fail with a message that says why.

No network is needed: the checks of lesson 03 work on the raw class maps, heatmaps and photos, so the
tests build small random class maps (2 images, 1000 classes, 7 x 7) and use the shipped cat photo.
"""
import textwrap

import cv2
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from daylib.exercises import lesson03 as ex  # noqa: E402
from daylib.exercises.core import Exercise  # noqa: E402
from daylib.models import BACKBONES  # noqa: E402
from daylib.models.imagenet import class_names  # noqa: E402
from daylib.viz.heatmaps import colorize, overlay  # noqa: E402

SIZE = 64
EMPTY = [3, 17, 500]  # classes whose map on image 0 is negative everywhere


def to_heatmap(raw_map, size, interpolation=cv2.INTER_LINEAR):
    """The lesson's function, as in section 4."""
    positive = np.maximum(raw_map, 0)
    upsampled = cv2.resize(positive, (size, size), interpolation=interpolation)
    return upsampled / upsampled.max()


@pytest.fixture(scope="module")
def lesson(cat_photo):
    """The names the lesson defines before its Exercises section, on tiny inputs."""
    rng = np.random.default_rng(0)
    cam_maps = rng.normal(size=(2, 1000, 7, 7)).astype(np.float32)
    cam_maps[0, EMPTY] = -np.abs(cam_maps[0, EMPTY]) - 0.1
    top_classes = np.array([285, 967])
    cam_maps[0, 285, 3, 3] = cam_maps[1, 967, 2, 4] = 6.0  # a clear winner with sharp steps around it
    daylib_maps = np.stack([to_heatmap(cam_maps[b, c], SIZE) for b, c in enumerate(top_classes)])
    images = np.stack([cv2.resize(cat_photo, (SIZE, SIZE))] * 2)
    return {"np": np, "cv2": cv2, "plt": plt, "overlay": overlay, "colorize": colorize, "BACKBONES": BACKBONES,
            "names": class_names(), "cam_maps": cam_maps, "top_classes": top_classes, "daylib_maps": daylib_maps,
            "size": SIZE, "to_heatmap": to_heatmap, "images": images, "smooth": daylib_maps[0]}


def solve(exercise: Exercise, namespace: dict) -> dict:
    """Run an exercise's solution code in (a copy of) the lesson's namespace."""
    scope = dict(namespace)
    exec(textwrap.dedent(exercise.solution_code), scope)
    plt.close("all")
    return scope


def test_every_exercise_has_a_check_or_an_answer():
    assert len(ex.EXERCISES) == 5
    assert [q.key for q in ex.EXERCISES] == [f"lesson03.q{i}" for i in range(1, 6)]
    for q in [*ex.EXERCISES, *ex.QUESTIONS.values()]:
        assert q.checkable or q.answerable, q.key
        assert q.hint().text
    assert all(q.checkable and q.solution_code for q in ex.EXERCISES)


@pytest.mark.parametrize("q", ex.EXERCISES, ids=lambda q: q.key)
def test_none_is_unanswered(q):
    assert q.check(None).status == "unanswered"


def test_q1_misspelling():
    assert ex.q1.check("tabby", "tabbby").passed
    result = ex.q1.check("tiger cat", "tabbby")
    assert result.status == "wrong" and "'tabby'" in result.message
    assert "real class name" in ex.q1.check("tabby", "tabby").message
    assert ex.q1.check("tabby", None).status == "unanswered"


def test_q1_answer_uses_the_learners_classes():
    class FakeCam:
        last_classes = np.array([[281, 287]])
        last_probabilities = np.full((1, 1000), 1e-3)

    maps = np.random.default_rng(1).random((1, 2, 8, 8))
    text = ex.q1.answer(FakeCam(), maps).text
    assert "tabby" in text and "lynx" in text


def test_q2_cubic(lesson):
    scope = solve(ex.q2, lesson)
    args = (lesson["cam_maps"], lesson["top_classes"], lesson["daylib_maps"])
    assert scope["cubic_min"] < 0
    assert ex.q2.check(scope["cubic_difference"], scope["cubic_min"], *args).passed
    assert ex.q2.check(round(scope["cubic_difference"], 2), scope["cubic_min"], *args).passed  # typed from the print
    linear = ex.q2.check(4.8e-7, scope["cubic_min"], *args)
    assert linear.status == "wrong" and "INTER_LINEAR" in linear.message
    clipped = ex.q2.check(scope["cubic_difference"], 0.0, *args)
    assert clipped.status == "wrong" and "below zero" in clipped.message
    assert f"{scope['cubic_difference']:.2f}" in ex.q2.answer(scope["cubic_difference"], scope["cubic_min"]).text


def test_q3_blend(lesson):
    scope = solve(ex.q3, lesson)
    image, smooth = lesson["images"][0], lesson["smooth"]
    assert ex.q3.check(scope["my_blend"], image, smooth).passed
    colour = colorize(smooth, "inferno").astype(float)
    added = np.clip(image + 0.6 * colour, 0, 255)
    assert "(1 - 0.6)" in ex.q3.check(added, image, smooth).message
    swapped = np.clip(np.round(0.4 * image + 0.6 * colour[..., ::-1]), 0, 255)
    assert "swapped" in ex.q3.check(swapped, image, smooth).message
    turbo = overlay(image, smooth, alpha=0.6, colormap="turbo")
    assert "'turbo'" in ex.q3.check(turbo, image, smooth).message
    assert "wrong" == ex.q3.check(image[:10], image, smooth).status  # a wrong shape is "Not yet", no traceback
    assert "inferno" in ex.q3.answer().text


def test_q4_negative_classes(lesson):
    scope = solve(ex.q4, lesson)
    maps = lesson["cam_maps"]
    expected = [lesson["names"][c] for c in EMPTY]
    assert scope["negative_count"] == 3 and scope["negative_names"] == expected
    assert ex.q4.check(scope["negative_count"], scope["negative_names"], maps).passed
    assert ex.q4.check(3, EMPTY, maps).passed  # indices are accepted
    cells = ex.q4.check(int((maps[0] <= 0).sum()), expected, maps)
    assert cells.status == "wrong" and "cells" in cells.message
    names = ex.q4.check(3, expected[:2] + ["tabby"], maps)
    assert names.status == "wrong" and expected[2] in names.message and "tabby" in names.message
    assert ex.q4.check(3, None, maps).status == "unanswered"
    text = ex.q4.answer(scope["negative_names"], maps, SIZE).text
    assert expected[0] in text and "100%" in text


def test_q5_registry(lesson):
    scope = solve(ex.q5, lesson)
    assert ex.q5.check(scope["picked_layers"]).passed
    bad = ex.q5.check({"mobilenet_v2": "conv5_block3_out", "resnet50": "conv5_block3_out"})
    assert bad.status == "wrong" and "'out_relu'" in bad.message and "resnet50's layer" in bad.message
    assert "resnet50" in ex.q5.check({"mobilenet_v2": "out_relu"}).message
    maps = np.random.default_rng(2).random((2, 16, 16))
    assert "out_relu" in ex.q5.answer().text
    assert "1.00" in ex.q5.answer(maps, maps).text


def test_questions_use_the_learners_numbers(lesson):
    assert "32" in ex.QUESTIONS["lesson03.question1"].answer(np.zeros((2, 7, 7, 1280)), 224).text

    class FakeCam:
        last_classes = np.array([[285, 243], [967, 910]])
        last_probabilities = np.full((2, 1000), 9.6e-4)

    maps = np.random.default_rng(3).random((2, 2, 8, 8))
    text = ex.QUESTIONS["lesson03.question2"].answer(maps, FakeCam()).text
    assert "0.00096" in text
