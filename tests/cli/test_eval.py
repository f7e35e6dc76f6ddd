"""rnncls eval: the metrics training reported, as tables or one JSON object, and the
confusion matrix as a picture; on the real MNIST (slow) the full 10,000 test images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REAL_MNIST, TinyRun, assert_one_line_error, make_digits
from typer.testing import CliRunner

from rnncls.cli import app

runner = CliRunner()
_, TEST_LABELS = make_digits(40, seed=1)


def run_eval(tiny_run: TinyRun, *args: str) -> object:
    return runner.invoke(
        app, ["eval", "--run", str(tiny_run.run), "--data-dir", str(tiny_run.data), *args]
    )


def test_eval_json_reports_what_training_reported(tiny_run: TinyRun) -> None:
    result = run_eval(tiny_run, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # one object, nothing else on stdout
    summary = json.loads((tiny_run.run / "summary.json").read_text())
    assert report["n"] == 40 and report["split"] == "test"
    assert report["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-9)
    assert report["loss"] == pytest.approx(summary["test_loss"], rel=1e-4)
    assert report["model"].endswith("model.onnx")
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 40
    assert np.trace(confusion) / 40 == pytest.approx(report["accuracy"])
    supports = [row["support"] for row in report["per_class"]]
    assert supports == np.bincount(TEST_LABELS, minlength=10).tolist()
    assert set(report["per_class"][0]) == {"label", "precision", "recall", "support"}


def test_limit_and_split(tiny_run: TinyRun) -> None:
    assert json.loads(run_eval(tiny_run, "--json", "--limit", "7").stdout)["n"] == 7
    validation = json.loads(run_eval(tiny_run, "--json", "--split", "validation").stdout)
    assert validation["n"] == 20 and validation["split"] == "validation"  # the run's config


def test_tables_and_the_confusion_picture(tiny_run: TinyRun, tmp_path: Path) -> None:
    picture = tmp_path / "plots" / "confusion.png"
    result = run_eval(tiny_run, "--confusion", str(picture))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("test: 40 images   accuracy ")
    assert "precision" in result.stdout and "confusion matrix" in result.stdout
    assert picture.read_bytes().startswith(b"\x89PNG")
    assert f"confusion matrix: {picture}" in result.stderr


def test_eval_of_a_keras_model_file_agrees_with_onnx(tiny_run: TinyRun) -> None:
    keras_result = json.loads(
        runner.invoke(
            app,
            [
                "eval",
                "--run",
                str(tiny_run.run / "model.keras"),
                "--data-dir",
                str(tiny_run.data),
                "--json",
            ],
        ).stdout
    )
    onnx_result = json.loads(run_eval(tiny_run, "--json").stdout)
    assert keras_result["confusion"] == onnx_result["confusion"]
    assert keras_result["loss"] == pytest.approx(onnx_result["loss"], rel=1e-5)


def test_bad_eval_options(tiny_run: TinyRun, tmp_path: Path) -> None:
    assert_one_line_error(run_eval(tiny_run, "--limit", "0"), 2, "--limit 0")
    assert_one_line_error(run_eval(tiny_run, "--confusion", str(tmp_path / "m.xyz")), 2, ".xyz")
    result = runner.invoke(app, ["eval", "--run", str(tmp_path / "missing")])
    assert_one_line_error(result, 1, "run not found")


@pytest.mark.slow
def test_real_mnist_eval_and_predict_match_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's acceptance: n = 10000 and training's accuracy; the first ten test
    labels; the same ten images as PNG files or a .npy on stdin predict the same."""
    import io

    from PIL import Image

    from rnncls.datasets import find_data, load_split

    if not REAL_MNIST.is_dir():
        pytest.skip(f"no MNIST at {REAL_MNIST}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNCLS_DATA_DIR", str(REAL_MNIST.resolve()))
    trained = runner.invoke(app, ["train", "--steps", "300", "--json", "--quiet"])
    assert trained.exit_code == 0, trained.output
    done = json.loads(trained.stdout.splitlines()[-1])
    report = json.loads(runner.invoke(app, ["eval", "--json"]).stdout)
    assert report["n"] == 10000
    assert report["accuracy"] == pytest.approx(done["test_accuracy"], abs=1e-9)
    assert (Path(done["run_dir"]) / "curves.png").is_file()

    test = load_split(find_data(), "test")
    predicted = runner.invoke(app, ["predict", "--n", "10", "--format", "jsonl"])
    records = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [r["label"] for r in records] == test.labels[:10].tolist()
    for index in range(10):
        Image.fromarray(test.images[index][..., 0]).save(tmp_path / f"{index}.png")
    pngs = [str(tmp_path / f"{index}.png") for index in range(10)]
    from_pngs = runner.invoke(app, ["predict", *pngs, "--format", "jsonl"]).stdout.splitlines()
    buffer = io.BytesIO()
    np.save(buffer, test.images[:10])
    from_npy = runner.invoke(
        app, ["predict", "-", "--format", "jsonl"], input=buffer.getvalue()
    ).stdout.splitlines()
    expected = [r["prediction"] for r in records]
    assert [json.loads(line)["prediction"] for line in from_pngs] == expected
    assert [json.loads(line)["prediction"] for line in from_npy] == expected


def test_eval_calibration_and_the_reliability_diagram(band_run: TinyRun, tmp_path: Path) -> None:
    """The band model's probabilities, computed with numpy alone, give the figures."""
    from conftest import band_logits

    from rnncls.evaluate import calibration

    picture = tmp_path / "reliability.png"
    args = ["eval", "--run", band_run.run, "--data-dir", band_run.data]
    result = runner.invoke(app, [str(a) for a in [*args, "--json", "--reliability", picture]])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["calibration"]
    images, labels = make_digits(40, seed=1)
    logits = band_logits(images)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    true = probabilities[np.arange(40), labels]
    assert report["nll"] == pytest.approx(-np.log(true).mean(), rel=1e-5)
    brier = ((probabilities - np.eye(10)[labels]) ** 2).sum(axis=1).mean()
    assert report["brier"] == pytest.approx(brier, rel=1e-5)
    assert report["ece"] == pytest.approx(calibration(probabilities, labels).ece, rel=1e-5)
    assert sum(b["count"] for b in report["reliability"]) == 40
    assert picture.read_bytes().startswith(b"\x89PNG")
    assert f"reliability diagram: {picture}" in result.stderr
    table = runner.invoke(app, [str(a) for a in args])
    assert f"calibration: ECE {report['ece']:.4f} (15 bins)   NLL " in table.stdout
