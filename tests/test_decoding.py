"""One decoding rule: a film gives the same pixels through load_image and every tf.data path; broken files are named."""
import cv2
import numpy as np
import pytest
import tensorflow as tf
from _helpers_data import FILM_SIDE, dim_16bit_film, write_tiny_kaggle, write_tricky_films
from PIL import Image

from daylib.data.folders import load_folder
from daylib.data.images import decode_image, load_image
from daylib.data.pipeline import dataset_from_files, dataset_from_folder, dataset_from_split

SIZE = 24  # the pipelines' side; load_image(path, size=SIZE) is the reference
CASES = ("dim16", "colour16", "exif", "palette", "rgba", "la", "cmyk")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """``root/train/{NORMAL,PNEUMONIA}/`` each holding one film per case."""
    root = tmp_path_factory.mktemp("films") / "chest_xray"
    films = {cls: write_tricky_films(root / "train" / cls) for cls in ("NORMAL", "PNEUMONIA")}
    return root, films


def by_path(ds, paths):
    images = np.concatenate([batch[0].numpy() for batch in ds])
    assert len(images) == len(paths)
    return dict(zip(paths, images))


def stretched(array: np.ndarray) -> np.ndarray:
    """The course's 16-bit rule written out: the image's own min..max to 0..255."""
    lo, hi = float(array.min()), float(array.max())
    return np.round((array.astype(np.float64) - lo) / (hi - lo) * 255.0).astype(np.uint8)


