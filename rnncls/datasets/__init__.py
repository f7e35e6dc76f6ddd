"""Data sets: one module a format, behind one small interface (numpy, never TensorFlow).

A source module (:mod:`~rnncls.datasets.idx`, :mod:`~rnncls.datasets.npz`,
:mod:`~rnncls.datasets.ts`, :mod:`~rnncls.datasets.tsv`, :mod:`~rnncls.datasets.csv`,
:mod:`~rnncls.datasets.folder`) has:

- ``FORMAT``: its name (``"idx"``);
- ``find(path) -> Path | None``: the data set of this format at ``path`` (a file or a
  folder), or None; cheap, it reads no pixel;
- ``open(path, settings, warn, check) -> Parts``: its parts as the files hold them
  (``train``, ``test``, maybe ``validation``): every label, the pictures' shape and
  range, the class names, and the pictures of a part when asked for them. ``check``
  (when given) is called with the index of the files before any costly reading, and
  raises if they are not the ones expected (a resumed run's).

This module finds a data set (``--data-dir``, ``RNNCLS_DATA_DIR``, ``[data] dir``, the
caches, a download), turns its parts into the three splits (carving those the files do
not hold) and describes it (:class:`~rnncls.datasets.description.DataSet`). A new format
is one module and its test, added to :func:`sources`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rnncls.config_keys import DataConfig
from rnncls.datasets.description import PICTURES, SERIES, DataSet
from rnncls.errors import DataError

SPLITS = ("train", "validation", "test")
# Carved splits are drawn with this seed, whatever the run's own seed: runs that differ
# in train.seed are tested on the same pictures.
SPLIT_SEED = 0
# Without [data] validation_size: a tenth of the training pictures, at most this many
# (MNIST's 5,000: the last 5,000 of its 60,000 training images, as the seed's runs had).
AUTO_VALIDATION_MOST = 5000
AUTO_VALIDATION_SHARE = 0.1
# A data set without a test split: a fifth of its pictures, at most this many.
AUTO_TEST_MOST = 10000
AUTO_TEST_SHARE = 0.2
FIX_HINT = (
    "point --data-dir or RNNCLS_DATA_DIR at a data set: a folder with the four MNIST files "
    "(train-images-idx3-ubyte[.gz], ...), an .npz file, a folder of pictures with one "
    "subfolder a class, or series (NAME_TRAIN.ts, .tsv or .csv files)"
)
Warn = Callable[[str], None]
Index = list[tuple[str, int, str]]  # (file, size, stamp) of everything a data set reads
Check = Callable[[Index], None]


@dataclass
class Parts:
    """A data set as its files hold it, before the splits are made."""

    classes: tuple[str, ...]
    shape: tuple[int, ...]  # pictures: (height, width, channels); series: (steps, channels)
    labels: dict[str, np.ndarray]  # class indices of each part ("train", "test", ...)
    # A part's examples: pictures (n, h, w, c) of uint8 or uint16 (an array or memmap);
    # series (n, steps, channels) of float32, NaN where a series has no value (after its
    # end, and its missing values)
    read_images: Callable[[str], Any]
    index: list[tuple[str, int, str]]  # (file, size, stamp) of everything read: the fingerprint
    pixel_max: int = 255
    ordered: bool = False  # the validation split is the training part's tail (MNIST's files)
    digits: bool = False  # MNIST's digits: predict prepares pictures as MNIST did
    notes: list[str] = field(default_factory=list)  # said once on stderr with the description
    kind: str = PICTURES  # or SERIES


class Source(Protocol):
    FORMAT: str

    def find(self, path: Path) -> Path | None: ...

    def open(
        self, path: Path, settings: DataConfig, warn: Warn, check: Check | None = None
    ) -> Parts: ...


def sources() -> tuple[Source, ...]:
    """Every format, in the order a path is tried: the MNIST layout and arrays, then the
    files of series, before a folder of pictures (a folder of IDX files, or one holding
    NAME_TRAIN.ts, is not a picture folder)."""
    from rnncls.datasets import csv, folder, idx, npz, ts, tsv

    return (idx, npz, ts, tsv, csv, folder)  # type: ignore[return-value]


@dataclass(frozen=True)
class DataSource:
    """Where a data set was found, and which source reads it (nothing read yet)."""

    path: Path
    kind: str  # the source's FORMAT

    def __str__(self) -> str:
        return str(self.path.resolve())

    def source(self) -> Source:
        return next(s for s in sources() if s.FORMAT == self.kind)


@dataclass(frozen=True)
class Split:
    """A split's pictures (n, height, width, channels), uint8 or uint16, and class indices
    (n,). The pictures may be a memory map or :class:`Rows` of one: index them a batch at a
    time (``images[indices]``) rather than all at once."""

    name: str
    images: Any
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


class Rows:
    """Some rows of a large array (a memory map), read only when indexed."""

    def __init__(self, base: Any, rows: np.ndarray) -> None:
        self.base, self.rows = base, np.asarray(rows, dtype=np.int64)
        self.shape = (len(self.rows), *base.shape[1:])
        self.dtype, self.ndim = base.dtype, base.ndim

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: Any) -> np.ndarray:
        rows = self.rows[key]
        if np.ndim(rows) == 0:
            return np.asarray(self.base[int(rows)])
        order = np.argsort(rows, kind="stable")  # a memory map reads fastest in order
        picked = np.asarray(self.base[rows[order]])
        out = np.empty_like(picked)
        out[order] = picked
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)


# ---------------------------------------------------------------------------- finding


def source_in(path: Path) -> DataSource | None:
    """The data set at ``path`` (a file or folder) in any format, or None."""
    for source in sources():
        found = source.find(path)
        if found is not None:
            return DataSource(found, source.FORMAT)
    return None


def cache_candidates() -> list[Path]:
    """Keras's download cache (``$KERAS_HOME`` or ``~/.keras``), then ours."""
    keras_home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [Path(keras_home) / "datasets" / "mnist.npz", Path(cache_home) / "rnncls"]


