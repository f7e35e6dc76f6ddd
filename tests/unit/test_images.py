"""Turning pictures and arrays into MNIST-style 28x28 digits (no model, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_digits
from PIL import Image

from rnncls.errors import InputError
from rnncls.images import array_to_images, grey_levels, read_image, render_text, to_mnist


def a_digit() -> np.ndarray:
    """A light bar with a foot, off-centre in a 28x28 field: an MNIST-like digit."""
    image = np.zeros((28, 28), np.uint8)
    image[5:20, 16:19] = 255
    image[18:20, 12:19] = 200
    return image


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


# ---------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    ("shape", "count"),
    [((28, 28), 1), ((784,), 1), ((3, 28, 28), 3), ((3, 784), 3)],
)
def test_array_shapes_become_n_28_28(shape: tuple[int, ...], count: int) -> None:
    array = np.arange(np.prod(shape)).reshape(shape) % 256
    images = array_to_images(array.astype(np.uint8), "a.npy")
    assert images.shape == (count, 28, 28, 1)
    assert images.dtype == np.uint8
    assert np.array_equal(images.reshape(-1), array.reshape(-1))


def test_float_arrays_in_0_1_are_scaled_back_exactly() -> None:
    images, _ = make_digits(5)
    pictures = images[..., np.newaxis]
    assert np.array_equal(array_to_images(images.astype(np.float32) / 255, "f"), pictures)
    assert np.array_equal(array_to_images(images.astype(np.float64), "f"), pictures)
    assert np.array_equal(array_to_images(images.astype(np.int64), "i"), pictures)


def test_bool_arrays_are_black_and_white() -> None:
    mask = np.zeros((28, 28), bool)
    mask[3, 4] = True
    images = array_to_images(mask, "mask")
    assert images[0, 3, 4, 0] == 255 and images.sum() == 255


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((28, 27)), "expected (28, 28), (N, 28, 28) or (N, 784)"),
        (np.zeros((2, 28, 28, 3)), "shape (2, 28, 28, 3)"),
        (np.zeros((0, 784)), "no images"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.full((28, 28), 300.0), "expected 0..255"),
        (np.full((28, 28), -1), "expected 0..255"),
        (np.full((28, 28), "x"), "expected integer or float"),
    ],
)
def test_bad_arrays_are_input_errors(array: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match="bad.npy") as caught:
        array_to_images(array, "bad.npy")
    assert message in str(caught.value)


# ---------------------------------------------------------------------- pictures


def test_a_28x28_digit_reads_back_unchanged(tmp_path: Path) -> None:
    Image.fromarray(a_digit()).save(tmp_path / "digit.png")
    assert np.array_equal(read_image(tmp_path / "digit.png"), a_digit())


def test_dark_ink_on_light_paper_is_inverted(tmp_path: Path) -> None:
    Image.fromarray(255 - a_digit()).convert("RGB").save(tmp_path / "digit.png")
    assert np.array_equal(read_image(tmp_path / "digit.png"), a_digit())


def test_a_large_picture_is_fitted_into_20x20_and_centred(tmp_path: Path) -> None:
    page = np.full((600, 400, 3), 235, np.uint8)  # grey-white paper
    page[50:350, 280:310] = 20  # a tall dark stroke, far from the centre
    page[320:350, 200:310] = 20
    Image.fromarray(page).save(tmp_path / "photo.jpg", quality=90)
    digit = read_image(tmp_path / "photo.jpg")
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit.max() == 255 and digit[0].max() == 0 and digit[:, 0].max() == 0
    rows, cols = np.flatnonzero(digit.max(axis=1) > 64), np.flatnonzero(digit.max(axis=0) > 64)
    assert rows[-1] - rows[0] + 1 == 20  # the taller side fills the 20-pixel box
    assert cols[-1] - cols[0] + 1 <= 20
    row_mass, col_mass = centre_of_mass(digit)
    assert abs(row_mass - 13.5) <= 1 and abs(col_mass - 13.5) <= 1


def test_transparent_pictures_are_read_by_their_ink(tmp_path: Path) -> None:
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 45:55] = 255
    dark_ink = np.dstack([np.zeros((100, 100, 3), np.uint8), alpha])
    Image.fromarray(dark_ink, "RGBA").save(tmp_path / "dark.png")
    light_ink = np.dstack([np.full((100, 100, 3), 255, np.uint8), alpha])
    Image.fromarray(light_ink, "RGBA").save(tmp_path / "light.png")
    for name in ("dark.png", "light.png"):
        digit = read_image(tmp_path / name)
        assert digit.max() == 255 and digit[0, 0] == 0
        assert abs(centre_of_mass(digit)[1] - 13.5) <= 1


@pytest.mark.parametrize("mode", ["1", "P", "I;16", "LA", "CMYK"])
def test_any_mode_reads(tmp_path: Path, mode: str) -> None:
    picture = Image.fromarray(np.kron(a_digit(), np.ones((3, 3), np.uint8)))
    converted = picture.convert(mode) if mode != "I;16" else picture.convert("I;16")
    suffix = ".jpg" if mode == "CMYK" else ".png"
    converted.save(tmp_path / f"digit{suffix}")
    digit = read_image(tmp_path / f"digit{suffix}")
    assert digit.shape == (28, 28) and digit.max() > 200


def test_a_blank_picture_is_an_input_error(tmp_path: Path) -> None:
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(InputError, match="no digit found"):
        read_image(tmp_path / "blank.png")


def test_a_file_that_is_not_an_image_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not a picture\n")
    with pytest.raises(InputError, match="not an image"):
        read_image(tmp_path / "notes.png")


def test_a_truncated_png_is_an_input_error(tmp_path: Path) -> None:
    Image.fromarray(np.kron(a_digit(), np.ones((4, 4), np.uint8))).save(tmp_path / "d.png")
    raw = (tmp_path / "d.png").read_bytes()
    (tmp_path / "d.png").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="d.png"):
        read_image(tmp_path / "d.png")


def test_to_mnist_rejects_arrays_that_are_not_pictures() -> None:
    with pytest.raises(InputError, match="two-dimensional"):
        to_mnist(np.zeros((2, 3, 4)), "cube")


def test_render_text_draws_each_digit_in_14_lines() -> None:
    text = render_text(np.stack([a_digit(), a_digit()]), ["one", "two"], width=80)
    lines = text.splitlines()
    assert len(lines) == 15 and "one" in lines[-1] and "two" in lines[-1]
    assert "@" in text
    narrow = render_text(np.stack([a_digit(), a_digit()]), ["one", "two"], width=30)
    assert len(narrow.splitlines()) == 2 * 15 + 1  # one a row, a blank line between


# ---------------------------------------------------------------------- grey levels, exactly


def two_pixels(mode: str, values: list) -> Image.Image:
    picture = Image.new(mode, (2, 1))
    picture.putdata(values)
    return picture


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        ("L", [0, 200], [0, 200]),
        ("I", [0, 200], [0, 200]),  # 32-bit integers within 0..255 are grey levels
        ("I", [257, 514], [1, 2]),  # beyond 255: a 16-bit range, scaled down
        ("I", [0, 256], [0, 256 / 257]),
        ("I;16", [0, 25700], [0, 100]),
        ("I;16", [0, 65535], [0, 255]),
        ("I;16B", [257, 65535], [1, 255]),
        ("I;16L", [514, 65535], [2, 255]),
        ("F", [0.0, 1.0], [0, 255]),  # 0..1 floats are fractions of white
        ("F", [0.0, 2.0], [0, 2]),  # beyond 1: grey levels already
        ("F", [257.0, 0.5], [1, 0.5 / 257]),
        ("RGB", [(0, 0, 0), (200, 200, 200)], [0, 200]),
    ],
)
def test_grey_levels_of_each_mode(mode: str, values: list, expected: list) -> None:
    grey = grey_levels(two_pixels(mode, values))
    assert grey.dtype == np.float64
    assert grey.tolist() == [pytest.approx(expected, abs=1e-9)]


def test_grey_levels_of_a_mode_without_a_grey_conversion() -> None:
    """Pillow turns LAB into RGB but not into grey: through RGB, L* 78 % is grey 194."""
    grey = grey_levels(Image.new("LAB", (2, 1), (200, 128, 128)))
    assert grey.dtype == np.float64 and grey.tolist() == [[194.0, 194.0]]


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        # dark ink on a transparent sheet: the sheet turns white
        ("LA", [(0, 255), (0, 0)], [0, 255]),
        ("LA", [(0, 255), (0, 51)], [0, 204]),  # 20 % opaque black over white
        # light ink on a transparent sheet: the sheet turns black
        ("LA", [(250, 255), (250, 0)], [250, 0]),
        ("RGBA", [(250, 250, 250, 255), (0, 0, 0, 0)], [250, 0]),
        # the ink's level is its opacity-weighted mean: 100 here, so dark, on white
        ("LA", [(100, 255), (100, 128)], [100, 100 * 128 / 255 + 255 * 127 / 255]),
        # ink of exactly middle grey counts as light
        ("LA", [(128, 255), (128, 0)], [128, 0]),
        ("LA", [(127, 255), (127, 0)], [127, 255]),
        # all opaque: the grey levels as they are; all transparent: nothing
        ("LA", [(30, 255), (90, 255)], [30, 90]),
        ("LA", [(30, 0), (90, 0)], [0, 0]),
        ("PA", [(0, 255), (0, 0)], [0, 255]),
        ("RGBa", [(0, 0, 0, 255), (0, 0, 0, 0)], [0, 255]),
    ],
)
def test_grey_levels_lay_transparency_over_a_contrasting_sheet(mode, values, expected) -> None:
    picture = two_pixels(mode, values)
    assert grey_levels(picture).tolist() == [pytest.approx(expected, abs=1e-9)]


def test_a_palette_with_a_transparent_colour() -> None:
    picture = Image.new("P", (2, 1))
    picture.putpalette([0, 0, 0, 128, 128, 128])
    picture.putdata([0, 1])
    picture.info["transparency"] = 1  # the grey entry is see-through: black ink on white
    assert grey_levels(picture).tolist() == [[0.0, 255.0]]


# ---------------------------------------------------------------------- fitting, exactly


def test_a_one_row_picture_becomes_a_centred_20x20_block() -> None:
    digit = to_mnist(np.array([[0, 0, 255, 0, 0]]), "line")
    expected = np.zeros((28, 28), np.uint8)
    expected[4:24, 4:24] = 255
    assert np.array_equal(digit, expected)


def test_a_tall_block_is_scaled_to_20_rows_and_centred() -> None:
    page = np.zeros((100, 100))
    page[10:50, 60:80] = 200  # 40 x 20: half of it fits 20 x 10
    page[90, 5] = 40  # too faint to widen the digit's box
    digit = to_mnist(page, "page")
    expected = np.zeros((28, 28), np.uint8)
    expected[4:24, 9:19] = 255  # mass at 9.5 and 4.5 moved to 13.5
    assert np.array_equal(digit, expected)


def test_a_hollow_block_on_grey_paper_keeps_its_hole_and_its_paler_edges() -> None:
    """Paper at 60; a 40 x 20 block at 200 (140 of ink) with a hole of paper in it and
    its top and bottom two rows at 60 % of the ink. Halved by area averaging (the 2 x 2
    boxes fall within one part each), scaled to 255 and centred, every pixel is known."""
    page = np.full((100, 100), 60.0)
    page[10:50, 60:80] = 200
    page[20:40, 64:76] = 60
    page[[10, 11, 48, 49], 60:80] = 60 + 0.6 * 140
    expected = np.zeros((28, 28), np.uint8)
    expected[4:24, 9:19] = 255
    expected[9:19, 11:17] = 0
    expected[[4, 23], 9:19] = 153  # 0.6 * 255
    assert np.array_equal(to_mnist(page, "hollow"), expected)


@pytest.mark.parametrize("vertical", [True, False])
def test_a_one_pixel_line_stays_one_pixel_wide(vertical: bool) -> None:
    page = np.zeros((50, 50))
    page[5:45, 30] = 255
    expected = np.zeros((28, 28), np.uint8)
    expected[4:24, 14] = 255  # 20 long; the mass of the one column at the middle, 13.5
    if not vertical:
        page, expected = page.T, expected.T
    assert np.array_equal(to_mnist(page, "line"), expected)


@pytest.mark.parametrize(("flip", "start"), [(False, 8), (True, 0)])
def test_a_digit_heavy_at_a_corner_is_moved_only_to_the_fields_edge(flip, start) -> None:
    page = np.zeros((60, 60))
    page[10:50, 10] = 255  # a bar down the left ...
    page[10, 10:50] = 255  # ... and one along the top: the mass near the top left
    if flip:
        page = page[::-1, ::-1]  # the mass near the bottom right
    digit = to_mnist(page, "corner")
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    assert (rows.min(), rows.max()) == (start, start + 19)
    assert (cols.min(), cols.max()) == (start, start + 19)


def test_a_digit_is_kept_inside_the_field_when_its_mass_is_at_an_edge() -> None:
    page = np.zeros((60, 60))
    page[10:50, 10] = 255  # a vertical bar ...
    page[10, 10:50] = 255  # ... and a bar along the top: mass near the top left
    digit = to_mnist(page, "corner")
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    assert 0 <= rows.min() and rows.max() <= 27 and rows.max() - rows.min() == 19
    assert 0 <= cols.min() and cols.max() <= 27 and cols.max() - cols.min() == 19
    assert digit.dtype == np.uint8 and digit.max() == 255


def test_a_light_background_is_inverted_from_128_on() -> None:
    for paper, ink, kept in ((127, 255, True), (128, 0, False)):
        picture = np.full((28, 28), paper, np.float64)
        picture[10:18, 10:18] = ink
        digit = to_mnist(picture, "x")
        assert digit[0, 0] == (paper if kept else 255 - paper)


def test_28x28_values_are_rounded_and_clipped() -> None:
    picture = np.zeros((28, 28))
    picture[1, 1:4] = [254.6, 300.0, -3.0]
    digit = to_mnist(picture, "x")
    assert digit.dtype == np.uint8 and digit[1, 1:4].tolist() == [255, 255, 0]


def test_pictures_too_faint_or_empty_are_named(tmp_path: Path) -> None:
    faint = np.zeros((40, 40))
    faint[10, 10] = 15  # below 16 grey levels of contrast
    with pytest.raises(InputError) as caught:
        to_mnist(faint, "faint.png")
    assert str(caught.value) == "faint.png: no digit found (the picture is blank)"
    faint[10, 10] = 16
    assert to_mnist(faint, "faint.png").max() == 255
    with pytest.raises(InputError, match=r"^empty: expected a two-dimensional picture, got shape"):
        to_mnist(np.zeros((0, 5)), "empty")
    with pytest.raises(InputError, match=r"^image: no digit found"):
        to_mnist(np.zeros((40, 40)))  # a picture without a name
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(InputError) as caught:
        read_image(tmp_path / "blank.png")
    assert str(caught.value) == f"{tmp_path / 'blank.png'}: no digit found (the picture is blank)"


# ---------------------------------------------------------------------- arrays, exactly


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[0, 255]], np.int16), [0, 255]),
        (np.array([[0.0, 1.0]], np.float32), [0, 255]),
        (np.array([[0.0, 2.0]], np.float64), [0, 2]),
        (np.array([[0.5, 0.2]], np.float64), [128, 51]),
        (np.array([[False, True]]), [0, 255]),
    ],
)
def test_array_values_become_uint8_pixels(array: np.ndarray, expected: list) -> None:
    full = np.zeros((28, 28), array.dtype)
    full[0, :2] = array[0]
    images = array_to_images(full, "a")
    assert images.dtype == np.uint8 and images[0, 0, :2, 0].tolist() == expected


@pytest.mark.parametrize(
    ("shape", "count"),
    [((4, 3, 3), 1), ((36,), 1), ((2, 4, 3, 3), 2), ((2, 36), 2)],
)
def test_a_colour_runs_arrays(shape: tuple[int, ...], count: int) -> None:
    """A run of 4 x 3 colour pictures takes (4, 3, 3), (N, 4, 3, 3) or (N, 36): the
    values in row-major order, each pixel's channels together."""
    array = (np.arange(np.prod(shape)) % 200).reshape(shape).astype(np.uint8)
    images = array_to_images(array, "c.npy", (4, 3, 3), 255)
    assert images.shape == (count, 4, 3, 3)
    assert images.reshape(-1).tolist() == array.reshape(-1).tolist()
    with pytest.raises(InputError) as caught:
        array_to_images(np.zeros((4, 3)), "c.npy", (4, 3, 3), 255)
    assert str(caught.value) == (
        "c.npy: array of shape (4, 3); expected (4, 3, 3), (N, 4, 3, 3) or (N, 36)"
    )


