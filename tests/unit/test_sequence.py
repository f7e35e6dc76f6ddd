"""How an image becomes a sequence: hand-made readings of small known images, the fixed
permutation's properties, and the log's description (numpy only, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from rnncls.config import load_config
from rnncls.config_keys import ModelConfig, SequenceConfig
from rnncls.errors import ConfigError
from rnncls.sequence import (
    check_reading,
    describe,
    permutation,
    read,
    reading_indices,
    sequence_shape,
    unrolled,
)

MNIST = (28, 28, 1)


def numbered_image() -> np.ndarray:
    """One 28x28 grey image whose pixel at (row r, column c) holds r * 28 + c."""
    return np.arange(784, dtype=np.int32).reshape(1, 28, 28, 1)


def test_rows_read_the_image_as_it_is():
    image = numbered_image()
    sequences = read(image, SequenceConfig(order="rows"))
    assert sequences.shape == (1, 28, 28)
    assert sequences[0, 0].tolist() == list(range(28))  # the top row first
    assert sequences[0, 27, 27] == 783


def test_columns_read_left_to_right_top_to_bottom():
    sequences = read(numbered_image(), SequenceConfig(order="columns"))
    assert sequences.shape == (1, 28, 28)
    assert sequences[0, 0].tolist() == [28 * r for r in range(28)]  # the left column
    assert sequences[0, 1, :3].tolist() == [1, 29, 57]
    assert sequences[0, 27, 27] == 783


def test_pixels_read_the_rows_one_after_another():
    one = read(numbered_image(), SequenceConfig(order="pixels"))
    assert one.shape == (1, 784, 1)
    assert one[0, :, 0].tolist() == list(range(784))
    four = read(numbered_image(), SequenceConfig(order="pixels", pixels_per_step=4))
    assert four.shape == (1, 196, 4)
    assert four[0, 7].tolist() == [28, 29, 30, 31]  # step 7 starts the second row


def test_a_permuted_reading_takes_each_pixel_once_in_the_permutations_order():
    sequence = SequenceConfig(order="pixels", pixels_per_step=2, permute=True)
    order = permutation(0, 784)
    sequences = read(numbered_image(), sequence)
    assert sequences.shape == (1, 392, 2)
    assert sequences.reshape(-1).tolist() == order.tolist()
    assert sorted(order.tolist()) == list(range(784))


def test_the_permutation_is_fixed_by_its_seed_alone():
    first = permutation(0, 784)
    assert np.array_equal(first, permutation(0, 784))
    assert first.dtype == np.int32
    assert not np.array_equal(first, permutation(1, 784))
    # A shuffle, not a near-identity: few pixels stay in place (1 expected at random).
    assert np.sum(first == np.arange(784)) < 10
    # Pinned: a run's order must not change with numpy or with this code. These are the
    # first positions that permutation(0, 784) gave when psMNIST landed; a change here means
    # every permuted run before it would read other pixels.
    assert first[:8].tolist() == [243, 456, 308, 125, 408, 567, 220, 325]


def test_the_permutation_is_a_sort_of_splitmix64_keys():
    """An independent splitmix64 in plain Python integers (the reference values of
    Vigna's splitmix64.c for seed 0 below) gives the same order."""
    mask = (1 << 64) - 1

    def splitmix(x: int) -> int:
        z = (x + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    # splitmix64.c seeded with 0 first returns 0xE220A8397B1DCDAF.
    assert splitmix(0) == 0xE220A8397B1DCDAF
    for seed in (0, 7):
        base = splitmix(seed)
        keys = [splitmix((base + i) & mask) for i in range(50)]
        expected = sorted(range(50), key=lambda i: (keys[i], i))
        assert permutation(seed, size=50).tolist() == expected


def test_shapes_of_every_reading():
    assert sequence_shape(SequenceConfig(), MNIST) == (28, 28)
    assert sequence_shape(SequenceConfig(order="columns"), MNIST) == (28, 28)
    assert sequence_shape(SequenceConfig(order="pixels"), MNIST) == (784, 1)
    assert sequence_shape(SequenceConfig(order="pixels", pixels_per_step=28), MNIST) == (28, 28)
    assert sequence_shape(SequenceConfig(order="pixels", pixels_per_step=16), MNIST) == (49, 16)
    pixels_16 = SequenceConfig(order="pixels", pixels_per_step=16)
    assert reading_indices(pixels_16, MNIST).shape == (49, 16)
    # a 6 x 4 colour picture: rows of 4 pixels of 3 values, columns of 6, pixels of 3 values
    colour = (6, 4, 3)
    assert sequence_shape(SequenceConfig(), colour) == (6, 12)
    assert sequence_shape(SequenceConfig(order="columns"), colour) == (4, 18)
    assert sequence_shape(SequenceConfig(order="pixels", pixels_per_step=2), colour) == (12, 6)


def numbered_colour_image() -> np.ndarray:
    """A 2 x 3 picture of 2 channels whose value at (row r, column c, channel k) is
    100 r + 10 c + k: the reading of each value can be told from the value itself."""
    rows, cols, channels = np.indices((2, 3, 2))
    return (100 * rows + 10 * cols + channels)[np.newaxis]


def test_a_colour_pictures_rows_columns_and_pixels_keep_each_pixels_channels_together():
    picture = numbered_colour_image()
    rows = read(picture, SequenceConfig(order="rows"))[0]
    assert rows.tolist() == [[0, 1, 10, 11, 20, 21], [100, 101, 110, 111, 120, 121]]
    columns = read(picture, SequenceConfig(order="columns"))[0]
    assert columns.tolist() == [[0, 1, 100, 101], [10, 11, 110, 111], [20, 21, 120, 121]]
    pixels = read(picture, SequenceConfig(order="pixels", pixels_per_step=3))[0]
    assert pixels.tolist() == [[0, 1, 10, 11, 20, 21], [100, 101, 110, 111, 120, 121]]
    permuted = read(picture, SequenceConfig(order="pixels", permute=True, permutation_seed=5))[0]
    order = permutation(5, 6)  # of the six pixels, not of their twelve values
    stream = [(100 * (i // 3) + 10 * (i % 3), 100 * (i // 3) + 10 * (i % 3) + 1) for i in order]
    assert [tuple(step) for step in permuted.tolist()] == stream


def test_only_short_sequences_unroll_and_never_on_a_gpu():
    model = ModelConfig(unroll=True)
    assert unrolled(model, SequenceConfig(), MNIST)
    assert unrolled(model, SequenceConfig(order="pixels", pixels_per_step=28), MNIST)  # 28 steps
    assert not unrolled(model, SequenceConfig(order="pixels", pixels_per_step=16), MNIST)  # 49
    assert not unrolled(model, SequenceConfig(), MNIST, gpu=True)
    assert not unrolled(ModelConfig(unroll=False), SequenceConfig(), MNIST)
    assert not unrolled(model, SequenceConfig(), (32, 32, 3))  # 32 rows


def test_descriptions_for_the_log():
    assert describe(SequenceConfig(), MNIST) == "28 rows of 28 pixels"
    assert describe(SequenceConfig(order="columns"), MNIST) == "28 columns of 28 pixels"
    assert describe(SequenceConfig(order="pixels"), MNIST) == "784 steps of 1 pixel"
    assert (
        describe(SequenceConfig(order="pixels", pixels_per_step=4, permute=True), MNIST)
        == "196 steps of 4 pixels, permuted (seed 0)"
    )
    assert describe(SequenceConfig(), (32, 24, 3)) == "32 rows of 24 pixels of 3 channels"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "sequence.order='diagonal'",
            "sequence.order = 'diagonal' (in --set sequence.order='diagonal'): must be one "
            "of rows, columns, pixels",
        ),
        (
            "sequence.pixels_per_step=0",
            "sequence.pixels_per_step = 0 (in --set sequence.pixels_per_step=0): must be at "
            "least 1",
        ),
    ],
)
def test_bad_readings_are_config_errors_naming_the_key(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["sequence.order='pixels'", override])
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("shape", "per_step", "message"),
    [
        (
            (28, 28, 1),
            5,
            "sequence.pixels_per_step = 5: must divide the 784 pixels of a 28x28 picture "
            "(1, 2, 4, 7, 8, 14, 16, 28, 49, 56, ...)",
        ),
        (
            (8, 8, 3),
            3,
            "sequence.pixels_per_step = 3: must divide the 64 pixels of a 8x8 picture "
            "(1, 2, 4, 8, 16, 32, 64)",
        ),
    ],
)
def test_pixels_per_step_must_divide_the_data_sets_pictures(shape, per_step, message):
    with pytest.raises(ConfigError) as caught:
        check_reading(SequenceConfig(order="pixels", pixels_per_step=per_step), shape)
    assert str(caught.value) == message
    check_reading(SequenceConfig(order="rows", pixels_per_step=per_step), shape)  # unused


def test_a_run_from_before_the_section_reads_rows(tmp_path):
    """config.toml of runs made before [sequence] existed has no such section: they
    load, resume and evaluate as the rows they were trained on."""
    old = tmp_path / "config.toml"
    old.write_text("[model]\nhidden_units = 64\n\n[train]\nsteps = 1200\n")
    assert load_config(old).sequence == SequenceConfig(order="rows")
