"""Augmentation of the training images: what each transform does to an image whose
content is known, and that the draws are a function of (seed, step)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from rnncls.config_keys import AugmentConfig

# Every test here builds or trains a Keras model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def tf() -> Any:
    from rnncls.tf_setup import import_tensorflow

    return import_tensorflow()


def square(row: int = 10, col: int = 12, size: int = 4) -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[row : row + size, col : col + size] = 1.0
    return image


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def moved(tf: Any, image: np.ndarray, dx: float = 0, dy: float = 0, degrees=0.0, scale=1.0):
    from rnncls.augment import affine_images

    result = affine_images(
        tf,
        tf.constant(image[np.newaxis, ..., np.newaxis]),
        tf.constant([[dx, dy]], tf.float32),
        tf.constant([math.radians(degrees)], tf.float32),
        tf.constant([scale], tf.float32),
    )
    return result.numpy()[0, ..., 0]


def test_the_identity_leaves_the_image_as_it_is(tf):
    np.testing.assert_array_equal(moved(tf, square()), square())


@pytest.mark.parametrize(("dx", "dy"), [(2, 0), (0, 3), (-1, -2)])
def test_a_whole_pixel_shift_moves_the_pixels(tf, dx, dy):
    expected = np.roll(np.roll(square(), dy, axis=0), dx, axis=1)
    np.testing.assert_allclose(moved(tf, square(), dx=dx, dy=dy), expected, atol=1e-6)


def test_a_quarter_turn_about_the_centre(tf):
    image = square(row=4, col=12, size=4)  # a block near the top, centred left-right
    turned = moved(tf, image, degrees=90)
    # pixel (r, c) goes to (c, 27 - r) or (27 - c, r) depending on the sense; either way
    # a 90 degree turn about (13.5, 13.5) is a transpose and a flip of the whole grid
    candidates = [np.rot90(image, 1), np.rot90(image, -1)]
    assert any(np.allclose(turned, c, atol=1e-5) for c in candidates)
    assert turned.sum() == pytest.approx(image.sum(), rel=1e-5)


def test_zoom_scales_about_the_centre(tf):
    image = square(row=12, col=12, size=4)  # centred on (13.5, 13.5)
    bigger = moved(tf, image, scale=2.0)
    assert centre_of_mass(bigger) == pytest.approx((13.5, 13.5), abs=1e-3)
    assert bigger.sum() == pytest.approx(4 * image.sum(), rel=0.05)  # area scales by 4


def test_draws_are_a_function_of_seed_and_step(tf):
    from rnncls.augment import augmenter

    config = AugmentConfig(shift=2.0, rotation=10.0, zoom=0.1)
    images = tf.constant(np.stack([square(), square(8, 8)])[..., np.newaxis])
    augment = augmenter(tf, config, seed=7)
    first = augment(images, tf.constant(5, tf.int64)).numpy()
    np.testing.assert_array_equal(augment(images, tf.constant(5, tf.int64)).numpy(), first)
    again = augmenter(tf, config, seed=7)(images, tf.constant(5, tf.int64)).numpy()
    np.testing.assert_array_equal(again, first)
    assert not np.array_equal(augment(images, tf.constant(6, tf.int64)).numpy(), first)
    other_seed = augmenter(tf, config, seed=8)(images, tf.constant(5, tf.int64)).numpy()
    assert not np.array_equal(other_seed, first)
    assert not np.array_equal(first[0], first[1])  # each image its own draw


def test_shift_only_moves_no_further_than_asked(tf):
    from rnncls.augment import augmenter

    image = square(row=12, col=12, size=4)
    batch = tf.constant(np.repeat(image[np.newaxis, ..., np.newaxis], 64, axis=0))
    shifted = augmenter(tf, AugmentConfig(shift=2.0), seed=1)(batch, tf.constant(0, tf.int64))
    centres = np.array([centre_of_mass(picture[..., 0]) for picture in shifted.numpy()])
    offsets = centres - 13.5
    assert np.abs(offsets).max() <= 2.0 + 1e-4
    assert np.abs(offsets).max() > 1.0  # it did move them
    np.testing.assert_allclose(shifted.numpy().sum(axis=(1, 2, 3)), image.sum(), rtol=1e-4)


def test_a_colour_picture_of_another_shape_turns_about_its_own_centre(tf):
    """A 6 x 10 picture of 3 channels: a half turn about its centre (2.5, 4.5) is a flip
    of both axes, each channel alike."""
    from rnncls.augment import affine_images

    rng = np.random.default_rng(3)
    picture = rng.random((6, 10, 3)).astype(np.float32)
    turned = affine_images(
        tf,
        tf.constant(picture[np.newaxis]),
        tf.constant([[0.0, 0.0]], tf.float32),
        tf.constant([math.pi], tf.float32),
        tf.constant([1.0], tf.float32),
    ).numpy()[0]
    np.testing.assert_allclose(turned, picture[::-1, ::-1, :], atol=1e-5)


def test_no_augmentation_by_default(tf):
    from rnncls.augment import augmenter

    assert augmenter(tf, AugmentConfig(), seed=1) is None