def test_a_sixteen_bit_runs_arrays() -> None:
    """16-bit runs: integers up to 65535 as they are, floats in 0..1 scaled to 65535."""
    images = array_to_images(np.array([[0, 65535], [1, 256]]), "s", (2, 2, 1), 65535)
    assert images.dtype == np.uint16 and images.reshape(-1).tolist() == [0, 65535, 1, 256]
    scaled = array_to_images(np.array([[0.0, 1.0], [0.5, 0.25]]), "s", (2, 2, 1), 65535)
    assert scaled.reshape(-1).tolist() == [0, 65535, 32768, 16384]  # 32767.5 rounds to even
    with pytest.raises(InputError) as caught:
        array_to_images(np.array([[0, 70000], [1, 2]]), "s", (2, 2, 1), 65535)
    assert str(caught.value) == "s: pixel values from 0 to 70000; expected 0..65535"


def test_arrays_of_wrong_shape_or_range_are_named() -> None:
    for array, message in (
        (np.zeros((2, 28, 27)), "a: array of shape (2, 28, 27); expected (28, 28), (N, 28, 28)"),
        (np.full((28, 28), 256, np.int16), "a: pixel values from 256 to 256; expected 0..255"),
    ):
        with pytest.raises(InputError) as caught:
            array_to_images(array, "a")
        assert str(caught.value).startswith(message)


