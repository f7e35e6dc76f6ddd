"""The numbers a series run records of its training split (rnncls.datasets): each series'
length and each channel's mean and deviation over the values alone, checked against
numpy's nanmean and nanstd and against series written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnncls.datasets import series_lengths, series_statistics

NAN = np.nan


def test_a_series_ends_after_its_last_step_with_any_value() -> None:
    series = np.array(
        [
            [[1, 2], [3, NAN], [NAN, NAN]],  # padded after 2 steps
            [[NAN, NAN], [NAN, 4], [NAN, NAN]],  # a missing first step, then 1 value
            [[5, 6], [7, 8], [9, 0]],  # full
            [[NAN, NAN], [NAN, NAN], [NAN, NAN]],  # no value at all
        ]
    )
    assert series_lengths(series).tolist() == [2, 2, 3, 0]
    assert series_lengths(np.zeros((3, 0, 2))).tolist() == [0, 0, 0]


def test_means_and_deviations_over_the_values_alone() -> None:
    series = np.array(
        [
            [[1.0, 5.0, NAN], [3.0, 5.0, NAN]],
            [[2.0, 5.0, NAN], [NAN, NAN, NAN]],
        ]
    )
    found = series_statistics(series)
    # channel 0: 1, 3, 2 -> mean 2, population deviation sqrt(2 / 3); channel 1 never
    # changes and channel 2 has no value: deviation 1, mean 0 where there is nothing
    assert found["mean"] == pytest.approx((2.0, 5.0, 0.0))
    assert found["std"] == pytest.approx((np.sqrt(2 / 3), 1.0, 1.0))


def test_statistics_agree_with_numpy_on_random_padded_series() -> None:
    rng = np.random.default_rng(3)
    series = rng.normal(loc=[10.0, -2.0], scale=[3.0, 0.5], size=(30, 20, 2))
    series[rng.random((30, 20)) < 0.3] = NAN  # missing steps
    series[:, 15:, 0] = NAN  # one channel padded
    flat = series.reshape(-1, 2)
    found = series_statistics(series.astype(np.float32))
    assert found["mean"] == pytest.approx(tuple(np.nanmean(flat, axis=0)), rel=1e-5)
    assert found["std"] == pytest.approx(tuple(np.nanstd(flat, axis=0)), rel=1e-5)
    assert all(isinstance(x, float) for x in found["mean"] + found["std"])
