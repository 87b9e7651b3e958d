"""Training inputs checked at the door (arrays) or in the stream (tf.data): each error names the problem and the fix."""
import warnings

import numpy as np
import pytest
import tensorflow as tf

from _helpers_train import make_model, phantom_data
from daylib.data.images import ImageError, ImageRangeWarning
from daylib.training import extract_features, train_head
from daylib.training.inputs import SingleClassWarning
from daylib.training.stream import LabelTally, checked_stream

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def data():
    return phantom_data()


@pytest.fixture(scope="module")
def model():
    return make_model()


def dataset(images, labels, batch=8):
    return tf.data.Dataset.from_tensor_slices((np.asarray(images, "float32"), labels)).batch(batch)


def with_nan(images, index):
    broken = images.astype("float32")
    broken[index, 3, 4, 1] = np.nan
    return broken


def test_nan_in_arrays_names_the_first_bad_image(data, model):
    (x, y), _ = data
    with pytest.raises(ImageError, match=r"Training images contain NaN.*the first is index 5.*clean or drop"):
        train_head(model, (with_nan(x, 5), y), epochs=1)


@pytest.mark.parametrize("cached", [True, False])
def test_nan_in_a_dataset_names_the_batch_and_the_image(data, model, cached):
    (x, y), _ = data
    with pytest.raises(ImageError, match=r"Training images contain NaN.*batch 2, image 3 of that batch.*Clean or drop"):
        train_head(model, dataset(with_nan(x, 19), y), epochs=1, cached=cached)


def test_nan_in_a_dataset_is_caught_when_extracting_features_too(data, model):
    (x, y), _ = data
    with pytest.raises(ImageError, match="batch 0, image 1 of that batch"):
        extract_features(model, dataset(with_nan(x, 1), y))


def test_labels_outside_the_binary_head_are_refused_for_arrays(data, model):
    (x, _), _ = data
    labels = np.arange(len(x)) % 3
    with pytest.raises(ValueError, match=r"Training labels include 2 \(the first is labels\[2\]\).*one sigmoid output"
                                         r".*class indices 0\.\.1.*build_classifier\(base, num_classes\)"):
        train_head(model, (x, labels), epochs=1)


@pytest.mark.parametrize("cached", [True, False])
def test_labels_outside_the_binary_head_are_refused_in_a_dataset(data, model, cached):
    (x, y), (xv, yv) = data
    with pytest.raises(ValueError, match=r"Training labels include 2 \(batch 0, image 2 of that batch\).*"
                                         r"class indices 0\.\.1"):
        train_head(model, dataset(x, np.arange(len(x)) % 3), epochs=1, cached=cached)
    with pytest.raises(ValueError, match=r"Validation labels include 5"):
        train_head(model, dataset(x, y), dataset(xv, np.full(len(xv), 5)), epochs=1, cached=cached)


def test_one_hot_rows_must_have_the_heads_width(data):
    (x, y), _ = data
    from daylib.models import build_classifier
    from _helpers_train import tiny_base

    three = build_classifier(tiny_base(), 3)
    with pytest.raises(ValueError, match="one-hot rows of 4 columns, but the model has 3 classes"):
        train_head(three, (x, np.eye(4)[y]), epochs=1)
    with pytest.raises(ValueError, match="one-hot rows of 4 columns, but the model has 3 classes"):
        train_head(three, dataset(x, np.eye(4)[y]), epochs=1)


def test_a_single_class_warns_but_trains(data, model):
    (x, _), _ = data
    with pytest.warns(SingleClassWarning, match="All 32 training labels are class 0.*Check the labels and the split"):
        history = train_head(model, (x, np.zeros(len(x), int)), epochs=1)
    assert history.epoch == [0]


def test_a_single_class_dataset_warns_on_the_cached_path(data, model):
    (x, _), _ = data
    with pytest.warns(SingleClassWarning, match="All 32 training labels are class 1"):
        history = train_head(model, dataset(x, np.ones(len(x), int)), epochs=1)
    assert history.epoch == [0]


def test_a_single_class_dataset_warns_on_the_plain_path_after_its_first_epoch(data, model):
    (x, _), _ = data
    with pytest.warns(SingleClassWarning, match="All 32 training labels are class 1") as caught:
        history = train_head(model, dataset(x, np.ones(len(x), int)), epochs=2, cached=False)
    assert history.epoch == [0, 1]
    assert sum(issubclass(w.category, SingleClassWarning) for w in caught) == 1  # once, not every epoch


def test_a_two_class_dataset_on_the_plain_path_does_not_warn(data, model):
    (x, y), _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingleClassWarning)
        train_head(model, dataset(x, y), epochs=1, cached=False)


