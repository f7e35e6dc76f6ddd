"""A picture file as a folder run reads it (rnncls.images.plain_picture): each Pillow mode
to the run's channels and depth, transparency over black, resizing. The expected pixels
are worked out by hand from the rules in the function's docstring (ITU-R 601-2 luma,
alpha times colour, 16 to 8 bits by 257)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rnncls.errors import InputError
from rnncls.images import plain_picture


def pixels(picture: Image.Image, shape=(1, 2, 1), pixel_max=255) -> list:
    return plain_picture(picture, shape, pixel_max).tolist()


def test_grey_stays_as_it_is_in_its_rows_and_columns() -> None:
    grey = Image.fromarray(np.array([[0, 1, 2], [30, 40, 255]], np.uint8), "L")
    read = plain_picture(grey, (2, 3, 1), 255)
    assert read.dtype == np.uint8 and read.shape == (2, 3, 1)
    assert read[..., 0].tolist() == [[0, 1, 2], [30, 40, 255]]


def test_colour_to_grey_by_luma_and_grey_to_three_channels() -> None:
    colour = Image.fromarray(np.array([[[100, 50, 200], [255, 0, 0]]], np.uint8), "RGB")
    # 0.299 * 100 + 0.587 * 50 + 0.114 * 200 = 82.05; 0.299 * 255 = 76.245
    assert pixels(colour) == [[[82], [76]]]
    assert plain_picture(colour, (1, 2, 3), 255).tolist() == [[[100, 50, 200], [255, 0, 0]]]
    grey = Image.fromarray(np.array([[7, 250]], np.uint8), "L")
    assert plain_picture(grey, (1, 2, 3), 255).tolist() == [[[7, 7, 7], [250, 250, 250]]]


def test_transparency_is_laid_over_black() -> None:
    rgba = np.array([[[200, 100, 50, 128], [10, 20, 30, 0], [200, 100, 50, 255]]], np.uint8)
    # 200 * 128 / 255 = 100.39, 100 * 128 / 255 = 50.2, 50 * 128 / 255 = 25.1
    read = plain_picture(Image.fromarray(rgba, "RGBA"), (1, 3, 3), 255)
    assert read.tolist() == [[[100, 50, 25], [0, 0, 0], [200, 100, 50]]]
    grey_alpha = Image.fromarray(np.array([[[200, 51], [90, 255]]], np.uint8), "LA")
    assert pixels(grey_alpha) == [[[40], [90]]]  # 200 * 51 / 255 = 40


def test_a_palette_colour_marked_transparent_is_black() -> None:
    palette = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    palette.putpalette([200, 200, 200, 90, 90, 90] + [0] * 762)
    assert pixels(palette) == [[[200], [90]]]
    palette.info["transparency"] = 0
    assert pixels(palette) == [[[0], [90]]]


@pytest.mark.parametrize(
    ("mode", "values", "pixel_max", "expected"),
    [
        ("I;16", [51400, 65535], 255, [200, 255]),  # 16 bits in an 8-bit run: / 257
        ("I;16", [1234, 65535], 65535, [1234, 65535]),  # kept in a 16-bit run
        ("I", [514, 70000], 255, [2, 255]),  # beyond 16 bits: clipped
        ("F", [0.5, 1.0], 255, [128, 255]),  # at most 1: fractions of white (rint)
        ("F", [0.5, 1.0], 65535, [32768, 65535]),  # ... of 65535 in a 16-bit run
        ("F", [30.0, 300.0], 255, [30, 255]),  # beyond 1: levels of 255, clipped
        ("F", [30.0, 300.0], 65535, [7710, 65535]),  # scaled by 65535 / 255 = 257
        ("F", [-5.0, 2.0], 255, [0, 2]),  # below 0: clipped
    ],
)
def test_deep_pictures(mode: str, values: list, pixel_max: int, expected: list) -> None:
    dtype = np.float32 if mode == "F" else np.int32
    picture = Image.fromarray(np.array([values], dtype)).convert(mode)
    read = plain_picture(picture, (1, 2, 1), pixel_max)
    assert read[0, :, 0].tolist() == expected
    assert read.dtype == (np.uint16 if pixel_max > 255 else np.uint8)


def test_eight_bits_in_a_sixteen_bit_run_are_scaled_by_257() -> None:
    grey = Image.fromarray(np.array([[1, 255]], np.uint8), "L")
    read = plain_picture(grey, (1, 2, 1), 65535)
    assert read.dtype == np.uint16 and read.tolist() == [[[257], [65535]]]
    assert plain_picture(grey, (1, 2, 1), 1023).tolist() == [[[4], [1023]]]  # 1023 / 255


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_pixels_are_refused(bad: float) -> None:
    picture = Image.fromarray(np.array([[0.5, bad]], np.float32), "F")
    with pytest.raises(InputError) as caught:
        plain_picture(picture, (1, 2, 1), 255, name="scan.tif")
    assert str(caught.value) == "scan.tif: the picture holds NaN or infinite values"


def test_resizing_to_the_runs_shape() -> None:
    flat = Image.fromarray(np.full((2, 2), 77, np.uint8), "L")
    assert plain_picture(flat, (4, 3, 1), 255)[..., 0].tolist() == [[77] * 3] * 4
    four = Image.fromarray(np.array([[0, 100], [100, 200]], np.uint8), "L")
    assert plain_picture(four, (1, 1, 1), 255).tolist() == [[[100]]]  # their mean
    # levels beyond the range are clipped before they are mixed: (255 + 0) / 2
    bright = Image.fromarray(np.array([[300.0, 0.0]], np.float32), "F")
    assert plain_picture(bright, (1, 1, 1), 255).tolist() == [[[128]]]
    # width and height in their places: 1 row of 2 columns from 3 rows of 1 column
    tall = Image.fromarray(np.array([[10], [10], [10]], np.uint8), "L")
    assert plain_picture(tall, (1, 2, 3), 255).shape == (1, 2, 3)


def test_bilevel_and_cmyk_pictures_are_read_through_rgb() -> None:
    bilevel = Image.fromarray(np.array([[0, 255]], np.uint8), "L").convert("1")
    assert pixels(bilevel) == [[[0], [255]]]
    cmyk = Image.fromarray(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8), "RGB")
    back = plain_picture(cmyk.convert("CMYK"), (1, 2, 3), 255)
    assert back.tolist() == [[[255, 0, 0], [0, 0, 255]]]


def save(path, picture: Image.Image, **options) -> str:
    picture.save(path, **options)
    return path


def test_a_pictures_header_gives_its_size_channels_and_depth(tmp_path) -> None:
    from rnncls.images import picture_header

    wide = Image.fromarray(np.zeros((2, 3), np.uint8), "L")
    assert picture_header(save(tmp_path / "grey.png", wide)) == (2, 3, 1, 255)
    assert picture_header(save(tmp_path / "colour.png", wide.convert("RGB"))) == (2, 3, 3, 255)
    deep = Image.fromarray(np.zeros((2, 3), np.int32)).convert("I;16")
    assert picture_header(save(tmp_path / "deep.png", deep)) == (2, 3, 1, 65535)
    grey_palette = wide.convert("P")
    grey_palette.putpalette([level for level in range(256) for _ in range(3)])
    assert picture_header(save(tmp_path / "gp.png", grey_palette)) == (2, 3, 1, 255)
    colour_palette = wide.convert("P")
    colour_palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    assert picture_header(save(tmp_path / "cp.png", colour_palette)) == (2, 3, 3, 255)


@pytest.mark.parametrize(
    ("orientation", "size"),
    [
        (1, (2, 4)),
        (2, (2, 4)),
        (3, (2, 4)),
        (4, (2, 4)),
        (5, (4, 2)),
        (6, (4, 2)),
        (7, (4, 2)),
        (8, (4, 2)),
    ],
)
def test_a_photo_turned_a_quarter_by_its_exif_tag_swaps_its_sides(
    tmp_path, orientation, size
) -> None:
    from rnncls.images import picture_header

    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = Image.fromarray(np.zeros((2, 4, 3), np.uint8), "RGB")  # 4 wide, 2 high
    path = save(tmp_path / "photo.jpg", photo, exif=exif)
    assert picture_header(path) == (*size, 3, 255)


def test_a_file_that_is_no_picture_is_named(tmp_path) -> None:
    from rnncls.images import picture_header

    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(InputError) as caught:
        picture_header(tmp_path / "notes.png")
    assert (
        str(caught.value) == f"{tmp_path / 'notes.png'}: not a picture (PNG, JPEG, BMP, TIFF, WebP)"
    )


def test_levels_of_255_at_the_runs_depth() -> None:
    from rnncls.images import to_depth

    levels = [0.0, 127.6, 255.0, 300.0, -3.0]
    eight = to_depth(np.array(levels), 255)
    assert eight.dtype == np.uint8 and eight.tolist() == [0, 128, 255, 255, 0]
    sixteen = to_depth(np.array(levels), 65535)  # x 257: 127.6 x 257 = 32793.2
    assert sixteen.dtype == np.uint16 and sixteen.tolist() == [0, 32793, 65535, 65535, 0]
    assert to_depth(np.array(levels), 1023).tolist() == [0, 512, 1023, 1023, 0]  # 127.6 x 4.01