def find_data(
    data_dir: str | os.PathLike | None = None, config_dir: str = "", download: bool = True
) -> DataSource:
    """The data set to use, first found wins.

    ``--data-dir``, then ``[data] dir`` (which ``RNNCLS_DATA_DIR`` sets when the command
    line does not), then ``RNNCLS_DATA_DIR`` itself: a place named explicitly must hold a
    data set (no silent fall-through). Then the local caches (MNIST files only), then a
    download of MNIST through ``keras.datasets.mnist`` (which checks the file's hash).
    """
    environment = os.environ.get("RNNCLS_DATA_DIR")
    explicit = [
        ("--data-dir", data_dir),
        # the command line's config takes RNNCLS_DATA_DIR as [data] dir: name it so
        ("RNNCLS_DATA_DIR" if config_dir == environment else "[data] dir", config_dir),
        ("RNNCLS_DATA_DIR", environment),
    ]
    for origin, value in explicit:
        if value:
            return data_at(Path(value).expanduser(), origin)
    looked = cache_candidates()
    from rnncls.datasets import idx, npz

    for path in looked:
        for source in (idx, npz):
            found = source.find(path)
            if found is not None:
                return DataSource(found, source.FORMAT)
    if download:
        try:
            return _download()
        except Exception as exc:  # noqa: BLE001 - any download failure means "not found"
            reason = f"download failed ({type(exc).__name__}: {exc})"
    else:
        reason = "no download attempted"
    places = ", ".join(str(p) for p in looked)
    raise DataError(
        f"no data set found: looked in --data-dir, [data] dir, RNNCLS_DATA_DIR, {places}; "
        f"{reason}; {FIX_HINT}"
    )


def data_at(path: Path, origin: str) -> DataSource:
    """The data set at a place named explicitly; a clear error if there is none."""
    if not path.exists():
        raise DataError(f"data folder not found: {path} (from {origin}); {FIX_HINT}")
    source = source_in(path)
    if source is None:
        raise DataError(f"{path}: not a data set (from {origin}); {FIX_HINT}")
    return source


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


# ---------------------------------------------------------------------------- splits


