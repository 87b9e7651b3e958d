"""tf.data pipelines, augmentation block and class weights."""
import cv2
import keras
import numpy as np
import pytest

from daylib.data import pneumonia
from daylib.data.folders import load_folder
from daylib.data.images import ImageError, ImageRangeWarning
from daylib.data.phantom import make_phantom, write_phantom_dataset
from daylib.data.pipeline import (
    augmentation,
    class_weights,
    dataset_from_arrays,
    dataset_from_files,
    dataset_from_folder,
    dataset_from_split,
)
from daylib.data.splits import Split


@pytest.fixture(scope="module")
def phantoms():
    return make_phantom(12, size=48, seed=0)


@pytest.fixture(scope="module")
def phantom_folder(tmp_path_factory):
    return write_phantom_dataset(tmp_path_factory.mktemp("data") / "phantom", 8, 4, 4, size=40, seed=1)


def batches(ds):
    return [tuple(t.numpy() for t in batch) for batch in ds]


def test_arrays_become_batched_rgb_float_0_255(phantoms):
    out = batches(dataset_from_arrays(phantoms.images, phantoms.labels, image_size=32, batch_size=5))
    assert [b[0].shape for b in out] == [(5, 32, 32, 3), (5, 32, 32, 3), (2, 32, 32, 3)]
    images = np.concatenate([b[0] for b in out])
    assert images.dtype == np.float32 and images.min() >= 0.0 and images.max() <= 255.0 and images.max() > 150
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # gray repeated over RGB
    np.testing.assert_array_equal(np.concatenate([b[1] for b in out]), phantoms.labels)
    assert out[0][1].dtype == np.int32


def test_arrays_keep_their_values_when_not_resized(phantoms):
    (images, labels), = batches(dataset_from_arrays(phantoms.images, phantoms.labels, batch_size=12))
    np.testing.assert_array_equal(images[..., 1], phantoms.images.astype(np.float32))


def test_masks_travel_with_their_images(phantoms):
    ds = dataset_from_arrays(phantoms.images, phantoms.labels, phantoms.masks, image_size=24, batch_size=12)
    (images, labels, masks), = batches(ds)
    assert masks.shape == (12, 24, 24) and masks.dtype == bool
    np.testing.assert_array_equal(masks.any(axis=(1, 2)), labels == 1)


def test_shuffle_is_seeded_and_reshuffles_each_epoch(phantoms):
    ds = dataset_from_arrays(phantoms.images, np.arange(12), batch_size=12, shuffle=True, seed=3)
    first, second = (batches(ds)[0][1] for _ in range(2))
    again = batches(dataset_from_arrays(phantoms.images, np.arange(12), batch_size=12, shuffle=True, seed=3))[0][1]
    assert sorted(first) == list(range(12)) and not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_files_of_any_depth_and_colour_decode_to_rgb(tmp_path):
    gray16 = (np.arange(30 * 20, dtype=np.uint16).reshape(30, 20) * 100)
    colour = np.zeros((16, 16, 3), np.uint8)
    colour[..., 2] = 200  # red in OpenCV's BGR order
    paths = [tmp_path / "a.png", tmp_path / "b.jpeg", tmp_path / "c.png"]
    cv2.imwrite(str(paths[0]), gray16)
    cv2.imwrite(str(paths[1]), np.full((40, 50), 77, np.uint8))
    cv2.imwrite(str(paths[2]), colour)
    (images, labels), = batches(dataset_from_files(paths, [0, 1, 1], image_size=16, batch_size=3))
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.float32
    assert images[0].max() > 200 and images[0].min() < 10  # 16-bit range scaled to 8 bits
    assert np.allclose(images[1], 77, atol=2)
    assert images[2, ..., 0].mean() > 190 and images[2, ..., 2].max() < 5  # RGB order
    assert labels.tolist() == [0, 1, 1]


