"""Exact resume in real processes: SIGKILL at random moments, SIGINT and SIGTERM, and two
trainings at once. Every run is compared with an uninterrupted one, array by array."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_SETTINGS, held_run_dir, sets, write_mnist

from rnncls import checkpoints, rundir

# Big enough that the 200 steps take a few seconds on a CPU, so kills and signals land
# while training runs (about 15 ms a step on 2 cores), and small enough to stay cheap.
# Dropout and augmentation draw random numbers at every step: a resume must draw the same.
SETTINGS = [
    "model.hidden_units=128",
    "model.dropout=0.2",
    "augment.shift=2",
    "augment.rotation=10",
    "augment.zoom=0.1",
    "train.batch_size=128",
    "train.steps=200",
    "train.eval_every=10",
    "data.validation_size=100",
]
# The kill moments are random, but the same on every run of the test; set
# RNNCLS_KILL_SEED to try other moments.
KILL_SEED = int(os.environ.get("RNNCLS_KILL_SEED", "20240605"))


def start(*args: str | Path, cwd: Path, data: Path, stderr: Path | None = None) -> subprocess.Popen:
    """``rnncls train ARGS`` in a fresh process, as a user runs it."""
    env = {**os.environ, "RNNCLS_DATA_DIR": str(data)}
    return subprocess.Popen(
        [sys.executable, "-m", "rnncls", "train", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(stderr, "w") if stderr else subprocess.PIPE,  # noqa: SIM115
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out or "", err or ""


def checkpoint_step(run_dir: Path) -> int | None:
    """The step of the run's checkpoint (written atomically, so safe to read any time)."""
    loaded = checkpoints.load_checkpoint(run_dir) if run_dir.is_dir() else None
    return None if loaded is None else loaded[0]["step"]


def wait_for_step(process: subprocess.Popen, run_dir: Path, above: int | None) -> int | None:
    """Wait until the checkpoint passes ``above`` (training runs) or the process ends."""
    while process.poll() is None:
        step = checkpoint_step(run_dir)
        if step is not None and (above is None or step > above):
            return step
        time.sleep(0.02)
    return checkpoint_step(run_dir)


def different_arrays(run_a: Path, run_b: Path) -> list[str]:
    """The checkpoint arrays whose bits differ between two runs, by group and name (model,
    optimizer, random-number state, early stopping's best weights)."""
    state_a, arrays_a = checkpoints.load_checkpoint(run_a)
    state_b, arrays_b = checkpoints.load_checkpoint(run_b)
    assert state_a["step"] == state_b["step"]
    assert arrays_a.keys() == arrays_b.keys()
    assert {"model", "optimizer"} <= arrays_a.keys()
    different = []
    for group in arrays_a:
        assert arrays_a[group].keys() == arrays_b[group].keys(), group
        for name, a in arrays_a[group].items():
            b = arrays_b[group][name]
            assert a.shape == b.shape and a.dtype == b.dtype, name
            if a.tobytes() != b.tobytes():
                different.append(f"{group}/{name}")
    return different


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(run: Path, reference: Path) -> None:
    """Same weights, optimizer state, evaluations and test result as ``reference``."""
    assert different_arrays(run, reference) == []  # the README: to the last bit
    assert metrics(run) == metrics(reference)
    summary, expected = (json.loads((r / "summary.json").read_text()) for r in (run, reference))
    assert summary["steps"] == expected["steps"] == 200
    assert summary["test_loss"] == expected["test_loss"]
    assert rundir.temporary_files(run) == []


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("resume")
    write_mnist(folder / "mnist", train=1000, test=100)
    return folder


@pytest.fixture(scope="module")
def reference(workspace: Path) -> Path:
    """The uninterrupted run that every interrupted one must end equal to."""
    run_dir = workspace / "reference"
    process = start(
        "--run-dir", run_dir, "--quiet", *sets(SETTINGS), cwd=workspace, data=workspace / "mnist"
    )
    code, _, err = finish(process)
    assert code == 0, err
    return run_dir


