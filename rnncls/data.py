"""Finding, checking and reading MNIST-layout data sets (numpy only, never TensorFlow).

A data folder holds the four IDX files of the MNIST layout, gzip-compressed or not, or a
``mnist.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test``. Every header, size,
count and label is checked, so a damaged file is a clear :class:`DataError`, never a
crash deep inside TensorFlow.
"""

from __future__ import annotations

import gzip
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnncls.errors import DataError  # noqa: F401 - raised here, and imported from here

IMAGE_SIZE = 28
NUM_CLASSES = 10
SPLITS = ("train", "validation", "test")
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
NPZ_NAME = "mnist.npz"
FIX_HINT = (
    "point --data-dir or RNNCLS_DATA_DIR at a folder with the four MNIST files "
    "(train-images-idx3-ubyte[.gz], ...) or a mnist.npz"
)


@dataclass(frozen=True)
class Split:
    """Images as uint8 (n, 28, 28) and labels as uint8 (n,)."""

    name: str
    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class DataSource:
    """Where a data set was found: a folder of IDX files or an npz file."""

    path: Path
    kind: str  # "idx" or "npz"

    def __str__(self) -> str:
        return str(self.path.resolve())


# ---------------------------------------------------------------------------- finding


def _idx_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def source_in(path: Path) -> DataSource | None:
    """The data set at ``path`` (a folder or an npz file), or None if there is none."""
    if path.is_file() and path.suffix == ".npz":
        return DataSource(path, "npz")
    if not path.is_dir():
        return None
    if any(_idx_file(path, name) for pair in FILES.values() for name in pair):
        return DataSource(path, "idx")
    if (path / NPZ_NAME).is_file():
        return DataSource(path / NPZ_NAME, "npz")
    return None


def cache_candidates() -> list[Path]:
    """Keras's download cache (``$KERAS_HOME`` or ``~/.keras``), then ours."""
    keras_home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [Path(keras_home) / "datasets" / NPZ_NAME, Path(cache_home) / "rnncls"]


def find_data(
    data_dir: str | os.PathLike | None = None, config_dir: str = "", download: bool = True
) -> DataSource:
    """The data set to use, first found wins.

    ``--data-dir``, then ``RNNCLS_DATA_DIR``, then ``[data] dir``: a place named
    explicitly must hold the data (no silent fall-through). Then the local caches, then
    a download through ``keras.datasets.mnist`` (which checks the file's hash).
    """
    explicit = [
        ("--data-dir", data_dir),
        ("RNNCLS_DATA_DIR", os.environ.get("RNNCLS_DATA_DIR")),
        ("[data] dir", config_dir),
    ]
    for origin, value in explicit:
        if value:
            path = Path(value).expanduser()
            if not path.exists():
                raise DataError(f"data folder not found: {path} (from {origin}); {FIX_HINT}")
            source = source_in(path)
            if source is None:
                raise DataError(f"no MNIST files in {path} (from {origin}); {FIX_HINT}")
            return source
    looked = cache_candidates()
    for path in looked:
        source = source_in(path)
        if source is not None:
            return source
    if download:
        try:
            return _download()
        except Exception as exc:  # noqa: BLE001 - any download failure means "not found"
            reason = f"download failed ({type(exc).__name__}: {exc})"
    else:
        reason = "no download attempted"
    places = ", ".join(str(p) for p in looked)
    raise DataError(
        f"no MNIST data found: looked in --data-dir, RNNCLS_DATA_DIR, [data] dir, {places}; "
        f"{reason}; {FIX_HINT}"
    )


def _download() -> DataSource:  # pragma: no mutate block (TensorFlow)
    """Fetch mnist.npz into ``~/.keras/datasets`` through Keras, which checks its hash.

    The only path here that imports TensorFlow; Keras's progress goes to stderr, since
    stdout carries results.
    """
    import contextlib
    import sys

    from rnncls.tf_setup import import_tensorflow

    import_tensorflow()
    import keras

    with contextlib.redirect_stdout(sys.stderr):
        keras.datasets.mnist.load_data()
    return DataSource(cache_candidates()[0], "npz")


# ---------------------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # a damaged gzip stream is zlib.error
        raise DataError(f"cannot read {path}: {exc}") from None


