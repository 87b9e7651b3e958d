"""Read any image file (or array) into the one format the course uses, RGB uint8, and check image batches.

Chest X-rays arrive as 8- or 16-bit grayscale PNGs, JPEGs (phone photos with
an EXIF orientation), sometimes with an alpha channel, a palette or CMYK ink.
:func:`decode_image` is **the one decoding rule**: :func:`load_image` uses it
for files, and so does every tf.data path in :mod:`daylib.data.pipeline`, so
the same file gives the same pixels everywhere. :func:`to_rgb_batch` is the one
check every module runs on a batch of images before a model sees it.

Example:
    >>> from daylib.data.images import load_image
    >>> img = load_image("data/images/chelsea.png", size=224)
    >>> img.shape, img.dtype
    ((224, 224, 3), dtype('uint8'))
"""
from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from daylib.arguments import count

ImageLike = Union[str, os.PathLike, np.ndarray]
Size = Union[int, tuple[int, int], None]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}

PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)
"""What Pillow raises on a file it cannot open, verify or decode (it has no single error type for it)."""

_AS_IS_MODES = {"1", "L", "RGB", "RGBA", "I", "F"}
"""Pillow modes whose pixels are taken as they are; every other mode is converted to RGB(A) by Pillow."""


class ImageError(ValueError):
    """An input that cannot be used as an image; the message names the fix."""


