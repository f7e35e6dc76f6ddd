"""The picture reader: picture files and arrays turned into the pictures a run reads.

Two preparations (a run records which one it uses, ``DataSet.preparation``):

- ``plain``: the picture converted to the run's channels (grey or colour, transparency
  laid over black) and pixel depth, and resized to the run's size. A folder's pictures
  are read so for training, and every picture given to a run that is not of digits.
- ``digits``: made to look like an MNIST digit. MNIST digits are light strokes on a dark
  background; each was scaled to fit a 20x20 box (keeping its aspect ratio,
  anti-aliased) and placed in a 28x28 field so that its centre of mass sits at the
  centre. :func:`to_mnist` does the same to a grey picture of any size and mode, for a
  field of any size (the box keeps MNIST's proportion, 20/28 of the field).

Pillow and numpy only: no TensorFlow, no matplotlib.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rnncls.errors import InputError

if TYPE_CHECKING:
    from rnncls.datasets.description import DataSet

MNIST_FIELD = 28  # MNIST's pictures: 28x28 pixels, 8 bits
MNIST_BOX = 20  # MNIST fitted each digit into 20x20 pixels inside the 28x28 field
EIGHT_BITS = 255
INK_THRESHOLD = 0.25  # of the brightest ink: fainter pixels do not extend the digit's box
BLANK_CONTRAST = 16  # grey levels between background and the brightest ink, at least
TEXT_RAMP = " .:-=+*#%@"  # dark to light, for the terminal rendering
TEXT_WIDTH = 28  # characters a picture takes in the terminal, at most
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")
GREY_MODES = ("1", "L", "LA", "La", "F", *SIXTEEN_BIT_MODES)
PICTURE_ERRORS = "not a picture (PNG, JPEG, BMP, TIFF, WebP)"
EXIF_ORIENTATION = 0x0112


def read_image(path: Path) -> np.ndarray:
    """A PNG or JPEG (or any picture Pillow reads) as uint8 (28, 28), MNIST style."""
    return decode_image(path, str(path))


def open_picture(source: Path | bytes, name: str, max_pixels: int | None = None) -> Any:
    """A Pillow image, loaded, with its EXIF rotation applied; an unreadable one is an
    :class:`InputError` naming ``name``.

    With ``max_pixels`` a larger picture is refused from its header alone, before any
    pixel is decoded: a small PNG can declare 20,000 x 20,000 pixels (a decompression
    bomb), which would take gigabytes to decode.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as picture:
            width, height = picture.size
            if max_pixels is not None and width * height > max_pixels:
                raise InputError(
                    f"{name}: a picture of {width} x {height} pixels; "
                    f"at most {max_pixels:,} pixels are read"
                )
            picture.load()
            return ImageOps.exif_transpose(picture)
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image (PNG or JPEG) and not a .npy array") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputError(f"{name}: cannot read the image ({exc})") from None


def decode_image(source: Path | bytes, name: str, max_pixels: int | None = None) -> np.ndarray:
    """A picture from a file or from bytes (an upload) as uint8 (28, 28), MNIST style."""
    return to_mnist(grey_levels(open_picture(source, name, max_pixels)), name)


def read_picture(
    source: Path | bytes, name: str, dataset: DataSet, max_pixels: int | None = None
) -> np.ndarray:
    """A picture file (or its bytes) as one of ``dataset``'s pictures: (height, width,
    channels) in its dtype, prepared as the run says (``digits`` or ``plain``)."""
    picture = open_picture(source, name, max_pixels)
    if dataset.preparation == "digits" and dataset.channels == 1:
        digit = to_mnist(grey_levels(picture), name, (dataset.height, dataset.width))
        return to_depth(digit[..., np.newaxis], dataset.pixel_max)
    return plain_picture(picture, dataset.shape, dataset.pixel_max, name)


def picture_kind(picture: Any) -> tuple[int, int]:
    """(channels, pixel_max) a picture needs: 1 or 3, 255 or 65535."""
    mode = picture.mode
    if mode in SIXTEEN_BIT_MODES:
        return 1, 65535
    if mode in GREY_MODES:
        return 1, EIGHT_BITS
    if mode in ("P", "PA"):
        palette = picture.getpalette() or []
        rgb = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
        return (1 if (rgb == rgb[:, :1]).all() else 3), EIGHT_BITS
    return 3, EIGHT_BITS


def picture_header(path: Path) -> tuple[int, int, int, int]:
    """(height, width, channels, pixel_max) of a picture file from its header alone (the
    EXIF rotation counted), without decoding its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            width, height = picture.size
            if picture.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):  # turned a quarter
                width, height = height, width
            return (height, width, *picture_kind(picture))
    except UnidentifiedImageError:
        raise InputError(f"{path}: {PICTURE_ERRORS}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: cannot read the picture ({exc})") from None


def to_depth(values: np.ndarray, pixel_max: int) -> np.ndarray:
    """Float or 8-bit values 0..255 as the run's pixels: uint8, or uint16 (x 257)."""
    values = np.asarray(values, dtype=np.float64)
    if pixel_max > EIGHT_BITS:
        values = values * (pixel_max / EIGHT_BITS)
    return np.clip(np.rint(values), 0, pixel_max).astype(
        np.uint8 if pixel_max <= 255 else np.uint16
    )


