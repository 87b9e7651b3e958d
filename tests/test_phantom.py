"""Phantom chest X-rays: determinism, shapes, masks, class balance, shortcut markers, figures."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from daylib.data.phantom import CLASS_NAMES, MARKER_LETTERS, Phantoms, make_phantom, write_phantom_dataset  # noqa: E402
from daylib.viz.xrays import show_xrays  # noqa: E402

SIZE = 64


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U), no ties expected to matter."""
    ranks = np.argsort(np.argsort(scores)) + 1
    n_pos = labels.sum()
    n_neg = len(labels) - n_pos
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@pytest.fixture(scope="module")
def phantoms() -> Phantoms:
    return make_phantom(40, size=SIZE, seed=0)


def test_same_seed_gives_the_same_bits_and_another_seed_does_not():
    first, again, other = (make_phantom(70, size=SIZE, seed=s) for s in (5, 5, 6))  # 70 > one render chunk
    for name in ("images", "labels", "masks", "lungs", "markers"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name), err_msg=name)
    assert not np.array_equal(first.images, other.images)


def test_shapes_and_dtypes_and_unpacking(phantoms):
    images, labels, masks = phantoms
    assert images.shape == (40, SIZE, SIZE) and images.dtype == np.uint8
    assert labels.shape == (40,) and labels.dtype == np.int64 and set(labels.tolist()) == {0, 1}
    assert masks.shape == images.shape and masks.dtype == bool
    assert phantoms.lungs.shape == images.shape and phantoms.markers.tolist() == [-1] * 40
    assert CLASS_NAMES == ("NORMAL", "PNEUMONIA")
    assert images.min() < 30 and images.max() > 200  # a full radiograph range, not a flat field


def test_masks_are_nonempty_exactly_for_pneumonia_and_lie_in_the_lungs(phantoms):
    has_lesion = phantoms.masks.any(axis=(1, 2))
    np.testing.assert_array_equal(has_lesion, phantoms.labels == 1)
    assert not np.any(phantoms.masks & ~phantoms.lungs)
    lung_share = phantoms.lungs.mean(axis=(1, 2))
    assert np.all((lung_share > 0.12) & (lung_share < 0.45))  # two lung fields, not the whole film


def test_lesions_are_brighter_than_the_rest_of_the_lung():
    ph = make_phantom(60, size=SIZE, difficulty="easy", seed=1)
    brighter = [ph.images[i][ph.masks[i]].mean() > ph.images[i][ph.lungs[i] & ~ph.masks[i]].mean()
                for i in np.flatnonzero(ph.labels == 1)]
    assert np.mean(brighter) >= 0.9


def test_difficulty_shrinks_the_lesions():
    areas = [make_phantom(30, size=SIZE, difficulty=d, pneumonia_fraction=1.0, seed=2).masks.mean()
             for d in ("easy", "hard")]
    assert areas[0] > 1.5 * areas[1] > 0


@pytest.mark.parametrize("n, fraction, expected", [(50, 0.3, 15), (40, 0.5, 20), (10, 0.0, 0), (10, 1.0, 10)])
def test_pneumonia_fraction_is_exact(n, fraction, expected):
    assert make_phantom(n, size=32, pneumonia_fraction=fraction, seed=3).labels.sum() == expected


def test_mean_intensity_does_not_give_the_label_away():
    ph = make_phantom(300, size=48, seed=4)
    assert 0.3 < auc(ph.images.mean(axis=(1, 2)), ph.labels) < 0.7


def test_shortcut_marker_agrees_with_the_label_at_the_requested_rate():
    ph = make_phantom(50, size=SIZE, shortcut=0.8, seed=5)
    assert set(ph.markers.tolist()) == {0, 1}
    assert (ph.markers == ph.labels).sum() == 40
    assert (make_phantom(50, size=SIZE, shortcut=1.0, seed=5).markers == ph.labels).all()
    assert MARKER_LETTERS == ("L", "R")


