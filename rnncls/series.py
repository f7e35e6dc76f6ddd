"""The series reader: arrays and JSON given to ``predict`` and ``serve`` as a run's
series, and series padded side by side into one batch (numpy only).

A series is (steps, channels) of float32; NaN marks a step's missing value, and a batch
pads each series' end with NaN, which the model masks: a series answers the same alone
or beside longer ones.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rnncls.errors import InputError


def accepted_shapes(channels: int) -> str:
    if channels == 1:
        return "(T,) for one series, (N, T) or (N, T, 1) for several"
    return f"(T, {channels}) for one series, (N, T, {channels}) for several"


def array_to_series(array: np.ndarray, name: str, channels: int) -> list[np.ndarray]:
    """An array of one series or several, for a run of ``channels`` channels, as a list
    of float32 (steps, channels) arrays."""
    array = np.asarray(array)
    if array.dtype.kind not in "iuf" or array.dtype.kind == "b":
        raise InputError(f"{name}: array of {array.dtype}; expected numbers")
    if channels == 1 and array.ndim == 1:
        stack = array.reshape(1, -1, 1)
    elif channels == 1 and array.ndim == 2:
        stack = array[..., np.newaxis]
    elif array.ndim == 2 and array.shape[1] == channels:
        stack = array[np.newaxis]
    elif array.ndim == 3 and array.shape[2] == channels:
        stack = array
    else:
        raise InputError(
            f"{name}: array of shape {array.shape}; expected {accepted_shapes(channels)}"
        )
    stack = stack.astype(np.float32)
    if np.isinf(stack).any():
        raise InputError(f"{name}: the array holds infinite values")
    return [trimmed(series, f"{name}[{i}]") for i, series in enumerate(stack)]


def trimmed(series: np.ndarray, name: str) -> np.ndarray:
    """A series without the steps of NaN alone at its end (padding); an empty one is an
    error."""
    valid = ~np.isnan(series).all(axis=1)
    if not valid.any():
        raise InputError(f"{name}: an empty series (no values)")
    return series[: len(valid) - int(np.argmax(valid[::-1]))]


def json_series(text: str, name: str, channels: int) -> list[np.ndarray]:
    """JSON: one series (``[1, 2, 3]`` for a univariate run, ``[[...], ...]`` a step a
    row) or several, of any lengths (a list of them); ``null`` is a missing value."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InputError(f"{name}: not valid JSON") from None
    if not isinstance(value, list) or not value:
        shown = "an empty array" if value == [] else f"a {type(value).__name__}"
        raise InputError(f"{name}: expected a JSON array of numbers, got {shown}")
    depth = _depth(value)
    if depth == 2 and channels == 1 and all(len(step) == 1 for step in value):
        depth = 1  # [[x], [y], ...]: one univariate series a step a row
        value = [step[0] for step in value]
    one = depth == 1 or (depth == 2 and channels > 1)
    series = [value] if one else value
    found = []
    for index, item in enumerate(series):
        where = name if one else f"{name}[{index}]"
        try:
            array = np.array(_nulls_as_nan(item), dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise InputError(f"{where}: not a rectangular array of numbers") from None
        if channels > 1 and array.ndim != 2:
            raise InputError(
                f"{where}: array of shape {array.shape}; expected (T, {channels}) a series"
            )
        (read,) = array_to_series(array if channels > 1 else array.reshape(-1), where, channels)
        found.append(read)
    return found


def _depth(value: Any) -> int:
    """How deep lists nest at the start of ``value`` (a number: 0)."""
    depth = 0
    while isinstance(value, list) and value:
        depth, value = depth + 1, value[0]
    return depth


def _nulls_as_nan(value: Any) -> Any:
    if isinstance(value, list):
        return [_nulls_as_nan(item) for item in value]
    return float("nan") if value is None else value


SPARKS = "▁▂▃▄▅▆▇█"


def render_text(series: np.ndarray, captions: list[str], width: int = 80) -> str:
    """Each series as one line of bars (its channels' mean, scaled between its own
    least and largest value), at most ``width`` characters, under its caption."""
    blocks = []
    for one, caption in zip(series, captions, strict=True):
        steps = np.asarray(one, np.float64)
        steps = steps[~np.isnan(steps).all(axis=1)]  # padding and wholly missing steps out
        values = np.nanmean(steps, axis=1) if len(steps) else np.zeros(0)
        if len(values) > width:  # the mean of each character's share of the steps
            edges = np.linspace(0, len(values), width + 1).round().astype(int)
            values = np.add.reduceat(values, edges[:-1]) / np.diff(edges)
        low, high = (values.min(), values.max()) if len(values) else (0.0, 0.0)
        scale = (len(SPARKS) - 1) / (high - low) if high > low else 0.0
        line = "".join(SPARKS[int(round((v - low) * scale))] for v in values)
        blocks.append(f"{caption}\n{line}")
    return "\n".join(blocks)


def pad(series: list[np.ndarray], channels: int) -> np.ndarray:
    """Series of any lengths as one batch (n, longest, channels), each end padded with
    NaN."""
    longest = max((len(one) for one in series), default=0)
    batch = np.full((len(series), longest, channels), np.nan, np.float32)
    for index, one in enumerate(series):
        batch[index, : len(one)] = one
    return batch
