"""Pictures of digits turned into what the model saw in training, and back into text.

MNIST digits are light strokes on a dark background; each was scaled to fit a 20x20 box
(keeping its aspect ratio, anti-aliased) and placed in a 28x28 field so that its centre
of mass sits at the centre. :func:`to_mnist` does the same to a picture of any size and
mode. Pillow and numpy only: no TensorFlow, no matplotlib.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from rnncls.data import IMAGE_SIZE
from rnncls.errors import InputError

DIGIT_BOX = 20  # MNIST fitted each digit into 20x20 pixels inside the 28x28 field
INK_THRESHOLD = 0.25  # of the brightest ink: fainter pixels do not extend the digit's box
BLANK_CONTRAST = 16  # grey levels between background and the brightest ink, at least
TEXT_RAMP = " .:-=+*#%@"  # dark to light, for the terminal rendering


def read_image(path: Path) -> np.ndarray:
    """A PNG or JPEG (or any picture Pillow reads) as uint8 (28, 28), MNIST style."""
    return decode_image(path, str(path))


def decode_image(source: Path | bytes, name: str, max_pixels: int | None = None) -> np.ndarray:
    """A picture from a file or from bytes (an upload) as uint8 (28, 28), MNIST style.

    With ``max_pixels`` a larger picture is refused from its header alone, before any
    pixel is decoded: a small PNG can declare 20,000 x 20,000 pixels (a decompression
    bomb), which would take gigabytes to decode.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as picture:
            width, height = picture.size
            if max_pixels is not None and width * height > max_pixels:
                raise InputError(
                    f"{name}: a picture of {width} x {height} pixels; "
                    f"at most {max_pixels:,} pixels are read"
                )
            picture.load()
            grey = grey_levels(picture)
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image (PNG or JPEG) and not a .npy array") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputError(f"{name}: cannot read the image ({exc})") from None
    return to_mnist(grey, name)


def grey_levels(picture: Any) -> np.ndarray:
    """Float grey levels 0..255 of a Pillow image: EXIF rotation applied, transparency
    laid over a background that contrasts with the opaque pixels."""
    from PIL import ImageOps

    picture = ImageOps.exif_transpose(picture)
    if picture.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(picture, dtype=np.float64)
        if picture.mode == "F" and values.size and values.max() <= 1.0:
            return values * 255.0
        return values / 257.0 if values.size and values.max() > 255 else values
    has_alpha = picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in picture.info
    )
    if not has_alpha:
        try:
            return np.asarray(picture.convert("L"), dtype=np.float64)
        except ValueError:  # modes without a direct conversion (LAB, HSV)
            return np.asarray(picture.convert("RGB").convert("L"), dtype=np.float64)
    rgba = picture.convert("RGBA")
    luminance = np.asarray(rgba.convert("L"), dtype=np.float64)
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
    if alpha.min() >= 1.0:
        return luminance
    if alpha.sum() == 0:
        return np.zeros_like(luminance)
    # Dark strokes on a transparent sheet read as dark on white, light ones as light on black.
    ink_level = float((luminance * alpha).sum() / alpha.sum())
    background = 255.0 if ink_level < 128 else 0.0
    return luminance * alpha + background * (1.0 - alpha)


