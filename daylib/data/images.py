"""Read any image file (or array) into the one format the course uses, RGB uint8, and check image batches.

Chest X-rays arrive as 8- or 16-bit grayscale PNGs, JPEGs, sometimes with an
alpha channel or a palette. :func:`load_image` turns all of them into an
``(H, W, 3)`` uint8 array and fails with a message that says what went wrong
and what to do about it. :func:`to_rgb_batch` is the one check every module
runs on a batch of images before a model sees it.

Example:
    >>> from daylib.data.images import load_image
    >>> img = load_image("data/images/chelsea.png", size=224)
    >>> img.shape, img.dtype
    ((224, 224, 3), dtype('uint8'))
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np

ImageLike = Union[str, os.PathLike, np.ndarray]
Size = Union[int, tuple[int, int], None]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class ImageError(ValueError):
    """An input that cannot be used as an image; the message names the fix."""


def load_image(image: ImageLike, size: Size = None) -> np.ndarray:
    """Return ``image`` as an RGB uint8 array of shape ``(H, W, 3)``.

    Args:
        image: a path to a JPEG/PNG/BMP/TIFF file, or a NumPy array
            (``(H, W)`` grayscale, ``(H, W, 1|3|4)``; uint8, uint16 or float in [0, 1]).
            Arrays are taken to be RGB(A), files are decoded by OpenCV (BGR) and
            converted. 16-bit data is scaled to 8 bits by its own range, so dark
            16-bit radiographs are not crushed to black.
        size: ``None`` keeps the size, an int gives a square, ``(height, width)``
            anything else. Shrinking uses area interpolation, enlarging bicubic.

    Raises:
        FileNotFoundError: the path does not exist.
        ImageError: the file is not a readable image, or is empty / one pixel.

    Example:
        >>> load_image(np.zeros((8, 8), np.uint16), size=4).shape
        (4, 4, 3)
    """
    if isinstance(image, np.ndarray):
        rgb = _array_to_rgb(image, source="the array")
    else:
        rgb = _read_file(Path(image))
    if size is not None:
        rgb = resize(rgb, size)
    return rgb


def resize(image: np.ndarray, size: Union[int, tuple[int, int]]) -> np.ndarray:
    """Resize an ``(H, W[, C])`` array to ``size`` (int or ``(height, width)``).

    Area interpolation when shrinking (no aliasing), bicubic when enlarging.

    Example:
        >>> resize(np.zeros((10, 20, 3), np.uint8), (5, 10)).shape
        (5, 10, 3)
    """
    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise ImageError(f"size must be positive, got {size!r}")
    shrinking = height * width < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = cv2.resize(image, (int(width), int(height)), interpolation=interp)
    if image.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out


def _read_file(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"No image at {path}: check the path (relative paths start at {Path.cwd()}).")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file.")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0:
        raise ImageError(f"{path} is an empty file (0 bytes): re-download or re-export it.")
    decoded = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        head = raw[:8].tobytes()
        raise ImageError(
            f"{path} could not be decoded as an image (first bytes {head!r}, {raw.size} bytes). "
            "It is corrupt, truncated or not an image: re-download it, or delete it from the folder."
        )
    if decoded.ndim == 3 and decoded.shape[2] == 3:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    elif decoded.ndim == 3 and decoded.shape[2] == 4:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA)
    return _array_to_rgb(decoded, source=str(path))


def _array_to_rgb(array: np.ndarray, source: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(
            f"{source} has shape {array.shape}; expected (H, W) grayscale or (H, W, 1|3|4) channels. "
            "For a batch, pass one image at a time."
        )
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise ImageError(
            f"{source} is {array.shape[0]}x{array.shape[1]} pixels: too small to be an image (at least 2x2 needed)."
        )
    array = _to_uint8(array, source)
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.shape[2] == 4:
        rgb = array[..., :3].astype(np.float32)
        alpha = array[..., 3:].astype(np.float32) / 255.0
        return np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)  # composite on white
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray, source: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        lo, hi = int(array.min()), int(array.max())
        if hi <= 255 and lo >= 0 and array.dtype.itemsize == 1:
            return array.astype(np.uint8)
        if hi == lo:
            return np.zeros(array.shape, np.uint8)
        scaled = (array.astype(np.float64) - lo) / (hi - lo) * 255.0
        return np.round(scaled).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ImageError(f"{source} contains NaN or infinite values; clean the array first.")
        if array.min() < 0.0 or array.max() > 255.0:
            raise ImageError(
                f"{source} is float with values in [{array.min():.3g}, {array.max():.3g}]; "
                "expected [0, 1] or [0, 255]. Rescale it first."
            )
        scale = 255.0 if array.max() <= 1.0 else 1.0
        return np.round(array * scale).astype(np.uint8)
    raise ImageError(f"{source} has dtype {array.dtype}; expected uint8, uint16 or float.")


class ImageRangeWarning(UserWarning):
    """A batch whose values look scaled to [0, 1], given to a model that takes RGB 0-255."""


InputShape = Optional[Sequence[Optional[int]]]


def to_rgb_batch(
    images: Union[np.ndarray, Sequence[np.ndarray]],
    *,
    input_shape: InputShape = None,
    single: bool = False,
    role: str = "images",
) -> np.ndarray:
    """**The** image-batch check: a batch as the course's models take it, ``(n, H, W, 3)`` float32, 0-255.

    Every module that hands images to a model calls this (training, evaluation, heatmaps,
    widgets, tf.data from arrays), so one set of rules holds everywhere:

    - shape: a batch ``(n, H, W)``, ``(n, H, W, 1)`` (grayscale, repeated into three
      channels, as radiographs are) or ``(n, H, W, 3)``; with ``single=True`` also one image
      ``(H, W[, 1|3])`` or a list of equal-sized images. At least one image.
    - size: with ``input_shape`` (the model's, without the batch axis) the height and width
      must match where the model fixes them.
    - values: finite (the error names the first image with NaN or inf) and within 0-255.
      A batch whose largest value is above 0 but at most 1.0 looks scaled to [0, 1]:
      it is accepted with an :class:`ImageRangeWarning`, since a model that takes 0-255
      sees it as an almost black image.

    Raises:
        ImageError: any rule above broken; the message names the problem and the fix.

    Example:
        >>> to_rgb_batch(np.zeros((2, 8, 8), np.uint8)).shape
        (2, 8, 8, 3)
        >>> to_rgb_batch(np.zeros((8, 8, 3)), single=True, input_shape=(8, 8, 3)).shape
        (1, 8, 8, 3)
    """
    what = role[:1].upper() + role[1:]
    if isinstance(images, (list, tuple)):
        shapes = {np.shape(image) for image in images}
        if len(shapes) > 1:
            raise ImageError(f"{what} differ in shape ({sorted(shapes)[:3]}): resize them to one size first, "
                             "e.g. with daylib.data.images.resize(image, size).")
        images = np.stack(images) if images else np.zeros((0, 0, 0, 3))
    array = np.asarray(images)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ImageError(f"{what} have dtype {array.dtype}; expected numbers (uint8 or float, 0-255).")
    if single and (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3))):
        array = array[None]
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        one = " or one image (H, W, 3)" if single else ""
        raise ImageError(
            f"{what} have shape {np.shape(images)}; expected a batch (n, H, W, 3) RGB or (n, H, W) grayscale{one}. "
            "Stack single images with np.stack([...])."
        )
    if len(array) == 0:
        raise ImageError(f"{what} are an empty batch (0 images): pass at least one image.")
    if input_shape is not None:
        _check_size(array, tuple(input_shape), what)
    batch = array.astype(np.float32)
    _check_values(batch, what)
    if batch.shape[-1] == 1:
        batch = np.repeat(batch, 3, axis=-1)
    return batch


def _check_size(array: np.ndarray, input_shape: tuple, what: str) -> None:
    height, width = input_shape[:2]
    if (height is not None and array.shape[1] != height) or (width is not None and array.shape[2] != width):
        raise ImageError(
            f"{what} are {array.shape[1]}x{array.shape[2]} but the model expects {height}x{width}: "
            "resize them first, e.g. with daylib.data.images.resize(image, size)."
        )


def _check_values(batch: np.ndarray, what: str) -> None:
    finite = np.isfinite(batch.reshape(len(batch), -1)).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise ImageError(
            f"{what} contain NaN or infinite values ({int((~finite).sum())} image(s), the first is index {first}): "
            "clean or drop those images first."
        )
    low, high = float(batch.min()), float(batch.max())
    if low < 0.0 or high > 255.0:
        raise ImageError(
            f"{what} have values in [{low:.4g}, {high:.4g}]; the course's models take RGB 0-255 and do their own "
            "preprocessing. Pass raw pixels (not preprocess_input output); 16-bit films go through "
            "daylib.data.images.load_image, which scales them to 0-255."
        )
    if 0.0 < high <= 1.0:
        warnings.warn(
            f"{what} have values in [{low:.3g}, {high:.3g}]: they look scaled to [0, 1], but the course's models "
            "take RGB 0-255 (daylib.data.images), so they would see an almost black image. Multiply by 255.",
            ImageRangeWarning,
            stacklevel=3,
        )
