"""The bundled EfficientNet-Lite0: real ImageNet probabilities, faithful weights, save/load, options."""
import keras
import numpy as np
import pytest

from daylib.models.efficientnet_lite import (
    LAST_CONV_LAYER,
    efficientnet_lite0,
    preprocess_input,
    torch_to_keras_names,
    weights_file,
)
from daylib.models.torch_legacy import load_legacy_state_dict

# Measured once (TF 2.21, CPU) on scikit-image's photos resized to 224 by load_image.
# Symmetric (PyTorch-default) padding instead of TF "same" gives 0.669 / 0.887: too low for these bounds.
CAT_P, ESPRESSO_P = 0.781, 0.905


@pytest.fixture(scope="module")
def model():
    return efficientnet_lite0()


@pytest.fixture(scope="module")
def photos(cat_photo, coffee_photo):
    return np.stack([cat_photo, coffee_photo]).astype(np.float32)


def run(model, images):
    """One eager forward pass in inference mode (cheaper than predict() for a single batch)."""
    return np.asarray(model(images, training=False))


@pytest.fixture(scope="module")
def probs(model, photos):
    return run(model, photos)


def test_reference_photos_get_the_reference_probabilities(probs):
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    cat, coffee = probs
    assert cat.argmax() == 285  # Egyptian cat
    assert cat[285] == pytest.approx(CAT_P, abs=0.03)
    assert cat[[281, 282, 285]].sum() > 0.9  # tabby, tiger cat, Egyptian cat
    assert coffee.argmax() == 967  # espresso
    assert coffee[967] == pytest.approx(ESPRESSO_P, abs=0.03)


def test_every_keras_weight_equals_the_file_transposed(model):
    state = load_legacy_state_dict(weights_file())
    names = torch_to_keras_names()
    assert names["_blocks.1._expand_conv"] == "block2a_expand_conv"
    assert names["_blocks.15._project_conv"] == "block7a_project_conv"
    used = set()
    for torch_name, keras_name in names.items():
        layer = model.get_layer(keras_name)
        if isinstance(layer, keras.layers.BatchNormalization):
            keys = [f"{torch_name}.{p}" for p in ("weight", "bias", "running_mean", "running_var")]
            expected = [state[k] for k in keys]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            keys = [f"{torch_name}.weight"]
            expected = [state[keys[0]].transpose(2, 3, 0, 1)]
        elif isinstance(layer, keras.layers.Conv2D):
            keys = [f"{torch_name}.weight"]
            expected = [state[keys[0]].transpose(2, 3, 1, 0)]
        else:
            keys = ["_fc.weight", "_fc.bias"]
            expected = [state["_fc.weight"].T, state["_fc.bias"]]
        got = layer.get_weights()
        assert len(got) == len(expected), keras_name
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e, err_msg=keras_name)
        used.update(keys)
    assert used == {k for k in state if not k.endswith("num_batches_tracked")}
    assert model.count_params() == sum(state[k].size for k in used)


def test_architecture_facts(model):
    names = [layer.name for layer in model.layers]
    assert names[:5] == ["image", "rescaling", "stem_conv", "stem_bn", "stem_activation"]
    assert names[-4:] == ["top_activation", "avg_pool", "top_dropout", "predictions"]
    assert sum(name.endswith("_dwconv") for name in names) == 16
    assert sum(name.endswith("_add") for name in names) == 9  # stride 1 and in == out
    assert model.get_layer(LAST_CONV_LAYER).output.shape == (None, 7, 7, 1280)
    rescaled = model.get_layer("rescaling")(np.array([[[[0.0, 127.0, 255.0]]]], np.float32))
    np.testing.assert_allclose(np.asarray(rescaled), [[[[-127 / 128, 0.0, 1.0]]]], atol=1e-7)
    assert all(bn.epsilon == 1e-3 for bn in model.layers if isinstance(bn, keras.layers.BatchNormalization))
    x = np.ones((1, 224, 224, 3), np.float32)
    assert preprocess_input(x) is x


def test_save_and_load_give_identical_predictions(model, photos, probs, tmp_path):
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(run(loaded, photos), probs)


def test_without_top_the_feature_map_matches_the_full_model(model, photos):
    features = efficientnet_lite0(include_top=False)
    out = run(features, photos[:1])
    assert out.shape == (1, 7, 7, 1280)
    inner = keras.Model(model.input, model.get_layer(LAST_CONV_LAYER).output)
    np.testing.assert_allclose(out, run(inner, photos[:1]), rtol=1e-5, atol=1e-5)
    pooled = efficientnet_lite0(include_top=False, pooling="avg", input_shape=(None, None, 3))
    vector = run(pooled, photos[:1])
    np.testing.assert_allclose(vector, out.mean(axis=(1, 2)), rtol=1e-4, atol=1e-5)
    assert efficientnet_lite0(include_top=False, pooling="max", weights=None).output.shape == (None, 1280)


def test_logits_option_and_random_init(model, photos, probs):
    logits_model = efficientnet_lite0(classifier_activation=None)
    logits = run(logits_model, photos[:1])
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), probs[:1], rtol=1e-4, atol=1e-6)
    random = efficientnet_lite0(weights=None, input_shape=(64, 64, 3))
    out = run(random, photos[:1, :64, :64])
    assert out.shape == (1, 1000) and np.isfinite(out).all()
    stem = "stem_conv"
    assert not np.allclose(random.get_layer(stem).get_weights()[0], model.get_layer(stem).get_weights()[0])


def test_bad_arguments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="'imagenet' or None.*'noisy-student'"):
        efficientnet_lite0(weights="noisy-student")
    with pytest.raises(ValueError, match="'imagenet' or None"):
        efficientnet_lite0(weights=str(weights_file()))
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max'"):
        efficientnet_lite0(include_top=False, pooling="mean")
    with pytest.raises(ValueError, match="only with include_top=False"):
        efficientnet_lite0(pooling="avg")
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        efficientnet_lite0(weights=None, input_shape=(64, 64, 1))
