"""Prediction: reading inputs, loading a trained classifier, and predicting digits.

The fast path never imports TensorFlow: a run's ``model.onnx`` runs in ONNX Runtime;
only a run without one falls back to the Keras model (and so to TensorFlow).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from rnncls import rundir
from rnncls.config import load_config
from rnncls.config_keys import Config
from rnncls.data import IMAGE_SIZE, DataSource, load_split
from rnncls.errors import ConfigError, InputError
from rnncls.evaluate import log_softmax, scale_images
from rnncls.images import array_to_images, read_image
from rnncls.rundir import RunError

NPY_MAGIC = b"\x93NUMPY"
FOLDER_SUFFIXES = (".png", ".jpg", ".jpeg", ".npy")
STDIN = "-"
BATCH_SIZE = 1000  # images per model call: measured faster than one call for 10,000


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class Inputs:
    """Images to predict: uint8 (n, 28, 28), a name for each, and labels where known."""

    images: np.ndarray
    sources: list[str]
    labels: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)

    def label(self, index: int) -> int | None:
        return self.labels[index] if self.labels else None


@dataclass(frozen=True)
class Prediction:
    source: str
    prediction: int
    probability: float
    label: int | None = None
    top_k: tuple[tuple[int, float], ...] | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "source": self.source,
            "prediction": self.prediction,
            "probability": self.probability,
        }
        if self.label is not None:
            record["label"] = self.label
        if self.top_k is not None:
            record["top_k"] = [{"class": c, "probability": p} for c, p in self.top_k]
        return record


# ---------------------------------------------------------------------- classifiers


class Classifier(Protocol):
    path: Path
    backend: str

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits (n, classes) for uint8 images (n, 28, 28)."""
        ...


def model_file(run: Path) -> Path:
    """The model a run directory or model path names: ``model.onnx`` first."""
    if run.is_dir():
        for name in (rundir.ONNX_FILE, rundir.MODEL_FILE):
            if (run / name).is_file():
                return run / name
        raise RunError(f"{run} has no {rundir.ONNX_FILE} or {rundir.MODEL_FILE}")
    return run


def load_classifier(run: Path) -> Classifier:
    """The classifier of a run directory or model file (``.onnx`` or ``.keras``)."""
    path = model_file(run)
    if path.suffix == ".onnx":
        return OnnxClassifier(path)
    if path.suffix == ".keras":
        return KerasClassifier(path)
    raise RunError(f"{path}: not a model file; expected a run directory, .onnx or .keras")


