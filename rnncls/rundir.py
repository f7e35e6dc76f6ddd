"""Run directories: layout, atomic writes, checkpoints, metrics and ``runs/latest``.

Every file in a run directory is written aside and renamed into place, so a crash or a
kill at any moment leaves the previous version intact. numpy only: no TensorFlow here.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncls.errors import RunError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, run directories are not locked
    fcntl = None  # type: ignore[assignment]

# Where new runs go and runs/latest lives; RNNCLS_RUNS_DIR makes every command use one
# folder, whichever folder it is started in.
RUNS_ROOT = Path(os.environ.get("RNNCLS_RUNS_DIR") or "runs")
LATEST = "latest"
CONFIG_FILE = "config.toml"
CHECKPOINT_FILE = "checkpoint.npz"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.keras"
ONNX_FILE = "model.onnx"
CURVES_FILE = "curves.png"
# What the run knows of its data set (rnncls/datasets/recorded.py): its description, and
# the index of its files, to tell on resume whether they changed.
DATASET_FILE = "dataset.json"
DATA_INDEX_FILE = "data-index.json.gz"
TENSORBOARD_DIR = "tensorboard"
# A search trial's outcome, written by `rnncls tune` when the trial ends (rnncls/trials.py)
TRIAL_FILE = "trial.json"
RUN_FILES = (
    CONFIG_FILE,
    CHECKPOINT_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    MODEL_FILE,
    ONNX_FILE,
    CURVES_FILE,
    TRIAL_FILE,
    DATASET_FILE,
    DATA_INDEX_FILE,
)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


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
    A failure to write (a full disk, a read-only folder) is a :class:`RunError` that
    names ``path``. A kill leaves at most a temporary file, which the next training in
    that run directory removes (:func:`remove_temporary_files`).
    """
    path = Path(path)
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
        )
    except OSError as exc:
        raise RunError(f"cannot write {path}: {_reason(exc)}") from None
    os.close(fd)
    temporary_path = Path(temporary)
    try:
        os.chmod(temporary_path, 0o666 & ~_umask())  # mkstemp makes 0600; use the usual mode
        yield temporary_path
        with open(temporary_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary_path, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise RunError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        try:
            temporary_path.unlink(missing_ok=True)
        except OSError:
            pass


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


def new_run_dir(root: Path = RUNS_ROOT, *, create: bool = False) -> Path:
    """A fresh name under ``root``: the start time, with a suffix if it is taken.

    With ``create`` the folder is made here, atomically, so two trainings started in the
    same second never share one.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if create:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create {root}: {_reason(exc)}") from None
    for number in itertools.count(1):
        candidate = root / (stamp if number == 1 else f"{stamp}-{number}")
        if not create:
            if not candidate.exists():
                return candidate
            continue
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"cannot create run directory {candidate}: {_reason(exc)}") from None
    raise AssertionError("itertools.count never ends")


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()


def check_writable(path: Path | None) -> None:
    """Fail early, before any work, where a run directory cannot be written: ``path``
    itself, or the nearest folder above it that exists (``None``: ``runs/``)."""
    existing = (path or RUNS_ROOT).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and not os.access(existing, os.W_OK):
        raise RunError(f"cannot write in {existing}: permission denied or read-only")


def check_run_dir(path: Path | None, *, resume: bool, force: bool) -> bool:
    """Refuse what must not happen to ``path``, without touching it; return True when
    there is a run to resume. A run is never overwritten without ``--force``.

    ``None`` means a new run directory under ``runs/``, chosen when it is claimed.
    """
    if path is None:
        if resume:
            raise RunError("nothing to resume: no run directory given")
        return False
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


def claim_run_dir(path: Path | None, *, fresh: bool, root: Path = RUNS_ROOT) -> Path:
    """Create and lock ``path`` (``None``: a new folder under ``root``) and return it.

    The lock (held until this process ends or claims the folder again) keeps a second
    training out of a run directory in use; holding it, the temporary files a killed
    training may have left are removed, and a ``fresh`` start removes an old run's files.
    """
    if path is None:
        path = new_run_dir(root, create=True)
    else:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create run directory {path}: {_reason(exc)}") from None
    if not os.access(path, os.W_OK):
        raise RunError(f"run directory {path} is not writable")
    _lock(path)
    remove_temporary_files(path)
    if fresh:
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
        shutil.rmtree(path / TENSORBOARD_DIR, ignore_errors=True)
    return path


# Run directories this process holds: resolved path -> (descriptor, inode).
_LOCKS: dict[str, tuple[int, int]] = {}


def _lock(path: Path) -> None:
    """An exclusive ``flock`` on the folder; the kernel drops it when the process dies,
    so a killed training never leaves a stale lock."""
    if fcntl is None:
        return
    key, inode = str(path.resolve()), path.stat().st_ino
    held = _LOCKS.get(key)
    if held and held[1] == inode:
        return
    if held:
        release_run_dir(path)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise RunError(
            f"run directory {path} is in use by another training; wait for it to end "
            "or choose another --run-dir"
        ) from None
    _LOCKS[key] = (descriptor, inode)


def is_locked(path: Path) -> bool:
    """Whether a training (in any process, this one included) holds the run directory's
    lock, that is, whether the run is running now.

    The probe is a shared, non-blocking ``flock`` on a fresh descriptor, released at
    once: it conflicts with a training's exclusive lock, but not with another probe, so
    two listings at the same moment never see each other as a training.
    """
    if fcntl is None:
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # closing the descriptor releases the probe's lock
    return False


def release_run_dir(path: Path) -> None:
    held = _LOCKS.pop(str(path.resolve()), None)
    if held:
        os.close(held[0])


def temporary_files(run_dir: Path) -> list[Path]:
    """The temporary files of :func:`atomic_path` in ``run_dir`` (a kill's leftovers)."""
    found: list[Path] = []
    for name in RUN_FILES:
        stem, suffix = os.path.splitext(name)
        found.extend(run_dir.glob(f".{stem}.*.tmp{suffix}"))
    return sorted(found)


def remove_temporary_files(run_dir: Path) -> None:
    """Remove what killed trainings left half-written; only safe while holding the lock."""
    for path in temporary_files(run_dir):
        path.unlink(missing_ok=True)


def update_latest(run_dir: Path, root: Path = RUNS_ROOT) -> None:
    """Point ``root/latest`` at ``run_dir`` (a symlink swapped in atomically)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {root}: {_reason(exc)}") from None
    run_dir = run_dir.resolve()
    try:
        target = str(run_dir.relative_to(root.resolve()))
    except ValueError:
        target = str(run_dir)
    temporary = root / f".{LATEST}.tmp{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        os.symlink(target, temporary)
        os.replace(temporary, root / LATEST)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise RunError(f"cannot update {root / LATEST}: {_reason(exc)}") from None


def latest_run(root: Path = RUNS_ROOT) -> Path | None:
    """The newest finished run (``runs/latest``), or None where there is none yet."""
    latest = root / LATEST
    return latest.resolve() if latest.exists() else None


def run_folder(path: Path) -> Path:
    """The run directory that ``path`` names: itself, or a model file's folder."""
    return path if path.is_dir() else path.parent


@dataclass(frozen=True)
class RunTarget:
    """What ``--run`` names, worked out once: a run directory or a model file."""

    path: Path  # the run directory or model file named (runs/latest resolved)
    folder: Path | None  # its run directory (a model file's folder when that is a run)
    model: Path  # the model that answers: model.onnx, else model.keras, or the file named

    def keras_model(self) -> Path:
        """The Keras model (what every export reads)."""
        if self.model.suffix == ".keras":
            return self.model
        path = self.folder / MODEL_FILE if self.folder is not None else self.model
        if path.suffix != ".keras":
            raise RunError(f"{self.path}: export reads a Keras model (.keras); pass its run")
        if not path.is_file():
            raise RunError(f"{path.parent} has no {MODEL_FILE} to export")
        return path


def resolve_run(path: str | os.PathLike | None, root: Path = RUNS_ROOT) -> RunTarget:
    """The run directory or model file that ``--run`` names; default ``runs/latest``."""
    if path is None:
        latest = root / LATEST
        if not latest.exists():
            raise RunError(
                f"no finished run found ({latest} does not exist); train one with "
                "`rnncls train` or pass --run PATH"
            )
        resolved = latest.resolve()
    else:
        resolved = Path(path).expanduser()
    if not resolved.exists():
        raise RunError(f"run not found: {resolved}")
    if resolved.is_dir():
        for name in (ONNX_FILE, MODEL_FILE):
            if (resolved / name).is_file():
                return RunTarget(resolved, resolved, resolved / name)
        raise RunError(f"{resolved} is not a finished run: it has no {MODEL_FILE} or {ONNX_FILE}")
    if resolved.suffix not in (".onnx", ".keras"):
        raise RunError(f"{resolved}: not a model file; expected a run directory, .onnx or .keras")
    folder = resolved.parent if (resolved.parent / CONFIG_FILE).is_file() else None
    return RunTarget(resolved, folder, resolved)


# ---------------------------------------------------------------------- checkpoints


def checkpoint_step(run_dir: Path) -> int | None:
    """The step of a run's checkpoint (its state alone is read), None without one."""
    path = run_dir / CHECKPOINT_FILE
    try:
        with np.load(path, allow_pickle=False) as archive:
            step = json.loads(str(archive["state"])).get("step")
    except Exception:  # noqa: BLE001 - missing or damaged: no step to tell
        return None
    return step if isinstance(step, int) else None


# ---------------------------------------------------------------------- a run's state

# trial.json's states (written by ``rnncls tune``), as a run's state names them.
TRIAL_STATES = {"complete": "finished", "pruned": "pruned", "failed": "failed"}


@dataclass(frozen=True)
class RunState:
    """What :func:`run_state` finds: the state, the step of "interrupted at step N" and
    "pruned at step N", the checkpoint's step, and the summary when it tells of the
    run's last step."""

    state: str  # running, finished, pruned, failed or interrupted
    step: int | None = None
    checkpoint: int | None = None
    summary: dict[str, Any] | None = None


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file; None where it is missing, damaged or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def run_state(run_dir: Path) -> RunState:
    """The one rule for a run's state (``rnncls runs`` shows it, ``train --resume``
    without ``--run-dir`` picks by it); the first that applies:

    - ``running``: a training holds the run directory's lock (:func:`is_locked`);
    - ``finished``: a summary that is not older than the checkpoint (a finished run
      continued to more steps, then stopped, is no longer finished; a failed or pruned
      trial resumed to its end with ``rnncls train --resume`` is);
    - a search trial (a ``trial.json``) has the state its trial records: ``complete`` is
      ``finished``, ``pruned`` is ``pruned`` at the trial's step (else the checkpoint's),
      ``failed`` is ``failed``, and ``running`` with no lock held is ``failed`` (its
      worker died);
    - ``interrupted`` at the checkpoint's step: a checkpoint and no summary of it;
    - ``failed``: neither a checkpoint nor a summary.
    """
    checkpoint = checkpoint_step(run_dir)
    summary = read_json_object(run_dir / SUMMARY_FILE)
    if summary is not None and checkpoint not in (None, summary.get("steps")):
        summary = None
    if is_locked(run_dir):  # a training in it makes more steps than any summary says
        return RunState("running", checkpoint=checkpoint)
    if summary is not None:
        return RunState("finished", checkpoint=checkpoint, summary=summary)
    trial = read_json_object(run_dir / TRIAL_FILE) or {}
    if trial.get("state") == "running":
        return RunState("failed", checkpoint=checkpoint)
    state = TRIAL_STATES.get(trial.get("state"))  # type: ignore[arg-type]
    if state == "pruned":
        step = trial.get("step")
        step_known = isinstance(step, int) and not isinstance(step, bool)
        return RunState(state, step if step_known else checkpoint, checkpoint)
    if state is not None:
        return RunState(state, checkpoint=checkpoint)
    if checkpoint is not None:
        return RunState("interrupted", checkpoint, checkpoint)
    return RunState("failed")


def is_interrupted(run_dir: Path) -> bool:
    """A run with steps still to go, which ``train --resume`` can continue: any state but
    finished."""
    return run_state(run_dir).state != "finished"


def newest_interrupted_run(root: Path = RUNS_ROOT) -> Path:
    """The run ``train --resume`` continues without ``--run-dir``: the newest (by its
    folder's time) of the interrupted runs directly under ``root``; runs/latest, a link,
    is not one of them."""
    candidates = [
        path
        for path in root.glob("*")
        if is_run_dir(path) and not path.is_symlink() and is_interrupted(path)
    ]
    if not candidates:
        raise RunError(f"no interrupted run to resume in {root}/; pass --run-dir")
    return max(candidates, key=lambda path: path.stat().st_mtime)


# ---------------------------------------------------------------------- metrics


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """One line more; a line cut short by a kill or a full disk is dropped when read,
    and a resume rewrites the file up to its checkpoint."""
    try:
        with open(run_dir / METRICS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise RunError(f"cannot write {run_dir / METRICS_FILE}: {_reason(exc)}") from None


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
