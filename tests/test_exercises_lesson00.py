"""Exercises of lesson 00: every check passes its solution, fails a plausible wrong answer, and None is unanswered."""
import keras
import numpy as np
import pytest

from daylib.config import IMAGES_DIR
from daylib.data.images import load_image
from daylib.data.kaggle_credentials import KaggleCredentialsError
from daylib.data.phantom import make_phantom
from daylib.exercises import lesson00 as ex
from daylib.models.imagenet import decode_predictions
from daylib.models.layers import stage_layers
from daylib.widgets import FeatureMaps


def _tiny_imagenet_model(size=None):
    """A stand-in for EfficientNet-Lite0: two strided convolutions, pooling, 1000 softmax units."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(1000, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def tiny():
    return _tiny_imagenet_model(32)


@pytest.fixture(scope="module")
def photo():
    return load_image(IMAGES_DIR / "chelsea.png", size=32)


def test_every_exercise_is_there():
    assert [q.key for q in ex.EXERCISES] == [f"lesson00.q{i}" for i in range(1, 6)]
    assert all(q.checkable or q.answerable for q in ex.EXERCISES)


@pytest.mark.parametrize("q", ex.EXERCISES, ids=lambda q: q.key)
def test_none_is_unanswered(q):
    assert q.check(None, None, None).status == "unanswered"
    assert q.hint().text and q.solution().text


def test_q1_top1(tiny, photo):
    top5 = decode_predictions(np.asarray(tiny(photo[None].astype("float32"), training=False)), top=5)[0]
    result = ex.q1.check(top5[0][0], photo, tiny)
    assert result.passed, result.message
    assert ex.q1.check(top5[0][1], photo, tiny).passed          # the class name works too
    wrong = ex.q1.check(top5[2][0], photo, tiny)
    assert wrong.status == "wrong" and "number 3 of the top-5" in wrong.message
    assert ex.q1.check(3.5, photo, tiny).status == "wrong"       # a float is a wrong kind of answer, not a crash
    big = load_image(IMAGES_DIR / "chelsea.png", size=48)
    assert "PHOTO_SIZE" in ex.q1.check(top5[0][0], big, tiny).message


def test_q2_sizes(monkeypatch):
    model = _tiny_imagenet_model(None)
    monkeypatch.setattr(ex, "_any_size_lite0", lambda: model)
    top1_at = {s: float(np.asarray(model(load_image(IMAGES_DIR / "chelsea.png", size=s)[None].astype("float32"),
                                          training=False)).max())
               for s in (128, 224, 320)}
    result = ex.q2.check(top1_at, IMAGES_DIR / "chelsea.png")
    assert result.passed, result.message
    swapped = {128: top1_at[128] + 0.05, 224: top1_at[224], 320: top1_at[320]}
    wrong = ex.q2.check(swapped, IMAGES_DIR / "chelsea.png")
    assert wrong.status == "wrong" and "at 128 px" in wrong.message
    assert "320" in ex.q2.check({128: 0.5}, IMAGES_DIR / "chelsea.png").message
    assert ex.q2.check([0.5, 0.4], IMAGES_DIR / "chelsea.png").status == "wrong"
    text = ex.q2.answer({128: 0.99, 224: 0.78, 320: 0.35}).text
    assert "0.99" in text and "0.35" in text


def test_q3_hard_phantoms():
    hard = make_phantom(8, size=32, difficulty="hard", seed=1)
    medium = make_phantom(8, size=32, seed=0)
    value = 100 * np.mean([m.mean() for m in hard.masks[hard.labels == 1]])
    assert ex.q3.check(value, hard, medium).passed
    assert ex.q3.check(round(value, 1), hard, medium).passed     # the printed value is fine
    as_fraction = ex.q3.check(value / 100, hard, medium)
    assert as_fraction.status == "wrong" and "percent" in as_fraction.message
    over_all = 100 * hard.masks.mean()                            # NORMAL images included: too small
    wrong = ex.q3.check(over_all, hard, medium)
    assert wrong.status == "wrong" and "PNEUMONIA images only" in wrong.message
    assert f"{value:.1f}%" in ex.q3.answer(hard, medium).text


def test_q4_kaggle_error(monkeypatch):
    import daylib.data.kaggle_credentials as credentials

    monkeypatch.setattr(credentials, "find_kaggle_credentials", lambda: None)
    error = KaggleCredentialsError("No Kaggle credentials found, so the data cannot be downloaded.\nTo get them: ...")
    result = ex.q4.check(error)
    assert result.passed and "No Kaggle credentials found" in result.message
    wrong = ex.q4.check(ValueError("source='kagle': use 'auto', 'kaggle' or 'phantom'."))
    assert wrong.status == "wrong" and "KaggleCredentialsError" in wrong.message
    assert ex.q4.check(KaggleCredentialsError).status == "wrong"    # the class, not the raised error
    assert ex.q4.check("no credentials").status == "wrong"
    assert "To get them" in ex.q4.answer(error).text


def test_q5_channel_ratio(tiny, photo):
    means = FeatureMaps(tiny, photo)(stage_layers(tiny)[-1]).mean(axis=(0, 1))
    ratio = means[:5].mean() / np.sort(means)[::-1][:5].mean()
    result = ex.q5.check(float(ratio), tiny, photo)
    assert result.passed, result.message
    wrong = ex.q5.check(float(ratio) + 0.1, tiny, photo)
    assert wrong.status == "wrong" and "off" in wrong.message
    if abs(ratio - 1) > 0.05:
        assert "upside down" in ex.q5.check(float(1 / ratio), tiny, photo).message
    assert f"{ratio:.1%}" in ex.q5.answer(float(ratio)).text
