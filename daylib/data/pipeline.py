"""tf.data pipelines for chest X-rays, augmentation layers and class weights.

Every dataset built here yields what the course's models take: RGB float32
images with values 0-255, shape ``(batch, size, size, 3)`` (grayscale films are
repeated over the three channels; the models do their own preprocessing), and
int32 labels. Decoding and resizing happen once: the resized images are cached
(in memory, or in a file you name), then shuffled per epoch, batched and prefetched.

Files are decoded and resized by :func:`daylib.data.images.load_image` (inside
``tf.numpy_function``), not by ``tf.io.decode_image``: one rule for every path,
so a film gives the same pixels here as in ``load_image`` (16-bit stretch, EXIF
orientation, palette/CMYK/alpha), and a file that cannot be decoded stops the
epoch with an error that names it and the fix. A Python decoder costs little
here: the pipeline caches the decoded images after the first epoch, Pillow and
OpenCV release the GIL while they work, and resizing a film before repeating it
into three channels is cheaper than TensorFlow's antialiased resize. Measured
on 2 shared cores (uncached epoch, best of 3): 200 phantom PNGs at 224 px went
from about 310-550 to 880-950 images/s, at 512 px from 210-245 to 315-335, and
300 JPEGs of 1280x1024 from 75-120 to 80-140.

Example:
    >>> from daylib.data import pneumonia, pipeline
    >>> data = pneumonia.load("phantom")
    >>> train_ds = pipeline.dataset_from_split(data.train, image_size=224, shuffle=True)
    >>> model.fit(train_ds, class_weight=pipeline.class_weights(data.train.labels))
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.data.folders import read_split
from daylib.data.images import ImageError, load_image, to_rgb_batch
from daylib.data.phantom import CLASS_NAMES
from daylib.data.splits import Split

Cache = Union[bool, str, Path]


def dataset_from_split(
    split: Split,
    image_size: int = 224,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    cache: Cache = True,
    with_masks: bool = False,
) -> tf.data.Dataset:
    """A dataset from a :class:`~daylib.data.splits.Split`, file-backed or in memory.

    Args:
        split: e.g. ``pneumonia.load(...).train``.
        image_size: output side in pixels.
        batch_size: images per batch.
        shuffle: reshuffle every epoch (seeded); use it for training only.
        seed: shuffle seed.
        cache: True caches the resized images in memory, a path caches them in
            that file, False re-reads every epoch.
        with_masks: yield ``(images, labels, masks)`` with bool ``(batch, size, size)``
            lesion masks (all False where an image has none), for scoring heatmaps.
            Not for ``fit``: Keras would read a third element as sample weights.

    Raises:
        ValueError: ``with_masks`` on a split that has no masks (real data).

    Example:
        >>> test_ds = dataset_from_split(data.test, image_size=224, with_masks=True)
        >>> images, labels, masks = next(iter(test_ds))
    """
    if with_masks and split.masks is None and split.mask_paths is None:
        raise ValueError("This split has no lesion masks (only phantom data has them): use with_masks=False.")
    options = dict(image_size=image_size, batch_size=batch_size, shuffle=shuffle, seed=seed, cache=cache)
    if split.images is not None:
        return dataset_from_arrays(split.images, split.labels, split.masks if with_masks else None, **options)
    return dataset_from_files(split.paths, split.labels, split.mask_paths if with_masks else None, **options)


def dataset_from_arrays(
    images: np.ndarray,
    labels: Sequence[int],
    masks: Optional[np.ndarray] = None,
    image_size: Optional[int] = None,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    cache: Cache = True,
) -> tf.data.Dataset:
    """A dataset from in-memory images (e.g. phantoms) and labels, optionally masks.

    Args:
        images: ``(n, H, W)`` grayscale or ``(n, H, W, 1|3)``; uint8 or float 0-255,
            checked by :func:`daylib.data.images.to_rgb_batch` (shape, range, NaN;
            a warning for values that look scaled to [0, 1]).
        labels: ``(n,)`` class indices.
        masks: ``(n, H, W)`` bool lesion masks; when given the dataset yields
            ``(images, labels, masks)`` (for evaluation, not for ``fit``).
        image_size: resize to this side; None keeps the arrays' size.
        batch_size, shuffle, seed, cache: as in :func:`dataset_from_split`.

    Raises:
        daylib.data.images.ImageError: images that are not an image batch (a ValueError).
        ValueError: counts that disagree.

    Example:
        >>> images, labels, masks = make_phantom(16, size=64)
        >>> ds = dataset_from_arrays(images, labels, image_size=96, batch_size=8)
        >>> next(iter(ds))[0].shape
        TensorShape([8, 96, 96, 3])
    """
    images = np.asarray(images)
    to_rgb_batch(images, role="images")  # the one image-batch check; the dataset keeps the compact array
    labels = np.asarray(labels, np.int32)
    if images.ndim == 3:
        images = images[..., None]
    if len(labels) != len(images) or (masks is not None and len(masks) != len(images)):
        raise ValueError(f"{len(images)} images but {len(labels)} labels"
                         + ("" if masks is None else f" and {len(masks)} masks") + ": pass one per image.")
    size = image_size or images.shape[1]
    tensors = (images, labels) if masks is None else (images, labels, np.asarray(masks, bool))

    def prepare(image, label, mask=None):
        image = _to_rgb(tf.cast(image, tf.float32))
        if image_size is not None:
            image = _resize(image, size)
        if mask is None:
            return image, label
        return image, label, _resize_mask(mask, size)

    ds = tf.data.Dataset.from_tensor_slices(tensors).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(ds, len(images), batch_size, shuffle, seed, cache)


def dataset_from_files(
    paths: Sequence[Union[str, Path]],
    labels: Sequence[int],
    mask_paths: Optional[Sequence[Optional[Union[str, Path]]]] = None,
    image_size: int = 224,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    cache: Cache = True,
) -> tf.data.Dataset:
    """A dataset from image files (JPEG/PNG/BMP/TIFF/WebP/GIF, 8 or 16 bit, gray or colour) and labels.

    Each file is read by :func:`daylib.data.images.load_image` with ``size=image_size``,
    the same decoding and resizing as a film loaded on its own.

    Args:
        paths: image files.
        labels: class index per file.
        mask_paths: per file a mask image (nonzero = lesion) or None for none;
            when given the dataset yields ``(images, labels, masks)``.
        image_size, batch_size, shuffle, seed, cache: as in :func:`dataset_from_split`.
            Images are squashed to ``image_size`` x ``image_size`` (no crop), like
            ``keras.utils.image_dataset_from_directory``.

    Raises:
        ValueError: no files, or counts that disagree.
        tensorflow.errors.InvalidArgumentError: while iterating, a file that cannot
            be decoded; the message names it and says to re-download or delete it,
            or to find all such files first with ``load_folder(root, verify="decode")``.

    Example:
        >>> ds = dataset_from_files(data.test.paths, data.test.labels, image_size=224)
    """
    if len(paths) == 0 or len(paths) != len(labels):
        raise ValueError(f"{len(paths)} paths and {len(labels)} labels: pass at least one file and one label per file.")
    tensors = ([str(p) for p in paths], np.asarray(labels, np.int32))
    if mask_paths is not None:
        tensors += (["" if m is None else str(m) for m in mask_paths],)

    read_film = functools.partial(_load_film, size=image_size)

    def prepare(path, label, mask_path=None):
        image = tf.numpy_function(read_film, [path], tf.uint8, stateful=False)
        image = tf.cast(tf.ensure_shape(image, [image_size, image_size, 3]), tf.float32)
        if mask_path is None:
            return image, label
        mask = tf.numpy_function(_load_mask, [mask_path], tf.bool, stateful=False)
        mask = tf.cond(tf.size(mask) > 0, lambda: _resize_mask(tf.ensure_shape(mask, [None, None]), image_size),
                       lambda: tf.zeros([image_size, image_size], tf.bool))
        return image, label, mask

    ds = tf.data.Dataset.from_tensor_slices(tensors).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(ds, len(paths), batch_size, shuffle, seed, cache)


def dataset_from_folder(
    folder: Union[str, Path],
    class_names: Sequence[str] = CLASS_NAMES,
    image_size: int = 224,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    cache: Cache = True,
) -> tf.data.Dataset:
    """A dataset from one split folder in ``image_dataset_from_directory`` layout (``folder/<class>/<images>``).

    Stray and unreadable files are skipped with a warning (see
    :func:`daylib.data.folders.read_split`). Labels follow ``class_names`` order.

    Raises:
        DatasetLayoutError: the folder or a class folder is missing or empty.

    Example:
        >>> ds = dataset_from_folder("data/chest_xray/test", image_size=224)
    """
    split, _ = read_split(folder, class_names)
    return dataset_from_files(split.paths, split.labels, image_size=image_size, batch_size=batch_size,
                              shuffle=shuffle, seed=seed, cache=cache)


def augmentation(
    rotation: float = 10.0,
    zoom: float = 0.1,
    translation: float = 0.05,
    contrast: float = 0.2,
    horizontal_flip: bool = False,
    seed: Optional[int] = None,
) -> keras.Sequential:
    """Random augmentation layers for X-rays, as a block to put at the start of a model.

    The layers act only in training (``model.fit``); at inference they pass
    images through unchanged. Defaults suit chest films: small rotations,
    zooms and shifts (patients are not positioned identically) and contrast
    changes (exposure varies). Horizontal flips are off by default: the heart
    is on the patient's left, a flipped film is anatomically wrong, and a flip
    also mirrors burned-in side markers.

    Args:
        rotation: maximum rotation in degrees, either way.
        zoom: maximum zoom in or out, as a fraction of the image size.
        translation: maximum shift, as a fraction of height / width.
        contrast: maximum contrast change factor (``keras.layers.RandomContrast``).
        horizontal_flip: add a random left-right flip.
        seed: seed for the random layers.

    Returns:
        ``keras.Sequential`` named ``"augmentation"``; zero for an argument drops that layer.
        Empty borders are filled with black, like the air around a patient.

    Example:
        >>> inputs = keras.Input((224, 224, 3))
        >>> x = augmentation()(inputs)
    """
    fill = dict(fill_mode="constant", fill_value=0.0, seed=seed)
    layers = []
    if horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed, name="flip"))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation / 360.0, name="rotation", **fill))
    if zoom:
        layers.append(keras.layers.RandomZoom((-zoom, zoom), name="zoom", **fill))
    if translation:
        layers.append(keras.layers.RandomTranslation(translation, translation, name="translation", **fill))
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, value_range=(0, 255), seed=seed, name="contrast"))
    return keras.Sequential(layers, name="augmentation")


def class_weights(labels: Sequence[int], num_classes: Optional[int] = None) -> dict[int, float]:
    """Balanced class weights ``n / (k * count_c)`` for ``model.fit(class_weight=...)``.

    Each class then contributes equally to the loss, however rare it is.

    Args:
        labels: class index per training image.
        num_classes: k; default: the largest label + 1.

    Raises:
        ValueError: no labels, negative labels, or a class with no examples.

    Example:
        >>> class_weights([0, 1, 1, 1])
        {0: 2.0, 1: 0.6666666666666666}
    """
    labels = np.asarray(labels, np.int64).ravel()
    if labels.size == 0 or labels.min() < 0:
        raise ValueError("labels must be a non-empty list of class indices (0, 1, ...).")
    k = num_classes or int(labels.max()) + 1
    counts = np.bincount(labels, minlength=k)
    if len(counts) > k or np.any(counts == 0):
        raise ValueError(f"class counts {counts.tolist()} for {k} classes: every class needs at least one example "
                         "and labels must be below num_classes.")
    return {c: float(labels.size / (k * counts[c])) for c in range(k)}


def _load_film(path: bytes, size: int) -> np.ndarray:
    """One file through the one decoding rule; a file that fails is named, with the fix."""
    name = os.fsdecode(path)
    try:
        return load_image(name, size=size)
    except (ImageError, OSError) as error:
        raise ImageError(
            f"{error} To find every such file before training, read the folder with "
            "daylib.data.folders.load_folder(root, verify='decode'), which skips them and names them."
        ) from None


def _load_mask(path: bytes) -> np.ndarray:
    """A lesion mask file as a bool array (bright = lesion); an empty array where the film has no mask file."""
    if not path:
        return np.zeros((0, 0), bool)
    return _load_film(path, size=None)[..., 0] > 127


def _to_rgb(image: tf.Tensor) -> tf.Tensor:
    return image if image.shape[-1] == 3 else tf.repeat(image, 3, axis=-1)


def _resize(image: tf.Tensor, size: int) -> tf.Tensor:
    resized = tf.image.resize(image, [size, size], method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def _resize_mask(mask: tf.Tensor, size: int) -> tf.Tensor:
    resized = tf.image.resize(tf.cast(mask, tf.uint8)[..., None], [size, size], method="nearest")
    return tf.cast(resized[..., 0], tf.bool)


def _finish(ds: tf.data.Dataset, n: int, batch_size: int, shuffle: bool, seed: int, cache: Cache) -> tf.data.Dataset:
    if cache:
        ds = ds.cache("" if cache is True else str(cache))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
