"""Prediction: reading inputs, loading a trained classifier, and predicting classes.

The fast path never imports TensorFlow: a run's ``model.onnx`` runs in ONNX Runtime;
only a run without one falls back to the Keras model (and so to TensorFlow). A model
file carries the description of its data set (the shape it reads, its classes, how a
picture file is prepared), so a model file outside its run answers the same.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from rnncls import rundir
from rnncls.config import load_config
from rnncls.config_keys import Config, DataConfig
from rnncls.datasets import OpenedData
from rnncls.datasets.description import DataSet
from rnncls.datasets.folder import EXTENSIONS
from rnncls.datasets.idx import MNIST
from rnncls.errors import ConfigError, DataError, InputError, RunError
from rnncls.evaluate import log_softmax, model_inputs
from rnncls.images import array_to_images, read_picture
from rnncls.rundir import RunTarget
from rnncls.series import pad as pad_series

NPY_MAGIC = b"\x93NUMPY"
FOLDER_SUFFIXES = (*EXTENSIONS, ".npy")
SERIES_SUFFIXES = (".ts", ".tsv", ".csv", ".npy")
STDIN = "-"
BATCH_SIZE = 1000  # images per model call: measured faster than one call for 10,000
# The key of an ONNX model's metadata that holds the description of its data set.
ONNX_DATASET_KEY = "rnncls.dataset"


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class Pictures:
    """Pictures to predict, (n, height, width, channels) in the run's pixels, a name
    for each, and their classes (indices) where known."""

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
    prediction: int | str  # the class as the data set names it (MNIST's: 0 to 9)
    probability: float
    label: int | str | None = None
    top_k: tuple[tuple[int | str, float], ...] | None = None

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
    dataset: DataSet  # what the model reads and what its outputs are

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits (n, classes) for pictures (n, height, width, channels)."""
        ...


def load_classifier(target: RunTarget | Path) -> Classifier:
    """The classifier of a run (a :class:`RunTarget`, or the path ``--run`` would take):
    its ``model.onnx``, else its ``model.keras``, or the model file named."""
    if not isinstance(target, RunTarget):
        target = rundir.resolve_run(target)
    path = target.model
    if path.suffix == ".onnx":
        return OnnxClassifier(path)
    return KerasClassifier(path)


