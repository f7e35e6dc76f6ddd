"""rnncls.checkpoints: the checkpoint file round-trips bit for bit, and every kind of
damage is one line naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rnncls import checkpoints, rundir
from rnncls.errors import RunError

STATE = {"step": 20, "loss_sum": 1.5, "loss_count": 4, "train_seconds": 0.25}


def test_checkpoint_round_trip_keeps_names_dtype_and_bits(tmp_path: Path) -> None:
    arrays = {
        "model": {
            f"layer/{i:02d}/kernel": np.arange(i + 2, dtype=np.float32) / 3 for i in range(12)
        },
        "optimizer": {"iteration": np.array(7, np.int64), "m": np.full((2, 3), np.nan, np.float32)},
    }
    checkpoints.save_checkpoint(tmp_path, STATE, arrays)
    state, loaded = checkpoints.load_checkpoint(tmp_path)
    assert state == STATE
    assert loaded.keys() == arrays.keys()
    for group, named in arrays.items():
        assert list(loaded[group]) == sorted(named)  # names, in sorted order
        for name, a in named.items():
            b = loaded[group][name]
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert os.listdir(tmp_path) == [rundir.CHECKPOINT_FILE]


def test_no_checkpoint_yet(tmp_path: Path) -> None:
    assert checkpoints.load_checkpoint(tmp_path) is None


def checkpoint_with_state(path: Path, state: object) -> None:
    np.savez(path / rundir.CHECKPOINT_FILE, state=np.array(json.dumps(state)))


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ([], "its state is not a JSON object"),
        ({}, "its step is None, not a count"),
        ({"step": -1}, "its step is -1, not a count"),
        ({"step": True}, "its step is True, not a count"),
        ({"step": 1.0}, "its step is 1.0, not a count"),
        ({"step": 0, "loss_sum": "x"}, "its loss_sum is 'x', not a number"),
        ({"step": 0, "loss_count": False}, "its loss_count is False, not a number"),
        ({"step": 0, "train_seconds": None}, "its train_seconds is None, not a number"),
    ],
)
def test_a_checkpoint_with_a_bad_state_is_damaged(tmp_path, state, reason) -> None:
    checkpoint_with_state(tmp_path, state)
    with pytest.raises(RunError) as caught:
        checkpoints.load_checkpoint(tmp_path)
    assert (
        str(caught.value) == f"checkpoint {tmp_path / rundir.CHECKPOINT_FILE} is damaged: {reason}"
    )


@pytest.mark.parametrize("state", [{"step": 0}, {"step": 5, "loss_sum": 2, "loss_count": 1.5}])
def test_a_checkpoint_with_a_good_state_loads(tmp_path, state) -> None:
    checkpoint_with_state(tmp_path, state)
    assert checkpoints.load_checkpoint(tmp_path) == (state, {})


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"not a zip", "not an npz archive"), (b"", "not an npz archive")],
)
def test_a_checkpoint_that_is_not_an_archive_is_damaged(tmp_path, content, reason) -> None:
    (tmp_path / rundir.CHECKPOINT_FILE).write_bytes(content)
    with pytest.raises(RunError, match=f"is damaged: {reason}$"):
        checkpoints.load_checkpoint(tmp_path)


def test_a_checkpoint_with_pickled_objects_is_damaged(tmp_path: Path) -> None:
    np.savez(
        tmp_path / rundir.CHECKPOINT_FILE,
        state=np.array(json.dumps(STATE)),
        **{"model/0000": np.array([{"a": 1}], dtype=object)},
    )
    with pytest.raises(RunError, match="is damaged: Object arrays cannot be loaded"):
        checkpoints.load_checkpoint(tmp_path)


def test_a_checkpoint_without_state_is_damaged_in_one_line(tmp_path: Path) -> None:
    np.savez(tmp_path / rundir.CHECKPOINT_FILE, other=np.zeros(2))
    with pytest.raises(RunError) as caught:
        checkpoints.load_checkpoint(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"checkpoint {tmp_path / rundir.CHECKPOINT_FILE} is damaged: ")
    assert "state" in message and "\n" not in message and "  " not in message
