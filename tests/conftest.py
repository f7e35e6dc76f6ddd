"""Shared fixtures: tiny synthetic data sets in the MNIST layout, made in tmp_path."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REAL_MNIST = Path(os.environ.get("RNNCLS_DATA_DIR", "../shared/data/mnist")).resolve()
# Fixtures that train a model: a test using one needs TensorFlow.
TRAINING_FIXTURES = {"tiny_run", "trained"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that train through a fixture ``tensorflow``, so the mutation runs
    (which use only tests without TensorFlow) leave them out without a list to keep."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.tensorflow)


def idx_images(images: np.ndarray) -> bytes:
    count, rows, cols = images.shape
    return struct.pack(">IIII", 0x803, count, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


def make_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k lights row band k, plus a little noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = rng.integers(0, 40, (count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 * label + 4 : 2 * label + 7, 4:24] = 250
    return images, labels


def write_mnist(folder: Path, train: int = 120, test: int = 40, gz: bool = True) -> Path:
    """The four IDX files of a small data set in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    opener = gzip.open if gz else open
    for part, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = make_digits(count, seed)
        with opener(folder / f"{part}-images-idx3-ubyte{suffix}", "wb") as handle:
            handle.write(idx_images(images))
        with opener(folder / f"{part}-labels-idx1-ubyte{suffix}", "wb") as handle:
            handle.write(idx_labels(labels))
    return folder


TINY_SETTINGS = [
    "model.hidden_units=8",
    "train.batch_size=16",
    "train.steps=6",
    "train.eval_every=3",
    "data.validation_size=20",
    # fake digits: picture files given to the run are prepared as MNIST's digits were
    "data.preparation='digits'",
]


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "mnist")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, with no data-set environment leaking in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RNNCLS_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


# ---------------------------------------------------------------------- a trained run


@dataclass(frozen=True)
class TinyRun:
    """A model trained once per test session on tiny synthetic data, with its files."""

    root: Path  # holds runs/latest -> run
    run: Path
    data: Path

    def copy(self, destination: Path) -> Path:
        """A private copy of the run directory, for tests that damage or change it."""
        return Path(shutil.copytree(self.run, destination))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    from typer.testing import CliRunner

    from rnncls.cli import app

    root = tmp_path_factory.mktemp("tiny-run")
    data = write_mnist(root / "mnist")
    run = root / "runs" / "tiny"
    settings = [arg for setting in TINY_SETTINGS for arg in ("--set", setting)]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # runs/latest lands in root, not in the checkout
        result = CliRunner().invoke(
            app, ["train", *settings, "--data-dir", str(data), "--run-dir", str(run), "--quiet"]
        )
    assert result.exit_code == 0, result.output
    assert (run / "model.onnx").is_file(), "training exported no ONNX model"
    return TinyRun(root=root, run=run, data=data)


# ---------------------------------------------------------------------- a model without training


def band_weights() -> np.ndarray:
    """Weights (784, 10) under which class k's logit is the sum of the pixels (0..1) of
    row 2k + 5, the middle of the band that make_digits lights for class k."""
    weights = np.zeros((28, 28, 10), np.float32)
    for label in range(10):
        weights[2 * label + 5, :, label] = 1.0
    return weights.reshape(784, 10)


def band_logits(images: np.ndarray) -> np.ndarray:
    """What the band model answers, computed with numpy alone."""
    pixels = images.reshape(len(images), 784).astype(np.float64) / 255.0
    return pixels @ band_weights().astype(np.float64)


