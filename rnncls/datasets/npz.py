"""Arrays in one ``.npz`` file: ``x_train``, ``y_train``, ``x_test``, ``y_test``.

Pictures (n, height, width) or (n, height, width, channels): unsigned 8- or 16-bit
integers, any integers within 0..65535, or floats in 0..1 or 0..255 (rounded to 8 bits).
Series (n, steps), or (n, steps, channels) with ``data.kind = "series"``: numbers, read
as float32, NaN where a series has no value (after its end, its missing values).
``data.kind = "auto"`` takes 2-D x arrays for series, 3-D and 4-D ones for pictures.
Labels: the integers 0 to K-1, or strings (the class names, sorted). Keras's
``mnist.npz`` is such a file; a folder holding a ``mnist.npz`` is one too.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from rnncls.config_keys import DataConfig
from rnncls.datasets import Check, Parts, Warn, file_digest, series_lengths
from rnncls.datasets.description import PICTURES, SERIES
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
    if kind_of(arrays, settings, path) == SERIES:
        return series_parts(arrays, settings, path)
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
    mnist = is_mnist(labels["test"]) if labels["test"].dtype == np.uint8 else False
    return Parts(
        classes=classes,
        shape=shape,
        labels=indices,
        read_images=lambda part: with_channels(images[part]),
        index=[(path.name, path.stat().st_size, file_digest(path))],
        pixel_max=65535 if next(iter(images.values())).dtype == np.uint16 else 255,
        # MNIST's own arrays keep the validation split they always had (the last 5,000);
        # another file may be sorted by class: its validation split is drawn per class
        ordered=mnist,
        digits=mnist,
    )


def kind_of(arrays: dict[str, np.ndarray], settings: DataConfig, path: Path) -> str:
    """What the x arrays hold: data.kind, or with "auto" series for 2-D arrays, pictures
    for others."""
    if settings.kind != "auto":
        return settings.kind
    shapes = {part: arrays[f"x_{part}"].shape for part in PARTS}
    kinds = {part: SERIES if len(shape) == 2 else PICTURES for part, shape in shapes.items()}
    if len(set(kinds.values())) > 1:
        shown = ", ".join(f"x_{part} {shapes[part]} {kinds[part]}" for part in PARTS)
        raise DataError(
            f"{path}: the x arrays hold series (n, steps) and pictures ({shown}); set "
            "data.kind to say which they are"
        )
    return kinds["train"]


def series_parts(arrays: dict[str, np.ndarray], settings: DataConfig, path: Path) -> Parts:
    """Series (n, steps) or (n, steps, channels) as float32, padded with NaN to the
    longest series of both parts."""
    series, labels = {}, {}
    for part in PARTS:
        where = f"{path} ({part})"
        series[part] = series_values(arrays[f"x_{part}"], where, settings)
        labels[part] = arrays[f"y_{part}"]
        if labels[part].ndim != 1:
            raise DataError(f"{where}: labels have shape {labels[part].shape}, expected (n,)")
        if len(series[part]) != len(labels[part]):
            raise DataError(
                f"{where}: {len(series[part])} series but {len(labels[part])} labels; the "
                "counts must agree"
            )
        if not len(labels[part]):
            raise DataError(f"{where}: no series")
    channels = {part: array.shape[2] for part, array in series.items()}
    if len(set(channels.values())) > 1:
        raise DataError(
            f"{path}: x_train holds series of {channels['train']} channels, x_test of "
            f"{channels['test']}; the parts of a data set have the same channels"
        )
    classes, indices = class_indices(labels, str(path))
    steps = max(int(series_lengths(array).max()) for array in series.values())
    padded = {}
    for part, array in series.items():
        padded[part] = np.full((len(array), steps, channels["train"]), np.nan, np.float32)
        kept = min(steps, array.shape[1])
        padded[part][:, :kept] = array[:, :kept]
    return Parts(
        classes=classes,
        shape=(steps, channels["train"]),
        labels=indices,
        read_images=lambda part: padded[part],
        index=[(path.name, path.stat().st_size, file_digest(path))],
        kind=SERIES,
    )


def series_values(array: np.ndarray, where: str, settings: DataConfig) -> np.ndarray:
    """An x array of series as float32 (n, steps, channels); infinite values, series
    without a value and series longer than data.max_steps are errors."""
    if array.ndim not in (2, 3):
        raise DataError(
            f"{where}: series have shape {array.shape}, expected (n, steps) or (n, steps, channels)"
        )
    if array.dtype.kind not in "iuf":
        raise DataError(f"{where}: series of {array.dtype}; expected integers or floats")
    if array.dtype.kind == "f" and np.isinf(array).any():
        position = [int(i) for i in np.argwhere(np.isinf(array))[0]]
        raise DataError(
            f"{where}: an infinite value at {position}; a series' values are finite numbers "
            "(NaN where it has none)"
        )
    largest = float(np.nanmax(np.abs(array), initial=0)) if array.dtype.kind == "f" else 0.0
    if largest > float(np.finfo(np.float32).max):
        raise DataError(f"{where}: a value of {largest:g} is beyond float32's range")
    values = array.astype(np.float32)
    values = values[..., np.newaxis] if values.ndim == 2 else values
    if not len(values):
        return values  # no series: an error with the labels'
    lengths = series_lengths(values) if values.shape[1] else np.zeros(len(values), np.int64)
    if (lengths == 0).any():
        row = int(np.flatnonzero(lengths == 0)[0])
        raise DataError(f"{where}: series {row} is empty (no value, NaN alone)")
    if int(lengths.max()) > settings.max_steps:
        row = int(np.argmax(lengths))
        raise DataError(
            f"{where}: series {row} has {int(lengths.max())} steps, more than "
            f"data.max_steps = {settings.max_steps}; raise data.max_steps to read longer series"
        )
    return values


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
