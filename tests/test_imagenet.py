"""ImageNet class names offline: the shipped table, name lookup, decoding of probabilities and logits."""
import hashlib
from importlib import resources

import numpy as np
import pytest

from daylib.models.imagenet import class_index, class_names, class_wnids, decode_predictions


def test_shipped_table_is_keras_imagenet_class_index_byte_for_byte():
    data = resources.files("daylib.models").joinpath("imagenet_classes.json").read_bytes()
    assert hashlib.md5(data).hexdigest() == "c2c37ea517e94d9795004a39431a14cb"  # keras.applications' file_hash


@pytest.mark.parametrize(
    "index, name",
    [(0, "tench"), (1, "goldfish"), (243, "bull mastiff"), (281, "tabby"), (282, "tiger cat"),
     (285, "Egyptian cat"), (504, "coffee mug"), (967, "espresso"), (968, "cup"), (999, "toilet tissue")],
)
def test_known_indices(index, name):
    assert class_names()[index] == name
    assert class_index(name) == index


def test_names_and_wnids_are_complete():
    names, wnids = class_names(), class_wnids()
    assert len(names) == len(wnids) == len(set(wnids)) == 1000
    assert wnids[285] == "n02124075" and all(w.startswith("n") and len(w) == 9 for w in wnids)
    names.append("not a class")  # a copy: the table itself is unchanged
    assert len(class_names()) == 1000


def test_lookup_ignores_case_and_underscores_and_takes_wnids():
    assert class_index("EGYPTIAN_CAT") == class_index("  egyptian   cat ") == class_index("n02124075") == 285


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="'egyptian kat' is not an ImageNet class name. Did you mean: 'egyptian cat'"):
        class_index("egyptian kat")
    with pytest.raises(ValueError, match="class_names\\(\\) lists all 1000"):
        class_index("pneumonia")


def test_duplicate_names_ask_for_the_wnid():
    with pytest.raises(ValueError, match=r"'crane' names 2 ImageNet classes: 134 \(n02012849\), 517 \(n03126707\)"):
        class_index("crane")
    assert class_index("n03126707") == 517


def test_decode_probabilities_keeps_them():
    probs = np.full((2, 1000), 0.1 / 998)
    probs[0, [285, 282]] = [0.7, 0.2]
    probs[1, [967, 968]] = [0.6, 0.3]
    decoded = decode_predictions(probs, top=3)
    assert [entry[:2] for entry in decoded[0][:2]] == [(285, "Egyptian cat"), (282, "tiger cat")]
    assert decoded[0][0][2] == pytest.approx(0.7) and decoded[1][1][2] == pytest.approx(0.3)
    assert decoded[1][0][:2] == (967, "espresso") and len(decoded[1]) == 3
    assert isinstance(decoded[0][0][2], float)


def test_decode_logits_applies_softmax():
    logits = np.zeros((1, 1000), np.float32)
    logits[0, 285] = 2.0
    logits[0, 0] = -1.0  # a negative value: certainly not probabilities
    (top,) = decode_predictions(logits, top=2)
    expected = np.exp(2.0) / (np.exp(2.0) + 998 + np.exp(-1.0))
    assert top[0][:2] == (285, "Egyptian cat") and top[0][2] == pytest.approx(expected)
    assert top[1][2] == pytest.approx(1 / (np.exp(2.0) + 998 + np.exp(-1.0)))
    big = np.zeros((1, 1000))
    big[0, 967] = 1000.0  # softmax must not overflow
    assert decode_predictions(big, top=1) == [[(967, "espresso", 1.0)]]


def test_decode_validates_its_input():
    with pytest.raises(ValueError, match=r"shape \(N, 1000\), got \(1000,\).*preds\[None\]"):
        decode_predictions(np.zeros(1000))
    with pytest.raises(ValueError, match=r"got \(1, 10\)"):
        decode_predictions(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="NaN"):
        decode_predictions(np.full((1, 1000), np.nan))
    with pytest.raises(ValueError, match="top must be a whole number of at least 1 and at most 1000"):
        decode_predictions(np.zeros((1, 1000)), top=0)