def write_band_model(path: Path) -> Path:
    """An ONNX model (n, 28, 28) -> (n, 10) logits that reads make_digits' digits, built
    without TensorFlow, so predict, eval and show-sample can be tested in seconds."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["images", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        ],
        "bands",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 10])],
        [
            numpy_helper.from_array(np.array([-1, 784], np.int64), "shape"),
            numpy_helper.from_array(band_weights(), "weights"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


COLOUR_CLASSES = ("red", "green", "blue")


def write_colour_model(path: Path, height: int = 6, width: int = 4) -> Path:
    """An ONNX model of a colour data set, built without TensorFlow: it takes raw pixels
    (n, height, width, 3) and class k's logit is the mean of channel k (0..1), so a red
    picture is "red". Its metadata describes the data set as rnncls's exports do."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rnncls.datasets.description import DataSet
    from rnncls.predict import ONNX_DATASET_KEY

    values = height * width * 3
    weights = np.zeros((height, width, 3, 3), np.float32)
    for channel in range(3):
        weights[:, :, channel, channel] = 1.0 / (height * width * 255.0)
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["pictures", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        ],
        "colours",
        [helper.make_tensor_value_info("pictures", TensorProto.FLOAT, ["n", height, width, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3])],
        [
            numpy_helper.from_array(np.array([-1, values], np.int64), "shape"),
            numpy_helper.from_array(weights.reshape(values, 3), "weights"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    dataset = DataSet("pictures", "folder", (height, width, 3), COLOUR_CLASSES)
    entry = model.metadata_props.add()
    entry.key, entry.value = ONNX_DATASET_KEY, dataset.dumps()
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


SERIES_CLASSES = ("low", "high")


def write_series_model(path: Path, steps: int = 50) -> Path:
    """An ONNX model of a univariate series data set, built without TensorFlow: it takes
    series (n, any length, 1), NaN where there is no value, and answers "high" for a
    series whose values sum above 0 ("low" below), as rnncls's series models take them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rnncls.datasets.description import DataSet
    from rnncls.predict import ONNX_DATASET_KEY

    graph = helper.make_graph(
        [
            helper.make_node("IsNaN", ["series"], ["missing"]),
            helper.make_node("Where", ["missing", "zero", "series"], ["values"]),
            helper.make_node("ReduceSum", ["values", "axes"], ["total"], keepdims=0),
            helper.make_node("MatMul", ["total", "weights"], ["logits"]),
        ],
        "sums",
        [helper.make_tensor_value_info("series", TensorProto.FLOAT, ["n", "t", 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])],
        [
            numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
            numpy_helper.from_array(np.array([[-1.0, 1.0]], np.float32), "weights"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    dataset = DataSet(
        "series", "ts", (steps, 1), SERIES_CLASSES, mean=(0.0,), std=(1.0,), lengths=(steps, steps)
    )
    entry = model.metadata_props.add()
    entry.key, entry.value = ONNX_DATASET_KEY, dataset.dumps()
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="session")
def band_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """A run directory with only the band model (no config, no Keras model), and data."""
    root = tmp_path_factory.mktemp("band-run")
    run = root / "runs" / "bands"
    write_band_model(run / "model.onnx")
    return TinyRun(root=root, run=run, data=write_mnist(root / "mnist"))


@contextmanager
def held_run_dir(path: Path, *, fresh: bool) -> Iterator[None]:
    """Another process holding ``path``'s lock, as a training does, until the block ends
    (then it is killed: the kernel drops its lock)."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from rnncls import rundir; "
            f"rundir.claim_run_dir(Path({str(path)!r}), fresh={fresh}); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def invoke(*args: object, **kwargs: Any) -> Any:
    """``rnncls ARGS...`` in this process (Typer's CliRunner), each argument as text;
    keyword arguments go to ``CliRunner.invoke`` (``input=`` ...)."""
    from typer.testing import CliRunner

    from rnncls.cli import app

    return CliRunner().invoke(app, [str(arg) for arg in args], **kwargs)


def sets(settings: list[str]) -> list[str]:
    """``["a=1", "b=2"]`` as ``--set a=1 --set b=2``."""
    return [part for setting in settings for part in ("--set", setting)]


def assert_one_line_error(result: Any, exit_code: int, fragment: str = "") -> str:
    """A failure as the spec has it: the exit code, one `error: ...` line on stderr, no
    traceback. Returns the line."""
    assert result.exit_code == exit_code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


# ---------------------------------------------------------------------- run directories by hand


def write_run(
    path: Path,
    config: dict[str, Any] | None = None,
    *,
    summary: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] = (),  # type: ignore[assignment]
    checkpoint: int | None = None,
    trial: dict[str, Any] | None = None,
) -> Path:
    """A run directory as training (and `rnncls tune`) leaves it, with chosen values:
    config.toml (the defaults with ``config``'s dotted keys changed), and where given
    summary.json, metrics.jsonl, a checkpoint of step ``checkpoint`` and trial.json."""
    from rnncls import checkpoints, rundir
    from rnncls.config import to_toml, with_values
    from rnncls.config_keys import Config

    changes: dict[str, dict[str, Any]] = {}
    for dotted, value in (config or {}).items():
        section, key = dotted.split(".")
        changes.setdefault(section, {})[key] = value
    path.mkdir(parents=True, exist_ok=True)
    (path / rundir.CONFIG_FILE).write_text(to_toml(with_values(Config(), **changes)))
    if summary is not None:
        rundir.write_json(path / rundir.SUMMARY_FILE, {"event": "done", **summary})
    for record in metrics:
        rundir.append_metrics(path, {"event": "eval", **record})
    if checkpoint is not None:
        state = {"format": 1, "step": checkpoint}
        checkpoints.save_checkpoint(path, state, {"model": {"w": np.zeros(2, np.float32)}})
    if trial is not None:
        rundir.write_json(path / "trial.json", trial)
    return path


def reporter_of(
    evaluation: Any = None, status: Any = None, progress: Any = None, phase: Any = None
) -> Any:
    """A training reporter that hands each kind of news to the callable given for it."""
    from rnncls.reporters import Reporter

    class Handing(Reporter):
        pass

    handing = Handing()
    for name, handler in (
        ("evaluation", evaluation),
        ("status", status),
        ("progress", progress),
        ("phase", phase),
    ):
        if handler is not None:
            setattr(handing, name, handler)
    return handing