class OpenedData:
    """A data set opened for use: its description and its three splits."""

    def __init__(
        self,
        source: DataSource,
        settings: DataConfig,
        warn: Warn | None = None,
        check: Check | None = None,
    ):
        self.source = source
        self.settings = settings
        self.warn: Warn = warn or (lambda message: None)
        self.parts = source.source().open(source.path, settings, self.warn, check)
        if check is not None:
            check(self.parts.index)  # a source that had nothing costly to spare
        check_classes(self.parts, str(source))
        self.rows = assign_splits(self.parts, settings, str(source))
        self.dataset = describe(source, settings, self.parts, self.rows)
        self._images: dict[str, Any] = {}

    def split(self, name: str) -> Split:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose from {', '.join(SPLITS)}")
        part, rows = self.rows[name]
        if part not in self._images:
            self._images[part] = self.parts.read_images(part)
        images = self._images[part]
        labels = self.parts.labels[part][rows]
        if isinstance(rows, slice):
            return Split(name, images[rows], labels)
        return Split(name, Rows(images, rows), labels)


def open_data(
    source: DataSource,
    settings: DataConfig | None = None,
    warn: Warn | None = None,
    check: Check | None = None,
) -> OpenedData:
    return OpenedData(source, settings or DataConfig(), warn, check)


def load_split(source: DataSource, split: str, settings: DataConfig | None = None) -> Split:
    """One split of a data set: "train", "validation" or "test"."""
    return open_data(source, settings).split(split)


def check_classes(parts: Parts, where: str) -> None:
    """A classifier needs two classes in its training pictures, and every class of the
    other parts among them."""
    present = np.unique(parts.labels["train"])
    items, item = ("series", "series") if parts.kind == SERIES else ("pictures", "picture")
    if len(present) < 2:
        name = parts.classes[int(present[0])] if len(present) else "none"
        raise DataError(
            f"{where}: one class only ({name!r}) in the training {items}; a classifier "
            "needs at least two"
        )
    for part, labels in parts.labels.items():
        unknown = sorted(set(np.unique(labels).tolist()) - set(present.tolist()))
        if unknown:
            raise DataError(
                f"{where}: the {part} {items} have class {parts.classes[unknown[0]]!r}, "
                f"which no training {item} has"
            )


def assign_splits(
    parts: Parts, settings: DataConfig, where: str
) -> dict[str, tuple[str, slice | np.ndarray]]:
    """Which part, and which of its rows, make each split: the test and validation parts
    where the files have them, else carved from the training part (the validation
    split of the MNIST files is their last training pictures, as it always was)."""
    labels = parts.labels
    train_count = len(labels["train"])
    assigned: dict[str, tuple[str, slice | np.ndarray]] = {}
    kept: slice | np.ndarray = slice(0, train_count)
    if "test" in labels:
        assigned["test"] = ("test", slice(0, len(labels["test"])))
    else:
        wanted = settings.test_size or auto_size(train_count, AUTO_TEST_SHARE, AUTO_TEST_MOST)
        check_carve("test_size", wanted, train_count, where, parts.kind)
        taken, kept = carve(labels["train"], wanted, SPLIT_SEED)
        assigned["test"] = ("train", taken)
    remaining = labels["train"][kept]
    if "validation" in labels:
        assigned["validation"] = ("validation", slice(0, len(labels["validation"])))
    else:
        count = len(remaining)
        wanted = settings.validation_size or auto_size(
            count, AUTO_VALIDATION_SHARE, AUTO_VALIDATION_MOST
        )
        check_carve("validation_size", wanted, count, where, parts.kind)
        if parts.ordered and isinstance(kept, slice):
            assigned["validation"] = ("train", slice(count - wanted, count))
            kept = slice(0, count - wanted)
        else:
            taken, rest = carve(remaining, wanted, SPLIT_SEED + 1)
            base = np.arange(train_count)[kept]
            assigned["validation"] = ("train", base[taken])
            kept = base[rest]
    assigned["train"] = ("train", kept)
    return assigned


def auto_size(count: int, share: float, most: int) -> int:
    return max(1, min(most, int(count * share)))


def check_carve(key: str, wanted: int, count: int, where: str, kind: str = PICTURES) -> None:
    if wanted >= count:
        raise DataError(
            f"data.{key} = {wanted} leaves no training {kind} ({count} in {where}); "
            f"set a smaller data.{key}"
        )