# ---------------------------------------------------------------------- text, exactly


def test_render_text_exactly() -> None:
    first = np.zeros((28, 28), np.uint8)
    first[0:2, :] = 255  # the top line full, "@" for 9 of 9
    first[2:4, :14] = 113  # level 4 of 9: "="
    first[4:6, :3] = 71  # 2.51 of 9, rounded to level 3: "-"
    second = np.zeros((28, 28), np.uint8)
    second[26:28, 27] = 255
    text = render_text(np.stack([first, second]), ["seven", "x" * 40], width=58)
    lines = text.split("\n")
    assert len(lines) == 15
    blank = " " * 28
    assert lines[0] == "@" * 28  # the blank right half of the line is stripped
    assert lines[1] == "=" * 14
    assert lines[2] == "---"
    assert lines[13] == blank + "  " + " " * 27 + "@"
    assert lines[14] == "seven".ljust(28) + "  " + "x" * 28
    with pytest.raises(ValueError):
        render_text(np.stack([first, second]), ["only one caption"])
    narrow = render_text(np.stack([first, second]), ["a", "b"], width=57)
    narrow_lines = narrow.split("\n")  # one a row below 58 columns, a blank line between
    assert len(narrow_lines) == 31 and narrow_lines[14:16] == ["a", ""]
    assert narrow_lines[-1] == "b" and narrow_lines[-2] == " " * 27 + "@"


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_picture_with_nan_or_infinity_is_an_input_error(value: float) -> None:
    """A float TIFF can hold them; they would slip past every comparison below."""
    grey = np.zeros((30, 30))
    grey[10, 10] = value
    with pytest.raises(InputError) as caught:
        to_mnist(grey, "scan.tif")
    assert str(caught.value) == "scan.tif: the picture holds NaN or infinite values"