# ---------------------------------------------------------------------- SIGKILL


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_gives_the_same_weights(workspace, reference):
    """Killed with SIGKILL at several random moments (start-up, training, checkpointing,
    saving), resumed each time: the run ends exactly where the uninterrupted one does.

    The first kill comes at a random time after start; each later one a random few
    milliseconds after the run passes a random step, so the kills spread over the whole
    run on a slow machine or a fast one.
    """
    rng = random.Random(KILL_SEED)
    run_dir = workspace / "killed"
    data = workspace / "mnist"
    targets = sorted(rng.sample(range(10, 200), 4))
    kills: list[tuple[int | None, int | None]] = []  # checkpoint step before and after
    for attempt in range(1 + len(targets)):
        before = checkpoint_step(run_dir)
        # What a user would type: --resume once the run exists, else start it again.
        args = ["--resume"] if rundir.is_run_dir(run_dir) else sets(SETTINGS)
        process = start("--run-dir", run_dir, "--quiet", *args, cwd=workspace, data=data)
        if attempt == 0:
            time.sleep(rng.uniform(0.3, 4.0))  # start-up, or early training
        else:
            while process.poll() is None and (checkpoint_step(run_dir) or 0) < targets[attempt - 1]:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
        if process.poll() is not None:
            continue  # it finished before its kill: nothing left to interrupt
        process.kill()
        process.wait()
        kills.append((before, checkpoint_step(run_dir)))
    print(f"killed {len(kills)} times; checkpoint steps (before, after): {kills}")
    assert len(kills) >= 3, kills
    code, out, err = finish(
        start("--run-dir", run_dir, "--resume", "--json", cwd=workspace, data=data)
    )
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["steps"] == 200
    assert_same_run(run_dir, reference)


# ---------------------------------------------------------------------- SIGINT, SIGTERM


@pytest.mark.slow
def test_sigint_and_sigterm_save_a_checkpoint_and_say_how_to_resume(workspace, reference):
    """Ctrl-C or a SIGTERM during training: a checkpoint, one line that says how to
    resume, exit 1 (the run is not finished); that command then ends it as if it had never
    stopped. The two signals run side by side to keep the test short."""
    data = workspace / "mnist"
    names = ("SIGINT", "SIGTERM")
    run_dirs = {name: workspace / f"signal-{name}" for name in names}
    processes = {
        name: start(
            "--run-dir", run_dirs[name], "--quiet", *sets(SETTINGS), cwd=workspace, data=data
        )
        for name in names
    }
    for name, process in processes.items():
        assert wait_for_step(process, run_dirs[name], above=None) is not None, "never trained"
        process.send_signal(getattr(signal, name))
    commands = {}
    for name, process in processes.items():
        run_dir = run_dirs[name]
        code, out, err = finish(process)
        assert code == 1, err
        assert out == ""
        lines = [line for line in err.splitlines() if line]
        assert len(lines) == 2, err
        # acknowledged at once (even with --quiet), then the stop, worded as a stop
        again = "; Ctrl-C again to stop at once" if name == "SIGINT" else ""
        assert lines[0] == f"{name}: stopping at the next step with a checkpoint{again}"
        match = re.fullmatch(
            rf"stopped at step (\d+) \({name}\) with a checkpoint saved; "
            r"continue with `(rnncls train --run-dir (\S+) --resume)`",
            lines[1],
        )
        assert match, lines[1]
        step = int(match.group(1))
        assert 0 < step < 200 and step == checkpoint_step(run_dir)
        assert Path(match.group(3)) == run_dir
        assert not (run_dir / "summary.json").exists()
        assert rundir.temporary_files(run_dir) == []
        commands[name] = match.group(2).split()[2:]
    # the command each printed, run as printed, finishes its run to the same weights
    resumed = [
        start(*command, "--quiet", cwd=workspace, data=data) for command in commands.values()
    ]
    for process, name in zip(resumed, names, strict=True):
        code, _, err = finish(process)
        assert code == 0, err
        assert_same_run(run_dirs[name], reference)


# ---------------------------------------------------------------------- leftovers, locks


