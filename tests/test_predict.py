"""rnncls predict: data-set images, image files, .npy arrays and standard input; the ONNX
path agrees with Keras and never imports TensorFlow; bad input is one line and exit 1/2."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TinyRun, assert_one_line_error, make_digits
from PIL import Image
from typer.testing import CliRunner

from rnncls.cli import app
from rnncls.data import DataSource, load_split
from rnncls.predict import (
    KerasClassifier,
    OnnxClassifier,
    load_classifier,
    predict,
    read_inputs,
    split_inputs,
)

runner = CliRunner()
TEST_IMAGES, TEST_LABELS = make_digits(40, seed=1)  # what write_mnist puts in t10k


def run_predict(tiny_run: TinyRun, *args: str, stdin: bytes | str | None = None) -> object:
    return runner.invoke(
        app,
        ["predict", "--run", str(tiny_run.run), "--data-dir", str(tiny_run.data), *args],
        input=stdin,
    )


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def ten_pngs(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pngs")
    for index in range(10):
        Image.fromarray(TEST_IMAGES[index]).save(folder / f"{index}.png")
    return folder


# ---------------------------------------------------------------------- data-set images


def test_predict_ten_test_images_as_jsonl(tiny_run: TinyRun) -> None:
    result = run_predict(tiny_run, "--n", "10", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    records = jsonl(result.stdout)
    assert [r["label"] for r in records] == TEST_LABELS[:10].tolist()
    assert [r["source"] for r in records] == [f"test[{i}]" for i in range(10)]
    for record in records:
        assert set(record) == {"source", "prediction", "probability", "label"}
        assert 0 <= record["prediction"] <= 9 and 0 < record["probability"] <= 1
    assert result.stderr.startswith(f"run {tiny_run.run} (model.onnx")  # and nothing else
    assert len(result.stderr.splitlines()) == 1


def test_the_same_images_as_pngs_or_npy_on_stdin_get_the_same_predictions(
    tiny_run: TinyRun, ten_pngs: Path
) -> None:
    from_split = jsonl(run_predict(tiny_run, "--format", "jsonl").stdout)
    pngs = sorted(ten_pngs.glob("*.png"), key=lambda p: int(p.stem))
    from_files = jsonl(run_predict(tiny_run, *map(str, pngs), "--format", "jsonl").stdout)
    buffer = io.BytesIO()
    np.save(buffer, TEST_IMAGES[:10])
    from_stdin = jsonl(
        run_predict(tiny_run, "-", "--format", "jsonl", stdin=buffer.getvalue()).stdout
    )
    paths = "\n".join(map(str, pngs)) + "\n"
    from_paths = jsonl(run_predict(tiny_run, "-", "--format", "jsonl", stdin=paths).stdout)
    expected = [(r["prediction"], r["probability"]) for r in from_split]
    for records in (from_files, from_stdin, from_paths):
        assert [(r["prediction"], r["probability"]) for r in records] == expected
        assert all("label" not in r for r in records)
    assert [r["source"] for r in from_files] == list(map(str, pngs))
    assert from_stdin[3]["source"] == "<stdin>[3]"


def test_offset_split_and_a_short_tail(tiny_run: TinyRun) -> None:
    result = run_predict(tiny_run, "--n", "10", "--offset", "35", "--format", "jsonl")
    records = jsonl(result.stdout)
    assert [r["source"] for r in records] == [f"test[{i}]" for i in range(35, 40)]
    validation = jsonl(run_predict(tiny_run, "--split", "validation", "-f", "jsonl").stdout)
    _, train_labels = make_digits(120, seed=0)
    assert [r["label"] for r in validation] == train_labels[100:110].tolist()


def test_table_shows_predictions_beside_labels_as_the_seed_did(tiny_run: TinyRun) -> None:
    result = run_predict(tiny_run, "--n", "4")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["source", "prediction", "probability", "label"]
    assert lines[1].split()[0] == "test[0]" and lines[1].split()[3] == str(TEST_LABELS[0])
    assert lines[-1] == f"[{' '.join(map(str, TEST_LABELS[:4]))}] real number"
    assert lines[-2].endswith("] prediction number")


def test_csv_and_top_k(tiny_run: TinyRun) -> None:
    result = run_predict(tiny_run, "--n", "3", "--format", "csv", "--top-k", "2")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3
    assert list(rows[0]) == [
        "source",
        "prediction",
        "probability",
        "label",
        "class_1",
        "probability_1",
        "class_2",
        "probability_2",
    ]
    assert rows[0]["class_1"] == rows[0]["prediction"]
    records = jsonl(run_predict(tiny_run, "--n", "2", "-f", "jsonl", "-k", "3").stdout)
    top = records[0]["top_k"]
    assert len(top) == 3 and top[0]["class"] == records[0]["prediction"]
    assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]
    everything = jsonl(run_predict(tiny_run, "--n", "1", "-f", "jsonl", "-k", "50").stdout)
    assert len(everything[0]["top_k"]) == 10
    assert sum(c["probability"] for c in everything[0]["top_k"]) == pytest.approx(1, abs=1e-4)


def test_a_folder_of_images_and_arrays(tiny_run: TinyRun, tmp_path: Path) -> None:
    Image.fromarray(TEST_IMAGES[0]).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", TEST_IMAGES[1:4].reshape(3, 784))
    (tmp_path / "readme.txt").write_text("not an input")
    records = jsonl(run_predict(tiny_run, str(tmp_path), "-f", "jsonl").stdout)
    names = [Path(r["source"]).name for r in records]
    assert names == ["a.png", "b.npy[0]", "b.npy[1]", "b.npy[2]"]


# ---------------------------------------------------------------------- classifiers


def test_onnx_and_keras_agree(tiny_run: TinyRun) -> None:
    onnx = load_classifier(tiny_run.run)
    keras = load_classifier(tiny_run.run / "model.keras")
    assert isinstance(onnx, OnnxClassifier) and isinstance(keras, KerasClassifier)
    np.testing.assert_allclose(
        onnx.logits(TEST_IMAGES), keras.logits(TEST_IMAGES), rtol=1e-4, atol=1e-5
    )
    inputs = split_inputs(DataSource(tiny_run.data, "idx"), "test", 0, 40, 20)
    from_onnx, from_keras = predict(onnx, inputs), predict(keras, inputs)
    assert [p.prediction for p in from_onnx] == [p.prediction for p in from_keras]


def test_keras_is_the_fallback_where_a_run_has_no_onnx(tiny_run: TinyRun, tmp_path: Path) -> None:
    run = tiny_run.copy(tmp_path / "run")
    (run / "model.onnx").unlink()
    assert isinstance(load_classifier(run), KerasClassifier)
    result = runner.invoke(
        app, ["predict", "--run", str(run), "--data-dir", str(tiny_run.data), "-f", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 10


def test_read_inputs_takes_several_arrays_back_to_back_on_stdin() -> None:
    buffer = io.BytesIO()
    np.save(buffer, TEST_IMAGES[0])
    np.save(buffer, TEST_IMAGES[1:3].astype(np.float32) / 255)
    inputs = read_inputs(["-"], io.BytesIO(buffer.getvalue()))
    assert np.array_equal(inputs.images, TEST_IMAGES[:3])
    assert inputs.sources == ["<stdin>", "<stdin, array 2>[0]", "<stdin, array 2>[1]"]


# ---------------------------------------------------------------------- bad input


def test_a_file_that_is_not_an_image(tiny_run: TinyRun, tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("hello")
    result = run_predict(tiny_run, str(tmp_path / "notes.png"))
    assert_one_line_error(result, 1, "notes.png: not an image")


@pytest.mark.parametrize(
    ("array", "fragment"),
    [
        (np.zeros((4, 28)), "array of shape (4, 28)"),
        (np.zeros((2, 28, 28, 3)), "expected (28, 28), (N, 28, 28) or (N, 784)"),
        (np.full((28, 28), 1000.0), "expected 0..255"),
    ],
)
def test_an_array_of_the_wrong_shape_or_range(
    tiny_run: TinyRun, tmp_path: Path, array: np.ndarray, fragment: str
) -> None:
    np.save(tmp_path / "bad.npy", array)
    assert_one_line_error(run_predict(tiny_run, str(tmp_path / "bad.npy")), 1, fragment)
    buffer = io.BytesIO()
    np.save(buffer, array)
    assert_one_line_error(run_predict(tiny_run, "-", stdin=buffer.getvalue()), 1, fragment)


def test_a_damaged_npy_and_missing_inputs(tiny_run: TinyRun, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, TEST_IMAGES[:3])
    (tmp_path / "cut.npy").write_bytes(buffer.getvalue()[:300])
    assert_one_line_error(run_predict(tiny_run, str(tmp_path / "cut.npy")), 1, "cut.npy")
    assert_one_line_error(run_predict(tiny_run, str(tmp_path / "nope.png")), 1, "not found")
    assert_one_line_error(run_predict(tiny_run, "-", stdin=b""), 1, "standard input is empty")
    assert_one_line_error(run_predict(tiny_run, "-", stdin=b"\xff\xfe\x00"), 1, "neither")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_predict(tiny_run, str(tmp_path / "empty")), 1, "no .png")


def test_a_missing_run(tiny_run: TinyRun, in_tmp: Path) -> None:
    result = runner.invoke(app, ["predict", "--data-dir", str(tiny_run.data)])
    assert_one_line_error(result, 1, "no finished run found")
    result = runner.invoke(app, ["predict", "--run", str(in_tmp / "nowhere")])
    assert_one_line_error(result, 1, "run not found")
    (in_tmp / "empty").mkdir()
    result = runner.invoke(app, ["predict", "--run", str(in_tmp / "empty")])
    assert_one_line_error(result, 1, "not a finished run")


@pytest.mark.parametrize("name", ["model.onnx", "model.keras"])
def test_a_damaged_model_file(tiny_run: TinyRun, tmp_path: Path, name: str) -> None:
    run = tiny_run.copy(tmp_path / "run")
    if name == "model.keras":
        (run / "model.onnx").unlink()  # the Keras fallback is what loads
    (run / name).write_bytes(b"\x00garbage" * 10)
    result = runner.invoke(app, ["predict", "--run", str(run), "--data-dir", str(tiny_run.data)])
    assert_one_line_error(result, 1, f"cannot load model {run / name}")
    result = runner.invoke(app, ["predict", "--run", str(run / "config.toml")])
    assert_one_line_error(result, 1, "not a model file")


def test_a_model_that_reads_other_shapes(tiny_run: TinyRun, tmp_path: Path) -> None:
    import keras

    inputs = keras.Input(shape=(784,))
    keras.Model(inputs, keras.layers.Dense(10)(inputs)).save(tmp_path / "flat.keras")
    result = runner.invoke(app, ["predict", "--run", str(tmp_path / "flat.keras")])
    assert_one_line_error(result, 1, "reads inputs of shape (?, 784)")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--top-k", "0"], "--top-k 0: must be at least 1"),
        (["--n", "0"], "--n 0: must be at least 1"),
        (["--offset", "-1"], "--offset -1"),
        (["--offset", "40"], "has only 40 images"),
        (["x.png", "--n", "3"], "not with INPUT"),
        (["-", "-"], "only once"),
    ],
)
def test_usage_errors_exit_2(tiny_run: TinyRun, args: list[str], fragment: str) -> None:
    assert_one_line_error(run_predict(tiny_run, *args), 2, fragment)


# ---------------------------------------------------------------------- without TensorFlow


def without_tensorflow(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import tensorflow` raises ImportError."""
    shim = tmp_path / "shim" / "tensorflow"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("TensorFlow is switched off here")\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(shim.parent), env.get("PYTHONPATH", "")])
    env.pop("RNNCLS_DEBUG", None)
    return env