def _check_input_shape(shape: Sequence[Any], dataset: DataSet, legacy: bool, path: Path) -> None:
    """A model must read the pictures of its description; unknown (symbolic) sizes are
    fine."""
    fixed = [size if isinstance(size, int) else None for size in shape]
    wanted = list(dataset.shape[:2]) if legacy else list(dataset.shape)
    fits = len(fixed) == len(wanted) + 1 and all(
        size in (None, want) for size, want in zip(fixed[1:], wanted, strict=True)
    )
    if not fits:
        shown = "(" + ", ".join("?" if s is None else str(s) for s in fixed) + ")"
        expected = ", ".join(map(str, wanted))
        raise RunError(
            f"{path}: the model reads inputs of shape {shown}; rnncls gives it "
            f"pictures of shape (n, {expected})"
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
        described = self.session.get_modelmeta().custom_metadata_map.get(ONNX_DATASET_KEY)
        self.legacy = described is None
        try:
            self.dataset = MNIST if described is None else DataSet.from_json(json.loads(described))
        except ValueError as exc:
            raise RunError(f"{path}: {exc}") from None
        self.shape = inputs[0].shape
        _check_input_shape(self.shape, self.dataset, self.legacy, path)
        self.path = path
        self.input_name = inputs[0].name

    def logits(self, images: np.ndarray) -> np.ndarray:
        parts = [
            self.session.run(
                None,
                {
                    self.input_name: model_inputs(
                        images[i : i + BATCH_SIZE], self.shape, self.legacy
                    )
                },
            )[0]
            for i in range(0, len(images), BATCH_SIZE)
        ]
        return np.concatenate(parts)


class KerasClassifier:  # pragma: no mutate block (TensorFlow)
    backend = "keras"

    def __init__(self, path: Path) -> None:
        self.model = load_keras_model(path)  # first: it says when TensorFlow is missing
        from rnncls.model import dataset_of

        self.dataset = dataset_of(self.model) or MNIST
        self.path = path

    def logits(self, images: np.ndarray) -> np.ndarray:
        from rnncls.evaluate import keras_logits

        return keras_logits(self.model, images)


def load_keras_model(path: Path) -> Any:  # pragma: no mutate block (TensorFlow)
    """A ``.keras`` model, checked to read the pictures it describes (imports
    TensorFlow)."""
    try:
        from rnncls.tf_setup import import_tensorflow

        import_tensorflow()
        import keras

        from rnncls.model import dataset_of  # registers the layers rnncls models hold
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
    dataset = dataset_of(model)
    _check_input_shape(shape, dataset or MNIST, dataset is None, path)
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


def run_config(target: RunTarget | Path) -> Config:
    """The config a run was trained with (the defaults for a model file outside a run)."""
    folder = target.folder if isinstance(target, RunTarget) else rundir.run_folder(target)
    path = folder / rundir.CONFIG_FILE if folder is not None else None
    return load_config(path if path is not None and path.is_file() else None)


# ---------------------------------------------------------------------- inputs


def split_inputs(
    data: OpenedData, split: str, offset: int, count: int, offset_option: str = "--offset"
) -> Pictures:
    """``count`` pictures of a data-set split from ``offset`` on (fewer at its end);
    ``offset_option`` names the option that chose ``offset``, for the error messages."""
    if offset < 0:
        raise ConfigError(f"{offset_option} {offset}: must be at least 0")
    if count < 1:
        raise ConfigError(f"--n {count}: must be at least 1")
    part = data.split(split)
    if offset >= len(part):
        raise ConfigError(
            f"{offset_option} {offset}: the {split} split has only {len(part)} images"
        )
    stop = min(offset + count, len(part))
    return Pictures(
        images=np.asarray(part.images[offset:stop]),
        sources=[f"{split}[{index}]" for index in range(offset, stop)],
        labels=[int(label) for label in part.labels[offset:stop]],
    )


Found = list[tuple[np.ndarray, list[str], list[int | None]]]


def read_inputs(
    names: Sequence[str],
    stdin: BinaryIO | None = None,
    failures: list[str] | None = None,
    dataset: DataSet = MNIST,
) -> Pictures:
    """Picture files, ``.npy`` arrays, folders of them (and their subfolders), or ``-``
    for standard input, as ``dataset``'s pictures. A picture in a folder named after one
    of the classes has that class as its label.

    With a ``failures`` list, an input that cannot be read (a file of a folder, a path on
    standard input) is one message appended there and the others are read, as Unix tools
    go on past a bad argument; without one, the first bad input raises its error.
    """
    reader = InputReader(dataset, failures)
    found: Found = []
    if list(names).count(STDIN) > 1:
        raise ConfigError("standard input (-) can be read only once")
    for name in names:
        if name == STDIN:
            if stdin is None and sys.stdin.isatty():
                raise ConfigError(
                    "- reads standard input, which is a terminal here; "
                    "pipe a .npy stream or file paths into it"
                )
            found += reader.stdin((stdin or sys.stdin.buffer).read())
        else:
            found += reader.path(Path(name))
    if not found:
        if failures:  # every input was bad, and each has its message
            empty = (0, 0, dataset.channels) if dataset.is_series else (0, *dataset.shape)
            return Pictures(images=np.zeros(empty, dataset.dtype), sources=[])
        raise InputError("no images to predict")
    labels = [label for _, _, part in found for label in part]
    if dataset.is_series:  # series of any lengths, padded side by side
        examples = pad_series([one for series, _, _ in found for one in series], dataset.channels)
    else:
        examples = np.concatenate([images for images, _, _ in found])
    return Pictures(
        images=examples,
        sources=[source for _, sources, _ in found for source in sources],
        labels=labels if any(label is not None for label in labels) else [],
    )


class InputReader:
    """Reads the inputs of one ``predict`` as a run's pictures or series."""

    def __init__(
        self, dataset: DataSet, failures: list[str] | None, label_column: str = "label"
    ) -> None:
        self.dataset, self.failures = dataset, failures
        self.label_column = label_column  # a CSV file's (data.label)

    def path(self, path: Path, label: int | None = None) -> Found:
        if path.is_dir():
            return self.folder(path)
        try:
            return [self._file(path, label)]
        except InputError as exc:
            return self.failed(exc)

    def folder(self, root: Path) -> Found:
        """Every picture and array under ``root``, sorted; a folder named after a class
        (``root`` itself or one below it) labels the pictures in it."""
        suffixes = SERIES_SUFFIXES if self.dataset.is_series else FOLDER_SUFFIXES
        files = sorted(
            (
                path
                for path in root.rglob("*")
                if path.is_file() and path.suffix.lower() in suffixes
            ),
            key=lambda path: path.relative_to(root).parts,
        )
        files = [
            f for f in files if not any(part.startswith(".") for part in f.relative_to(root).parts)
        ]
        if not files:
            shown = ", ".join(suffixes)
            return self.failed(InputError(f"{root}: no {shown} files in this folder"))
        found: Found = []
        for file in files:
            found += self.path(file, self.dataset.class_index(file.parent.name))
        return found

    def _file(
        self, path: Path, label: int | None
    ) -> tuple[np.ndarray, list[str], list[int | None]]:
        if not path.exists():
            raise InputError(f"input not found: {path}")
        try:
            with open(path, "rb") as handle:
                is_npy = handle.read(len(NPY_MAGIC)) == NPY_MAGIC
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        if self.dataset.is_series:
            return self.series_file(path, is_npy)
        if is_npy:
            images, sources = npy_images(path.read_bytes(), str(path), self.dataset)
            return images, sources, [None] * len(sources)
        return read_picture(path, str(path), self.dataset)[np.newaxis], [str(path)], [label]

    def series_file(self, path: Path, is_npy: bool) -> tuple[Any, list[str], list[int | None]]:
        """The series of a ``.npy`` array or a ``.ts``, ``.tsv`` or ``.csv`` file, with
        their classes where the file names them."""
        from rnncls.datasets import csv, ts, tsv
        from rnncls.series import array_to_series

        if is_npy:
            array = load_npy(path.read_bytes(), str(path))
            found = array_to_series(array, str(path), self.dataset.channels)
            labels: list[int | None] = [None] * len(found)
        else:
            readers = {".ts": lambda file, s: ts.read_file(file, s)[1], ".tsv": tsv.read_file}
            readers[".csv"] = csv.read_file
            reader = readers.get(path.suffix.lower())
            if reader is None:
                raise InputError(f"{path}: not a series file ({', '.join(SERIES_SUFFIXES)})")
            try:
                read = reader(path, DataConfig(label=self.label_column))
            except DataError as exc:
                raise InputError(str(exc)) from None
            found = [one.astype(np.float32) for one in read.series]
            labels = [self.dataset.class_index(label) for label in read.labels]
        if found and found[0].shape[1] != self.dataset.channels:
            raise InputError(
                f"{path}: series of {found[0].shape[1]} channels; the run reads "
                f"{self.dataset.channels}"
            )
        sources = [str(path)] if len(found) == 1 else [f"{path}[{i}]" for i in range(len(found))]
        return found, sources, labels

    def stdin(self, raw: bytes) -> Found:
        """A ``.npy`` stream (one or more arrays back to back), JSON arrays a line (a
        series run), or one path a line."""
        if self.dataset.is_series and raw.lstrip()[:1] == b"[":
            return self.json_lines(raw)
        if self.dataset.is_series and raw.startswith(NPY_MAGIC):
            from rnncls.series import array_to_series

            stream, found = io.BytesIO(raw), []
            while stream.tell() < len(raw):
                name = "<stdin>" if not found else f"<stdin, array {len(found) + 1}>"
                series = array_to_series(load_npy(stream, name), name, self.dataset.channels)
                found.append(
                    (series, [f"{name}[{i}]" for i in range(len(series))], [None] * len(series))
                )
            return found
        if raw.startswith(NPY_MAGIC):
            stream, found = io.BytesIO(raw), []
            while stream.tell() < len(raw):
                name = "<stdin>" if not found else f"<stdin, array {len(found) + 1}>"
                images, sources = npy_images(stream, name, self.dataset)
                found.append((images, sources, [None] * len(sources)))
            return found
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise InputError(
                "standard input is neither a .npy stream nor a list of file paths"
            ) from None
        paths = [line.strip() for line in lines if line.strip()]
        if not paths:
            raise InputError("standard input is empty: expected a .npy stream or file paths")
        return [item for path in paths for item in self.path(Path(path))]

    def json_lines(self, raw: bytes) -> Found:
        """A series a line as JSON (``[1, 2, 3]``, or ``[[...], ...]`` a step a row)."""
        from rnncls.series import json_series

        found: Found = []
        lines = raw.decode("utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            name = f"<stdin, line {number}>"
            try:
                series = json_series(line, name, self.dataset.channels)
            except InputError as exc:
                found += self.failed(exc)
                continue
            sources = [name] if len(series) == 1 else [f"{name}[{i}]" for i in range(len(series))]
            found.append((series, sources, [None] * len(series)))
        return found

    def failed(self, error: InputError) -> Found:
        if self.failures is None:
            raise error
        self.failures.append(str(error))
        return []


def load_npy(content: bytes | io.BytesIO, name: str) -> np.ndarray:
    """One ``.npy`` array (bytes or a stream at its start)."""
    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    try:
        return np.load(stream, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{name}: not a readable .npy array ({_first_line(exc)})") from None
    except MemoryError:  # a header that declares more than the data and the memory hold
        raise InputError(f"{name}: not a readable .npy array (its shape is too large)") from None


def npy_images(
    content: bytes | io.BytesIO, name: str, dataset: DataSet = MNIST
) -> tuple[np.ndarray, list[str]]:
    """The pictures of one ``.npy`` array (bytes or a stream at its start), with a
    source name each (:func:`array_images`)."""
    return array_images(load_npy(content, name), name, dataset)


def array_images(
    array: np.ndarray, name: str, dataset: DataSet = MNIST
) -> tuple[np.ndarray, list[str]]:
    """An array's pictures (:func:`rnncls.images.array_to_images`) and their source
    names: ``name`` for one picture, ``name[i]`` for the pictures of a stack."""
    images = array_to_images(array, name, dataset.shape, dataset.pixel_max)
    height, width, channels = dataset.shape
    one = (height, width) if channels == 1 else (height, width, channels)
    single = array.shape in (one, (height * width * channels,))
    sources = [name] if single else [f"{name}[{index}]" for index in range(len(images))]
    return images, sources


# ---------------------------------------------------------------------- predicting


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits.astype(np.float64)))


def predict(classifier: Classifier, inputs: Pictures, top_k: int | None = None) -> list[Prediction]:
    """The most likely class of each input, its probability, and the ``top_k`` best."""
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k {top_k}: must be at least 1")
    probabilities = softmax(classifier.logits(inputs.images))
    ranked = np.argsort(-probabilities, axis=1, kind="stable")
    name = classifier.dataset.class_value
    results = []
    for index, source in enumerate(inputs.sources):
        row, order = probabilities[index], ranked[index]
        best = int(order[0])
        label = inputs.label(index)
        results.append(
            Prediction(
                source=source,
                prediction=name(best),
                probability=round(float(row[best]), 6),
                label=None if label is None else name(label),
                top_k=None
                if top_k is None
                else tuple((name(int(c)), round(float(row[c]), 6)) for c in order[:top_k]),
            )
        )
    return results
