"""rnncls predict: data-set images, image files, .npy arrays and standard input; the ONNX
path agrees with Keras and never imports TensorFlow; bad input is one line and exit 1/2."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    TinyRun,
    assert_one_line_error,
    band_logits,
    make_digits,
    write_band_model,
)
from PIL import Image
from typer.testing import CliRunner

from rnncls import predict as predict_module
from rnncls.cli import app
from rnncls.config_keys import Config, DataConfig
from rnncls.datasets import DataSource, open_data
from rnncls.datasets.idx import MNIST
from rnncls.errors import ConfigError, InputError, RunError
from rnncls.predict import (
    KerasClassifier,
    OnnxClassifier,
    Pictures,
    Prediction,
    describe_model,
    load_classifier,
    predict,
    read_inputs,
    softmax,
    split_inputs,
)
from rnncls.rundir import resolve_run

runner = CliRunner()
SUFFIXES = ".png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .gif, .npy"  # what a folder holds
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
    everything = jsonl(run_predict(tiny_run, "--n", "3", "-f", "jsonl", "-k", "50").stdout)
    for record in everything:  # each row on its own sums to 1, not the batch together
        assert len(record["top_k"]) == 10
        assert sum(c["probability"] for c in record["top_k"]) == pytest.approx(1, abs=1e-4)


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
    data = open_data(DataSource(tiny_run.data, "idx"), DataConfig(validation_size=20))
    inputs = split_inputs(data, "test", 0, 40)
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
    assert np.array_equal(inputs.images[..., 0], TEST_IMAGES[:3])
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


# ---------------------------------------------------------------------- without a trained model


def softmax_by_hand(row: list[float]) -> list[float]:
    exps = [math.exp(x) for x in row]
    return [e / sum(exps) for e in exps]


def test_softmax_normalises_each_row_on_its_own() -> None:
    rows = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [10.0, -10.0, 0.5]]
    found = softmax(np.array(rows, np.float32))
    assert found.dtype == np.float64
    for row, probabilities in zip(rows, found, strict=True):
        assert probabilities.tolist() == pytest.approx(softmax_by_hand(row), rel=1e-12)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)


class ModelAt:
    """A classifier seen only for where its model file is."""

    def __init__(self, path: Path) -> None:
        self.path = path


@pytest.mark.parametrize(
    ("files", "described"),
    [
        (
            {"config.toml": "", "summary.json": '{"steps": 1200, "test_accuracy": 0.97018}'},
            "run {run} (model.onnx, 1200 steps, test accuracy 0.9702)",
        ),
        (
            {"config.toml": "", "summary.json": '{"steps": 6}'},
            "run {run} (model.onnx, 6 steps, test accuracy nan)",
        ),
        ({}, "model {run}/model.onnx"),  # a model file outside any run
        ({"config.toml": ""}, "model {run}/model.onnx"),  # a run not finished yet
        ({"summary.json": '{"steps": 6}'}, "model {run}/model.onnx"),
        ({"config.toml": "", "summary.json": "{damaged"}, "model {run}/model.onnx"),
    ],
    ids=["finished-run", "no-test-accuracy", "no-run", "unfinished", "no-config", "damaged"],
)
def test_describe_model_says_which_run_answers(
    tmp_path: Path, files: dict[str, str], described: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert describe_model(ModelAt(tmp_path / "model.onnx")) == described.format(run=tmp_path)


class FixedLogits:
    path = Path("fixed.onnx")
    backend = "test"

    def __init__(self, logits: list[list[float]]) -> None:
        self.answer = np.array(logits, np.float32)

    dataset = MNIST

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self.answer[: len(images)]


LOGITS = [[0.0, 2.0, 1.0], [3.0, 1.0, 1.0]]


def two_inputs(labels: list[int | None] | None = None) -> Pictures:
    return Pictures(np.zeros((2, 28, 28, 1), np.uint8), ["a", "b"], labels or [])


def test_predict_gives_the_best_class_its_probability_and_the_label() -> None:
    results = predict(FixedLogits(LOGITS), two_inputs([1, 2]))
    first, second = (softmax_by_hand(row) for row in LOGITS)
    assert results == [
        Prediction("a", 1, round(first[1], 6), 1),
        Prediction("b", 0, round(second[0], 6), 2),
    ]


def test_predict_top_k_in_order_of_probability() -> None:
    results = predict(FixedLogits(LOGITS), two_inputs(), top_k=2)
    first, second = (softmax_by_hand(row) for row in LOGITS)
    assert results[0].top_k == ((1, round(first[1], 6)), (2, round(first[2], 6)))
    # a tie (classes 1 and 2 of the second row) goes to the lower class
    assert results[1].top_k == ((0, round(second[0], 6)), (1, round(second[1], 6)))
    assert results[0].label is None
    everything = predict(FixedLogits(LOGITS), two_inputs(), top_k=99)[0].top_k
    assert [c for c, _ in everything] == [1, 2, 0]
    assert sum(q for _, q in everything) == pytest.approx(1.0, abs=2e-6)


def test_predict_top_1_and_probabilities_to_six_places() -> None:
    (result,) = predict(
        FixedLogits([[0.0, 1.0, -50.0]]),
        Pictures(np.zeros((1, 28, 28, 1), np.uint8), ["a"]),
        top_k=1,
    )
    # softmax of (0, 1, -50): 0.26894142..., 0.73105857...
    assert result.probability == 0.731059 and result.top_k == ((1, 0.731059),)


@pytest.mark.parametrize("top_k", [0, -1])
def test_predict_top_k_below_one_is_a_configuration_error(top_k: int) -> None:
    with pytest.raises(ConfigError, match=f"^--top-k {top_k}: must be at least 1$"):
        predict(FixedLogits(LOGITS), two_inputs(), top_k=top_k)


def test_prediction_to_json() -> None:
    assert Prediction("a", 3, 0.5).to_json() == {"source": "a", "prediction": 3, "probability": 0.5}
    full = Prediction("b", 3, 0.5, label=0, top_k=((3, 0.5), (1, 0.25))).to_json()
    assert full == {
        "source": "b",
        "prediction": 3,
        "probability": 0.5,
        "label": 0,
        "top_k": [{"class": 3, "probability": 0.5}, {"class": 1, "probability": 0.25}],
    }
    assert Prediction("c", 1, 0.9, label=0).to_json()["label"] == 0  # label 0 is a label


def test_inputs_label_where_known() -> None:
    assert two_inputs([4, 5]).label(1) == 5
    assert two_inputs().label(1) is None
    assert len(two_inputs()) == 2


# ---------------------------------------------------------------------- split inputs


@pytest.fixture(scope="module")
def band_data(tmp_path_factory: pytest.TempPathFactory) -> object:
    from conftest import write_mnist

    source = DataSource(write_mnist(tmp_path_factory.mktemp("band-data")), "idx")
    return open_data(source, DataConfig(validation_size=20))


def test_split_inputs_are_the_split_images_with_their_labels(band_data) -> None:
    inputs = split_inputs(band_data, "test", 5, 3)
    assert np.array_equal(inputs.images[..., 0], TEST_IMAGES[5:8])
    assert inputs.labels == TEST_LABELS[5:8].tolist()
    assert all(type(label) is int for label in inputs.labels)
    assert inputs.sources == ["test[5]", "test[6]", "test[7]"]
    tail = split_inputs(band_data, "validation", 18, 10)
    _, train_labels = make_digits(120, seed=0)
    assert tail.labels == train_labels[118:].tolist() and tail.sources[0] == "validation[18]"
    assert len(split_inputs(band_data, "test", 39, 1)) == 1


@pytest.mark.parametrize(
    ("offset", "count", "option", "message"),
    [
        (-1, 1, None, "--offset -1: must be at least 0"),
        (0, 0, None, "--n 0: must be at least 1"),
        (40, 1, None, "--offset 40: the test split has only 40 images"),
        (41, 1, "--index", "--index 41: the test split has only 40 images"),
        (-2, 1, "--index", "--index -2: must be at least 0"),
    ],
)
def test_split_inputs_out_of_range(band_data, offset, count, option, message) -> None:
    named = {} if option is None else {"offset_option": option}
    with pytest.raises(ConfigError) as caught:
        split_inputs(band_data, "test", offset, count, **named)
    assert str(caught.value) == message


# ---------------------------------------------------------------------- reading inputs


def test_read_inputs_from_files_folders_and_path_lists(tmp_path: Path) -> None:
    Image.fromarray(TEST_IMAGES[0]).save(tmp_path / "a.PNG")
    np.save(tmp_path / "b.npy", TEST_IMAGES[1])
    np.save(tmp_path / "c.npy", TEST_IMAGES[2:4].reshape(2, 784))
    (tmp_path / "notes.txt").write_text("skipped")
    from_folder = read_inputs([str(tmp_path)])
    assert np.array_equal(from_folder.images[..., 0], TEST_IMAGES[:4])
    names = ["a.PNG", "b.npy", "c.npy[0]", "c.npy[1]"]
    assert from_folder.sources == [str(tmp_path / name) for name in names]
    assert from_folder.labels == []
    listed = f"\n  {tmp_path / 'b.npy'}  \n\n{tmp_path / 'a.PNG'}\n".encode()
    from_stdin = read_inputs(["-"], io.BytesIO(listed))
    assert from_stdin.sources == [str(tmp_path / "b.npy"), str(tmp_path / "a.PNG")]
    assert np.array_equal(from_stdin.images[..., 0], TEST_IMAGES[[1, 0]])
    both = read_inputs([str(tmp_path / "b.npy"), "-"], io.BytesIO(listed))
    assert len(both) == 3


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"", "standard input is empty: expected a .npy stream or file paths"),
        (b"  \n\n", "standard input is empty: expected a .npy stream or file paths"),
        (b"\xff\xfe", "standard input is neither a .npy stream nor a list of file paths"),
        (b"\x93NUMPY\x01", "<stdin>: not a readable .npy array"),
        (b"missing.png\n", "input not found: missing.png"),
    ],
)
def test_bad_standard_input_is_an_input_error(stdin: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        read_inputs(["-"], io.BytesIO(stdin))
    assert str(caught.value).startswith(message)


def test_a_second_array_on_stdin_that_is_cut_short_is_named() -> None:
    buffer = io.BytesIO()
    np.save(buffer, TEST_IMAGES[0])
    np.save(buffer, TEST_IMAGES[1:3])
    with pytest.raises(InputError, match="^<stdin, array 2>: not a readable .npy array"):
        read_inputs(["-"], io.BytesIO(buffer.getvalue()[:-10]))


def test_bad_paths_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cases = {
        str(tmp_path / "nope.png"): f"input not found: {tmp_path / 'nope.png'}",
        str(tmp_path / "empty"): f"{tmp_path / 'empty'}: no {SUFFIXES} files in",
    }
    for name, message in cases.items():
        with pytest.raises(InputError) as caught:
            read_inputs([name])
        assert str(caught.value).startswith(message)
    (tmp_path / "secret.npy").write_bytes(b"x")

    def denied(path, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predict_module, "open", denied, raising=False)
        with pytest.raises(InputError) as caught:
            read_inputs([str(tmp_path / "secret.npy")])
    assert str(caught.value) == f"cannot read {tmp_path / 'secret.npy'}: Permission denied"


def test_with_a_failures_list_each_bad_input_is_named_and_the_good_are_read(
    tmp_path: Path,
) -> None:
    """What `rnncls predict` does with many inputs: a bad file, an empty folder, a bad file
    in a folder and a bad path on standard input are each one message, in order."""
    Image.fromarray(TEST_IMAGES[0]).save(tmp_path / "good.png")
    (tmp_path / "empty").mkdir()
    folder = tmp_path / "mixed"
    folder.mkdir()
    np.save(folder / "a.npy", TEST_IMAGES[1])
    (folder / "b.png").write_text("not a picture")
    listed = f"{tmp_path / 'good.png'}\n{tmp_path / 'gone.png'}\n".encode()
    failures: list[str] = []
    names = [str(tmp_path / "missing.png"), str(tmp_path / "empty"), str(folder), "-"]
    found = read_inputs(names, io.BytesIO(listed), failures)
    assert found.sources == [str(folder / "a.npy"), str(tmp_path / "good.png")]
    assert np.array_equal(found.images[..., 0], TEST_IMAGES[[1, 0]])
    assert failures == [
        f"input not found: {tmp_path / 'missing.png'}",
        f"{tmp_path / 'empty'}: no {SUFFIXES} files in this folder",
        f"{folder / 'b.png'}: not an image (PNG or JPEG) and not a .npy array",
        f"input not found: {tmp_path / 'gone.png'}",
    ]


def test_with_a_failures_list_all_bad_inputs_give_no_images(tmp_path: Path) -> None:
    failures: list[str] = []
    found = read_inputs([str(tmp_path / "a.png"), str(tmp_path / "b.png")], failures=failures)
    assert len(found) == 0 and found.sources == [] and found.labels == []
    assert found.images.shape == (0, 28, 28, 1) and found.images.dtype == np.uint8
    assert failures == [
        f"input not found: {tmp_path / 'a.png'}",
        f"input not found: {tmp_path / 'b.png'}",
    ]


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_npy_files_are_named_in_their_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(npy_bytes(np.zeros((4, 28))))
    with pytest.raises(InputError) as caught:
        read_inputs([str(path)])
    assert str(caught.value).startswith(f"{path}: array of shape (4, 28); expected")
    path.write_bytes(npy_bytes(np.array([{"a": 1}], dtype=object)))
    with pytest.raises(InputError) as caught:
        read_inputs([str(path)])
    assert str(caught.value) == (
        f"{path}: not a readable .npy array "
        "(Object arrays cannot be loaded when allow_pickle=False)"
    )
    cut = npy_bytes(TEST_IMAGES[:2])[:200]
    try:
        np.load(io.BytesIO(cut))
    except ValueError as exc:
        reason = str(exc).strip().splitlines()[0]
    with pytest.raises(InputError) as caught:
        read_inputs(["-"], io.BytesIO(cut))
    assert str(caught.value) == f"<stdin>: not a readable .npy array ({reason})"


def test_one_flat_image_is_named_without_an_index(tmp_path: Path) -> None:
    np.save(tmp_path / "flat.npy", TEST_IMAGES[0].reshape(784))
    np.save(tmp_path / "one.npy", TEST_IMAGES[1:2].reshape(1, 784))
    inputs = read_inputs([str(tmp_path / "flat.npy"), str(tmp_path / "one.npy")])
    assert inputs.sources == [str(tmp_path / "flat.npy"), f"{tmp_path / 'one.npy'}[0]"]


def test_stdin_read_only_once_and_not_from_a_terminal(monkeypatch) -> None:
    with pytest.raises(ConfigError, match=r"^standard input \(-\) can be read only once$"):
        read_inputs(["-", "-"], io.BytesIO(b""))

    class Terminal(io.BytesIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(predict_module.sys, "stdin", Terminal())
    with pytest.raises(ConfigError) as caught:
        read_inputs(["-"])
    assert str(caught.value) == (
        "- reads standard input, which is a terminal here; pipe a .npy stream or file paths into it"
    )
    buffer = io.BytesIO()
    np.save(buffer, TEST_IMAGES[0])
    assert len(read_inputs(["-"], io.BytesIO(buffer.getvalue()))) == 1  # given, not a terminal


def test_no_names_is_no_images() -> None:
    with pytest.raises(InputError, match="^no images to predict$"):
        read_inputs([])


# ---------------------------------------------------------------------- classifiers


def test_the_onnx_classifier_gives_the_models_logits(tmp_path: Path) -> None:
    model = write_band_model(tmp_path / "model.onnx")
    classifier = load_classifier(tmp_path)
    assert isinstance(classifier, OnnxClassifier) and classifier.path == model
    assert classifier.backend == "onnx"
    images = np.concatenate([TEST_IMAGES] * 26)  # 1040 images: two model calls
    logits = classifier.logits(images)
    assert logits.shape == (1040, 10)
    np.testing.assert_allclose(logits, band_logits(images), rtol=1e-5, atol=1e-5)
    assert predict_module.BATCH_SIZE < 1040
    results = predict(classifier, Pictures(TEST_IMAGES, [str(i) for i in range(40)]))
    assert [r.prediction for r in results] == TEST_LABELS.tolist()


def test_a_run_answers_from_its_onnx_model_first(tmp_path: Path) -> None:
    with pytest.raises(RunError) as caught:
        resolve_run(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} is not a finished run: it has no model.keras or model.onnx"
    )
    (tmp_path / "model.keras").write_text("")
    assert resolve_run(tmp_path).model == tmp_path / "model.keras"
    (tmp_path / "model.onnx").write_text("")
    assert resolve_run(tmp_path).model == tmp_path / "model.onnx"
    (tmp_path / "x.onnx").write_text("")
    assert resolve_run(tmp_path / "x.onnx").model == tmp_path / "x.onnx"
    assert resolve_run(tmp_path / "x.onnx").folder is None  # no config.toml beside it
    (tmp_path / "config.toml").write_text("")
    assert resolve_run(tmp_path / "x.onnx").folder == tmp_path


def one_input_model(path: Path, element: int, shape: list) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["logits"])],
        "other",
        [helper.make_tensor_value_info("images", element, shape)],
        [helper.make_tensor_value_info("logits", element, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_onnx_models_that_do_not_read_images_are_refused(tmp_path: Path) -> None:
    from onnx import TensorProto

    doubles = one_input_model(tmp_path / "d.onnx", TensorProto.DOUBLE, ["n", 28, 28])
    with pytest.raises(RunError) as caught:
        load_classifier(doubles)
    assert str(caught.value) == f"{doubles}: expected one float input, the images"
    flat = one_input_model(tmp_path / "f.onnx", TensorProto.FLOAT, ["n", 784])
    with pytest.raises(RunError) as caught:
        load_classifier(flat)
    assert str(caught.value).startswith(f"{flat}: the model reads inputs of shape (?, 784);")


def test_without_onnxruntime_the_model_cannot_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    with pytest.raises(RunError) as caught:
        load_classifier(write_band_model(tmp_path / "model.onnx"))
    assert str(caught.value).startswith(
        f"cannot run {tmp_path / 'model.onnx'}: onnxruntime is not installed ("
    )


def test_a_keras_file_goes_to_the_keras_classifier(tmp_path, monkeypatch) -> None:
    made: list[Path] = []
    monkeypatch.setattr(predict_module, "KerasClassifier", lambda path: made.append(path) or path)
    (tmp_path / "m.keras").write_text("")
    assert load_classifier(tmp_path / "m.keras") == tmp_path / "m.keras"
    assert made == [tmp_path / "m.keras"]


def test_a_file_that_is_no_model(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    with pytest.raises(RunError) as caught:
        load_classifier(tmp_path / "config.toml")
    assert str(caught.value) == (
        f"{tmp_path / 'config.toml'}: not a model file; expected a run directory, .onnx or .keras"
    )
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(RunError) as caught:
        load_classifier(tmp_path / "bad.onnx")
    assert str(caught.value).startswith(f"cannot load model {tmp_path / 'bad.onnx'}: ")
    assert "Protobuf parsing failed" in str(caught.value)  # onnxruntime's own first line


@pytest.mark.parametrize(
    ("shape", "shown"),
    [
        (["n", 784], "(?, 784)"),
        ([None, 28, 27], "(?, 28, 27)"),
        ([1, 28, 28, 1], "(1, 28, 28, 1)"),
        (["n", 27, 28], "(?, 27, 28)"),
    ],
)
def test_a_model_for_other_shapes_is_refused(shape: list, shown: str) -> None:
    """A model from before descriptions reads (n, 28, 28): MNIST's pictures, no channels."""
    with pytest.raises(RunError) as caught:
        predict_module._check_input_shape(shape, MNIST, True, Path("m.onnx"))
    assert str(caught.value) == (
        f"m.onnx: the model reads inputs of shape {shown}; "
        "rnncls gives it pictures of shape (n, 28, 28)"
    )


