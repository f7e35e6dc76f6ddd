"""The runs under a folder and how two runs differ, for ``rnncls runs`` and ``rnncls runs
diff``: plain functions that read run directories and return dataclasses; the CLI shows
them.

Standard library and :mod:`rnncls.rundir` only (no TensorFlow, no numpy of its own), so
listing hundreds of runs is cheap and the rules below can be mutation-tested.

A run's state is :func:`rundir.run_state`'s.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncls import rundir
from rnncls.config import load_config, read_toml, written
from rnncls.config_keys import keys
from rnncls.errors import ConfigError, RunError

# What a listing says of each run, in the order of the table's first columns.
COLUMNS = ("name", "state", "steps", "validation_accuracy", "test_accuracy", "train_seconds")
# What --sort takes besides the config keys.
SORT_COLUMNS = (*COLUMNS, "test_loss")
# The metrics `runs diff` compares (B minus A).
METRICS = ("steps", "validation_accuracy", "test_accuracy", "test_loss", "train_seconds")


@dataclass(frozen=True)
class RunInfo:
    """One run directory as a listing shows it; None where a value is not known."""

    name: str  # the path relative to the listed folder ("." for the folder itself)
    state: str  # finished, interrupted, pruned, running or failed
    stopped_at: int | None  # the step of "interrupted at step N" and "pruned at step N"
    steps: int | None
    validation_accuracy: float | None
    test_accuracy: float | None
    test_loss: float | None
    train_seconds: float | None
    config: dict[str, Any] = field(default_factory=dict)  # dotted key -> value

    @property
    def state_text(self) -> str:
        if self.stopped_at is None:
            return self.state
        return f"{self.state} at step {self.stopped_at}"

    def value(self, key: str) -> Any:
        """A column's value, or a config key's (None where the run has no such key)."""
        if key in SORT_COLUMNS:
            return getattr(self, key)
        return self.config.get(key)

    def to_json(self) -> dict[str, Any]:
        """Every field; the config whole, nested by section as in config.toml."""
        nested: dict[str, Any] = {}
        for key, value in self.config.items():
            section, _, name = key.partition(".")
            nested.setdefault(section, {})[name] = value
        return {
            "name": self.name,
            "state": self.state,
            "stopped_at": self.stopped_at,
            "steps": self.steps,
            "validation_accuracy": self.validation_accuracy,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "train_seconds": self.train_seconds,
            "config": nested,
        }


# ---------------------------------------------------------------------- finding runs


def find_run_dirs(folder: Path) -> list[Path]:
    """The run directories in ``folder`` and below it (the trials of a search too), in
    no particular order. Symbolic links are not followed (``runs/latest`` names a run
    listed already), run directories are not searched inside, hidden folders are
    skipped (a checkout's ``.venv``), and unreadable folders are left out."""
    if rundir.is_run_dir(folder):
        return [folder]
    found: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        found.extend(find_run_dirs(Path(entry.path)))
    return found


def name_order(name: str) -> list[Any]:
    """Names in natural order: trial-2 before trial-10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_runs(folder: Path) -> list[RunInfo]:
    """Every run under ``folder``, by name; a RunError where ``folder`` is no folder."""
    if not folder.exists():
        raise RunError(f"runs folder not found: {folder}")
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder")
    found = [read_run(path, path.relative_to(folder).as_posix()) for path in find_run_dirs(folder)]
    return sorted(found, key=lambda run: name_order(run.name))


# ---------------------------------------------------------------------- one run


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"hidden_units": 8}}`` -> ``{"model.hidden_units": 8}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_config(run_dir: Path) -> dict[str, Any]:
    """The run's config as dotted keys: resolved (defaults filled in, so an older run
    compares with a newer one), or as written where it no longer resolves, or empty
    where it cannot be read."""
    path = run_dir / rundir.CONFIG_FILE
    try:
        return flatten(written(load_config(path)))
    except ConfigError:
        pass
    try:
        return flatten(read_toml(path))
    except ConfigError:
        return {}


def number(value: Any) -> float | None:
    """A finite number from a JSON file, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_run(run_dir: Path, name: str) -> RunInfo:
    """What a listing shows of one run directory; never fails on a damaged file."""
    found = rundir.run_state(run_dir)
    summary = found.summary or {}
    validation = number(summary.get("validation_accuracy"))
    if validation is None:
        try:
            records = rundir.read_metrics(run_dir)
        except (OSError, UnicodeDecodeError):
            records = []
        last = records[-1] if records and isinstance(records[-1], dict) else {}
        validation = number(last.get("eval_accuracy"))
    steps = count(summary.get("steps"))
    if steps is None:
        steps = found.checkpoint if found.checkpoint is not None else found.step
    return RunInfo(
        name=name,
        state=found.state,
        stopped_at=found.step,
        steps=steps,
        validation_accuracy=validation,
        test_accuracy=number(summary.get("test_accuracy")),
        test_loss=number(summary.get("test_loss")),
        train_seconds=number(summary.get("train_seconds")),
        config=read_config(run_dir),
    )