def test_the_marker_is_burned_into_the_top_left_corner_only():
    plain = make_phantom(20, size=SIZE, seed=6)
    agree = make_phantom(20, size=SIZE, shortcut=1.0, seed=6)
    disagree = make_phantom(20, size=SIZE, shortcut=0.0, seed=6)
    np.testing.assert_array_equal(plain.masks, agree.masks)  # same patients: only the marker changes
    changed = (plain.images != agree.images).any(axis=0)
    rows, cols = np.nonzero(changed)
    assert rows.max() < SIZE // 4 and cols.max() < SIZE // 4
    brighter = agree.images.astype(int) - plain.images.astype(int)
    assert (brighter.max(axis=(1, 2)) > 60).all()  # a bright letter on every image
    corner = (slice(0, SIZE // 4), slice(0, SIZE // 4))
    assert all(not np.array_equal(agree.images[i][corner], disagree.images[i][corner]) for i in range(20))


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=16), "at least 32"),
    (dict(pneumonia_fraction=1.5), "pneumonia_fraction"),
    (dict(difficulty="impossible"), "easy"),
    (dict(difficulty=2.0), r"outside \[0, 1\]"),
    (dict(shortcut=1.2), "probability"),
])
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_phantom(4, **{"size": SIZE, **kwargs})


@pytest.mark.parametrize("n, shown", [
    (2.5, r"n=2\.5 \(float\)"),
    (True, r"n=True \(bool\)"),
    (np.float64(3), r"n=(np\.float64\()?3\.0\)? \(float64\)"),  # numpy 2 writes np.float64(3.0), numpy 1 writes 3.0
    ("8", r"n='8' \(str\)"),
])
def test_a_count_that_is_not_a_whole_number_names_the_fix(n, shown):
    with pytest.raises(ValueError, match=shown + r": the number of images must be a whole number, an int such as n="):
        make_phantom(n, size=SIZE)


def test_a_negative_count_names_the_fix():
    with pytest.raises(ValueError, match=r"n=-1: the number of images cannot be negative; pass an int >= 0"):
        make_phantom(-1, size=SIZE)


def test_numpy_integers_are_whole_numbers():
    ph = make_phantom(np.int64(3), size=np.int32(SIZE), seed=np.uint8(2))
    assert ph.images.shape == (3, SIZE, SIZE)
    np.testing.assert_array_equal(ph.images, make_phantom(3, size=SIZE, seed=2).images)


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=64.0), r"size=64\.0 \(float\): the image side in pixels must be a whole number, an int such as"),
    (dict(seed=0.5), r"seed=0\.5 \(float\): the seed must be a whole number"),
    (dict(seed=-3), r"seed=-3: the seed cannot be negative"),
    (dict(pneumonia_fraction="half"), r"pneumonia_fraction='half': give the share of PNEUMONIA images, a number in"),
    (dict(pneumonia_fraction=float("nan")), r"pneumonia_fraction=nan: give the share"),
    (dict(difficulty=None), r"difficulty=None: use a number in \[0, 1\] or one of \['easy'"),
    (dict(shortcut="yes"), r"shortcut='yes': give the probability in \[0, 1\]"),
])
def test_other_numbers_numpy_would_choke_on_name_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_phantom(4, **{"size": SIZE, **kwargs})


def test_written_split_counts_are_checked_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"n_val=2\.5 \(float\): the number of val images must be a whole number"):
        write_phantom_dataset(tmp_path / "phantom", 4, 2.5, 2, size=SIZE)
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_show_xrays_draws_a_titled_grid_with_lesion_outlines(phantoms):
    fig = show_xrays(phantoms.images[:6], phantoms.labels[:6], phantoms.masks[:6], ncols=3)
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes] == [CLASS_NAMES[label] for label in phantoms.labels[:6]]
    outlined = [len(ax.collections) > 0 for ax in axes]
    assert outlined == (phantoms.labels[:6] == 1).tolist()
    rgb = np.repeat(phantoms.images[:2, ..., None], 3, axis=-1).astype(np.float32)
    assert len(show_xrays(rgb, titles=["a", "b"]).axes) == 2
    with pytest.raises(ValueError, match="one per image"):
        show_xrays(phantoms.images[:3], labels=[0, 1])
