"""load_image: every format the course meets becomes RGB uint8, bad input says what to do; the one batch check."""
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from daylib.data.images import ImageError, ImageRangeWarning, load_image, resize, to_rgb_batch


def _gradient(h=20, w=30):
    return np.tile(np.linspace(0, 255, w, dtype=np.float64), (h, 1))


def test_8bit_grayscale_png_becomes_three_equal_channels(tmp_path):
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), _gradient().astype(np.uint8))
    img = load_image(path)
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])
    assert img[0, 0, 0] == 0 and img[0, -1, 0] == 255


def test_16bit_png_is_scaled_by_its_own_range(tmp_path):
    dark = (_gradient() / 255 * 4000 + 1000).astype(np.uint16)  # a dim 16-bit radiograph
    path = tmp_path / "x16.png"
    cv2.imwrite(str(path), dark)
    img = load_image(path)
    assert img.dtype == np.uint8
    assert img.min() == 0 and img.max() == 255


def test_color_png_keeps_rgb_order(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200  # red
    path = tmp_path / "red.png"
    Image.fromarray(rgb).save(path)
    assert load_image(path)[0, 0].tolist() == [200, 0, 0]


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 2] = 255  # blue
    rgba[:4, :, 3] = 255  # top half opaque, bottom transparent
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    img = load_image(path)
    assert img[0, 0].tolist() == [0, 0, 255]
    assert img[-1, 0].tolist() == [255, 255, 255]


def test_palette_image(tmp_path):
    pal = Image.fromarray(np.full((8, 8, 3), (10, 120, 30), np.uint8)).convert("P")
    path = tmp_path / "pal.png"
    pal.save(path)
    expected = np.asarray(pal.convert("RGB"))[0, 0].tolist()
    assert load_image(path)[0, 0].tolist() == expected != [0, 0, 0]


