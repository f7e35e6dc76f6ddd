"""Run directories: layout, atomic writes, checkpoints, metrics and ``runs/latest``.

Every file in a run directory is written aside and renamed into place, so a crash or a
kill at any moment leaves the previous version intact. numpy only: no TensorFlow here.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

RUNS_ROOT = Path("runs")
LATEST = "latest"
CONFIG_FILE = "config.toml"
CHECKPOINT_FILE = "checkpoint.npz"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.keras"
ONNX_FILE = "model.onnx"
CURVES_FILE = "curves.png"
RUN_FILES = (
    CONFIG_FILE,
    CHECKPOINT_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    MODEL_FILE,
    ONNX_FILE,
    CURVES_FILE,
)


class RunError(RuntimeError):
    """A run directory that is missing, damaged or must not be touched; exit 1."""


# ---------------------------------------------------------------------- atomic writes


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary name keeps the suffix (Keras insists on ``.keras``), and on any
    failure it is removed, so nothing half-written is ever left behind.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    temporary_path = Path(temporary)
    os.chmod(temporary_path, 0o666 & ~_umask())  # mkstemp makes 0600; use the usual mode
    try:
        yield temporary_path
        with open(temporary_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary_path, path)
        _fsync_dir(path.parent)
    finally:
        if temporary_path.exists():
            temporary_path.unlink()


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2) + "\n")


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill a temporary file, then rename it onto ``path``."""
    with atomic_path(path) as temporary:
        writer(temporary)


# ---------------------------------------------------------------------- run folders


def new_run_dir(root: Path = RUNS_ROOT) -> Path:
    """A fresh name under ``root``: the start time, with a suffix if it is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, number = root / stamp, 1
    while candidate.exists():
        number += 1
        candidate = root / f"{stamp}-{number}"
    return candidate


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()


def check_run_dir(path: Path, *, resume: bool, force: bool) -> bool:
    """Refuse what must not happen to ``path``, without touching it; return True when
    there is a run to resume. A run is never overwritten without ``--force``."""
    if path.exists() and not path.is_dir():
        raise RunError(f"run directory {path} exists and is not a directory")
    if resume:
        if not is_run_dir(path):
            raise RunError(f"nothing to resume: {path} is not a run directory (no {CONFIG_FILE})")
        return True
    if path.exists() and any(path.iterdir()):
        if not is_run_dir(path):
            raise RunError(
                f"{path} is not empty and is not a run directory; choose another --run-dir"
            )
        if not force:
            raise RunError(
                f"run directory {path} already holds a run; use --resume to continue it "
                "or --force to start it over"
            )
    return False


def claim_run_dir(path: Path, *, fresh: bool) -> None:
    """Create ``path`` (a ``fresh`` start first removes the files of an old run)."""
    if fresh and path.is_dir():
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise RunError(f"run directory {path} is not writable")


def update_latest(run_dir: Path, root: Path = RUNS_ROOT) -> None:
    """Point ``root/latest`` at ``run_dir`` (a symlink swapped in atomically)."""
    root.mkdir(parents=True, exist_ok=True)
    run_dir = run_dir.resolve()
    try:
        target = str(run_dir.relative_to(root.resolve()))
    except ValueError:
        target = str(run_dir)
    temporary = root / f".{LATEST}.tmp{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, root / LATEST)


def resolve_run(path: str | os.PathLike | None, root: Path = RUNS_ROOT) -> Path:
    """The run directory or model file that ``--run`` names; default ``runs/latest``."""
    if path is None:
        latest = root / LATEST
        if not latest.exists():
            raise RunError(
                f"no finished run found ({latest} does not exist); train one with "
                "`rnncls train` or pass --run PATH"
            )
        return latest.resolve()
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise RunError(f"run not found: {resolved}")
    if (
        resolved.is_dir()
        and not (resolved / MODEL_FILE).exists()
        and not (resolved / ONNX_FILE).exists()
    ):
        raise RunError(f"{resolved} is not a finished run: it has no {MODEL_FILE} or {ONNX_FILE}")
    return resolved


# ---------------------------------------------------------------------- checkpoints


def save_checkpoint(
    run_dir: Path, state: dict[str, Any], arrays: dict[str, list[np.ndarray]]
) -> None:
    """Write the training state atomically: ``state`` is JSON-able scalars (step, loss
    sums, timings); ``arrays`` maps a group ("model", "optimizer") to its variables."""
    payload: dict[str, np.ndarray] = {"state": np.array(json.dumps(state))}
    for group, values in arrays.items():
        for index, value in enumerate(values):
            payload[f"{group}/{index:04d}"] = np.asarray(value)

    def writer(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            np.savez(handle, **payload)

    write_with(run_dir / CHECKPOINT_FILE, writer)


def load_checkpoint(run_dir: Path) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]] | None:
    """The last checkpoint of a run, or None when it has none yet."""
    path = run_dir / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = json.loads(str(archive["state"]))
            arrays: dict[str, list[np.ndarray]] = {}
            for key in sorted(k for k in archive.files if k != "state"):
                group = key.split("/")[0]
                arrays.setdefault(group, []).append(archive[key])
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is the same error
        raise RunError(f"checkpoint {path} is damaged: {exc}") from None
    return state, arrays


# ---------------------------------------------------------------------- metrics


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a kill: everything before it is good
    return records


def truncate_metrics(run_dir: Path, last_step: int) -> list[dict[str, Any]]:
    """Keep the records up to ``last_step`` (the checkpoint a resume starts from)."""
    kept = [r for r in read_metrics(run_dir) if r.get("step", 0) <= last_step]
    write_text(run_dir / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / SUMMARY_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{path} is damaged: {exc}") from None
