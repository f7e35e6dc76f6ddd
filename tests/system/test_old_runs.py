"""Runs from before data sets were described still load, evaluate, predict, export and
resume (tests/fixtures/run-before-datasets/README.md says how that run was made)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SETTINGS, invoke, sets, write_mnist

pytestmark = pytest.mark.tensorflow

OLD_RUN = Path(__file__).resolve().parents[1] / "fixtures" / "run-before-datasets"


@pytest.fixture
def old_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A copy of the old run and the tiny data set it was trained on."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RNNCLS_DATA_DIR", raising=False)
    run = Path(shutil.copytree(OLD_RUN, tmp_path / "old"))
    (run / "README.md").unlink()
    return run, write_mnist(tmp_path / "mnist")


def test_an_old_run_evaluates_to_its_own_summary(old_run) -> None:
    run, data = old_run
    summary = json.loads((run / "summary.json").read_text())
    result = invoke("eval", "--run", run, "--data-dir", data, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["accuracy"] == summary["test_accuracy"]
    assert metrics["loss"] == pytest.approx(summary["test_loss"], rel=1e-5)
    assert metrics["classes"] == list(range(10))  # MNIST's, as the model had


def test_an_old_runs_onnx_and_keras_models_predict_alike(old_run) -> None:
    run, data = old_run
    onnx = invoke("predict", "--run", run, "--data-dir", data, "--n", "12", "--json")
    (run / "model.onnx").unlink()
    keras = invoke("predict", "--run", run, "--data-dir", data, "--n", "12", "--json")
    assert onnx.exit_code == keras.exit_code == 0, (onnx.output, keras.output)
    ours = [json.loads(line) for line in onnx.stdout.splitlines()]
    theirs = [json.loads(line) for line in keras.stdout.splitlines()]
    assert [r["prediction"] for r in ours] == [r["prediction"] for r in theirs]
    for mine, other in zip(ours, theirs, strict=True):
        assert mine["probability"] == pytest.approx(other["probability"], abs=1e-5)
    exported = invoke("export", "--run", run, "--format", "onnx")
    assert exported.exit_code == 0, exported.output
    again = invoke("predict", "--run", run, "--data-dir", data, "--n", "12", "--json")
    assert [json.loads(line)["prediction"] for line in again.stdout.splitlines()] == [
        r["prediction"] for r in ours
    ]


def test_an_old_run_resumes_to_the_weights_of_a_run_left_alone(old_run, tmp_path) -> None:
    """Resumed by today's code from its step-6 checkpoint to step 9: the weights of a
    run trained straight to step 9 by today's code (which trains the old runs' numbers:
    the same seed gives the old summary's test loss), to the last bits of a float: the
    old run's first six steps ran on another CPU, and on an AMD EPYC of family 25 (AVX-512)
    today's six differ from them in the last bit of a few weights."""
    from rnncls.checkpoints import load_checkpoint

    run, data = old_run
    resumed = invoke("train", "--run-dir", run, "--resume", "--steps", "9", "--data-dir", data)
    assert resumed.exit_code == 0, resumed.output
    assert (run / "dataset.json").is_file()  # the run knows its data from now on
    straight = tmp_path / "straight"
    settings = [*TINY_SETTINGS, "train.steps=9"]
    result = invoke("train", *sets(settings), "--data-dir", data, "--run-dir", straight)
    assert result.exit_code == 0, result.output
    (_, ours), (_, theirs) = load_checkpoint(run), load_checkpoint(straight)
    assert sorted(ours["model"]) == sorted(theirs["model"])
    for name, array in theirs["model"].items():
        np.testing.assert_allclose(ours["model"][name], array, rtol=1e-5, atol=1e-7, err_msg=name)