def load_image(image: ImageLike, size: Size = None) -> np.ndarray:
    """Return ``image`` as an RGB uint8 array of shape ``(H, W, 3)``.

    Args:
        image: a path to a JPEG/PNG/BMP/TIFF/WebP/GIF file, decoded by
            :func:`decode_image` (the course's one rule: EXIF orientation, any
            bit depth, any colour mode); or a NumPy array (``(H, W)`` grayscale,
            ``(H, W, 1|3|4)``; uint8, uint16 or float in [0, 1]) taken to be
            RGB(A). 16-bit data is stretched to 8 bits by its own min..max, so
            dim 16-bit radiographs are not crushed to black.
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
        pixels = _array_to_pixels(image, source="the array")
    elif isinstance(image, (str, os.PathLike)):
        pixels = _read_file(Path(image))
    else:
        raise ImageError(f"load_image takes a file path or a NumPy array, got {type(image).__name__}: "
                         "pass e.g. load_image('data/images/chelsea.png') or load_image(np.asarray(picture)).")
    if size is not None:
        pixels = resize(pixels, size)  # before going to three channels: a third of the work for films
    return _three_channels(pixels)


def decode_image(data: bytes, source: str = "the image bytes") -> np.ndarray:
    """Decode an image file's bytes to RGB uint8 ``(H, W, 3)``: the one decoding rule of the course.

    The rule, the same for :func:`load_image` and every tf.data path:

    - Pillow decodes the file; it knows the formats the course meets, honours
      the EXIF orientation (``ImageOps.exif_transpose``: a phone photo comes out
      upright) and converts palette, CMYK (Adobe's inverted CMYK too),
      YCbCr and grey+alpha modes itself. Pillow holds 16-bit *colour* in 8-bit
      modes, so those files (rare for films) are decoded by OpenCV at full depth.
    - Bit depth: 8-bit data is kept as it is; deeper data (16-bit PNG/TIFF,
      often 12-bit values from the scanner) is stretched linearly from the
      image's own min..max to 0..255. Dividing by 65535 would turn a 12-bit
      film black; its own range keeps every film visible, at the price of
      ignoring absolute exposure (which differs between machines anyway).
    - Grayscale is repeated into three channels; an alpha channel is
      composited on white (a transparent background reads as blank paper).

    Args:
        data: the file's bytes.
        source: how to name the file in errors (its path).

    Raises:
        ImageError: empty, corrupt, truncated or not an image; the message names
            ``source`` and the fix.

    Example:
        >>> decode_image(Path("data/images/chelsea.png").read_bytes(), "chelsea.png").shape
        (300, 451, 3)
    """
    return _three_channels(_decode_pixels(data, source))


def _decode_pixels(data: bytes, source: str) -> np.ndarray:
    """:func:`decode_image` up to uint8 ``(H, W)`` grayscale or ``(H, W, 3)`` RGB."""
    if len(data) == 0:
        raise ImageError(f"{source} is an empty file (0 bytes): re-download or re-export it.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = _pillow_pixels(image, data)
    except PILLOW_ERRORS as error:
        reason = "not a format Pillow knows" if isinstance(error, UnidentifiedImageError) else str(error)
        raise ImageError(
            f"{source} could not be decoded as an image ({reason}; first bytes {data[:8]!r}, {len(data)} bytes). "
            "It is corrupt, truncated or not an image: re-download it, or delete it from the folder."
        ) from None
    return _array_to_pixels(pixels, source)


def resize(image: np.ndarray, size: Union[int, tuple[int, int]]) -> np.ndarray:
    """Resize an ``(H, W[, C])`` array to ``size`` (int or ``(height, width)``).

    Area interpolation when shrinking (no aliasing), bicubic when enlarging.

    Example:
        >>> resize(np.zeros((10, 20, 3), np.uint8), (5, 10)).shape
        (5, 10, 3)
    """
    height, width = _size(size)
    shrinking = height * width < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = cv2.resize(image, (int(width), int(height)), interpolation=interp)
    if image.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out


def _size(size) -> tuple[int, int]:
    """``size`` as ``(height, width)``: one whole number for a square, or two."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return count(size[0], "size[0] (height)"), count(size[1], "size[1] (width)")
    if isinstance(size, (tuple, list)):
        raise ImageError(f"size={size!r}: give one whole number (a square, e.g. size=224) or (height, width).")
    side = count(size, "size", example=224)
    return side, side


def _read_file(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"No image at {path}: check the path (relative paths start at {Path.cwd()}).")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file.")
    return _decode_pixels(path.read_bytes(), source=str(path))


def _pillow_pixels(image: Image.Image, data: bytes) -> np.ndarray:
    """The pixels of an open Pillow image, upright, at full depth, in a mode :func:`_array_to_pixels` takes.

    ``np.array`` (a copy), not ``np.asarray``: Pillow's buffer is read-only, and callers may draw on the result.
    """
    if _pillow_keeps_8_of_16_bits(image):
        image = _full_depth_colour(image, data)
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode.startswith("I;16") or (image.mode in _AS_IS_MODES and "transparency" not in image.info):
        return np.array(image)
    has_alpha = "A" in image.mode or "a" in image.mode or "transparency" in image.info
    return np.array(image.convert("RGBA" if has_alpha else "RGB"))


def _pillow_keeps_8_of_16_bits(image: Image.Image) -> bool:
    """True for 16-bit colour or grey+alpha: Pillow reads them (raw mode e.g. ``RGB;16B``) into 8-bit modes."""
    if image.mode.startswith(("I", "F")) or not image.tile:
        return False
    args = image.tile[0][3]  # (codec, extents, offset, args): a plain tuple before Pillow 11, a named one since
    rawmode = args[0] if isinstance(args, tuple) else args
    return isinstance(rawmode, str) and ";16" in rawmode


def _full_depth_colour(image: Image.Image, data: bytes) -> Image.Image:
    """Decode 16-bit colour with OpenCV, stretch it by the one rule, keep the file's EXIF for the orientation."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.ndim != 3:
        raise OSError(f"{image.format} file with 16-bit samples that OpenCV cannot decode")
    code = cv2.COLOR_BGR2RGB if pixels.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
    stretched = Image.fromarray(_array_to_pixels(cv2.cvtColor(pixels, code), source="the 16-bit colour image"))
    stretched.info["exif"] = image.getexif().tobytes()
    return stretched


def _three_channels(pixels: np.ndarray) -> np.ndarray:
    return pixels if pixels.ndim == 3 else cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)


def _array_to_pixels(array: np.ndarray, source: str) -> np.ndarray:
    """An image array as uint8 ``(H, W)`` grayscale or ``(H, W, 3)`` RGB (alpha composited on white)."""
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
    if array.ndim == 2:
        return _to_uint8(array, source)
    if array.shape[2] == 4:
        rgb = _to_uint8(array[..., :3], source).astype(np.float32)
        alpha = _alpha_fraction(array[..., 3:], source)
        return np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)  # composite on white
    return np.ascontiguousarray(_to_uint8(array, source))


def _alpha_fraction(alpha: np.ndarray, source: str) -> np.ndarray:
    """Opacity 0..1: integer alpha over its type's full scale, float alpha in [0, 1] or [0, 255]."""
    if np.issubdtype(alpha.dtype, np.integer):
        return alpha.astype(np.float32) / float(np.iinfo(alpha.dtype).max)
    return _to_uint8(alpha, source).astype(np.float32) / 255.0


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
    keep_uint8: bool = False,
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

    ``keep_uint8=True`` returns a uint8 batch as uint8 (still ``(n, H, W, 3)``): a quarter of
    the memory and of the hashing for the training inputs, and exact, because a Keras model
    casts its input to float32 on the way in.

    Raises:
        ImageError: any rule above broken; the message names the problem and the fix.

    Example:
        >>> to_rgb_batch(np.zeros((2, 8, 8), np.uint8)).shape
        (2, 8, 8, 3)
        >>> to_rgb_batch(np.zeros((8, 8, 3)), single=True, input_shape=(8, 8, 3)).shape
        (1, 8, 8, 3)
        >>> to_rgb_batch(np.zeros((2, 8, 8), np.uint8), keep_uint8=True).dtype
        dtype('uint8')
    """
    what = role[:1].upper() + role[1:]
    if isinstance(images, (list, tuple)):
        shapes = {np.shape(image) for image in images}
        if len(shapes) > 1:
            raise ImageError(f"{what} differ in shape ({sorted(shapes)[:3]}): resize them to one size first, "
                             "e.g. with daylib.data.images.resize(image, size).")
        images = np.stack(images) if images else np.zeros((0, 0, 0, 3))
    array = np.asarray(images)
    if array.dtype == object or np.iscomplexobj(array) or not (np.issubdtype(array.dtype, np.number)
                                                              or array.dtype == np.bool_):
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
    _check_values(array, what)
    batch = array if keep_uint8 and array.dtype == np.uint8 else array.astype(np.float32, copy=False)
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
    """Finite and within 0-255, checked in the batch's own dtype (a float64 1e300 is out of range, not "infinite")."""
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