def to_mnist(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """Grey levels (h, w) to uint8 (28, 28): a light digit on a dark background, scaled
    into a 20x20 box and centred by its centre of mass, as the MNIST digits were.

    A picture that is already 28x28 is taken as an MNIST digit as it is (only turned
    light-on-dark where needed), so a digit saved from the data set reads back unchanged.
    """
    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise InputError(f"{name}: expected a two-dimensional picture, got shape {grey.shape}")
    if not np.isfinite(grey).all():  # a float TIFF can hold them
        raise InputError(f"{name}: the picture holds NaN or infinite values")
    if _background_level(grey) > 127:
        grey = 255.0 - grey
    if grey.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    ink = np.clip(grey - _background_level(grey), 0.0, None)
    if ink.max() < BLANK_CONTRAST:
        raise InputError(f"{name}: no digit found (the picture is blank)")
    ink *= 255.0 / ink.max()
    rows = np.flatnonzero((ink >= 255 * INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink >= 255 * INK_THRESHOLD).any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _centre(_fit_box(digit))


def _background_level(grey: np.ndarray) -> float:
    """The median of the picture's outermost pixels: the paper a digit is written on."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border))


def _fit_box(digit: np.ndarray) -> np.ndarray:
    """Scale so the longer side is DIGIT_BOX pixels, keeping the aspect ratio; area
    averaging when shrinking (MNIST's anti-aliasing), bilinear when growing."""
    from PIL import Image

    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = np.asarray(
        Image.fromarray(digit.astype(np.float32), mode="F").resize(size, resample),
        dtype=np.float64,
    )
    peak = resized.max()
    return resized * (255.0 / peak) if peak > 0 else resized


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place ``digit`` in a 28x28 field with its centre of mass at the field's centre."""
    height, width = digit.shape
    total = digit.sum()
    row_mass = (digit.sum(axis=1) * np.arange(height)).sum() / total
    col_mass = (digit.sum(axis=0) * np.arange(width)).sum() / total
    middle = (IMAGE_SIZE - 1) / 2
    top = int(np.clip(round(middle - row_mass), 0, IMAGE_SIZE - height))
    left = int(np.clip(round(middle - col_mass), 0, IMAGE_SIZE - width))
    field = np.zeros((IMAGE_SIZE, IMAGE_SIZE))
    field[top : top + height, left : left + width] = digit
    return np.clip(np.rint(field), 0, 255).astype(np.uint8)


def array_to_images(array: np.ndarray, name: str) -> np.ndarray:
    """An array of shape (28,28), (N,28,28), (N,784) or (784,) as uint8 (n, 28, 28).

    Integer arrays hold pixels 0..255; float arrays hold 0..1 (the model's own scale)
    or 0..255, told apart by their largest value.
    """
    shape = array.shape
    size = IMAGE_SIZE * IMAGE_SIZE
    if shape in ((IMAGE_SIZE, IMAGE_SIZE), (size,)):
        array = array.reshape(1, IMAGE_SIZE, IMAGE_SIZE)
    elif array.ndim == 2 and shape[1] == size:
        array = array.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    elif array.ndim != 3 or shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise InputError(
            f"{name}: array of shape {shape}; expected (28, 28), (N, 28, 28) or (N, 784)"
        )
    if len(array) == 0:
        raise InputError(f"{name}: the array holds no images (shape {shape})")
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.uint8) * 255
    if kind not in "uif":
        raise InputError(f"{name}: array of {array.dtype}; expected integer or float pixels")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if kind == "f" and not np.isfinite(array).all():
        raise InputError(f"{name}: the array holds NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 255:
        raise InputError(f"{name}: pixel values from {low:g} to {high:g}; expected 0..255")
    if kind == "f" and high <= 1.0:
        array = array * 255.0
    return np.rint(array).astype(np.uint8)


def render_text(images: np.ndarray, captions: list[str], width: int = 80) -> str:
    """Digits as text, 28 characters wide and 14 lines high each, side by side."""
    blocks = [_render_one(image, caption) for image, caption in zip(images, captions, strict=True)]
    per_row = max(1, (width + 2) // (IMAGE_SIZE + 2))
    rows = []
    for start in range(0, len(blocks), per_row):
        group = blocks[start : start + per_row]
        rows.append("\n".join("  ".join(lines).rstrip() for lines in zip(*group, strict=True)))
    return "\n\n".join(rows)


def _render_one(image: np.ndarray, caption: str) -> list[str]:
    pairs = image.astype(np.float64).reshape(IMAGE_SIZE // 2, 2, IMAGE_SIZE).mean(axis=1)
    levels = np.rint(pairs / 255.0 * (len(TEXT_RAMP) - 1)).astype(int)
    lines = ["".join(TEXT_RAMP[level] for level in row) for row in levels]
    return [*lines, caption[:IMAGE_SIZE].ljust(IMAGE_SIZE)]
