"""Lesson 06's exercise checks: the solutions pass, plausible wrong answers fail with a helpful message.

Tiny stand-ins: EfficientNet-Lite0 built at 64 px without weights (its layer names are what counts), small
CNN classifiers at 32 px for the heatmap checks, two random 32 px "collages" with their halves as boxes.
"""
import warnings

import keras
import numpy as np
import pytest

from daylib.cam import GradCAM, LayerCAM
from daylib.cam.metrics import energy_pointing
from daylib.exercises import lesson06 as ex
from daylib.models import backbone, build_classifier, small_cnn, stage_layers
from daylib.models.imagenet import class_index

SIZE = 32
LEFT, RIGHT = (0, 0, SIZE // 2, SIZE), (SIZE // 2, 0, SIZE, SIZE)


def _run(code: str, **namespace):
    exec(code, namespace)
    return namespace


@pytest.fixture(scope="module")
def collages():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, SIZE, SIZE, 3)).astype("float32")
    return images, np.array([[LEFT, RIGHT], [RIGHT, LEFT]])


@pytest.fixture(scope="module")
def lite0_small():
    return backbone("efficientnet_lite0", weights=None, input_shape=(64, 64, 3))


def _small(classes: int, name: str):
    return build_classifier(small_cnn((SIZE, SIZE, 3), filters=(4,)), classes, name=name)


def test_unanswered_placeholders():
    for question in ex.EXERCISES:
        assert question.check(None, None).status == "unanswered"
    assert len(ex.EXERCISES) == 5 and all(q.checkable and q.answerable for q in ex.EXERCISES)


def test_q1_separable_saving():
    namespace = _run(ex.q1.solution_code, keras=keras, height=56, width=56)
    saving, widths = namespace["saving"], (namespace["c_in"], namespace["c_out"], namespace["k"])
    assert abs(saving - 1 / (1 / 144 + 1 / 25)) < 1e-9
    assert ex.q1.check(saving, *widths) and ex.q1.check(round(saving, 2), *widths)
    approx = ex.q1.check(25, *widths)
    assert not approx and "k²" in approx.message and "3,600" in approx.message
    inverse = ex.q1.check(1 / saving, *widths)
    assert not inverse and "inverse" in inverse.message
    old = ex.q1.check(8.0, 32, 64, 3)
    assert not old and "144, 144, 5" in old.message
    assert "number" in ex.q1.check("21.3", *widths).message
    assert "21.30" in ex.q1.answer(*widths, saving).text


def test_q2_block_layers(lite0_small):
    block6a = _run(ex.q2.solution_code, model=lite0_small)["block6a"]
    assert block6a[0] == "block6a_expand_conv" and "block6a_add" not in block6a
    assert ex.q2.check(block6a, lite0_small)
    block2b = [layer.name for layer in lite0_small.layers if layer.name.startswith("block2b_")]
    wrong_block = ex.q2.check(block2b, lite0_small)
    assert not wrong_block and "block2b" in wrong_block.message
    short = ex.q2.check(block6a[:-1], lite0_small)
    assert not short and "block6a_project_bn" in short.message
    assert "order" in ex.q2.check(block6a[::-1], lite0_small).message
    text = ex.q2.answer(lite0_small).text
    assert "(4, 4, 112)" in text and "(2, 2, 192)" in text  # 64 px: 14x14 -> 7x7 at 224 px becomes 4x4 -> 2x2


def test_q3_layercam_energy(collages):
    images, boxes = collages
    model = _small(3, "three_classes")
    depth_layers = stage_layers(model)
    scored = {layer: (None, 0.5, 2, 0) for layer in depth_layers}
    energy = _run(ex.q3.solution_code, warnings=warnings, energy_pointing=energy_pointing, model=model,
                  collages=images, boxes=boxes, wanted=[0, 1], depth_layers=depth_layers,
                  scored=scored)["layercam_energy"]
    assert ex.q3.check(energy, model, images, boxes, [0, 1])
    first = depth_layers[0]
    off = ex.q3.check({**energy, first: energy[first] + 0.1}, model, images, boxes, [0, 1])
    assert not off and first in off.message and "LayerCAM" in off.message
    missing = ex.q3.check({first: energy[first]} if len(depth_layers) > 1 else {}, model, images, boxes, [0, 1])
    assert not missing and "no value" in missing.message
    text = ex.q3.answer(energy, scored).text
    assert all(f"{value:.2f}" in text for value in energy.values())
    assert isinstance(LayerCAM(model), LayerCAM)


def test_q4_class_lookup():
    names = ["tabby", "coffee mug"]
    indices = [class_index(name) for name in names]
    assert ex.q4.check(indices, names)
    remembered = ex.q4.check([243, 888], names)
    assert not remembered and "bull mastiff" in remembered.message
    misspelt = ex.q4.check(indices, ["tabbby", "coffee mug"])
    assert not misspelt and "tabby" in misspelt.message  # class_index's suggestion
    lesson = ex.q4.check([285, 967], ["Egyptian cat", "espresso"])
    assert not lesson and "lesson's classes" in lesson.message
    assert "two class indices" in ex.q4.check(281, names).message
    text = ex.q4.answer(indices, {"top_activation": 0.87}).text
    assert "'tabby' (281)" in text and "0.87" in text


def test_q5_four_classes(collages):
    images, boxes = collages
    four, three = _small(4, "four"), _small(3, "three")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        maps = GradCAM(four)(images, classes=[[0, 1]])
    energy = energy_pointing(maps.reshape(4, SIZE, SIZE), boxes.reshape(4, 4)).mean()
    assert ex.q5.check(four, energy, images, boxes)
    outputs = ex.q5.check(three, energy, images, boxes)
    assert not outputs and "3 outputs" in outputs.message
    off = ex.q5.check(four, energy + 0.2, images, boxes)
    assert not off and "classes=[[0, 1]]" in off.message
    text = ex.q5.answer(energy, np.array([0.9, 1.0, 0.95, 0.95])).text
    assert f"{energy:.2f}" in text and "0.95" in text
