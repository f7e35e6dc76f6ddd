"""Every command on a data set of one's own: a tiny folder of colour pictures with class
names (spaces, non-ASCII letters), trained, resumed, evaluated, predicted, drawn and
exported; a run that remembers where its data was; --format and --json alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, invoke, sets
from PIL import Image

# Every test here trains a model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow

# Three classes told apart by colour, 6 rows of 5 pixels: a network of 6 steps learns them
# in a few dozen steps. The names are as people write them.
CLASSES = {"blue sky": (30, 60, 220), "grün": (40, 200, 60), "red": (220, 40, 30)}
SETTINGS = [
    "model.hidden_units=12",
    "train.batch_size=16",
    "train.steps=40",
    "train.eval_every=20",
    "train.learning_rate=0.03",
]


def write_colour_folder(root: Path, per_class: int = 30, seed: int = 0) -> Path:
    """``root/<class>/<i>.png``: each picture its class's colour with noise, 5 x 6, a
    few of them larger (8 x 10), which the folder resizes to the most common size."""
    rng = np.random.default_rng(seed)
    for name, colour in CLASSES.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            shape = (10, 8, 3) if index % 10 == 9 else (6, 5, 3)
            noise = rng.integers(-25, 26, shape)
            picture = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(picture).save(root / name / f"{index:03d}.png")
    return root


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder, run) trained once: 40 steps on the colour folder."""
    root = tmp_path_factory.mktemp("own-data")
    data = write_colour_folder(root / "colours")
    run = root / "runs" / "colours"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # runs/latest lands in root, not in the checkout
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        patch.delenv("RNNCLS_DATA_DIR", raising=False)
        result = invoke("train", *sets(SETTINGS), "--data-dir", data, "--run-dir", run, "--json")
    assert result.exit_code == 0, result.output
    return data, run


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, colour_run) -> Path:
    """No RNNCLS_DATA_DIR (a new shell), the module's picture cache."""
    monkeypatch.delenv("RNNCLS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(colour_run[1].parents[1] / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_training_says_what_it_found_and_the_run_records_it(colour_run) -> None:
    data, run = colour_run
    dataset = json.loads((run / "dataset.json").read_text(encoding="utf-8"))
    assert dataset["format"] == "folder" and dataset["path"] == str(data.resolve())
    assert dataset["shape"] == [6, 5, 3] and dataset["pixel_max"] == 255
    assert dataset["classes"] == ["blue sky", "grün", "red"]  # sorted as text
    assert dataset["preparation"] == "plain"
    # 90 pictures: a fifth carved for test (18), a tenth of the rest for validation (7)
    assert dataset["sizes"] == {"train": 65, "validation": 7, "test": 18}
    assert dataset["carved"] == ["validation", "test"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_accuracy"] == 1.0  # colours are easy


def test_eval_names_the_classes_and_finds_the_runs_own_data(colour_run, isolated) -> None:
    """In a new shell, without RNNCLS_DATA_DIR or --data-dir: the run's own data set."""
    _, run = colour_run
    result = invoke("eval", "--run", run, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["classes"] == ["blue sky", "grün", "red"]
    assert [row["label"] for row in metrics["per_class"]] == ["blue sky", "grün", "red"]
    assert metrics["n"] == 18 and metrics["accuracy"] == 1.0
    table = invoke("eval", "--run", run, "--format", "table")
    assert "blue sky" in table.stdout and "grün" in table.stdout
    both = invoke("eval", "--run", run, "--json", "--format", "table")
    assert_one_line_error(both, 2, "--json and --format table: give one")


def test_predict_reads_a_tree_and_labels_by_class_folders(colour_run, isolated) -> None:
    """A folder of class subfolders: each picture labelled by its folder's name, an
    accuracy line on stderr; pictures of any size are resized to the run's."""
    data, run = colour_run
    tree = isolated / "tree"
    write_colour_folder(tree, per_class=2, seed=9)
    Image.fromarray(np.full((40, 40, 3), (210, 30, 30), np.uint8)).save(tree / "loose.png")
    result = invoke("predict", "--run", run, tree, "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 7
    by_source = {Path(r["source"]).relative_to(tree).as_posix(): r for r in records}
    assert by_source["grün/000.png"]["label"] == "grün"
    assert "label" not in by_source["loose.png"]  # not in a class's folder
    assert by_source["loose.png"]["prediction"] == "red"
    assert all(r["prediction"] == r["label"] for r in records if "label" in r)
    assert "accuracy 1.0000 (6 of 6 inputs whose class their file or folder names)" in result.stderr


def test_predict_the_data_set_and_show_it_in_colour(colour_run, isolated) -> None:
    _, run = colour_run
    result = invoke("predict", "--run", run, "--n", "3", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in records] == ["test[0]", "test[1]", "test[2]"]
    assert all(r["label"] in ("blue sky", "grün", "red") for r in records)
    out = isolated / "sample.png"
    shown = invoke("show-sample", "--run", run, "--split", "test", "--n", "6", "--out", out)
    assert shown.exit_code == 0, shown.output
    picture = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3).astype(int)
    # the colour pictures are drawn in colour: some pixels far from grey
    assert (picture.max(axis=1) - picture.min(axis=1)).max() > 120


def test_export_onnx_reads_the_runs_shape_and_names_its_classes(colour_run, isolated) -> None:
    _, run = colour_run
    out = isolated / "colours.onnx"
    result = invoke("export", "--run", run, "--format", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"exported {run / 'model.keras'} as onnx"
    predicted = invoke("predict", "--run", out, "--n", "4", "--data-dir", colour_run[0], "--json")
    from_run = invoke("predict", "--run", run, "--n", "4", "--json")
    assert predicted.exit_code == 0, predicted.output
    ours = [json.loads(line) for line in predicted.stdout.splitlines()]
    theirs = [json.loads(line) for line in from_run.stdout.splitlines()]
    assert [r["prediction"] for r in ours] == [r["prediction"] for r in theirs]
    assert all(isinstance(r["prediction"], str) for r in ours)


def test_a_resumed_folder_run_ends_with_the_same_weights(colour_run, isolated) -> None:
    from rnncls.checkpoints import load_checkpoint

    data, _ = colour_run
    straight, halves = isolated / "straight", isolated / "halves"
    assert (
        invoke("train", *sets(SETTINGS), "--data-dir", data, "--run-dir", straight).exit_code == 0
    )
    first = invoke("train", *sets(SETTINGS), "--steps", 20, "--data-dir", data, "--run-dir", halves)
    assert first.exit_code == 0, first.output
    resumed = invoke("train", "--run-dir", halves, "--resume", "--steps", 40)
    assert resumed.exit_code == 0, resumed.output
    assert f"data: folder data set {data.resolve()}" in resumed.stderr  # its own, found again
    (_, ours), (_, theirs) = load_checkpoint(halves), load_checkpoint(straight)
    for name, array in theirs["model"].items():
        np.testing.assert_array_equal(ours["model"][name], array, err_msg=name)


def test_a_folder_changed_under_a_run_is_refused_on_resume(colour_run, isolated) -> None:
    data = write_colour_folder(isolated / "colours")
    run = isolated / "run"
    first = invoke("train", *sets(SETTINGS), "--steps", 20, "--data-dir", data, "--run-dir", run)
    assert first.exit_code == 0, first.output
    Image.fromarray(np.zeros((6, 5, 3), np.uint8)).save(data / "red" / "999.png")
    (data / "grün" / "000.png").unlink()
    before = sorted(p.name for p in run.iterdir())
    result = invoke("train", "--run-dir", run, "--resume", "--steps", 40)
    assert_one_line_error(
        result,
        1,
        f"error: the data set of {run} changed since it trained ({data.resolve()}: 1 file "
        "added (red/999.png); 1 file removed (grün/000.png)); a resumed run must read the "
        "same pictures: put them back, or train a new run",
    )
    assert sorted(p.name for p in run.iterdir()) == before
    warned = invoke("eval", "--run", run)  # eval goes on, and says so
    assert warned.exit_code == 0, warned.output
    assert f"warning: {data.resolve()} changed since {run} trained on it: 1 file added" in (
        warned.stderr
    )


def test_a_runs_data_that_is_gone_is_named(colour_run, isolated) -> None:
    data = write_colour_folder(isolated / "gone")
    run = isolated / "run"
    trained = invoke("train", *sets(SETTINGS), "--steps", 20, "--data-dir", data, "--run-dir", run)
    assert trained.exit_code == 0, trained.output
    data.rename(isolated / "moved")
    assert_one_line_error(
        invoke("eval", "--run", run),
        1,
        f"error: the data set that {run} trained on is gone: {data.resolve()} does not "
        "exist; give --data-dir to use another",
    )
    moved = invoke("eval", "--run", run, "--data-dir", isolated / "moved", "--json")
    assert moved.exit_code == 0, moved.output


def test_config_show_says_the_environment_chose_the_data(isolated, monkeypatch) -> None:
    monkeypatch.setenv("RNNCLS_DATA_DIR", "/data/mine")
    shown = invoke("config", "show", "--origin").stdout
    assert 'dir = "/data/mine"  # from RNNCLS_DATA_DIR' in shown
    overridden = invoke("config", "show", "--origin", "--set", "data.dir=/x").stdout
    assert 'dir = "/x"  # from --set data.dir=/x' in overridden


def write_sklearn_digits(root: Path) -> Path:
    """scikit-learn's 1,797 digits (8x8, 17 grey levels) as 8-bit PNG files, one folder
    a digit: light strokes on black, as MNIST's."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.rint(image * (255 / 16)).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:04d}.png")
    return root


def test_sklearn_digits_as_8x8_pngs_train_predict_and_serve(isolated) -> None:
    """A digits set of another size: 8 rows of 8 pixels, numeric class names (integers
    in the answers), the digits preparation for pictures of any size."""
    from starlette.testclient import TestClient

    from rnncls import server

    data = write_sklearn_digits(isolated / "digits")
    run = isolated / "run"
    settings = [
        "model.hidden_units=32",
        "train.batch_size=32",
        "train.steps=200",
        "train.eval_every=100",
        "train.learning_rate=0.01",
        "data.preparation='digits'",
    ]
    trained = invoke("train", *sets(settings), "--data-dir", data, "--run-dir", run, "--json")
    assert trained.exit_code == 0, trained.output
    assert "folder data set" in trained.stderr and "8x8 grey pictures, 10 classes" in trained.stderr
    done = json.loads(trained.stdout.splitlines()[-1])
    assert done["test_accuracy"] > 0.8  # 360 test digits: chance is 0.1
    dataset = json.loads((run / "dataset.json").read_text())
    assert dataset["shape"] == [8, 8, 1] and dataset["sizes"]["test"] == 359
    # a photographed digit: dark ink on white paper, 64 x 64, made MNIST-like at 8 x 8
    seven = np.rint(load_first("7") * (255 / 16)).astype(np.uint8)
    photo = 255 - np.kron(seven, np.ones((8, 8), np.uint8))
    Image.fromarray(photo).save(isolated / "photo.png")
    predicted = invoke("predict", "--run", run, isolated / "photo.png", "--json")
    assert predicted.exit_code == 0, predicted.output
    record = json.loads(predicted.stdout)
    assert isinstance(record["prediction"], int) and 0 <= record["prediction"] <= 9
    model = server.load_served_model(run)
    with TestClient(server.create_app(model)) as client:
        answer = client.post("/predict?image=true", json=seven.tolist()).json()
    (served,) = answer["predictions"]
    assert np.array(served["image"]).shape == (8, 8)
    np.save(isolated / "seven.npy", seven)  # the same array, through predict
    same = json.loads(invoke("predict", "--run", run, isolated / "seven.npy", "--json").stdout)
    assert (same["prediction"], same["probability"]) == (
        served["prediction"],
        served["probability"],
    )


def load_first(label: str) -> np.ndarray:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images[list(digits.target).index(int(label))]