def _check_input_shape(shape: Sequence[Any], path: Path) -> None:
    """A model must read (n, 28, 28); unknown (symbolic) sizes are fine."""
    fixed = [size if isinstance(size, int) else None for size in shape]
    fits = len(fixed) == 3 and all(size in (None, IMAGE_SIZE) for size in fixed[1:])
    if not fits:
        shown = "(" + ", ".join("?" if s is None else str(s) for s in fixed) + ")"
        raise RunError(
            f"{path}: the model reads inputs of shape {shown}; rnncls gives it "
            f"images of shape (n, {IMAGE_SIZE}, {IMAGE_SIZE})"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class OnnxClassifier:
    backend = "onnx"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        """``threads``: ONNX Runtime's threads within one call (its default: one a core);
        a server answering many small requests at once runs each call on one."""
        try:
            import onnxruntime
        except ImportError as exc:
            raise RunError(f"cannot run {path}: onnxruntime is not installed ({exc})") from None
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only; its warnings are not the user's to fix
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - any unreadable model is the same error
            raise RunError(f"cannot load model {path}: {_first_line(exc)}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].type != "tensor(float)":
            raise RunError(f"{path}: expected one float input, the images")
        _check_input_shape(inputs[0].shape, path)
        self.path = path
        self.input_name = inputs[0].name

    def logits(self, images: np.ndarray) -> np.ndarray:
        parts = [
            self.session.run(None, {self.input_name: scale_images(images[i : i + BATCH_SIZE])})[0]
            for i in range(0, len(images), BATCH_SIZE)
        ]
        return np.concatenate(parts)


class KerasClassifier:  # pragma: no mutate block (TensorFlow)
    backend = "keras"

    def __init__(self, path: Path) -> None:
        self.model = load_keras_model(path)
        self.path = path

    def logits(self, images: np.ndarray) -> np.ndarray:
        from rnncls.evaluate import keras_logits

        return keras_logits(self.model, images)


def load_keras_model(path: Path) -> Any:  # pragma: no mutate block (TensorFlow)
    """A ``.keras`` model, checked to read 28x28 images (imports TensorFlow)."""
    try:
        from rnncls.tf_setup import import_tensorflow

        import_tensorflow()
        import keras

        import rnncls.model  # noqa: F401 - registers the layer that reads an image's sequence
    except ImportError as exc:
        raise RunError(
            f"cannot load {path}: TensorFlow is not available ({_first_line(exc)}); "
            f"a run with {rundir.ONNX_FILE} needs no TensorFlow"
        ) from None
    if not path.is_file():
        raise RunError(f"model not found: {path}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable model is the same error
        raise RunError(f"cannot load model {path}: {_first_line(exc)}") from None
    shape = model.input_shape
    if isinstance(shape, list):
        raise RunError(f"{path}: the model has {len(shape)} inputs; expected one, the images")
    _check_input_shape(shape, path)
    return model


def describe_model(classifier: Classifier) -> str:
    """Which model answers, for stderr: its run, file, steps and test accuracy, so that
    nobody reads a short test run's guesses as the real ones."""
    path = classifier.path
    try:
        summary = rundir.read_summary(path.parent)
    except RunError:
        summary = None
    if summary is None or not (path.parent / rundir.CONFIG_FILE).is_file():
        return f"model {path}"
    return (
        f"run {path.parent} ({path.name}, {summary.get('steps')} steps, "
        f"test accuracy {summary.get('test_accuracy', float('nan')):.4f})"
    )


def run_config(run: Path) -> Config:
    """The config a run was trained with (the defaults for a model file outside a run)."""
    folder = run if run.is_dir() else run.parent
    path = folder / rundir.CONFIG_FILE
    return load_config(path if path.is_file() else None)


# ---------------------------------------------------------------------- inputs


def split_inputs(
    source: DataSource,
    split: str,
    offset: int,
    count: int,
    validation_size: int,
    offset_option: str = "--offset",
) -> Inputs:
    """``count`` images of a data-set split from ``offset`` on (fewer at its end);
    ``offset_option`` names the option that chose ``offset``, for the error messages."""
    if offset < 0:
        raise ConfigError(f"{offset_option} {offset}: must be at least 0")
    if count < 1:
        raise ConfigError(f"--n {count}: must be at least 1")
    data = load_split(source, split, validation_size)
    if offset >= len(data):
        raise ConfigError(
            f"{offset_option} {offset}: the {split} split has only {len(data)} images"
        )
    stop = min(offset + count, len(data))
    return Inputs(
        images=data.images[offset:stop],
        sources=[f"{split}[{index}]" for index in range(offset, stop)],
        labels=[int(label) for label in data.labels[offset:stop]],
    )


def read_inputs(
    names: Sequence[str], stdin: BinaryIO | None = None, failures: list[str] | None = None
) -> Inputs:
    """Image files, ``.npy`` arrays, folders of them, or ``-`` for standard input.

    With a ``failures`` list, an input that cannot be read (a file of a folder, a path on
    standard input) is one message appended there and the others are read, as Unix tools
    go on past a bad argument; without one, the first bad input raises its error.
    """
    images: list[np.ndarray] = []
    sources: list[str] = []
    if list(names).count(STDIN) > 1:
        raise ConfigError("standard input (-) can be read only once")
    for name in names:
        if name == STDIN:
            if stdin is None and sys.stdin.isatty():
                raise ConfigError(
                    "- reads standard input, which is a terminal here; "
                    "pipe a .npy stream or file paths into it"
                )
            found = _read_stdin((stdin or sys.stdin.buffer).read(), failures)
        else:
            found = _read_path(Path(name), failures)
        for array, source in found:
            images.append(array)
            sources.extend(source)
    if not images:
        if failures:  # every input was bad, and each has its message
            return Inputs(images=np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), sources=[])
        raise InputError("no images to predict")
    return Inputs(images=np.concatenate(images), sources=sources)


Found = list[tuple[np.ndarray, list[str]]]


def _read_path(path: Path, failures: list[str] | None = None) -> Found:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FOLDER_SUFFIXES)
        if not files:
            return _failed(
                InputError(f"{path}: no {', '.join(FOLDER_SUFFIXES)} files in this folder"),
                failures,
            )
        return [item for file in files for item in _read_path(file, failures)]
    try:
        return _read_file(path)
    except InputError as exc:
        return _failed(exc, failures)


def _failed(error: InputError, failures: list[str] | None) -> Found:
    if failures is None:
        raise error
    failures.append(str(error))
    return []


def _read_file(path: Path) -> Found:
    if not path.exists():
        raise InputError(f"input not found: {path}")
    try:
        with open(path, "rb") as handle:
            is_npy = handle.read(len(NPY_MAGIC)) == NPY_MAGIC
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if is_npy:
        return [npy_images(path.read_bytes(), str(path))]
    return [(read_image(path)[np.newaxis], [str(path)])]


def _read_stdin(raw: bytes, failures: list[str] | None = None) -> Found:
    """A ``.npy`` stream (one or more arrays back to back), or one path a line."""
    if raw.startswith(NPY_MAGIC):
        return _npy_stream(raw)
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(
            "standard input is neither a .npy stream nor a list of file paths"
        ) from None
    paths = [line.strip() for line in lines if line.strip()]
    if not paths:
        raise InputError("standard input is empty: expected a .npy stream or file paths")
    return [item for path in paths for item in _read_path(Path(path), failures)]


def _npy_stream(raw: bytes) -> list[tuple[np.ndarray, list[str]]]:
    stream, found = io.BytesIO(raw), []
    while stream.tell() < len(raw):
        name = "<stdin>" if not found else f"<stdin, array {len(found) + 1}>"
        found.append(npy_images(stream, name))
    return found


def npy_images(content: bytes | io.BytesIO, name: str) -> tuple[np.ndarray, list[str]]:
    """The images of one ``.npy`` array (bytes or a stream at its start), with a source
    name each (:func:`array_images`)."""
    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    try:
        array = np.load(stream, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{name}: not a readable .npy array ({_first_line(exc)})") from None
    except MemoryError:  # a header that declares more than the data and the memory hold
        raise InputError(f"{name}: not a readable .npy array (its shape is too large)") from None
    return array_images(array, name)


def array_images(array: np.ndarray, name: str) -> tuple[np.ndarray, list[str]]:
    """An array's images (:func:`rnncls.images.array_to_images`) and their source names:
    ``name`` for one image, ``name[i]`` for the images of a stack."""
    images = array_to_images(array, name)
    single = array.shape in ((IMAGE_SIZE, IMAGE_SIZE), (IMAGE_SIZE * IMAGE_SIZE,))
    sources = [name] if single else [f"{name}[{index}]" for index in range(len(images))]
    return images, sources


# ---------------------------------------------------------------------- predicting


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits.astype(np.float64)))


def predict(classifier: Classifier, inputs: Inputs, top_k: int | None = None) -> list[Prediction]:
    """The most likely digit of each input, its probability, and the ``top_k`` best."""
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k {top_k}: must be at least 1")
    probabilities = softmax(classifier.logits(inputs.images))
    ranked = np.argsort(-probabilities, axis=1, kind="stable")
    results = []
    for index, source in enumerate(inputs.sources):
        row, order = probabilities[index], ranked[index]
        best = int(order[0])
        results.append(
            Prediction(
                source=source,
                prediction=best,
                probability=round(float(row[best]), 6),
                label=inputs.label(index),
                top_k=None
                if top_k is None
                else tuple((int(c), round(float(row[c]), 6)) for c in order[:top_k]),
            )
        )
    return results
