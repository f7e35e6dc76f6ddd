"""Series in CSV files: one file (its test split carved), or ``NAME_TRAIN.csv`` and
``NAME_TEST.csv`` (or ``train.csv`` and ``test.csv``) in a folder without subfolders (a
folder with subfolders is a folder of pictures, whose ``train.csv`` may list them).

The first row names the columns; the column ``data.label`` (by default ``label``) holds
the class labels, the others a series' values, in their order (univariate). An empty
field, or ``NaN``, is no value: at the end of a row the padding of a shorter series,
inside it a missing value. Every row has a field for each column. Blank rows are
skipped; a byte-order mark (Excel's) is too. Class names are the labels, sorted
(numerically when all are integers).
"""

from __future__ import annotations

import builtins
import csv as csv_module
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
    visible,
)
from rnncls.errors import DataError

FORMAT = "csv"
SUFFIX = ".csv"
NO_VALUE = frozenset({""})
SHOWN = 6  # columns an error lists


def find(path: Path) -> Path | None:
    found = find_files(path, SUFFIX)
    if found is not None and found.is_dir() and any(child.is_dir() for child in visible(found)):
        return None
    return found


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
    try:
        with builtins.open(file, encoding="utf-8-sig", newline="") as handle:
            rows = csv_module.reader(handle)
            columns = next((row for row in rows if any(cell.strip() for cell in row)), None)
            if columns is None:
                raise DataError(f"{file}: an empty file (a CSV file's first row names its columns)")
            names = [name.strip() for name in columns]
            label = label_column(names, settings.label, file)
            others = [index for index in range(len(names)) if index != label]
            if not others:
                raise DataError(f"{file}: no column of values beside {settings.label!r}")
            for row in rows:
                if not any(cell.strip() for cell in row):
                    continue
                number = rows.line_num
                where = f"{file}, line {number}"
                if len(row) != len(names):
                    raise DataError(
                        f"{where}: {len(row)} fields, the header has {len(names)}; every row "
                        "has a field a column (empty fields after a shorter series)"
                    )
                name = row[label].strip()
                if not name:
                    raise DataError(f"{where}: an empty class label (column {settings.label!r})")
                values = numbers(
                    [row[index].strip() for index in others],
                    where,
                    lambda position: f"column {names[others[position]]!r}",
                    missing=NO_VALUE,
                    nan_text=True,
                )
                read.add(values[:, None], name, number, settings)
    except UnicodeDecodeError:
        raise DataError(f"{file}: not a text file (not UTF-8)") from None
    except csv_module.Error as exc:
        raise DataError(f"{file}: not a CSV file ({exc})") from None
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc.strerror or exc}") from None
    return read


def label_column(names: list[str], wanted: str, file: Path) -> int:
    found = [index for index, name in enumerate(names) if name == wanted.strip()]
    if not found:
        shown = ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")
        raise DataError(
            f"{file}: no column {wanted!r} in its first row ({shown}); name the column of "
            "class labels with data.label"
        )
    if len(found) > 1:
        raise DataError(f"{file}: {len(found)} columns named {wanted!r}")
    return found[0]