def carve(labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` rows drawn with ``seed``, each class in its share (largest remainders
    first), and the rest; both sorted."""
    classes, sizes = np.unique(labels, return_counts=True)
    exact = sizes * (count / len(labels))
    quota = np.floor(exact).astype(np.int64)
    short = count - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    generator = np.random.default_rng(seed)
    taken = []
    for label, share in zip(classes, quota, strict=True):
        rows = np.flatnonzero(labels == label)
        taken.append(generator.permutation(rows)[:share])
    chosen = np.sort(np.concatenate(taken)) if taken else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(len(labels)), chosen, assume_unique=True)
    return chosen, rest


def describe(
    source: DataSource, settings: DataConfig, parts: Parts, rows: dict[str, Any]
) -> DataSet:
    """The description a run stores of the data set it opened."""
    preparation = settings.preparation
    if preparation == "auto":
        preparation = "digits" if parts.digits else "plain"
    sizes = {name: _count(rows[name][1]) for name in SPLITS}
    carved = tuple(name for name in SPLITS if rows[name][0] != name)
    carved = tuple(name for name in carved if name != "train")
    statistics: dict[str, Any] = {}
    if parts.kind == SERIES:
        part, train_rows = rows["train"]
        statistics = series_statistics(parts.read_images(part)[train_rows])
        every = [parts.read_images(name) for name in parts.labels]
        lengths = [series_lengths(series) for series in every]
        statistics["lengths"] = (
            min(int(found.min()) for found in lengths),
            max(int(found.max()) for found in lengths),
        )
        statistics["masked"] = any(bool(np.isnan(series).any()) for series in every)
    return DataSet(
        kind=parts.kind,
        format=source.kind,
        shape=parts.shape,
        classes=parts.classes,
        pixel_max=parts.pixel_max,
        preparation=preparation,
        path=str(source),
        fingerprint=fingerprint(parts.index),
        sizes=sizes,
        carved=carved,
        **statistics,
    )


def series_lengths(series: np.ndarray) -> np.ndarray:
    """Each series' length: one past its last step with any value (steps of NaN alone
    are padding or missing)."""
    valid = ~np.isnan(series).all(axis=2)
    if valid.shape[1] == 0:
        return np.zeros(len(series), np.int64)
    last = valid.shape[1] - np.argmax(valid[:, ::-1], axis=1)
    return np.where(valid.any(axis=1), last, 0)


def series_statistics(series: np.ndarray) -> dict[str, tuple[float, ...]]:
    """Each channel's mean and standard deviation over the training series (their values
    alone, not the padding); a channel that never changes keeps a deviation of 1."""
    flat = series.reshape(-1, series.shape[-1]).astype(np.float64)
    present = ~np.isnan(flat)
    counts = present.sum(axis=0)
    # a channel without any value in the training split: mean 0 and deviation 1
    mean = np.where(counts > 0, np.where(present, flat, 0).sum(axis=0) / np.maximum(counts, 1), 0)
    deviation = np.where(present, flat - mean, 0)
    std = np.sqrt((deviation**2).sum(axis=0) / np.maximum(counts, 1))
    std = np.where((counts > 0) & (std > 0), std, 1.0)
    return {"mean": tuple(float(x) for x in mean), "std": tuple(float(x) for x in std)}


def _count(rows: slice | np.ndarray) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def fingerprint(index: Sequence[tuple[str, int, str]]) -> str:
    digest = hashlib.sha256()
    for name, size, stamp in index:
        digest.update(f"{name}\0{size}\0{stamp}\n".encode())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (as stored: a .gz file's compressed bytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def changed(
    old: Sequence[tuple[str, int, str]], new: Sequence[tuple[str, int, str]], most: int = 3
) -> str:
    """What differs between two indexes, in a few words: ``2 files added (a.png, b.png),
    1 changed (c.png)``; "" when they agree."""
    before = {name: (size, stamp) for name, size, stamp in old}
    after = {name: (size, stamp) for name, size, stamp in new}
    groups = [
        ("added", sorted(set(after) - set(before))),
        ("removed", sorted(set(before) - set(after))),
        ("changed", sorted(n for n in set(before) & set(after) if before[n] != after[n])),
    ]
    said = []
    for verb, names in groups:
        if names:
            shown = ", ".join(names[:most]) + (", ..." if len(names) > most else "")
            noun = "file" if len(names) == 1 else "files"
            said.append(f"{len(names)} {noun} {verb} ({shown})")
    return "; ".join(said)