def test_the_label_tally_counts_what_the_stream_yields():
    labels = np.array([0, 1, 1, 2, 2, 2])
    tally = LabelTally(3)
    checked = checked_stream(dataset(np.zeros((6, 4, 4, 3)), labels, batch=4), role="training", classes=3, tally=tally)
    for _ in checked:
        pass
    assert tally.counts().tolist() == [1, 2, 3]
    tally.reset()
    assert tally.counts().tolist() == [0, 0, 0]


def test_class_names_as_labels_are_refused(data, model):
    (x, y), _ = data
    names = np.array(["NORMAL", "PNEUMONIA"])[y]
    with pytest.raises(ValueError, match=r"Training labels are text values such as \['.*'\].*names.index\(name\)"):
        train_head(model, (x, names), epochs=1)
    with pytest.raises(ValueError, match="labels in the dataset are string, not class indices: map the class names"):
        train_head(model, tf.data.Dataset.from_tensor_slices((x.astype("float32"), names)).batch(8), epochs=1)


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
def test_empty_inputs_are_refused(data, model):
    (x, y), _ = data
    with pytest.raises(ImageError, match=r"Training images are an empty batch \(0 images\): pass at least one image"):
        train_head(model, (x[:0], y[:0]), epochs=1)
    with pytest.raises(ValueError, match=r"The training dataset is empty \(0 batches\): check the files or filters"):
        train_head(model, dataset(x, y).take(0), epochs=1)
    with pytest.raises(ValueError, match=r"yielded no batch.*Dataset is empty.*len\(list\(dataset.take\(1\)\)\)"):
        train_head(model, dataset(x, y).filter(lambda image, label: False), epochs=1, cached=False)


def test_mismatched_lengths_are_refused(data, model):
    (x, y), _ = data
    with pytest.raises(ValueError, match="Training data have 32 images but 5 labels: give one label per image"):
        train_head(model, (x, y[:5]), epochs=1)


def test_wrong_image_sizes_are_refused_with_the_resize_fix(data, model):
    (x, y), _ = data
    big = np.zeros((len(x), 48, 48, 3), "float32")
    with pytest.raises(ImageError, match=r"Training images are 48x48 but the model expects 32x32: resize"):
        train_head(model, (big, y), epochs=1)
    with pytest.raises(ImageError, match=r"Training images are 48x48 but the model expects 32x32: resize.*"
                                         r"tf.image.resize\(x, \(32, 32\)\)"):
        train_head(model, dataset(big, y), epochs=1)
    unknown = tf.data.Dataset.from_generator(  # a shape only the stream can tell
        lambda: ((big[i:i + 8], y[i:i + 8]) for i in range(0, len(big), 8)),
        output_signature=(tf.TensorSpec((None, None, None, 3), tf.float32), tf.TensorSpec((None,), tf.int64)))
    with pytest.raises(ImageError, match=r"Training images are 48x48 \(batch 0\) but the model expects 32x32"):
        train_head(model, unknown, epochs=1, cached=False)
    with pytest.raises(ImageError, match=r"have 1 channels.*grayscale_to_rgb"):
        train_head(model, dataset(big[..., :1], y), epochs=1)


def test_images_scaled_to_0_1_warn_for_arrays_and_are_refused_in_a_dataset(data, model):
    (x, y), _ = data
    with pytest.warns(ImageRangeWarning, match=r"look scaled to \[0, 1\].*RGB 0-255 \(daylib.data.images\)"):
        train_head(model, (x / 255.0, y), epochs=1)
    with pytest.raises(ImageError, match=r"look scaled to \[0, 1\].*0-255 \(the convention of daylib.data.images\).*"
                                         r"x \* 255.0"):
        train_head(model, dataset(x / 255.0, y), epochs=1)
    with pytest.raises(ImageError, match=r"values in \[-1, .*\(batch 0\).*Remove preprocess_input"):
        train_head(model, dataset(x / 127.5 - 1.0, y), epochs=1)


def test_an_endless_dataset_is_refused(data, model):
    (x, y), _ = data
    with pytest.raises(ValueError, match=r"repeats forever.*remove .repeat\(\)"):
        train_head(model, dataset(x, y).repeat(), epochs=1)


def test_a_good_dataset_trains_as_its_arrays_do(data):
    (x, y), (xv, yv) = data
    from_arrays = train_head(make_model, (x, y), (xv, yv), epochs=2, batch_size=8, cached=True)
    from_datasets = train_head(make_model, dataset(x, y), dataset(xv, yv), epochs=2, cached=True)
    # The checked stream changes nothing: the cached head trains on the same features either way.
    assert from_datasets.history["val_loss"] == pytest.approx(from_arrays.history["val_loss"], abs=0.05)