@pytest.mark.parametrize("shape", [[None, 28, 28], ["batch", 28, 28], [5, 28, 28], [1, "h", None]])
def test_a_model_for_28x28_images_is_taken(shape: list) -> None:
    predict_module._check_input_shape(shape, MNIST, True, Path("m.onnx"))


def test_a_described_model_reads_its_data_sets_pictures() -> None:
    predict_module._check_input_shape([None, 28, 28, 1], MNIST, False, Path("m.onnx"))
    with pytest.raises(RunError) as caught:
        predict_module._check_input_shape([None, 28, 28], MNIST, False, Path("m.onnx"))
    assert str(caught.value) == (
        "m.onnx: the model reads inputs of shape (?, 28, 28); "
        "rnncls gives it pictures of shape (n, 28, 28, 1)"
    )


def test_first_line_of_an_error() -> None:
    first_line = predict_module._first_line
    assert first_line(ValueError("  one\ntwo  ")) == "one"
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(ValueError("x" * 400)) == "x" * 300


def test_run_config_of_a_run_or_a_loose_model(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[data]\nvalidation_size = 7\n")
    assert predict_module.run_config(tmp_path).data.validation_size == 7
    assert predict_module.run_config(tmp_path / "model.onnx").data.validation_size == 7
    assert predict_module.run_config(tmp_path / "elsewhere" / "m.onnx") == Config()


def test_predict_data_set_images_with_the_band_model(band_run: TinyRun) -> None:
    """The command end to end without TensorFlow: probabilities as computed here."""
    result = run_predict(band_run, "--n", "3", "--offset", "2", "-f", "jsonl", "-k", "10")
    assert result.exit_code == 0, result.output
    records = jsonl(result.stdout)
    logits = band_logits(TEST_IMAGES[2:5])
    for record, row, label in zip(records, logits, TEST_LABELS[2:5], strict=True):
        expected = softmax_by_hand(row.tolist())
        assert record["label"] == int(label) == record["prediction"]
        assert record["probability"] == pytest.approx(max(expected), abs=2e-6)
        probabilities = {c["class"]: c["probability"] for c in record["top_k"]}
        assert probabilities == pytest.approx(dict(enumerate(expected)), abs=2e-6)
