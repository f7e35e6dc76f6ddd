"""Every command on a run of time series: a small .ts data set of two channels and
several lengths, written here, trained, evaluated, predicted (a .ts file, a .npy array,
JSON lines on stdin), drawn, exported and served; a series answers the same alone and
padded beside longer ones, through Keras and through ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, invoke, sets

# Every test here trains a model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow

CLASSES = ("falling", "rising", "wave")
SETTINGS = [
    "model.hidden_units=12",
    "train.batch_size=16",
    "train.steps=60",
    "train.eval_every=30",
    "train.learning_rate=0.01",
]


def make_series(label: str, length: int, rng: np.random.Generator) -> np.ndarray:
    """(length, 2): the first channel rises, falls or waves; the second is noise."""
    t = np.linspace(0.0, 1.0, length)
    first = {"falling": 1.0 - t, "rising": t, "wave": 0.5 + 0.5 * np.sin(6.0 * t)}[label]
    noise = rng.normal(0.0, 0.05, (length, 2))
    return np.stack([first, np.zeros(length)], axis=1) + noise


def write_ts(path: Path, count: int, seed: int) -> Path:
    """A .ts file of ``count`` series of two dimensions, 8 to 20 samples long."""
    rng = np.random.default_rng(seed)
    lines = [
        "# made by tests/cli/test_series.py",
        "@problemName Slopes",
        "@timeStamps false",
        "@missing false",
        "@univariate false",
        "@dimensions 2",
        "@equalLength false",
        f"@classLabel true {' '.join(CLASSES)}",
        "@data",
    ]
    for index in range(count):
        label = CLASSES[index % 3]
        series = make_series(label, int(rng.integers(8, 21)), rng)
        dims = ":".join(",".join(f"{v:.5f}" for v in series[:, d]) for d in range(2))
        lines.append(f"{dims}:{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def series_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("series")
    data = root / "Slopes"
    data.mkdir()
    write_ts(data / "Slopes_TRAIN.ts", 90, seed=0)
    write_ts(data / "Slopes_TEST.ts", 30, seed=1)
    run = root / "runs" / "slopes"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("RNNCLS_DATA_DIR", raising=False)
        result = invoke("train", *sets(SETTINGS), "--data-dir", data, "--run-dir", run, "--json")
    assert result.exit_code == 0, result.output
    return data, run


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RNNCLS_DATA_DIR", raising=False)
    return tmp_path


def test_training_reads_the_series_and_says_why_the_fused_loop_is_out(series_run, here) -> None:
    data, run = series_run
    dataset = json.loads((run / "dataset.json").read_text())
    assert dataset["kind"] == "series" and dataset["format"] == "ts"
    assert dataset["shape"][1] == 2 and dataset["classes"] == list(CLASSES)
    assert dataset["masked"] is True and dataset["lengths"][0] >= 8
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.9  # rising, falling and waving: easy
    result = invoke("train", "--run-dir", run, "--resume", "--steps", "61")
    assert result.exit_code == 0, result.output
    assert "training through Keras's loop" in result.stderr
    assert "(series of several lengths or with missing values (a mask))" in result.stderr
    assert "series of 8 to 20 steps of 2 channels" in result.stderr


def test_a_series_answers_the_same_alone_and_padded_through_keras_and_onnx(
    series_run,
) -> None:
    from rnncls.predict import load_classifier
    from rnncls.rundir import resolve_run

    _, run = series_run
    rng = np.random.default_rng(5)
    short = make_series("wave", 9, rng).astype(np.float32)
    long = make_series("rising", 30, rng).astype(np.float32)
    padded = np.full((2, 30, 2), np.nan, np.float32)
    padded[0, :9], padded[1] = short, long
    target = resolve_run(run)
    onnx = load_classifier(target)
    keras = load_classifier(target.keras_model())
    for classifier in (onnx, keras):
        alone = classifier.logits(short[np.newaxis])[0]
        beside = classifier.logits(padded)[0]
        np.testing.assert_allclose(beside, alone, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(onnx.logits(padded), keras.logits(padded), rtol=1e-4, atol=1e-4)


def test_eval_names_the_classes(series_run, here) -> None:
    _, run = series_run
    result = invoke("eval", "--run", run, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["classes"] == list(CLASSES) and metrics["n"] == 30
    assert [row["label"] for row in metrics["per_class"]] == list(CLASSES)


def test_predict_a_ts_file_an_npy_array_and_json_lines(series_run, here) -> None:
    data, run = series_run
    from_file = invoke("predict", "--run", run, data / "Slopes_TEST.ts", "--json")
    assert from_file.exit_code == 0, from_file.output
    records = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert len(records) == 30 and all(r["label"] in CLASSES for r in records)
    assert "of 30 inputs whose class their file or folder names" in from_file.stderr
    rng = np.random.default_rng(7)
    series = [make_series(name, n, rng) for name, n in (("rising", 12), ("falling", 17))]
    np.save(here / "one.npy", series[0])
    from_npy = invoke("predict", "--run", run, here / "one.npy", "--json")
    assert from_npy.exit_code == 0, from_npy.output
    lines = "\n".join(json.dumps(s.tolist()) for s in series) + "\n"
    from_stdin = invoke("predict", "--run", run, "-", "--json", input=lines)
    assert from_stdin.exit_code == 0, from_stdin.output
    answers = [json.loads(line) for line in from_stdin.stdout.splitlines()]
    assert [a["source"] for a in answers] == ["<stdin, line 1>", "<stdin, line 2>"]
    assert json.loads(from_npy.stdout)["probability"] == answers[0]["probability"]
    bad = invoke("predict", "--run", run, "-", input="[[1, 2, 3]]\n")
    assert_one_line_error(
        bad,
        1,
        "error: <stdin, line 1>: array of shape (1, 3); expected (T, 2) for one series, "
        "(N, T, 2) for several",
    )


def test_show_sample_draws_line_plots(series_run, here) -> None:
    _, run = series_run
    out = here / "series.png"
    result = invoke("show-sample", "--run", run, "--split", "test", "--n", "6", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "test[0] pred" in result.stderr
    assert any(bar in result.stderr for bar in "▁▂▃▄▅▆▇█")  # the series as bars
    from PIL import Image

    with Image.open(out) as picture:
        assert picture.width > 600 and picture.height > 200


def test_serve_answers_json_series_of_any_lengths(series_run) -> None:
    from starlette.testclient import TestClient

    from rnncls import server

    _, run = series_run
    rng = np.random.default_rng(9)
    short, long = make_series("rising", 10, rng), make_series("wave", 25, rng)
    with TestClient(server.create_app(server.load_served_model(run))) as client:
        info = client.get("/model").json()
        assert info["dataset"]["kind"] == "series" and info["dataset"]["channels"] == 2
        alone = client.post("/predict?image=true", json=short.tolist()).json()
        both = client.post("/predict", json=[short.tolist(), long.tolist()]).json()
        wrong = client.post("/predict", json=[[1.0, 2.0, 3.0]])
    (first,) = alone["predictions"]
    assert len(first["image"]) == 10 and len(first["image"][0]) == 2
    assert both["predictions"][0]["probabilities"] == first["probabilities"]
    assert wrong.status_code == 400


def test_a_resumed_series_run_ends_with_the_same_weights(series_run, here) -> None:
    from rnncls.checkpoints import load_checkpoint

    data, _ = series_run
    straight, halves = here / "straight", here / "halves"
    assert (
        invoke("train", *sets(SETTINGS), "--data-dir", data, "--run-dir", straight).exit_code == 0
    )
    first = invoke("train", *sets(SETTINGS), "--steps", 30, "--data-dir", data, "--run-dir", halves)
    assert first.exit_code == 0, first.output
    resumed = invoke("train", "--run-dir", halves, "--resume", "--steps", 60)
    assert resumed.exit_code == 0, resumed.output
    (_, ours), (_, theirs) = load_checkpoint(halves), load_checkpoint(straight)
    for name, array in theirs["model"].items():
        np.testing.assert_array_equal(ours["model"][name], array, err_msg=name)
