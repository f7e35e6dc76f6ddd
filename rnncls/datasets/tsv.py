"""The ``.tsv`` files of the UCR archive 2018: ``NAME_TRAIN.tsv`` and ``NAME_TEST.tsv``
in a folder (or a path to either file; a training file alone has its test split carved).

A line a series, tab-separated: the class label first, then the values (univariate).
``NaN`` and empty fields are no value: at the end of a line they are the padding of a
shorter series (the 2018 archive pads its variable-length sets with ``NaN``; some tools
leave empty trailing fields), inside it missing values (the archive's ``NaN``). A file
is a rectangle: a line with more or fewer fields than the first is an error, not a
shorter series (a line cut short is a damaged file, and padding is written out). Blank
lines are skipped. Class names are the labels, sorted (numerically when all are
integers).
"""

from __future__ import annotations

from pathlib import Path

from rnncls.config_keys import DataConfig
from rnncls.datasets import Check, Parts, Warn
from rnncls.datasets.series import (
    Read,
    find_files,
    index_of,
    numbers,
    part_files,
    series_parts,
    text_lines,
)
from rnncls.errors import DataError

FORMAT = "tsv"
SUFFIX = ".tsv"
# No value: the padding after a shorter series, or a missing value inside one.
NO_VALUE = frozenset({""})


def find(path: Path) -> Path | None:
    return find_files(path, SUFFIX)


def open(  # noqa: A001 - the interface's name
    path: Path, settings: DataConfig, warn: Warn, check: Check | None = None
) -> Parts:
    files = part_files(path, SUFFIX)
    index = index_of(files)
    if check is not None:
        check(index)  # before any value is read
    reads = {part: read_file(file, settings) for part, file in files.items()}
    return series_parts(reads, None, index)


def read_file(file: Path, settings: DataConfig) -> Read:
    read = Read(file)
    width: tuple[int, int] | None = None  # the first line's (number, fields)
    for number, raw in text_lines(file):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        where = f"{file}, line {number}"
        fields = line.split("\t")
        if width is None:
            width = (number, len(fields))
        elif len(fields) != width[1]:
            raise DataError(
                f"{where}: {len(fields)} fields, line {width[0]} has {width[1]}; every line "
                "of a .tsv file has as many (a shorter series is padded with NaN or empty "
                "fields)"
            )
        label = fields[0].strip()
        if not label:
            raise DataError(f"{where}: an empty class label (the first field)")
        tokens = [token.strip() for token in fields[1:]]
        values = numbers(
            tokens, where, lambda index: f"value {index + 1}", missing=NO_VALUE, nan_text=True
        )
        read.add(values[:, None], label, number, settings)
    return read