def plain_picture(
    picture: Any, shape: tuple[int, ...], pixel_max: int, name: str = "picture"
) -> np.ndarray:
    """A Pillow image as (height, width, channels) pixels of the given depth: 16-bit grey
    kept at 16 bits, floats of at most 1 as fractions of ``pixel_max`` (larger floats as
    levels of 255), transparency laid over black, colour to grey by luminance (or grey
    to three equal channels), resized to ``shape`` (anti-aliased bilinear)."""
    from PIL import Image

    height, width, channels = shape
    mode = picture.mode
    if mode in SIXTEEN_BIT_MODES or mode == "F":
        values = np.asarray(picture, dtype=np.float64)
        if mode == "F" and values.size and np.nanmax(values) <= 1.0:
            values = values * pixel_max  # fractions of white
        elif mode != "F" and pixel_max <= EIGHT_BITS:
            values = values / 257.0  # a 16-bit picture in an 8-bit run
        elif mode == "F":
            values = values * (pixel_max / EIGHT_BITS)
        if not np.isfinite(values).all():
            raise InputError(f"{name}: the picture holds NaN or infinite values")
        layers = [np.clip(values, 0, pixel_max)]
        scale = 1.0
    else:
        has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info
        if has_alpha:
            rgba = np.asarray(picture.convert("RGBA"), dtype=np.float64)
            colour = rgba[..., :3] * (rgba[..., 3:] / EIGHT_BITS)  # over black
        else:
            try:
                colour = np.asarray(picture.convert("RGB"), dtype=np.float64)
            except ValueError:  # modes without a direct conversion
                colour = np.asarray(picture.convert("RGBA").convert("RGB"), dtype=np.float64)
        layers = [colour[..., index] for index in range(3)]
        scale = pixel_max / EIGHT_BITS
    if channels == 1 and len(layers) == 3:
        # ITU-R 601-2 luma, as Pillow's convert("L") computes it
        layers = [layers[0] * 0.299 + layers[1] * 0.587 + layers[2] * 0.114]
    elif channels == 3 and len(layers) == 1:
        layers = layers * 3
    resized = []
    for layer in layers:
        if layer.shape != (height, width):
            image = Image.fromarray(layer.astype(np.float32), mode="F")
            layer = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
        resized.append(layer)
    values = np.stack(resized, axis=-1) * scale
    dtype = np.uint8 if pixel_max <= EIGHT_BITS else np.uint16
    return np.clip(np.rint(values), 0, pixel_max).astype(dtype)


def grey_levels(picture: Any) -> np.ndarray:
    """Float grey levels 0..255 of a Pillow image (EXIF rotation applied by
    :func:`open_picture`): transparency laid over a background that contrasts with the
    opaque pixels."""
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


