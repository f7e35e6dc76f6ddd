"""A run's checkpoint file: the training state and every variable, written atomically
and read back with a one-line error for any damage. numpy only: no TensorFlow here.

:mod:`rnncls.rundir` owns the file's name and reads a checkpoint's step alone
(:func:`rnncls.rundir.checkpoint_step`); the state's fields are
:class:`rnncls.training_state.TrainingState`'s.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rnncls.errors import RunError
from rnncls.rundir import CHECKPOINT_FILE, write_with

Arrays = dict[str, dict[str, np.ndarray]]


def save_checkpoint(run_dir: Path, state: dict[str, Any], arrays: Arrays) -> None:
    """Write the training state atomically: ``state`` is JSON-able scalars (format
    version, step, loss sums, timings); ``arrays`` maps a group ("model", "optimizer",
    ...) to its variables by name."""
    payload: dict[str, np.ndarray] = {"state": np.array(json.dumps(state))}
    for group, named in arrays.items():
        for name, value in named.items():
            payload[f"{group}/{name}"] = np.asarray(value)

    def writer(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            np.savez(handle, **payload)

    write_with(run_dir / CHECKPOINT_FILE, writer)


def load_checkpoint(run_dir: Path) -> tuple[dict[str, Any], Arrays] | None:
    """The last checkpoint of a run (its state, and its arrays by group and name, the
    names in sorted order), or None when it has none yet."""
    path = run_dir / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        if not zipfile.is_zipfile(path):
            raise ValueError("not an npz archive")
        with np.load(path, allow_pickle=False) as archive:
            state = json.loads(str(archive["state"]))
            arrays: Arrays = {}
            for key in sorted(k for k in archive.files if k != "state"):
                group, _, name = key.partition("/")
                arrays.setdefault(group, {})[name] = archive[key]
        _check_state(state)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is the same error
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RunError(f"checkpoint {path} is damaged: {reason}") from None
    return state, arrays


def _check_state(state: Any) -> None:
    if not isinstance(state, dict):
        raise ValueError("its state is not a JSON object")
    step = state.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"its step is {step!r}, not a count")
    for key in ("loss_sum", "loss_count", "train_seconds"):
        value = state.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"its {key} is {value!r}, not a number")