def test_leftover_temporary_files_are_ignored_and_removed(in_tmp, tiny_mnist):
    """A kill in the middle of a write leaves a hidden temporary file beside its target;
    the next training in that run directory never reads it and removes it."""
    from rnncls.config import load_config, with_values
    from rnncls.datasets import find_data
    from rnncls.train import train

    config = load_config(overrides=TINY_SETTINGS)
    source = find_data(tiny_mnist)
    run_dir = in_tmp / "run"
    train(with_values(config, train={"steps": 3}), source, run_dir)
    leftovers = [
        run_dir / ".checkpoint.k1ll3d.tmp.npz",
        run_dir / ".model.k1ll3d.tmp.keras",
        run_dir / ".summary.k1ll3d.tmp.json",
        run_dir / ".config.k1ll3d.tmp.toml",
    ]
    for path in leftovers:
        path.write_bytes(b"half written")
    assert rundir.temporary_files(run_dir) == sorted(leftovers)
    assert checkpoints.load_checkpoint(run_dir)[0]["step"] == 3  # the real checkpoint still reads
    result = train(config, source, run_dir, resume=True)
    assert result.steps == 6
    assert rundir.temporary_files(run_dir) == []
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []


def test_ctrl_c_while_saving_the_model_says_how_to_resume(in_tmp, tiny_mnist, monkeypatch):
    """After the last step only the test evaluation and saving are left; Ctrl-C there
    still names the resume command, and the resume just saves the model."""
    from rnncls import train as train_module
    from rnncls.config import load_config
    from rnncls.datasets import find_data
    from rnncls.errors import TrainingInterrupted

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    config = load_config(overrides=TINY_SETTINGS)
    source = find_data(tiny_mnist)
    with monkeypatch.context() as patched:
        patched.setattr(train_module, "save_model", interrupted)
        with pytest.raises(TrainingInterrupted, match="--run-dir run --resume"):
            train_module.train(config, source, Path("run"))
    assert checkpoint_step(Path("run")) == 6 and not Path("run/summary.json").exists()
    result = train_module.train(config, source, Path("run"), resume=True)
    assert result.steps == 6 and Path("run/model.keras").is_file()


def test_ctrl_c_before_training_is_one_line(in_tmp, tiny_mnist, monkeypatch):
    from typer.testing import CliRunner

    from rnncls.cli import app

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("rnncls.train.open_data", interrupted)  # while the data set loads
    result = CliRunner().invoke(app, ["train", "--data-dir", str(tiny_mnist), *sets(TINY_SETTINGS)])
    assert result.exit_code == 1
    assert result.stderr == "stopped (Ctrl-C)\n"
    assert not (in_tmp / "runs").exists()


def test_a_run_directory_in_use_is_refused(tmp_path):
    """Another process training in a run directory holds its lock: a second claim fails,
    and succeeds once that process is gone (the kernel drops the lock, even on SIGKILL)."""
    run_dir = tmp_path / "busy"
    with held_run_dir(run_dir, fresh=True):
        with pytest.raises(rundir.RunError, match="in use by another training"):
            rundir.claim_run_dir(run_dir, fresh=False)
    assert rundir.claim_run_dir(run_dir, fresh=False) == run_dir
    rundir.release_run_dir(run_dir)


@pytest.mark.slow
def test_two_trainings_at_once_do_not_disturb_each_other(tmp_path):
    """Two trainings started together in one folder, with no --run-dir: each gets its own
    run directory (even within the same second), and both end as a lone run does."""
    data = write_mnist(tmp_path / "mnist")
    both = [
        start("--json", "--quiet", *sets(TINY_SETTINGS), cwd=tmp_path, data=data) for _ in range(2)
    ]
    results = [finish(process) for process in both]
    for code, _, err in results:
        assert code == 0, err
    done = [json.loads(out.splitlines()[-1]) for _, out, _ in results]
    run_dirs = [tmp_path / d["run_dir"] for d in done]
    assert run_dirs[0] != run_dirs[1]
    assert all(d.parent == tmp_path / "runs" for d in run_dirs)
    assert different_arrays(*run_dirs) == []
    assert done[0]["test_loss"] == done[1]["test_loss"]
    assert (tmp_path / "runs" / "latest").resolve() in {d.resolve() for d in run_dirs}
    for run_dir in run_dirs:
        assert rundir.temporary_files(run_dir) == []
        assert (run_dir / "model.keras").is_file()
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")] == []