def to_mnist(
    grey: np.ndarray, name: str = "image", field: tuple[int, int] = (MNIST_FIELD, MNIST_FIELD)
) -> np.ndarray:
    """Grey levels (h, w) to uint8 ``field`` (28x28 by default): a light digit on a dark
    background, scaled into a box of 20/28 of the field and centred by its centre of
    mass, as the MNIST digits were.

    A picture that is already of the field's size is taken as a digit of the data set as
    it is (only turned light-on-dark where needed), so a digit saved from the data set
    reads back unchanged.
    """
    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise InputError(f"{name}: expected a two-dimensional picture, got shape {grey.shape}")
    if not np.isfinite(grey).all():  # a float TIFF can hold them
        raise InputError(f"{name}: the picture holds NaN or infinite values")
    if _background_level(grey) > 127:
        grey = 255.0 - grey
    if grey.shape == tuple(field):
        return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    ink = np.clip(grey - _background_level(grey), 0.0, None)
    if ink.max() < BLANK_CONTRAST:
        raise InputError(f"{name}: no digit found (the picture is blank)")
    ink *= 255.0 / ink.max()
    rows = np.flatnonzero((ink >= 255 * INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink >= 255 * INK_THRESHOLD).any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box = max(1, round(min(field) * MNIST_BOX / MNIST_FIELD))
    return _centre(_fit_box(digit, box), field)


def _background_level(grey: np.ndarray) -> float:
    """The median of the picture's outermost pixels: the paper a digit is written on."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border))


def _fit_box(digit: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """Scale so the longer side is ``box`` pixels, keeping the aspect ratio; area
    averaging when shrinking (MNIST's anti-aliasing), bilinear when growing."""
    from PIL import Image

    height, width = digit.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = np.asarray(
        Image.fromarray(digit.astype(np.float32), mode="F").resize(size, resample),
        dtype=np.float64,
    )
    peak = resized.max()
    return resized * (255.0 / peak) if peak > 0 else resized


def _centre(digit: np.ndarray, field: tuple[int, int] = (MNIST_FIELD, MNIST_FIELD)) -> np.ndarray:
    """Place ``digit`` in a field of ``field`` pixels with its centre of mass at the
    field's centre."""
    height, width = digit.shape
    field_height, field_width = field
    total = digit.sum()
    row_mass = (digit.sum(axis=1) * np.arange(height)).sum() / total
    col_mass = (digit.sum(axis=0) * np.arange(width)).sum() / total
    top = int(np.clip(round((field_height - 1) / 2 - row_mass), 0, field_height - height))
    left = int(np.clip(round((field_width - 1) / 2 - col_mass), 0, field_width - width))
    placed = np.zeros(field)
    placed[top : top + height, left : left + width] = digit
    return np.clip(np.rint(placed), 0, 255).astype(np.uint8)


def accepted_shapes(shape: tuple[int, int, int]) -> str:
    """The array shapes that :func:`array_to_images` takes, for its messages."""
    height, width, channels = shape
    if channels == 1:
        return f"({height}, {width}), (N, {height}, {width}) or (N, {height * width})"
    return (
        f"({height}, {width}, {channels}), (N, {height}, {width}, {channels}) "
        f"or (N, {height * width * channels})"
    )


def array_to_images(
    array: np.ndarray,
    name: str,
    shape: tuple[int, int, int] = (MNIST_FIELD, MNIST_FIELD, 1),
    pixel_max: int = EIGHT_BITS,
) -> np.ndarray:
    """An array of one picture or many, in ``shape`` (height, width, channels), as the
    run's pixels (n, height, width, channels): uint8 (uint16 for 16-bit runs).

    A grey run takes (h, w), (N, h, w), (N, h*w) or (h*w,); a colour run (h, w, c),
    (N, h, w, c), (N, h*w*c) or (h*w*c,); (N, h, w, 1) too. Integer arrays hold pixels
    0..pixel_max; float arrays hold 0..1 (the model's own scale) or 0..pixel_max, told
    apart by their largest value.
    """
    height, width, channels = shape
    size = height * width * channels
    one = (height, width) if channels == 1 else (height, width, channels)
    if array.shape in (one, (size,)):
        array = array.reshape(1, height, width, channels)
    elif array.ndim == 2 and array.shape[1] == size:
        array = array.reshape(-1, height, width, channels)
    elif array.ndim == len(one) + 1 and array.shape[1:] == one:
        array = array.reshape(-1, height, width, channels)
    elif not (array.ndim == 4 and array.shape[1:] == (height, width, channels)):
        raise InputError(f"{name}: array of shape {array.shape}; expected {accepted_shapes(shape)}")
    if len(array) == 0:
        raise InputError(f"{name}: the array holds no images (shape {array.shape})")
    dtype = np.uint8 if pixel_max <= EIGHT_BITS else np.uint16
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(dtype) * pixel_max
    if kind not in "uif":
        raise InputError(f"{name}: array of {array.dtype}; expected integer or float pixels")
    if array.dtype == dtype:
        return np.ascontiguousarray(array)
    if kind == "f" and not np.isfinite(array).all():
        raise InputError(f"{name}: the array holds NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > pixel_max:
        raise InputError(f"{name}: pixel values from {low:g} to {high:g}; expected 0..{pixel_max}")
    if kind == "f" and high <= 1.0:
        array = array * float(pixel_max)
    return np.rint(array).astype(dtype)


def render_text(
    images: np.ndarray, captions: list[str], width: int = 80, pixel_max: int = EIGHT_BITS
) -> str:
    """Pictures as text, side by side: at most TEXT_WIDTH characters wide, a character
    for two rows (colour pictures by their mean grey level)."""
    blocks = [
        _render_one(image, caption, pixel_max)
        for image, caption in zip(images, captions, strict=True)
    ]
    if not blocks:
        return ""
    block_width = len(blocks[0][0])
    per_row = max(1, (width + 2) // (block_width + 2))
    rows = []
    for start in range(0, len(blocks), per_row):
        group = blocks[start : start + per_row]
        rows.append("\n".join("  ".join(lines).rstrip() for lines in zip(*group, strict=True)))
    return "\n\n".join(rows)


def _render_one(image: np.ndarray, caption: str, pixel_max: int = EIGHT_BITS) -> list[str]:
    grey = np.asarray(image, dtype=np.float64)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    height, width = grey.shape
    columns = min(width, TEXT_WIDTH)
    lines_high = max(1, round(height * columns / width / 2))
    # mean of the pixels that fall in each character's cell
    row_edges = np.linspace(0, height, lines_high + 1).round().astype(int)
    col_edges = np.linspace(0, width, columns + 1).round().astype(int)
    cells = np.add.reduceat(np.add.reduceat(grey, row_edges[:-1], axis=0), col_edges[:-1], axis=1)
    counts = np.outer(np.diff(row_edges), np.diff(col_edges))
    levels = np.rint(cells / counts / pixel_max * (len(TEXT_RAMP) - 1)).astype(int)
    lines = ["".join(TEXT_RAMP[level] for level in row) for row in levels]
    return [*lines, caption[:columns].ljust(columns)]