def test_a_dim_16bit_film_is_stretched_by_its_own_range(tree):
    _, films = tree
    img = load_image(films["NORMAL"]["dim16"])
    assert img.shape == (FILM_SIDE, FILM_SIDE, 3) and img.min() == 0 and img.max() == 255  # not 0..15
    np.testing.assert_array_equal(img, np.repeat(stretched(dim_16bit_film())[..., None], 3, axis=2))
    film = dim_16bit_film()
    expected_rgb = stretched(np.dstack([film // 3, film // 2, film]))  # written BGR: film, film // 2, film // 3
    np.testing.assert_array_equal(load_image(films["NORMAL"]["colour16"]), expected_rgb)


def test_exif_orientation_is_honoured(tree):
    _, films = tree
    img = load_image(films["NORMAL"]["exif"]).astype(int)
    assert img.shape == (32, 24, 3)  # stored 24 x 32, shown rotated
    assert np.all(np.abs(img[:8, -8:] - 250) <= 10) and np.all(np.abs(img[-8:, :8] - 40) <= 10)


def test_palette_alpha_and_cmyk_files_become_rgb(tree):
    _, films = tree
    path = films["NORMAL"]
    palette = load_image(path["palette"])
    np.testing.assert_array_equal(palette, np.asarray(Image.open(path["palette"]).convert("RGB")))
    assert len(np.unique(palette.reshape(-1, 3), axis=0)) > 4  # colours, not palette indices
    rgba = load_image(path["rgba"])
    assert (rgba[: FILM_SIDE // 2] == [0, 0, 255]).all() and (rgba[FILM_SIDE // 2:] == 255).all()
    la = load_image(path["la"])
    gradient = np.asarray(Image.open(path["la"]))[..., 0]
    assert (la[:, : FILM_SIDE // 2] == 255).all()  # transparent: white
    np.testing.assert_array_equal(la[:, FILM_SIDE // 2:, 1], gradient[:, FILM_SIDE // 2:])
    cmyk = load_image(path["cmyk"]).astype(int)
    np.testing.assert_array_equal(cmyk, np.asarray(Image.open(path["cmyk"]).convert("RGB")))
    assert (cmyk[..., 0] < cmyk[..., 1] - 100).all() and (np.abs(cmyk[..., 1] - cmyk[..., 2]) <= 2).all()  # cyan


def test_decode_image_is_load_image_on_the_files_bytes(tree):
    _, films = tree
    for case in CASES:
        path = films["NORMAL"][case]
        np.testing.assert_array_equal(decode_image(path.read_bytes(), str(path)), load_image(path), err_msg=case)


def test_every_tfdata_path_gives_the_pixels_of_load_image(tree):
    root, films = tree
    paths = [films[cls][case] for cls in ("NORMAL", "PNEUMONIA") for case in CASES]
    expected = {p: load_image(p, size=SIZE).astype(np.float32) for p in paths}
    data = load_folder(root, splits=("train",))
    folder_paths = sorted(paths, key=lambda p: (p.parent.name, p.name))  # class order, then names
    outputs = {
        "dataset_from_files": by_path(dataset_from_files(paths, [0] * len(paths), image_size=SIZE), paths),
        "load_folder + dataset_from_split": by_path(dataset_from_split(data.train, image_size=SIZE), data.train.paths),
        "dataset_from_folder": by_path(dataset_from_folder(root / "train", image_size=SIZE), folder_paths),
    }
    for route, got in outputs.items():
        assert set(got) == set(paths), route
        for path in paths:
            np.testing.assert_array_equal(got[path], expected[path], err_msg=f"{route}: {path.name}")
    exif = outputs["dataset_from_files"][films["NORMAL"]["exif"]]
    assert exif[:4, -4:].mean() > 200 and exif[-4:, :4].mean() < 80  # still upright after the squash


def test_square_films_at_their_own_size_come_through_the_pipeline_unchanged(tree):
    _, films = tree
    square = [films["NORMAL"][case] for case in CASES if case != "exif"]
    got = by_path(dataset_from_files(square, [0] * len(square), image_size=FILM_SIDE), square)
    for path in square:
        np.testing.assert_array_equal(got[path], load_image(path).astype(np.float32), err_msg=path.name)
    assert got[films["NORMAL"]["dim16"]].max() == 255.0  # the 0..15 is gone


def _noise_jpeg() -> bytes:
    pixels = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    return cv2.imencode(".jpeg", pixels)[1].tobytes()


def test_a_zero_byte_png_is_skipped_by_name_and_a_truncated_jpeg_stops_the_epoch_naming_it(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    empty = root / "train" / "NORMAL" / "IM-9999-0001.png"
    empty.write_bytes(b"")
    cut = root / "train" / "PNEUMONIA" / "person999_virus_1.jpeg"
    cut.write_bytes(_noise_jpeg()[:2000])  # headers whole, scan data cut: only a full decode sees it
    with pytest.warns(UserWarning, match="unreadable image files") as caught:
        data = load_folder(root)  # the default check, Pillow's header verify
    assert str(empty) in " ".join(str(w.message) for w in caught) and empty in data.skipped
    assert cut in data.train.paths
    with pytest.warns(UserWarning, match="IM-9999-0001.png"):
        from_folder = dataset_from_folder(root / "train", image_size=8)
    for ds in (dataset_from_split(data.train, image_size=8), from_folder):
        with pytest.raises(tf.errors.InvalidArgumentError) as error:
            list(ds)
        message = str(error.value)
        assert str(cut) in message and "truncated" in message  # the file and the problem
        assert "re-download it, or delete it" in message and "verify='decode'" in message  # and the fixes


def test_verify_decode_finds_both_before_training(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    empty, cut = root / "train" / "NORMAL" / "IM-9999-0001.png", root / "train" / "PNEUMONIA" / "person9_virus_1.jpeg"
    empty.write_bytes(b"")
    cut.write_bytes(_noise_jpeg()[:2000])
    with pytest.warns(UserWarning, match="unreadable image files") as caught:
        data = load_folder(root, verify="decode")
    message = " ".join(str(w.message) for w in caught)
    assert {empty, cut} <= set(data.skipped) and str(empty) in message and str(cut) in message
    assert len(list(dataset_from_split(data.train, image_size=8))) == 1  # the rest trains


def test_a_missing_file_in_the_pipeline_is_named(tmp_path):
    gone = tmp_path / "gone.png"
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"No image at .*gone\.png.*verify='decode'"):
        list(dataset_from_files([gone], [0], image_size=8))
