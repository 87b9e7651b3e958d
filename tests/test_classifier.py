"""build_classifier / freeze / unfreeze: the right weights train, BatchNormalization never does."""
import keras
import numpy as np
import pytest

from daylib.models import base_model, build_classifier, conv_layers, find_layer, freeze, trainable_layer_names, unfreeze


@pytest.fixture
def model():
    return build_classifier("mobilenet_v2", 3, input_shape=(64, 64, 3), weights=None)


def _n_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_head_shapes_and_activations():
    binary = build_classifier("mobilenet_v2", 2, input_shape=(32, 32, 3), weights=None)
    assert binary.output_shape == (None, 1)
    assert binary.get_layer("predictions").activation is keras.activations.sigmoid
    multi = build_classifier("mobilenet_v2", 5, input_shape=(32, 32, 3), weights=None)
    assert multi.output_shape == (None, 5)
    assert multi.get_layer("predictions").activation is keras.activations.softmax
    with pytest.raises(ValueError, match="at least 2"):
        build_classifier("mobilenet_v2", 1, input_shape=(32, 32, 3), weights=None)


def test_new_model_trains_only_the_head(model):
    assert trainable_layer_names(model) == ["predictions"]
    assert _n_trainable(model) == 1280 * 3 + 3


def test_unfreeze_top_n_trains_those_layers_but_no_batchnorm(model):
    base = base_model(model)
    names = unfreeze(model, top_n=20)
    top = base.layers[-20:]
    expected = [layer.name for layer in top if not isinstance(layer, keras.layers.BatchNormalization)]
    assert names == expected
    bn_in_top = [layer for layer in top if isinstance(layer, keras.layers.BatchNormalization)]
    assert bn_in_top and not any(layer.trainable for layer in bn_in_top)
    expected_weights = sum(int(np.prod(w.shape)) for layer in top for w in layer.weights
                           if not isinstance(layer, keras.layers.BatchNormalization)) + 1280 * 3 + 3
    assert _n_trainable(model) == expected_weights
    assert all(not layer.trainable for layer in base.layers[:-20])


def test_fine_tune_at_index_and_name_agree(model):
    base = base_model(model)
    by_index = unfreeze(model, fine_tune_at=100)
    by_name = unfreeze(model, fine_tune_at=base.layers[100].name)
    assert by_index == by_name
    assert len(by_index) < len(base.layers) - 100  # BN layers excluded: "fine_tune_at=100" is not "20 layers"


def test_freeze_after_unfreeze_restores_head_only(model):
    unfreeze(model, top_n=10)
    freeze(model)
    assert trainable_layer_names(model) == ["predictions"]


def test_batchnorm_stays_in_inference_mode_when_training(model):
    unfreeze(model, top_n=30)
    bn = [layer for layer in base_model(model).layers if isinstance(layer, keras.layers.BatchNormalization)][-1]
    before = [w.numpy().copy() for w in bn.weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3)).astype("float32")
    model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
    assert all(np.array_equal(b, a.numpy()) for b, a in zip(before, bn.weights))


def test_unfreeze_argument_errors(model):
    with pytest.raises(ValueError, match="exactly one"):
        unfreeze(model)
    with pytest.raises(ValueError, match="top_n must be a whole number of at least 1 and at most"):
        unfreeze(model, top_n=0)
    with pytest.raises(ValueError, match="No layer 'conv99'"):
        unfreeze(model, fine_tune_at="conv99")


def test_conv_layers_walk_into_the_nested_base(model):
    layers = conv_layers(model)
    base = base_model(model)
    assert layers[-1] == f"{base.name}/out_relu"
    assert find_layer(model, None)[0] == layers[-1]
    assert find_layer(model, "out_relu")[0] == layers[-1]
    assert find_layer(model, 0)[0] == layers[0]


def test_wrong_layer_names_list_valid_ones(model):
    with pytest.raises(ValueError, match="No layer named 'conv5'.*out_relu"):
        find_layer(model, "conv5")
    with pytest.raises(ValueError, match="out of range"):
        find_layer(model, 10_000)


def test_model_without_conv_layers_is_refused():
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no layer with a 4-D"):
        find_layer(dense, None)
    with pytest.raises(ValueError, match="no nested base"):
        freeze(dense)


def test_default_layer_skips_one_by_one_maps():
    import keras as k

    mobilenet = k.applications.MobileNet(weights=None, input_shape=(64, 64, 3))  # ends in a 1x1 conv head
    assert find_layer(mobilenet, None)[0] == "conv_pw_13_relu"


def test_small_cnn_trains_every_weight_from_scratch():
    from daylib.models import small_cnn

    model = build_classifier(small_cnn((32, 32, 3)), 2)
    assert model.get_layer("small_cnn").output.shape == (None, 4, 4, 64)
    unfreeze(model, fine_tune_at=0)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == model.count_params()
    assert find_layer(model, None)[0] == "small_cnn/last_conv"


def test_sequential_bases_work_once_they_have_an_input():
    seq = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3)])
    assert build_classifier(seq, 3).output_shape == (None, 3)
    with pytest.raises(ValueError, match="never been called.*keras.Input"):
        build_classifier(keras.Sequential([keras.layers.Conv2D(4, 3)]), 2)