def test_folder_and_split_pipelines_read_the_written_phantoms(phantom_folder):
    (images, labels), = batches(dataset_from_folder(phantom_folder / "test", image_size=32, batch_size=4))
    assert images.shape == (4, 32, 32, 3) and sorted(labels.tolist()) == [0, 0, 1, 1]
    data = load_folder(phantom_folder)
    (images, labels, masks), = batches(dataset_from_split(data.train, image_size=40, batch_size=8, with_masks=True))
    np.testing.assert_array_equal(masks.any(axis=(1, 2)), labels == 1)
    assert images.shape == (8, 40, 40, 3) and images.max() <= 255


def test_memory_and_folder_splits_feed_the_same_way(phantom_folder):
    memory = pneumonia.load("phantom", phantom_counts=(6, 2, 2), phantom_size=48, verbose=False)
    on_disk = load_folder(phantom_folder)
    shapes = [next(iter(dataset_from_split(s, image_size=32, batch_size=2)))[0].shape
              for s in (memory.train, on_disk.train)]
    assert shapes == [(2, 32, 32, 3), (2, 32, 32, 3)]


def test_asking_for_masks_of_real_data_is_explained():
    split = Split(labels=np.array([0]), paths=["x.jpeg"])
    with pytest.raises(ValueError, match="no lesion masks"):
        dataset_from_split(split, with_masks=True)


def test_mismatched_inputs_are_explained(phantoms):
    with pytest.raises(ValueError, match="one per image"):
        dataset_from_arrays(phantoms.images, phantoms.labels[:3])
    with pytest.raises(ValueError, match="expected"):
        dataset_from_arrays(np.zeros((2, 4, 4, 2)), [0, 1])


def test_arrays_pass_the_one_image_batch_check(phantoms):
    with pytest.raises(ImageError, match=r"NaN or infinite .*index 1"):
        dataset_from_arrays(np.stack([np.zeros((4, 4)), np.full((4, 4), np.nan)]), [0, 1])
    with pytest.raises(ImageError, match="RGB 0-255"):
        dataset_from_arrays(np.full((2, 4, 4), 300.0), [0, 1])
    with pytest.raises(ImageError, match="empty batch"):
        dataset_from_arrays(np.zeros((0, 4, 4)), [])
    with pytest.warns(ImageRangeWarning, match="scaled to"):
        dataset_from_arrays(phantoms.images / 255.0, phantoms.labels)


def test_float_and_rgb_arrays_keep_the_dataset_types(phantoms):
    rgb = np.repeat(phantoms.images[:4, ..., None], 3, axis=-1).astype(np.float64)
    (images, labels), = batches(dataset_from_arrays(rgb, phantoms.labels[:4], batch_size=4))
    assert images.dtype == np.float32 and images.shape == (4, 48, 48, 3) and labels.dtype == np.int32
    np.testing.assert_array_equal(images, rgb.astype(np.float32))


def test_augmentation_is_a_named_xray_safe_block(phantoms):
    block = augmentation(seed=0)
    assert block.name == "augmentation" and isinstance(block, keras.Sequential)
    assert [layer.name for layer in block.layers] == ["rotation", "zoom", "translation", "contrast"]
    assert "flip" in [layer.name for layer in augmentation(horizontal_flip=True).layers]
    assert [layer.name for layer in augmentation(rotation=0, zoom=0).layers] == ["translation", "contrast"]
    x = np.repeat(phantoms.images[:4, ..., None], 3, axis=-1).astype(np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(block(x, training=False)), x)
    changed = keras.ops.convert_to_numpy(block(x, training=True))
    assert changed.shape == x.shape and not np.allclose(changed, x)
    assert changed.min() >= 0.0 and changed.max() <= 255.0


def test_class_weights_balance_the_classes():
    assert class_weights([0, 1, 1, 1]) == {0: 2.0, 1: pytest.approx(2 / 3)}
    weights = class_weights(np.array([0] * 1341 + [1] * 3875))
    assert weights[0] * 1341 == pytest.approx(weights[1] * 3875)
    with pytest.raises(ValueError, match="at least one example"):
        class_weights([0, 0, 2])
    with pytest.raises(ValueError, match="non-empty"):
        class_weights([])