def rnncls(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnncls", *args], env=env, cwd=cwd, capture_output=True, text=True
    )


def test_predict_and_show_sample_work_where_tensorflow_does_not(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    env = without_tensorflow(tmp_path)
    check = rnncls(["config", "show"], env, tmp_path)
    assert check.returncode == 0
    broken = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True
    )
    assert "switched off" in broken.stderr  # the shim works
    common = ["--run", str(tiny_run.run), "--data-dir", str(tiny_run.data)]
    predicted = rnncls(["predict", *common, "--n", "5", "--format", "jsonl"], env, tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert [json.loads(line)["label"] for line in predicted.stdout.splitlines()] == (
        TEST_LABELS[:5].tolist()
    )
    shown = rnncls(["show-sample", *common, "--split", "test", "--n", "3"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert (tmp_path / "sample.png").is_file()
    evaluated = rnncls(["eval", *common, "--json"], env, tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["n"] == 40


def test_the_keras_fallback_without_tensorflow_is_one_clear_line(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    env = without_tensorflow(tmp_path)
    keras_only = tiny_run.copy(tmp_path / "run")
    (keras_only / "model.onnx").unlink()
    result = rnncls(["predict", "--run", str(keras_only)], env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("error: ")
    ]
    assert "TensorFlow is not available" in result.stderr


def test_importing_the_cli_loads_nothing_heavy() -> None:
    code = (
        "import sys, rnncls.cli\n"
        "heavy = ['tensorflow', 'keras', 'onnxruntime', 'matplotlib', 'PIL', 'rich', 'pydantic']\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_load_split_is_what_predict_labels_come_from(tiny_run: TinyRun) -> None:
    split = load_split(DataSource(tiny_run.data, "idx"), "test")
    assert np.array_equal(split.images, TEST_IMAGES) and np.array_equal(split.labels, TEST_LABELS)


def test_the_fast_path_imports_only_onnxruntime(tiny_run: TinyRun, tmp_path: Path) -> None:
    """What `predict --n N` imports in a fresh process (its speed, without timing it)."""
    args = ["--run", str(tiny_run.run), "--data-dir", str(tiny_run.data), "--format", "jsonl"]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rnncls", "predict", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "onnxruntime" in imported
    heavy = {"tensorflow", "keras", "matplotlib", "PIL", "rich", "pydantic", "torch"}
    assert imported & heavy == set()


def test_many_inputs_with_bad_ones_predict_the_good_and_name_each_bad(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    """As Unix tools do: every readable input is predicted, one stderr line per unreadable
    one, exit 1 at the end."""
    from PIL import Image

    folder = tmp_path / "digits"
    folder.mkdir()
    digits, _ = make_digits(3, seed=5)
    for index, digit in enumerate(digits):
        Image.fromarray(digit).save(folder / f"d{index}.png")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(folder / "c-white.png")
    (folder / "b-notes.png").write_text("not a picture")
    result = run_predict(tiny_run, str(folder), str(tmp_path / "missing.png"), "-f", "jsonl")
    assert result.exit_code == 1
    answered = [json.loads(line)["source"] for line in result.stdout.splitlines()]
    assert answered == [str(folder / f"d{i}.png") for i in range(3)]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {folder / 'b-notes.png'}: not an image (PNG or JPEG) and not a .npy array",
        f"error: {folder / 'c-white.png'}: no digit found (the picture is blank)",
        f"error: input not found: {tmp_path / 'missing.png'}",
    ]
    assert "Traceback" not in result.output


def test_predict_names_the_run_and_model_that_answer(tiny_run: TinyRun) -> None:
    summary = json.loads((tiny_run.run / "summary.json").read_text())
    result = run_predict(tiny_run, "--n", "2")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"run {tiny_run.run} (model.onnx, 6 steps, test accuracy {summary['test_accuracy']:.4f})"
    ]


def test_csv_of_files_has_no_label_column(tiny_run: TinyRun, tmp_path: Path) -> None:
    digits, _ = make_digits(2, seed=6)
    np.save(tmp_path / "two.npy", digits)
    result = run_predict(tiny_run, str(tmp_path / "two.npy"), "-f", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "source,prediction,probability"
    assert [line.split(",")[0] for line in lines[1:]] == [
        f"{tmp_path / 'two.npy'}[0]",
        f"{tmp_path / 'two.npy'}[1]",
    ]
