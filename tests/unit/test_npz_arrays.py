"""The arrays of an .npz data set as rnncls reads them (rnncls/datasets/npz.py): labels
to class names and indices, and series values checked, with the exact one-line errors.
The expected classes and indices are written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnncls.config_keys import DataConfig
from rnncls.datasets.npz import class_indices, series_values
from rnncls.errors import DataError


def indices(labels: dict) -> tuple[tuple[str, ...], dict[str, list[int]]]:
    classes, found = class_indices(labels, "d.npz")
    assert all(array.dtype == np.int32 for array in found.values())
    return classes, {part: array.tolist() for part, array in found.items()}


def test_integer_labels_name_themselves_up_to_the_largest_training_label() -> None:
    labels = {"train": np.array([0, 3, 1], np.uint8), "test": np.array([2, 0], np.int64)}
    assert indices(labels) == (("0", "1", "2", "3"), {"train": [0, 3, 1], "test": [2, 0]})
    empty_test = {"train": np.array([1, 0]), "test": np.array([], np.int64)}
    assert indices(empty_test) == (("0", "1"), {"train": [1, 0], "test": []})


def test_string_labels_are_sorted_and_indexed() -> None:
    labels = {"train": np.array(["dog", "cat", "dog"]), "test": np.array([b"cat"])}
    assert indices(labels) == (("cat", "dog"), {"train": [1, 0, 1], "test": [0]})


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            {"train": np.array([0, 1]), "test": np.array([-1, 1])},
            "d.npz: label -1 is negative; labels are 0 to K-1 or strings",
        ),
        (
            {"train": np.array([0, 1]), "test": np.array([1, 2])},
            "d.npz: the test labels have class 2, which no training label has",
        ),
        (
            {"train": np.array(["a", "b"]), "test": np.array(["b", "eel", "c"])},
            "d.npz: the test labels have class 'c', which no training label has",
        ),
        (
            {"train": np.array([0.0, 1.0]), "test": np.array([1, 0])},
            "d.npz: labels of train float64, test int64; expected integers or strings",
        ),
    ],
)
def test_labels_that_cannot_be_classes(labels: dict, message: str) -> None:
    with pytest.raises(DataError) as caught:
        class_indices(labels, "d.npz")
    assert str(caught.value) == message


def test_series_values_become_float32_steps_and_channels() -> None:
    univariate = series_values(np.array([[1, 2, 3], [4, 5, 6]], np.int16), "x", DataConfig())
    assert univariate.dtype == np.float32 and univariate.shape == (2, 3, 1)
    assert univariate[1, :, 0].tolist() == [4.0, 5.0, 6.0]
    padded = np.array([[[1.0, 2.0], [np.nan, np.nan]], [[3.0, np.nan], [4.0, 5.0]]])
    assert series_values(padded, "x", DataConfig(max_steps=2)).shape == (2, 2, 2)
    assert series_values(np.zeros((0, 4)), "x", DataConfig()).shape == (0, 4, 1)


@pytest.mark.parametrize(
    ("array", "settings", "message"),
    [
        (
            np.zeros(4),
            DataConfig(),
            "x: series have shape (4,), expected (n, steps) or (n, steps, channels)",
        ),
        (
            np.zeros((1, 2, 3, 4)),
            DataConfig(),
            "x: series have shape (1, 2, 3, 4), expected (n, steps) or (n, steps, channels)",
        ),
        (np.array([["a", "b"]]), DataConfig(), "x: series of <U1; expected integers or floats"),
        (np.array([[True, False]]), DataConfig(), "x: series of bool; expected integers or floats"),
        (
            np.array([[1.0, 2.0], [3.0, -np.inf]]),
            DataConfig(),
            "x: an infinite value at [1, 1]; a series' values are finite numbers "
            "(NaN where it has none)",
        ),
        (np.array([[1.0, 1e300]]), DataConfig(), "x: a value of 1e+300 is beyond float32's range"),
        (
            np.array([[1.0, 2.0], [np.nan, np.nan]]),
            DataConfig(),
            "x: series 1 is empty (no value, NaN alone)",
        ),
        (
            np.array([[1.0, np.nan, np.nan], [1.0, 2.0, 3.0]]),
            DataConfig(max_steps=2),
            "x: series 1 has 3 steps, more than data.max_steps = 2; raise data.max_steps to "
            "read longer series",
        ),
    ],
)
def test_series_that_cannot_be_read(array: np.ndarray, settings: DataConfig, message: str) -> None:
    with pytest.raises(DataError) as caught:
        series_values(array, "x", settings)
    assert str(caught.value) == message