def test_a_npy_header_that_declares_more_than_memory_holds_is_an_input_error() -> None:
    import io

    from rnncls.predict import npy_images

    buffer = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**13, 28, 28)}
    np.lib.format.write_array_header_1_0(buffer, header)
    with pytest.raises(InputError) as caught:
        npy_images(buffer.getvalue() + bytes(100), "big.npy")
    assert str(caught.value) == "big.npy: not a readable .npy array (its shape is too large)"


# ---------------------------------------------------------------------- a run's pictures


def test_a_digits_run_of_another_size_boxes_the_digit_in_its_share_of_the_field(
    tmp_path: Path,
) -> None:
    """An 8x8 digits run (sklearn's digits): the digit is fitted into round(8 * 20 / 28)
    = 6 pixels and centred by its mass, as MNIST fits 20 of 28."""
    from rnncls.datasets.description import DataSet
    from rnncls.images import read_picture

    picture = np.zeros((100, 60), np.uint8)
    picture[10:90, 20:40] = 255  # a tall white bar on black
    Image.fromarray(picture).save(tmp_path / "bar.png")
    digits = DataSet("pictures", "folder", (8, 8, 1), tuple("0123456789"), preparation="digits")
    read = read_picture(tmp_path / "bar.png", "bar.png", digits)
    assert read.shape == (8, 8, 1) and read.dtype == np.uint8
    rows = np.flatnonzero(read[..., 0].max(axis=1) > 0)
    assert len(rows) == 6  # the bar's height, fitted into the box
    assert centre_of_mass(read[..., 0])[0] == pytest.approx(3.5, abs=0.5)


def test_a_plain_run_resizes_and_converts_without_the_digit_preparation(tmp_path: Path) -> None:
    """A colour run of 2x3 pictures reads a grey 4x6 picture as three equal channels,
    resized (a flat picture stays flat); a grey run reads colour by luma."""
    from rnncls.datasets.description import DataSet
    from rnncls.images import read_picture

    Image.fromarray(np.full((4, 6), 90, np.uint8)).save(tmp_path / "grey.png")
    colour = DataSet("pictures", "folder", (2, 3, 3), ("a", "b"))
    assert read_picture(tmp_path / "grey.png", "g", colour).tolist() == [[[90] * 3] * 3] * 2
    Image.fromarray(np.full((2, 3, 3), (200, 100, 50), np.uint8)).save(tmp_path / "c.png")
    grey = DataSet("pictures", "folder", (2, 3, 1), ("a", "b"))
    luma = round(200 * 0.299 + 100 * 0.587 + 50 * 0.114)  # 124.2 -> 124
    assert read_picture(tmp_path / "c.png", "c", grey)[..., 0].tolist() == [[luma] * 3] * 2