# ---------------------------------------------------------------------- many runs


def differing_keys(listed: list[RunInfo]) -> list[str]:
    """The config keys whose values are not the same in every listed run (a key a run
    lacks counts as a value of its own), in the order the configs give them."""
    keys: dict[str, None] = {}
    for run in listed:
        keys.update(dict.fromkeys(run.config))
    missing = object()
    differing = []
    for key in keys:
        values = [run.config.get(key, missing) for run in listed]
        if any(not same(value, values[0]) for value in values[1:]):
            differing.append(key)
    return differing


def same(first: Any, second: Any) -> bool:
    """Equal and of one kind: true is not 1, 1 is 1.0."""
    return first == second and isinstance(first, bool) == isinstance(second, bool)


def sort_keys(listed: list[RunInfo]) -> list[str]:
    """What --sort takes: the columns, then every config key of the listed runs."""
    known = dict.fromkeys([*SORT_COLUMNS, *(f"{s}.{k}" for s, k in keys())])
    for run in listed:
        known.update(dict.fromkeys(run.config))
    return list(known)


def sort_runs(listed: list[RunInfo], key: str, reverse: bool = False) -> list[RunInfo]:
    """The runs ordered by a column or a config key; those without a value come last,
    reversed or not, in name order. An unknown key is a ConfigError."""
    if key not in sort_keys(listed):
        raise ConfigError(
            f"unknown sort key {key!r}: sort by {', '.join(SORT_COLUMNS)} or a config key "
            "such as model.hidden_units (`rnncls config keys` lists them)"
        )
    by_name = sorted(listed, key=lambda run: name_order(run.name))
    present = [run for run in by_name if run.value(key) is not None]
    missing = [run for run in by_name if run.value(key) is None]
    if key == "name":
        ordered = sorted(present, key=lambda run: name_order(run.name), reverse=reverse)
    elif key == "state":
        ordered = sorted(present, key=lambda run: (run.state, run.stopped_at or 0), reverse=reverse)
    else:
        ordered = sorted(present, key=lambda run: sortable(run.value(key)), reverse=reverse)
    return ordered + missing


def sortable(value: Any) -> tuple[int, Any]:
    """Numbers by value, then text, then anything else by its text, never compared
    across kinds."""
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, str(value))


# ---------------------------------------------------------------------- two runs


@dataclass(frozen=True)
class RunDiff:
    a: RunInfo
    b: RunInfo
    config: list[tuple[str, Any, Any]]  # (key, A's value, B's value); None: not in that run
    metrics: list[tuple[str, Any, Any, Any]]  # (metric, A, B, B minus A or None)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.name,
            "b": self.b.name,
            "state": {"a": self.a.state_text, "b": self.b.state_text},
            "config": {key: {"a": a, "b": b} for key, a, b in self.config},
            "metrics": {
                metric: {"a": a, "b": b, "difference": difference}
                for metric, a, b, difference in self.metrics
            },
        }


def read_named_run(path: Path) -> RunInfo:
    if not path.exists():
        raise RunError(f"run not found: {path}")
    if not rundir.is_run_dir(path):
        raise RunError(f"{path} is not a run directory (it has no {rundir.CONFIG_FILE})")
    return read_run(path, str(path))


def diff_runs(path_a: Path, path_b: Path) -> RunDiff:
    """The config keys in which run B differs from run A, and B's metrics minus A's."""
    a, b = read_named_run(path_a), read_named_run(path_b)
    config = [(key, a.config.get(key), b.config.get(key)) for key in differing_keys([a, b])]
    metrics = []
    for metric in METRICS:
        value_a, value_b = a.value(metric), b.value(metric)
        both = value_a is not None and value_b is not None
        metrics.append((metric, value_a, value_b, value_b - value_a if both else None))
    return RunDiff(a=a, b=b, config=config, metrics=metrics)
