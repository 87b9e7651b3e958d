"""Class-per-folder trees: the phantom round trip, stray and broken files named, wrong layouts explained."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from _helpers_data import TINY_COUNTS, write_tiny_kaggle
from PIL import Image

from daylib.data.folders import (
    VERIFY_DEFAULT,
    DatasetLayoutError,
    is_image_name,
    is_readable,
    layout_hint,
    load_class_folders,
    load_folder,
    read_split,
)
from daylib.data.phantom import make_phantom, write_phantom_dataset
from daylib.data.splits import Split, stratified_split


def test_phantom_folder_round_trip(tmp_path):
    root = write_phantom_dataset(tmp_path / "phantom", 12, 4, 6, size=48, shortcut=1.0, seed=3)
    data = load_folder(root)
    assert data.counts() == {"train": {"NORMAL": 6, "PNEUMONIA": 6}, "val": {"NORMAL": 2, "PNEUMONIA": 2},
                             "test": {"NORMAL": 3, "PNEUMONIA": 3}}
    expected = make_phantom(12, size=48, shortcut=1.0, seed=3)
    order = np.argsort([int(p.stem.split("-")[-1]) for p in data.train.paths])
    read = np.stack([cv2.imread(str(data.train.paths[i]), cv2.IMREAD_UNCHANGED) for i in order])
    np.testing.assert_array_equal(read, expected.images)
    np.testing.assert_array_equal(data.train.labels[order], expected.labels)
    for i in order:
        mask_path = data.train.mask_paths[i]
        assert (mask_path is not None) == (data.train.labels[i] == 1)
    masks = [cv2.imread(str(data.train.mask_paths[i]), cv2.IMREAD_UNCHANGED) > 0 for i in order
             if data.train.mask_paths[i] is not None]
    np.testing.assert_array_equal(np.stack(masks), expected.masks[expected.labels == 1])
    manifest = (root / "manifest.csv").read_text().splitlines()
    assert manifest[0] == "path,split,label,class_name,marker" and len(manifest) == 1 + 22
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_phantom_dataset(root, 2, 2, 2, size=48)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_stray_and_corrupt_files_are_skipped_and_named(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    (root / "train" / "NORMAL" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "train" / "PNEUMONIA" / "notes.txt").write_text("not an image")
    corrupt = root / "test" / "PNEUMONIA" / "person999_virus_1.jpeg"
    corrupt.write_bytes(b"this is not a jpeg")
    empty = root / "test" / "NORMAL" / "IM-9999-0001.jpeg"
    empty.write_bytes(b"")
    with pytest.warns(UserWarning) as caught:
        data = load_folder(root)
    messages = " ".join(str(w.message) for w in caught)
    assert "notes.txt" in messages and "stray" in messages
    assert str(corrupt) in messages and str(empty) in messages
    assert {corrupt, empty, root / "train" / "NORMAL" / ".DS_Store"} <= set(data.skipped)
    assert data.counts()["test"] == TINY_COUNTS["test"]
    assert all(p.suffix == ".jpeg" for p in data.train.paths)


@pytest.mark.filterwarnings("ignore:Ignoring .*not one of the class folders")
@pytest.mark.parametrize("moved, message", [
    (None, "No dataset folder"),
    (("val", "validation"), "split folder"),
    (("test/NORMAL", "test/normal"), "class folder"),
])
def test_wrong_layouts_name_the_expected_layout(tmp_path, moved, message):
    root = tmp_path / "chest_xray"
    if moved is not None:
        write_tiny_kaggle(root)
        (root / moved[0]).rename(root / moved[1])
    with pytest.raises(DatasetLayoutError, match=message) as error:
        load_folder(root)
    assert "{train,val,test}/{NORMAL,PNEUMONIA}" in str(error.value)


def _lower_case_classes(root: Path) -> None:
    for split in ("train", "val", "test"):
        for class_name in ("NORMAL", "PNEUMONIA"):
            (root / split / class_name).rename(root / split / class_name.lower())


def test_a_copy_one_folder_too_deep_says_which_root_to_pass(tmp_path):
    outer = tmp_path / "chest_xray"
    write_tiny_kaggle(outer / "chest_xray")  # the zip unpacked into a folder of its own name
    (outer / "__MACOSX" / "chest_xray" / "train").mkdir(parents=True)  # zip metadata is not the copy
    with pytest.raises(DatasetLayoutError) as error:
        load_folder(outer)
    message = str(error.value)
    assert f"the split folder {outer / 'train'} is missing" in message  # the problem
    assert f"one folder down, in {outer / 'chest_xray'}: pass root='{outer / 'chest_xray'}'" in message  # the fix
    assert load_folder(outer / "chest_xray").counts() == TINY_COUNTS
    assert layout_hint(outer, argument="dest").endswith(f"pass dest='{outer / 'chest_xray'}'.")  # for kaggle.download


def test_lower_case_class_folders_say_what_to_rename(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    _lower_case_classes(root)
    with pytest.raises(DatasetLayoutError) as error:
        load_folder(root)
    message = str(error.value)
    assert f"the class folder {root / 'train' / 'NORMAL'} is missing" in message
    assert f"case-sensitive: in {root}, rename train/normal to NORMAL, train/pneumonia to PNEUMONIA" in message
    with pytest.raises(DatasetLayoutError, match=r"rename test/normal to NORMAL, test/pneumonia to PNEUMONIA\."):
        read_split(root / "test")  # one split read alone gets its own hint


def test_a_capitalised_split_folder_says_what_to_rename(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    (root / "train").rename(root / "Train")
    with pytest.raises(DatasetLayoutError) as error:
        load_folder(root)
    message = str(error.value)
    assert f"the split folder {root / 'train'} is missing" in message
    assert f"case-sensitive: in {root}, rename Train to train." in message


def test_nested_and_miscased_together_give_both_fixes(tmp_path):
    inner = write_tiny_kaggle(tmp_path / "chest_xray" / "chest_xray")
    (inner / "test").rename(inner / "TEST")
    hint = layout_hint(tmp_path / "chest_xray")
    assert hint == (f"The split folders are one folder down, in {inner}. Folder names are case-sensitive: in {inner}, "
                    f"rename TEST to test; then pass root='{inner}'.")


def test_a_split_folder_given_as_root_says_to_pass_its_parent(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    with pytest.raises(DatasetLayoutError, match=rf"holds the class folders itself.*pass its parent, root='{root}'"):
        load_folder(root / "train")


def test_no_hint_for_a_complete_layout_or_an_unrelated_folder(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    assert layout_hint(root) is None and layout_hint(tmp_path / "absent") is None
    (tmp_path / "photos" / "cats").mkdir(parents=True)
    assert layout_hint(tmp_path / "photos") is None


def test_an_empty_class_folder_is_an_error(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    for f in (root / "train" / "NORMAL").iterdir():
        f.unlink()
    with pytest.raises(DatasetLayoutError, match="no readable images"):
        load_folder(root)


def _encoded(suffix: str) -> bytes:
    """A 64x64 noise image in the format of ``suffix``."""
    pixels = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    return cv2.imencode(suffix, pixels)[1].tobytes()


@pytest.mark.parametrize("suffix", [".png", ".jpeg", ".bmp", ".tif", ".webp"])
def test_pillow_accepts_every_image_format_the_course_reads(tmp_path, suffix):
    path = tmp_path / f"film{suffix}"
    path.write_bytes(_encoded(suffix))
    assert is_readable(path, "header") and is_readable(path, "decode")


def test_the_header_check_is_pillows_and_decode_also_catches_truncated_jpegs(tmp_path):
    cut_png, cut_jpeg, renamed = tmp_path / "cut.png", tmp_path / "cut.jpeg", tmp_path / "text.png"
    cut_png.write_bytes(_encoded(".png")[:-40])
    cut_jpeg.write_bytes(_encoded(".jpeg")[:2000])  # headers whole, scan data cut
    renamed.write_text("hello, I am text")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "gif-named.jpeg", format="GIF")
    assert not is_readable(cut_png, "header")  # Pillow's verify checks PNG chunk checksums
    assert not is_readable(renamed, "header") and not is_readable(tmp_path / "missing.png", "header")
    assert is_readable(cut_jpeg, "header") and not is_readable(cut_jpeg, "decode")
    assert is_readable(tmp_path / "gif-named.jpeg", "header")  # Pillow reads the content, not the name


def test_decode_mode_skips_truncated_files_that_the_header_check_lets_through(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    cut = root / "test" / "NORMAL" / "IM-0300-0009.jpeg"
    cut.write_bytes(_encoded(".jpeg")[:2000])
    assert VERIFY_DEFAULT == "header" and cut not in load_folder(root).skipped  # the pipeline names it later
    with pytest.warns(UserWarning, match="unreadable image files") as caught:
        data = load_folder(root, verify="decode")
    assert cut in data.skipped and str(cut) in str(caught[0].message)
    with pytest.raises(ValueError, match="use 'header' or 'decode'"):
        load_folder(root, verify="full")


def test_read_split_reads_one_split_and_ignores_other_folders(tmp_path):
    root = write_tiny_kaggle(tmp_path / "chest_xray")
    (root / "test" / "COVID").mkdir()
    with pytest.warns(UserWarning, match="Ignoring .*COVID"):
        split, skipped = read_split(root / "test")
    assert split.counts() == TINY_COUNTS["test"] and skipped == [] and split.mask_paths is None


def test_image_names_need_a_known_suffix_and_no_leading_dot(tmp_path):
    assert is_image_name(Path("IM-0001-0001.JPEG"), on_disk=False)
    assert not is_image_name(Path("._IM-0001-0001.jpeg"), on_disk=False)
    assert not is_image_name(Path("notes.txt"), on_disk=False)
    assert not is_image_name(tmp_path / "absent.png")


def _keras_layout(root: Path, counts: dict[str, int], size: int = 12) -> Path:
    """``root/<class>/<i>.png`` (and a JPEG per class): the layout image_dataset_from_directory reads."""
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            suffix = "jpg" if i == 0 else "png"
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / name / f"{i:03d}.{suffix}")
    return root


def test_the_keras_layout_reads_as_keras_reads_it_then_splits_by_class(tmp_path):
    import keras

    root = _keras_layout(tmp_path / "own", {"dogs": 10, "cats": 10, "birds": 5})
    data = load_class_folders(root, seed=1)
    keras_ds = keras.utils.image_dataset_from_directory(root, shuffle=False, image_size=(12, 12), batch_size=4,
                                                        verbose=False)
    assert data.class_names == tuple(keras_ds.class_names) == ("birds", "cats", "dogs")
    ours = {str(p): int(label) for part in (data.train, data.val, data.test) for p, label in zip(part.paths, part.labels)}
    keras_labels = np.concatenate([y.numpy() for _, y in keras_ds])
    assert ours == dict(zip(keras_ds.file_paths, keras_labels.tolist()))  # the same files, the same labels
    assert data.counts() == {"train": {"birds": 3, "cats": 6, "dogs": 6}, "val": {"birds": 1, "cats": 2, "dogs": 2},
                             "test": {"birds": 1, "cats": 2, "dogs": 2}}
    again = load_class_folders(root, seed=1)
    assert again.test.paths == data.test.paths and load_class_folders(root, seed=2).test.paths != data.test.paths
    assert set(map(str, data.train.paths)).isdisjoint(map(str, data.test.paths))


def test_wrong_keras_layouts_say_what_was_found_and_what_to_pass(tmp_path):
    root = _keras_layout(tmp_path / "holder" / "own", {"NORMAL": 4, "PNEUMONIA": 4})
    with pytest.raises(DatasetLayoutError, match=r"holds one folder, own.*pass root='.*holder/own'"):
        load_class_folders(tmp_path / "holder")
    with pytest.raises(DatasetLayoutError, match=r"4 image files directly inside it.*one class folder: pass its parent"):
        load_class_folders(root / "NORMAL")
    with pytest.raises(DatasetLayoutError, match="No class folder .*CATS.*holds NORMAL, PNEUMONIA"):
        load_class_folders(root, class_names=["NORMAL", "CATS"])
    with pytest.raises(DatasetLayoutError, match="No folder at"):
        load_class_folders(tmp_path / "nowhere")
    phantom = write_phantom_dataset(tmp_path / "phantom", 4, 2, 2, size=32)
    with pytest.raises(DatasetLayoutError, match=r"holds split folders .*load_folder\("):
        load_class_folders(phantom)
    (root / "EMPTY").mkdir()
    with pytest.raises(DatasetLayoutError, match="EMPTY holds no readable images"):
        load_class_folders(root)
    with pytest.raises(ValueError, match="too few to give train, val and test one each"):
        load_class_folders(root, class_names=["NORMAL", "PNEUMONIA"], val_fraction=0.4, test_fraction=0.4)


def test_the_split_layout_reader_points_a_keras_layout_to_its_reader(tmp_path):
    root = _keras_layout(tmp_path / "own", {"cats": 3, "dogs": 3})
    with pytest.raises(DatasetLayoutError, match=r"holds the folders cats, dogs and no split folders.*load_class_folders"):
        load_folder(root)


@pytest.mark.parametrize("fractions, message", [((1.0, 0.1), "val_fraction=1.0"), ((0.5, 0.5), "leaves nothing"),
                                                ((0.2, -0.1), "test_fraction=-0.1")])
def test_stratified_split_refuses_fractions_that_do_not_fit(fractions, message):
    with pytest.raises(ValueError, match=message):
        stratified_split(Split(labels=np.array([0, 1] * 10)), *fractions)


def test_a_class_folder_tree_without_splits_is_sent_to_the_keras_layout_reader(tmp_path):
    root = _keras_layout(tmp_path / "my_xrays", {"NORMAL": 3, "PNEUMONIA": 3})
    with pytest.raises(DatasetLayoutError, match=r"itself and no split folders \(the Keras layout\).*load_class_folders"):
        load_folder(root)
