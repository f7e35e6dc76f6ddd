"""rnncls export (ONNX, SavedModel) and the training-curves picture of every run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TinyRun, assert_one_line_error, make_digits
from typer.testing import CliRunner

from rnncls import rundir
from rnncls.cli import app
from rnncls.predict import OnnxClassifier, load_classifier

runner = CliRunner()
IMAGES, _ = make_digits(16, seed=3)


def test_export_onnx_agrees_with_keras(tiny_run: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "exported.onnx"
    args = ["export", "--run", str(tiny_run.run), "--format", "onnx", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    exported = load_classifier(out)
    assert isinstance(exported, OnnxClassifier)
    keras = load_classifier(tiny_run.run / "model.keras")
    np.testing.assert_allclose(exported.logits(IMAGES), keras.logits(IMAGES), rtol=1e-4, atol=1e-5)


def test_export_saved_model_into_the_run_by_default(tiny_run: TinyRun, tmp_path: Path) -> None:
    import tensorflow as tf

    run = tiny_run.copy(tmp_path / "run")
    for _ in range(2):  # a second export replaces the first
        result = runner.invoke(app, ["export", "--run", str(run), "--format", "saved_model"])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == str(run / "saved_model")
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
    loaded = tf.saved_model.load(str(run / "saved_model"))  # kept: serve() needs its variables
    served = loaded.serve(tf.constant(IMAGES[..., np.newaxis].astype(np.float32)))  # raw pixels
    keras = load_classifier(run / "model.keras")
    np.testing.assert_allclose(served.numpy(), keras.logits(IMAGES), rtol=1e-4, atol=1e-5)


def test_export_errors(tiny_run: TinyRun, tmp_path: Path) -> None:
    onnx_only = tiny_run.copy(tmp_path / "run")
    (onnx_only / "model.keras").unlink()
    result = runner.invoke(app, ["export", "--run", str(onnx_only), "--format", "onnx"])
    assert_one_line_error(result, 1, "has no model.keras")
    result = runner.invoke(app, ["export", "--run", str(onnx_only / "model.onnx"), "-f", "onnx"])
    assert_one_line_error(result, 1, "has no model.keras")  # the run's, beside its ONNX model
    loose = tmp_path / "loose.onnx"
    loose.write_bytes((tiny_run.run / "model.onnx").read_bytes())
    result = runner.invoke(app, ["export", "--run", str(loose), "-f", "onnx"])
    assert_one_line_error(result, 1, "export reads a Keras model")
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    args = ["export", "--run", str(tiny_run.run), "-f", "saved_model", "--out", str(keep)]
    assert_one_line_error(runner.invoke(app, args), 1, "is not a SavedModel")
    assert (keep / "notes.txt").read_text() == "mine"
    args = ["export", "--run", str(tiny_run.run), "-f", "onnx", "--out", str(tmp_path / "no/x")]
    assert_one_line_error(runner.invoke(app, args), 1, "does not exist")


# ---------------------------------------------------------------------- training curves


def test_every_run_has_its_training_curves(tiny_run: TinyRun) -> None:
    picture = tiny_run.run / rundir.CURVES_FILE
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_a_failed_plot_is_a_warning_not_a_lost_run(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnncls import plots
    from rnncls.train import draw_curves

    run = tiny_run.copy(tmp_path / "run")
    (run / rundir.CURVES_FILE).unlink()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(plots, "training_curves", broken)
    messages: list[str] = []
    draw_curves(run, messages.append)
    assert messages == ["warning: could not draw the training curves (no fonts today)"]
    assert not (run / rundir.CURVES_FILE).exists()


def test_curves_from_metrics(tmp_path: Path) -> None:
    from rnncls.plots import training_curves

    records = [
        {"event": "eval", "step": s, "train_loss": 1 / s, "eval_loss": 2 / s, "eval_accuracy": a}
        for s, a in ((50, 0.5), (100, 0.8), (150, 0.9))
    ]
    path = training_curves(records, tmp_path / "curves.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="no evaluations"):
        training_curves([], tmp_path / "empty.png")


def test_export_onto_a_full_disk_names_the_file(
    tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write is one line naming the file, not the converter's output; an earlier
    export stays as it was."""
    import errno
    import os

    out = tmp_path / "exported.onnx"
    out.write_bytes(b"an earlier export")

    def full_disk(source: str, target: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rundir.os, "replace", full_disk)
    args = ["export", "--run", str(tiny_run.run), "--format", "onnx", "--out", str(out)]
    result = runner.invoke(app, args)
    line = assert_one_line_error(result, 1, f"cannot write {out}: No space left on device")
    assert "converter output" not in line
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported.onnx"]


# ---------------------------------------------------------------------- every network

# Each cell has its own whole run in tests/cells/.
NETWORKS = {
    "stacked-bidirectional-dropout": [
        "model.bidirectional=true",
        "model.layers=2",
        "model.dropout=0.2",
    ],
    "sgd-cosine-augment": ["train.optimizer='sgd'", "train.schedule='cosine'", "augment.shift=2"],
    # The model's reading layer, in ONNX as in Keras (49 steps, to keep the test short).
    "permuted-pixels": [
        "sequence.order='pixels'",
        "sequence.pixels_per_step=16",
        "sequence.permute=true",
    ],
    "columns-gru": ["sequence.order='columns'", "model.cell='gru'"],
}


@pytest.mark.tensorflow
@pytest.mark.parametrize("settings", NETWORKS.values(), ids=list(NETWORKS))
def test_every_network_trains_exports_evaluates_and_predicts(tmp_path, monkeypatch, settings):
    """Each kind of network through the command line: its model.onnx (what eval and
    predict run) agrees with its model.keras on the logits and on every prediction."""
    from conftest import TINY_SETTINGS, write_mnist

    monkeypatch.chdir(tmp_path)
    data = write_mnist(tmp_path / "mnist")
    run = tmp_path / "run"
    args = [arg for setting in [*TINY_SETTINGS, *settings] for arg in ("--set", setting)]
    result = runner.invoke(app, ["train", *args, "--data-dir", data, "--run-dir", run, "-q"])
    assert result.exit_code == 0, result.output
    onnx, keras = load_classifier(run / "model.onnx"), load_classifier(run / "model.keras")
    assert isinstance(onnx, OnnxClassifier)
    images, _ = make_digits(64, seed=11)
    onnx_logits, keras_logits = onnx.logits(images), keras.logits(images)
    np.testing.assert_allclose(onnx_logits, keras_logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(onnx_logits.argmax(1), keras_logits.argmax(1))
    evaluated = runner.invoke(app, ["eval", "--run", run, "--data-dir", data, "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    summary = rundir.read_summary(run)
    assert json.loads(evaluated.stdout)["accuracy"] == summary["test_accuracy"]
    predicted = runner.invoke(app, ["predict", "--run", run, "--data-dir", data, "-f", "jsonl"])
    assert predicted.exit_code == 0, predicted.output
    assert len(predicted.stdout.splitlines()) == 10
