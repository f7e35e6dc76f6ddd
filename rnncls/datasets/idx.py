"""The MNIST layout: four IDX files, gzip-compressed or not, in one folder.

``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``: unsigned bytes, pictures of any size (the header says it),
labels 0 to K-1 (the class count is the largest label plus one). MNIST, Fashion-MNIST,
KMNIST and EMNIST ship as these files. Every header, size, count and label is checked,
so a damaged file is a clear :class:`DataError`, never a crash deep inside TensorFlow.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from rnncls.config_keys import DataConfig
from rnncls.datasets import Check, Parts, Warn, file_digest
from rnncls.datasets.description import PICTURES, DataSet
from rnncls.errors import DataError

FORMAT = "idx"
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_FIX_HINT = "the MNIST layout is four files: train-images-idx3-ubyte[.gz], ..."
# MNIST itself, as every run before data sets were described read it: 28x28 grey digits,
# classes 0 to 9. Runs and model files without a description of their data are these.
MNIST = DataSet(
    kind=PICTURES,
    format=FORMAT,
    shape=(28, 28, 1),
    classes=tuple(str(digit) for digit in range(10)),
    pixel_max=255,
    preparation="digits",
)
# sha256 of MNIST's 10,000 test labels (the bytes after the IDX header; the same array
# as mnist.npz's y_test): a data set with these labels is MNIST, whose pictures predict
# prepares as MNIST's digits were made (Fashion-MNIST has the same layout, not the labels).
MNIST_TEST_LABELS_SHA256 = "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"


def find(path: Path) -> Path | None:
    if path.is_dir() and any(_file(path, name) for pair in FILES.values() for name in pair):
        return path
    return None


def _file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def open(  # noqa: A001 - the interface's name
    path: Path, settings: DataConfig, warn: Warn, check: Check | None = None
) -> Parts:
    images: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    index = []
    for part, names in FILES.items():
        arrays = []
        for name, expect in zip(names, ("images", "labels"), strict=True):
            file = _file(path, name)
            if file is None:
                raise DataError(f"missing file {path / name}[.gz]; {MNIST_FIX_HINT}")
            arrays.append(parse_idx(read_bytes(file), expect, str(file)))
            index.append((file.name, file.stat().st_size, file_digest(file)))
        check_pair(*arrays, f"{path} ({part})")
        images[part], labels[part] = arrays
    return parts_of(images, labels, index, path)


def parts_of(
    images: dict[str, np.ndarray], labels: dict[str, np.ndarray], index: list, where: Path
) -> Parts:
    """The parts of a data set whose labels are the integers 0 to K-1: its classes are
    those integers' names; MNIST's own test labels mark MNIST."""
    shapes = {part: array.shape[1:] for part, array in images.items()}
    if len(set(shapes.values())) > 1:
        shown = " and the ".join(f"{part} pictures {w}x{h}" for part, (h, w, *_) in shapes.items())
        raise DataError(f"{where}: the {shown}; the pictures of a data set are of one size")
    classes = int(max(int(array.max()) for array in labels.values())) + 1
    first = next(iter(images.values()))
    height, width = first.shape[1:3]
    channels = first.shape[3] if first.ndim == 4 else 1
    return Parts(
        classes=tuple(str(label) for label in range(classes)),
        shape=(height, width, channels),
        labels={part: array.astype(np.int32) for part, array in labels.items()},
        read_images=lambda part: with_channels(images[part]),
        index=index,
        pixel_max=65535 if first.dtype == np.uint16 else 255,
        ordered=True,
        digits=is_mnist(labels.get("test")),
    )


def with_channels(images: np.ndarray) -> np.ndarray:
    """(n, h, w) pictures as (n, h, w, 1): a view, no copy."""
    return images[..., np.newaxis] if images.ndim == 3 else images


def is_mnist(test_labels: np.ndarray | None) -> bool:
    if test_labels is None or test_labels.dtype != np.uint8 or len(test_labels) != 10000:
        return False
    return hashlib.sha256(test_labels.tobytes()).hexdigest() == MNIST_TEST_LABELS_SHA256


def read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # a damaged gzip stream is zlib.error
        raise DataError(f"cannot read {path}: {exc}") from None


def parse_idx(raw: bytes, expect: str, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes: ``expect`` is "images" (n, rows, columns) or "labels" (n,)."""
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
        if rows < 1 or cols < 1:
            raise DataError(f"{name}: images are {rows}x{cols}; a picture needs a pixel")
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


def check_pair(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.ndim not in (3, 4) or min(images.shape[1:3], default=0) < 1:
        raise DataError(
            f"{where}: images have shape {images.shape}, expected (n, height, width) "
            "or (n, height, width, channels)"
        )
    if labels.ndim != 1:
        raise DataError(f"{where}: labels have shape {labels.shape}, expected (n,)")
    if len(images) != len(labels):
        raise DataError(
            f"{where}: {len(images)} images but {len(labels)} labels; the counts must agree"
        )
    if len(labels) == 0:
        raise DataError(f"{where}: no images")
