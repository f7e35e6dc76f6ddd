"""What the sources of series in text files share (:mod:`~rnncls.datasets.ts`,
:mod:`~rnncls.datasets.tsv`, :mod:`~rnncls.datasets.csv`): finding ``NAME_TRAIN`` and
``NAME_TEST`` files, reading numbers with an exact error for each bad one, and making the
:class:`~rnncls.datasets.Parts` of a data set of series.

A series is read as an array (steps, channels) of float64, NaN where it has no value;
the steps after its last value are dropped (the padding of a shorter series), so that a
data set's ``steps`` is its longest series' length. Its parts are float32 arrays
(n, steps, channels), NaN after each series' end and at its missing values.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncls.config_keys import DataConfig
from rnncls.datasets import Index, Parts, file_digest
from rnncls.datasets.description import SERIES, sort_classes
from rnncls.errors import DataError

PARTS = ("train", "test")
# The part a file holds, by the end of its name (any case): GunPoint_TRAIN.ts, train.csv.
PART_WORDS = {"train": "train", "test": "test"}
FLOAT32_MAX = float(np.finfo(np.float32).max)


# ---------------------------------------------------------------------------- files


def part_of(file: Path) -> str | None:
    """ "train" or "test" for ``NAME_TRAIN.ext``, ``NAME_TEST.ext``, ``train.ext`` and
    ``test.ext`` (any case), else None."""
    stem = file.stem.lower()
    for part, word in PART_WORDS.items():
        if stem == word or stem.endswith(f"_{word}"):
            return part
    return None


def visible(folder: Path) -> list[Path]:
    try:
        return [child for child in sorted(folder.iterdir()) if not child.name.startswith(".")]
    except OSError as exc:
        raise DataError(f"cannot read {folder}: {exc.strerror or exc}") from None


def training_files(folder: Path, suffix: str) -> list[Path]:
    """The files of ``folder`` named ``NAME_TRAIN<suffix>`` or ``train<suffix>``."""
    return [
        child
        for child in visible(folder)
        if child.suffix.lower() == suffix and part_of(child) == "train" and child.is_file()
    ]


def find_files(path: Path, suffix: str) -> Path | None:
    """A file ending in ``suffix``, or a folder holding a ``NAME_TRAIN<suffix>`` file
    (cheap: a folder's names alone)."""
    if path.is_file():
        return path if path.suffix.lower() == suffix else None
    if path.is_dir() and training_files(path, suffix):
        return path
    return None


def part_files(path: Path, suffix: str) -> dict[str, Path]:
    """The files of a data set: ``{"train": ..., "test": ...}`` for a folder or either
    file of a ``NAME_TRAIN``/``NAME_TEST`` pair, ``{"train": path}`` for a file of another
    name, or for a training file alone (its test split is carved)."""
    if path.is_dir():
        found = training_files(path, suffix)
        if not found:
            raise DataError(f"{path}: no NAME_TRAIN{suffix} file")
        if len(found) > 1:
            names = ", ".join(file.name for file in found)
            raise DataError(
                f"{path}: {len(found)} data sets ({names}); point at one's _TRAIN{suffix} file"
            )
        path = found[0]
    part = part_of(path)
    if part is None:
        return {"train": path}
    prefix = path.stem[: len(path.stem) - len(PART_WORDS[part])].lower()
    partners = {
        other: [
            child
            for child in visible(path.parent)
            if child.suffix.lower() == path.suffix.lower()
            and child.stem.lower() == prefix + PART_WORDS[other]
            and child.is_file()
        ]
        for other in PARTS
    }
    files = {other: found[0] for other, found in partners.items() if found}
    files[part] = path
    if "train" not in files:
        wanted = path.stem[: len(prefix)] + "TRAIN" + path.suffix
        raise DataError(f"{path}: a test file without its training file ({wanted}) beside it")
    return files


def index_of(files: dict[str, Path]) -> Index:
    """(name, size, sha256) of each file, as idx.py indexes its files."""
    return [(file.name, file.stat().st_size, file_digest(file)) for file in files.values()]


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file (a byte-order mark is skipped)."""
    try:
        with builtins.open(path, encoding="utf-8-sig", newline=None) as handle:
            yield from enumerate(handle, 1)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------- values


def numbers(
    tokens: list[str],
    where: str,
    place: Callable[[int], str],
    missing: frozenset[str] = frozenset(),
    nan_text: bool = False,
    nan_hint: str = "",
) -> np.ndarray:
    """``tokens`` (stripped) as float64: a token of ``missing`` is NaN, "nan" text too
    where ``nan_text``; anything else that is not a finite number of float32's range is
    an error naming ``where`` and ``place(i)`` (the value's position)."""
    try:
        values = np.array(
            [math.nan if token in missing else float(token) for token in tokens], np.float64
        )
    except ValueError:
        for position, token in enumerate(tokens):
            if token in missing:
                continue
            try:
                float(token)
            except ValueError:
                shown = repr(token) if token else "an empty value"
                raise DataError(
                    f"{where}: {shown} where a number should be ({place(position)})"
                ) from None
        raise  # pragma: no cover - float() failed above, on one of the tokens
    for position in np.flatnonzero(~np.isfinite(values)):
        token = tokens[position]
        if token in missing:
            continue
        if math.isnan(values[position]):
            if nan_text:
                continue
            raise DataError(
                f"{where}: {token!r} (not a number) at {place(position)}"
                + (f"; {nan_hint}" if nan_hint else "")
            )
        raise DataError(
            f"{where}: an infinite value {token!r} at {place(position)}; a series' values "
            "are finite numbers"
        )
    large = np.flatnonzero(np.abs(values) > FLOAT32_MAX)
    if len(large):
        position = int(large[0])
        raise DataError(
            f"{where}: {tokens[position]} at {place(position)} is beyond float32's range "
            f"(±{FLOAT32_MAX:.4g})"
        )
    return values


def length_of(values: np.ndarray) -> int:
    """Steps up to a series' last value: (steps, channels) with NaN where no value."""
    valid = ~np.isnan(values).all(axis=1)
    return int(len(valid) - np.argmax(valid[::-1])) if valid.any() else 0


def check_steps(count: int, settings: DataConfig, where: str) -> None:
    if count > settings.max_steps:
        raise DataError(
            f"{where}: a series of {count} steps, more than data.max_steps = "
            f"{settings.max_steps}; raise data.max_steps to read longer series"
        )


# ---------------------------------------------------------------------------- parts


@dataclass
class Read:
    """The series of one file: each (length, channels) float64 without its padding, its
    class label, and the line it was read from."""

    file: Path
    series: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def add(self, values: np.ndarray, label: str, line: int, settings: DataConfig) -> None:
        """One series (steps, channels), NaN where no value; an empty one, or one longer
        than data.max_steps, is an error naming its line."""
        where = f"{self.file}, line {line}"
        length = length_of(values)
        if length == 0:
            raise DataError(f"{where}: an empty series (no value)")
        check_steps(length, settings, where)
        self.series.append(values[:length])
        self.labels.append(label)
        self.lines.append(line)

    @property
    def channels(self) -> int:
        return self.series[0].shape[1]


def series_parts(reads: dict[str, Read], classes: tuple[str, ...] | None, index: Index) -> Parts:
    """The parts of a data set of series: its classes (the labels' sorted, when not
    given), each part's (n, steps, channels) float32 array and class indices."""
    for read in reads.values():
        if not read.series:
            raise DataError(f"{read.file}: no series")
    train = reads["train"]
    for read in reads.values():
        if read.channels != train.channels:
            raise DataError(
                f"{read.file}: series of {counted(read.channels, 'channel')}, those of "
                f"{train.file} have {train.channels}; the parts of a data set have the same "
                "channels"
            )
    if classes is None:
        classes = sort_classes({label for read in reads.values() for label in read.labels})
    lookup = {name: number for number, name in enumerate(classes)}
    steps = max(len(values) for read in reads.values() for values in read.series)
    arrays, labels = {}, {}
    for part, read in reads.items():
        array = np.full((len(read.series), steps, train.channels), np.nan, np.float32)
        for row, values in enumerate(read.series):
            array[row, : len(values)] = values
        arrays[part] = array
        labels[part] = np.array([lookup[label] for label in read.labels], np.int32)
    return Parts(
        classes=classes,
        shape=(steps, train.channels),
        labels=labels,
        read_images=lambda part: arrays[part],
        index=index,
        kind=SERIES,
    )


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
