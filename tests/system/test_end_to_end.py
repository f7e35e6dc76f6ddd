"""The real thing: `rnncls train` on the real MNIST, in a fresh process, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_MNIST

pytestmark = pytest.mark.slow


def rnncls(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RNNCLS_DATA_DIR": str(REAL_MNIST.resolve())}
    return subprocess.run(
        [sys.executable, "-m", "rnncls", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    if not (REAL_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found in {REAL_MNIST} (set RNNCLS_DATA_DIR)")
    folder = tmp_path_factory.mktemp("e2e")
    result = rnncls("train", "--steps", "300", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder, [json.loads(line) for line in result.stdout.splitlines()]


def test_training_on_real_mnist_learns(real_run):
    folder, events = real_run
    evals, done = events[:-1], events[-1]
    assert [e["step"] for e in evals] == list(range(50, 301, 50))
    assert done["event"] == "done" and done["steps"] == 300
    # the seed's experiment is at about 0.95 after 300 steps; chance is 0.1
    assert done["test_accuracy"] >= 0.90
    assert evals[-1]["eval_accuracy"] >= 0.90
    assert evals[-1]["train_loss"] < evals[0]["train_loss"]
    run_dir = folder / done["run_dir"]
    assert json.loads((run_dir / "summary.json").read_text()) == done
    assert (folder / "runs" / "latest").resolve() == run_dir.resolve()


def test_resume_continues_a_finished_real_run(real_run):
    folder, events = real_run
    done = events[-1]
    same = rnncls("train", "--resume", "--json", "--run-dir", done["run_dir"], cwd=folder)
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout.splitlines()[-1]) == done
    longer = rnncls(
        "train", "--resume", "--steps", "350", "--json", "--run-dir", done["run_dir"], cwd=folder
    )
    assert longer.returncode == 0, longer.stderr
    continued = [json.loads(line) for line in longer.stdout.splitlines()]
    assert [e["step"] for e in continued[:-1]] == [350]
    assert continued[-1]["steps"] == 350
    assert continued[-1]["test_accuracy"] >= 0.90
