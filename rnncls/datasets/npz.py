"""Arrays in one ``.npz`` file: ``x_train``, ``y_train``, ``x_test``, ``y_test``.

Pictures (n, height, width) or (n, height, width, channels): unsigned 8- or 16-bit
integers, any integers within 0..65535, or floats in 0..1 or 0..255 (rounded to 8 bits).
Labels: the integers 0 to K-1, or strings (the class names, sorted). Keras's
``mnist.npz`` is such a file; a folder holding a ``mnist.npz`` is one too.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from rnncls.config_keys import DataConfig
from rnncls.datasets import Check, Parts, Warn, file_digest
from rnncls.datasets.idx import check_pair, is_mnist, with_channels
from rnncls.errors import DataError

FORMAT = "npz"
MNIST_NAME = "mnist.npz"
PARTS = ("train", "test")


def find(path: Path) -> Path | None:
    if path.is_file() and path.suffix == ".npz":
        return path
    if path.is_dir() and (path / MNIST_NAME).is_file():
        return path / MNIST_NAME
    return None


def open(  # noqa: A001 - the interface's name
    path: Path, settings: DataConfig, warn: Warn, check: Check | None = None
) -> Parts:
    arrays = read_arrays(path)
    images, labels = {}, {}
    for part in PARTS:
        where = f"{path} ({part})"
        images[part] = pixels(arrays[f"x_{part}"], where)
        labels[part] = arrays[f"y_{part}"]
        check_pair(images[part], labels[part], where)
    depths = {array.dtype for array in images.values()}
    if len(depths) > 1:  # 8 and 16 bits: the 8-bit part in the 16-bit range
        images = {
            part: array.astype(np.uint16) * (257 if array.dtype == np.uint8 else 1)
            for part, array in images.items()
        }
    classes, indices = class_indices(labels, str(path))
    shapes = {
        array.shape[1:] if array.ndim == 4 else (*array.shape[1:], 1) for array in images.values()
    }
    if len(shapes) > 1:
        shown = " and ".join("x".join(map(str, shape)) for shape in sorted(shapes))
        raise DataError(f"{path}: x_train and x_test hold pictures of different shapes ({shown})")
    (shape,) = shapes
    return Parts(
        classes=classes,
        shape=shape,
        labels=indices,
        read_images=lambda part: with_channels(images[part]),
        index=[(path.name, path.stat().st_size, file_digest(path))],
        pixel_max=65535 if next(iter(images.values())).dtype == np.uint16 else 255,
        ordered=True,
        digits=is_mnist(labels["test"]) if labels["test"].dtype == np.uint8 else False,
    )


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    keys = [f"{axis}_{part}" for part in PARTS for axis in ("x", "y")]
    try:
        if not zipfile.is_zipfile(path):
            raise DataError(f"{path}: not an npz archive (damaged, or another format)")
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}")
            return {key: archive[key] for key in keys}
    except DataError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # object arrays: ragged lists, or Python objects
            raise DataError(
                f"{path}: an array holds Python objects (ragged lists of pictures, or "
                "labels of mixed types); save rectangular arrays of numbers or strings"
            ) from None
        raise DataError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    except Exception as exc:  # noqa: BLE001 - a damaged archive fails in many ways inside
        # numpy and zipfile (ValueError, zlib.error, tokenize.TokenError, ...): all of
        # them mean the same thing here.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot read {path}: {reason}") from None


def pixels(array: np.ndarray, where: str) -> np.ndarray:
    """An array of pictures as uint8 (or uint16 where the values need 16 bits)."""
    if array.dtype in (np.uint8, np.uint16):
        return array
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.uint8) * 255
    if kind not in "iuf":
        raise DataError(f"{where}: pictures of {array.dtype}; expected integer or float pixels")
    if array.size == 0:
        return array.astype(np.uint8)
    if kind == "f" and not np.isfinite(array).all():
        position = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise DataError(f"{where}: NaN or infinite pixel at {list(position)}")
    low, high = float(array.min()), float(array.max())
    if kind == "f":
        if low < 0 or high > 255:
            raise DataError(
                f"{where}: float pixels from {low:g} to {high:g}; expected 0..1 or 0..255"
            )
        scaled = array * 255.0 if high <= 1.0 else array
        return np.rint(scaled).astype(np.uint8)
    if low < 0 or high > 65535:
        raise DataError(f"{where}: pixels from {low:g} to {high:g}; expected 0..65535")
    return array.astype(np.uint8 if high <= 255 else np.uint16)


def class_indices(
    labels: dict[str, np.ndarray], where: str
) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """Class names and each part's labels as indices into them: integers 0 to K-1 name
    themselves; strings are sorted."""
    kinds = {array.dtype.kind for array in labels.values()}
    if kinds <= set("iu"):
        low = min(int(array.min()) for array in labels.values() if array.size)
        if low < 0:
            raise DataError(f"{where}: label {low} is negative; labels are 0 to K-1 or strings")
        top = int(labels["train"].max()) if labels["train"].size else 0
        classes = tuple(str(label) for label in range(top + 1))
        for part, array in labels.items():
            if array.size and int(array.max()) > top:
                raise DataError(
                    f"{where}: the {part} labels have class {int(array.max())}, which no "
                    "training label has"
                )
        return classes, {part: array.astype(np.int32) for part, array in labels.items()}
    if kinds <= set("US"):
        names = {
            part: np.char.decode(a) if a.dtype.kind == "S" else a for part, a in labels.items()
        }
        classes = tuple(sorted(str(name) for name in np.unique(names["train"])))
        lookup = {name: index for index, name in enumerate(classes)}
        indices = {}
        for part, array in names.items():
            unknown = sorted(set(map(str, np.unique(array))) - set(classes))
            if unknown:
                raise DataError(
                    f"{where}: the {part} labels have class {unknown[0]!r}, which no "
                    "training label has"
                )
            indices[part] = np.array([lookup[str(name)] for name in array], dtype=np.int32)
        return classes, indices
    shown = ", ".join(f"{part} {array.dtype}" for part, array in labels.items())
    raise DataError(f"{where}: labels of {shown}; expected integers or strings")
