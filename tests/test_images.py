"""Turning pictures and arrays into MNIST-style 28x28 digits (no model, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_digits
from PIL import Image

from rnncls.images import InputError, array_to_images, read_image, render_text, to_mnist


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
    assert images.shape == (count, 28, 28)
    assert images.dtype == np.uint8
    assert np.array_equal(images.reshape(-1), array.reshape(-1))


def test_float_arrays_in_0_1_are_scaled_back_exactly() -> None:
    images, _ = make_digits(5)
    assert np.array_equal(array_to_images(images.astype(np.float32) / 255, "f"), images)
    assert np.array_equal(array_to_images(images.astype(np.float64), "f"), images)
    assert np.array_equal(array_to_images(images.astype(np.int64), "i"), images)


def test_bool_arrays_are_black_and_white() -> None:
    mask = np.zeros((28, 28), bool)
    mask[3, 4] = True
    images = array_to_images(mask, "mask")
    assert images[0, 3, 4] == 255 and images.sum() == 255


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((28, 27)), "expected (28, 28), (N, 28, 28) or (N, 784)"),
        (np.zeros((2, 28, 28, 1)), "shape (2, 28, 28, 1)"),
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