def parse_idx(raw: bytes, expect: str, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes: ``expect`` is "images" (n, 28, 28) or "labels" (n,)."""
    header = 16 if expect == "images" else 8
    magic_wanted = IMAGES_MAGIC if expect == "images" else LABELS_MAGIC
    if len(raw) < 4:
        what = "empty" if not raw else f"only {len(raw)} bytes"
        raise DataError(f"{name}: file is {what}, too short for an IDX {expect} header")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != magic_wanted:
        raise DataError(
            f"{name}: wrong magic number {magic:#010x} for IDX {expect} "
            f"(expected {magic_wanted:#010x})"
        )
    if len(raw) < header:
        raise DataError(f"{name}: file is truncated inside its {header}-byte header")
    if expect == "images":
        count, rows, cols = struct.unpack(">III", raw[4:16])
        if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
            raise DataError(f"{name}: images are {rows}x{cols}, expected 28x28")
        shape: tuple[int, ...] = (count, rows, cols)
    else:
        (count,) = struct.unpack(">I", raw[4:8])
        shape = (count,)
    expected_size = header + int(np.prod(shape))
    if len(raw) != expected_size:
        state = "truncated" if len(raw) < expected_size else "longer than its header says"
        raise DataError(
            f"{name}: file is {state}: {len(raw)} bytes, header says {expected_size} "
            f"({count} {expect})"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _check_pair(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{where}: images have shape {images.shape}, expected (n, 28, 28)")
    if labels.ndim != 1:
        raise DataError(f"{where}: labels have shape {labels.shape}, expected (n,)")
    if len(images) != len(labels):
        raise DataError(
            f"{where}: {len(images)} images but {len(labels)} labels; the counts must agree"
        )
    if len(labels) == 0:
        raise DataError(f"{where}: no images")
    if labels.max() >= NUM_CLASSES:
        bad = int(labels.max())
        raise DataError(f"{where}: label {bad} outside 0 to {NUM_CLASSES - 1}")


def _read_idx_part(folder: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = FILES[part]
    arrays = []
    for name, expect in ((images_name, "images"), (labels_name, "labels")):
        path = _idx_file(folder, name)
        if path is None:
            raise DataError(f"missing file {folder / name}[.gz]; {FIX_HINT}")
        arrays.append(parse_idx(_read_bytes(path), expect, str(path)))
    images, labels = arrays
    _check_pair(images, labels, f"{folder} ({part})")
    return images, labels


def _read_npz_part(path: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    keys = (f"x_{part}", f"y_{part}")
    try:
        if not zipfile.is_zipfile(path):
            raise DataError(f"{path}: not an npz archive (damaged, or another format)")
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}")
            images, labels = (archive[k] for k in keys)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged archive fails in many ways inside
        # numpy and zipfile (ValueError, zlib.error, tokenize.TokenError, ...): all of
        # them mean the same thing here.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot read {path}: {reason}") from None
    if images.dtype != np.uint8 or labels.dtype.kind not in "iu":
        raise DataError(
            f"{path}: expected uint8 images and integer labels, "
            f"got {images.dtype} and {labels.dtype}"
        )
    if labels.size and labels.min() < 0:
        raise DataError(f"{path} ({part}): label {int(labels.min())} outside 0 to 9")
    labels = labels.astype(np.uint8) if labels.size and labels.max() < 256 else labels
    _check_pair(images, labels, f"{path} ({part})")
    return images, labels.astype(np.uint8)


def read_part(source: DataSource, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Read the "train" or "test" file pair of a data set."""
    reader = _read_idx_part if source.kind == "idx" else _read_npz_part
    return reader(source.path, part)


def load_split(source: DataSource, split: str, validation_size: int = 5000) -> Split:
    """One split: "train" (the training files less the validation tail),
    "validation" (the last ``validation_size`` training images) or "test"."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if split == "test":
        images, labels = read_part(source, "test")
        return Split("test", images, labels)
    train, validation = load_training_data(source, validation_size)
    return train if split == "train" else validation


def load_training_data(source: DataSource, validation_size: int) -> tuple[Split, Split]:
    """The train and validation splits, reading the training files once."""
    images, labels = read_part(source, "train")
    if validation_size >= len(labels):
        raise DataError(
            f"validation_size = {validation_size} leaves no training images "
            f"({len(labels)} in {source})"
        )
    cut = len(labels) - validation_size
    return (
        Split("train", images[:cut], labels[:cut]),
        Split("validation", images[cut:], labels[cut:]),
    )