def test_jpeg_and_resize(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(path, quality=95)
    img = load_image(path, size=(20, 30))
    assert img.shape == (20, 30, 3)
    assert abs(int(img.mean()) - 128) <= 2
    assert load_image(path, size=16).shape == (16, 16, 3)


def test_arrays_float_and_single_channel():
    assert load_image(np.ones((4, 4), np.float32)).max() == 255
    assert load_image(np.zeros((4, 4, 1), np.uint8)).shape == (4, 4, 3)
    assert resize(np.zeros((10, 20, 1), np.uint8), 5).shape == (5, 5, 1)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(tmp_path / "nope.png")


def test_not_an_image_says_what_it_found(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text")
    with pytest.raises(ImageError, match=r"notes\.png could not be decoded.*b'hello, I'"):
        load_image(path)


def test_truncated_png_is_reported(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.full((64, 64, 3), 7, np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ImageError, match="cut.png"):
        load_image(path)


def test_empty_file_and_tiny_images(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty file"):
        load_image(empty)
    one = tmp_path / "one.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(one)
    with pytest.raises(ImageError, match="1x1 pixels"):
        load_image(one)
    with pytest.raises(ImageError, match="0x5 pixels"):
        load_image(np.zeros((0, 5), np.uint8))


def test_bad_arrays_explain_themselves():
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((4, 4), np.nan))
    with pytest.raises(ImageError, match=r"shape \(2, 4, 4, 3\)"):
        load_image(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="Rescale"):
        load_image(np.full((4, 4), 300.0))


def test_to_rgb_batch_repeats_gray_films_into_float_rgb():
    films = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    batch = to_rgb_batch(films)
    assert batch.shape == (2, 4, 4, 3) and batch.dtype == np.float32
    assert np.array_equal(batch[..., 2], films.astype(np.float32))
    assert to_rgb_batch(batch).shape == (2, 4, 4, 3)
    with pytest.raises(ImageError, match="expected a batch"):
        to_rgb_batch(np.zeros((2, 4, 4, 2)))


RGB = np.full((2, 6, 6, 3), 128, np.uint8)


def test_to_rgb_batch_takes_batches_single_images_and_lists_and_refuses_other_shapes():
    assert to_rgb_batch(RGB).shape == (2, 6, 6, 3)
    assert to_rgb_batch(RGB[0], single=True).shape == (1, 6, 6, 3)
    assert to_rgb_batch(RGB[0, ..., 0], single=True).shape == (1, 6, 6, 3)
    assert to_rgb_batch([RGB[0], RGB[1]]).shape == (2, 6, 6, 3)
    with pytest.raises(ImageError, match="differ in shape"):
        to_rgb_batch([RGB[0], RGB[0, :3]])
    with pytest.raises(ImageError, match=r"shape \(2, 6, 6, 4\); expected a batch"):
        to_rgb_batch(np.zeros((2, 6, 6, 4)))
    with pytest.raises(ImageError, match=r"shape \(6, 6\); expected a batch"):
        to_rgb_batch(RGB[0, ..., 0])  # one image needs single=True
    with pytest.raises(ImageError, match=r"expected a batch .* or one image \(H, W, 3\)"):
        to_rgb_batch(np.zeros((1, 2, 6, 6, 3)), single=True)
    with pytest.raises(ImageError, match="empty batch"):
        to_rgb_batch(np.zeros((0, 6, 6, 3)))
    with pytest.raises(ImageError, match="empty batch"):
        to_rgb_batch([])


def test_to_rgb_batch_checks_the_size_against_the_model_input():
    assert to_rgb_batch(RGB, input_shape=(None, None, 3)).shape == (2, 6, 6, 3)
    with pytest.raises(ImageError, match="are 6x6 but the model expects 224x224"):
        to_rgb_batch(RGB, input_shape=(224, 224, 3))


def test_to_rgb_batch_wants_0_255_and_warns_on_batches_that_look_scaled_to_0_1():
    with pytest.raises(ImageError, match=r"values in \[256, 256\]; the course.s models take RGB 0-255"):
        to_rgb_batch(np.full((1, 4, 4), 256.0))
    with pytest.raises(ImageError, match=r"values in \[-1, .*preprocess_input"):
        to_rgb_batch(np.full((1, 4, 4), -1.0))
    with pytest.warns(ImageRangeWarning, match="look scaled to"):
        to_rgb_batch(np.full((1, 4, 4), 0.5))
    with pytest.warns(ImageRangeWarning, match=r"\[0, 1\]"):
        to_rgb_batch(np.ones((1, 4, 4)))  # the max exactly 1.0 still looks scaled
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_rgb_batch(np.zeros((1, 4, 4)))  # an all-black batch is not a [0, 1] batch
        to_rgb_batch(np.full((1, 4, 4), 255, np.uint8))
        to_rgb_batch(np.full((1, 4, 4), 1.5))


def test_to_rgb_batch_names_the_first_image_with_nan_or_inf():
    bad = np.zeros((3, 4, 4), np.float32)
    bad[2, 0, 0] = np.inf
    bad[1, 1, 1] = np.nan
    with pytest.raises(ImageError, match=r"NaN or infinite values \(2 image\(s\), the first is index 1\)"):
        to_rgb_batch(bad)


def test_to_rgb_batch_refuses_objects_and_strings_in_the_callers_words():
    with pytest.raises(ImageError, match="dtype object; expected numbers"):
        to_rgb_batch(np.array([[[None] * 4] * 4], dtype=object))
    with pytest.raises(ImageError, match="dtype <U1; expected numbers"):
        to_rgb_batch(np.full((1, 4, 4), "a"))
    with pytest.raises(ImageError, match="Frames have dtype"):
        to_rgb_batch(np.full((1, 4, 4), "a"), role="frames")


def test_decoded_files_are_writable_arrays(tmp_path):
    path = tmp_path / "rgb.png"
    Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(path)
    img = load_image(path)
    img[0, 0] = 0  # callers draw on films; Pillow's own buffer is read-only
    assert img.flags.writeable and img[1, 1].tolist() == [9, 9, 9]


def test_16bit_alpha_is_opacity_not_part_of_the_stretch():
    film = (np.arange(4 * 4, dtype=np.uint16).reshape(4, 4) * 50 + 1000)
    rgb = np.dstack([film, film, film])
    opaque = np.dstack([rgb, np.full_like(film, 65535)])
    np.testing.assert_array_equal(load_image(opaque), load_image(rgb))
    assert load_image(rgb).max() == 255 and load_image(rgb).min() == 0


@pytest.mark.parametrize("size, phrase", [
    (True, "size must be a whole number"), (2.5, "size must be a whole number"), ((4,), "give one whole number"),
    ("8", "size must be a whole number"), (0, "at least 1"), ((8, 0), "size\\[1\\] \\(width\\)"),
])
def test_a_bad_size_names_the_fix(size, phrase):
    with pytest.raises(ValueError, match=phrase):
        load_image(np.zeros((8, 8, 3), np.uint8), size=size)


@pytest.mark.parametrize("image", [None, 123, [[1, 2], [3, 4]]])
def test_load_image_says_what_it_takes(image):
    with pytest.raises(ImageError, match="takes a file path or a NumPy array.*pass e.g."):
        load_image(image)


def test_the_batch_check_refuses_complex_numbers_and_names_a_huge_value_as_out_of_range():
    with pytest.raises(ImageError, match="dtype complex"):
        to_rgb_batch(np.zeros((1, 4, 4, 3), np.complex64))
    huge = np.zeros((1, 4, 4, 3))
    huge[0, 0, 0, 0] = 1e300
    with pytest.raises(ImageError, match=r"values in \[0, 1e\+300\].*RGB 0-255"):
        to_rgb_batch(huge)
