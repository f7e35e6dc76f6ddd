"""The ``.ts`` files of the UCR/UEA archive, as sktime and aeon read them:
``NAME_TRAIN.ts`` and ``NAME_TEST.ts`` in a folder (or a path to either file; a training
file alone has its test split carved).

A file is ``#`` comment lines and blank lines anywhere, a header of ``@`` lines (any
case): ``@problemName``, ``@timeStamps false`` (time stamps are not supported),
``@missing true|false``, ``@univariate true|false``, ``@dimensions N``, ``@equalLength
true|false``, ``@seriesLength L``, ``@classLabel true <labels...>``, then ``@data``; other
``@`` lines are ignored. Then a series a line: each dimension's values comma-separated,
the dimensions separated by ``:``, the class label last. Series may differ in length
(``@equalLength false``); the dimensions of one series may not. ``?`` is a missing value
(so is ``NaN``), allowed with ``@missing true`` alone.

Every line is checked against the header (dimensions, length, labels, missing values),
and each mismatch is an error naming the file and line. The class names are the labels of
both files' ``@classLabel`` lines, sorted (numerically when all are integers): the class
indices do not depend on the order a header lists them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncls.config_keys import DataConfig
from rnncls.datasets import Check, Parts, Warn
from rnncls.datasets.description import sort_classes
from rnncls.datasets.series import (
    Read,
    check_steps,
    counted,
    find_files,
    index_of,
    numbers,
    part_files,
    series_parts,
    text_lines,
)
from rnncls.errors import DataError

FORMAT = "ts"
SUFFIX = ".ts"
MISSING = "?"
BOOLEANS = ("timestamps", "missing", "univariate", "equallength", "classlabel", "targetlabel")
NUMBERS = ("dimensions", "serieslength")
NAN_HINT = "a missing value is '?', with '@missing true' in the header"


def find(path: Path) -> Path | None:
    return find_files(path, SUFFIX)


def open(  # noqa: A001 - the interface's name
    path: Path, settings: DataConfig, warn: Warn, check: Check | None = None
) -> Parts:
    files = part_files(path, SUFFIX)
    index = index_of(files)
    if check is not None:
        check(index)  # before any value is read
    reads, headers = {}, {}
    for part, file in files.items():
        headers[part], reads[part] = read_file(file, settings)
    classes = sort_classes([name for header in headers.values() for name in header.classes])
    return series_parts(reads, classes, index)


@dataclass
class Header:
    """A file's ``@`` lines: the booleans and numbers it gives (None where it does not),
    and its class labels."""

    values: dict[str, bool | int] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)

    def said(self, key: str) -> str:
        """The header line as written: ``@dimensions 2``."""
        names = {"timestamps": "timeStamps", "equallength": "equalLength"}
        names |= {"serieslength": "seriesLength", "classlabel": "classLabel"}
        value = self.values[key]
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        return f"@{names.get(key, key)} {shown}"


def read_file(file: Path, settings: DataConfig) -> tuple[Header, Read]:
    header = Header()
    read = Read(file)
    in_data = False
    first: dict[str, tuple[int, int]] = {}  # the first series' (line, value): dimensions, steps
    for number, raw in text_lines(file):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{file}, line {number}"
        if in_data:
            read_series(line, where, number, header, first, read, settings)
        elif line.startswith("@"):
            in_data = read_tag(line, where, header)
        else:
            raise DataError(f"{where}: a series before the header's @data line")
    if not in_data:
        raise DataError(f"{file}: no @data line (a .ts file's header ends with @data)")
    return header, read


def read_tag(line: str, where: str, header: Header) -> bool:
    """One header line into ``header``; True at ``@data``."""
    words = line.split()
    tag, arguments = words[0][1:].lower(), words[1:]
    if tag == "data":
        if arguments:
            raise DataError(f"{where}: @data takes no value")
        if "classlabel" not in header.values:
            raise DataError(
                f"{where}: @data before a @classLabel line; a classifier's data says "
                "@classLabel true and its labels"
            )
        if header.values.get("univariate") is True and header.values.get("dimensions", 1) != 1:
            raise DataError(
                f"{where}: the header says @univariate true and {header.said('dimensions')}"
            )
        return True
    if tag in BOOLEANS:
        text = arguments[0].lower() if arguments else ""
        if text not in ("true", "false") or (len(arguments) > 1 and tag != "classlabel"):
            raise DataError(f"{where}: {words[0]} takes true or false, not {' '.join(arguments)!r}")
        header.values[tag] = text == "true"
        refuse(tag, header, where, arguments[1:])
    elif tag in NUMBERS:
        if len(arguments) != 1 or not arguments[0].isdigit() or int(arguments[0]) < 1:
            raise DataError(
                f"{where}: {words[0]} takes a whole number of at least 1, not "
                f"{' '.join(arguments)!r}"
            )
        header.values[tag] = int(arguments[0])
    return False  # @problemName, and tags rnncls does not know, say nothing it needs


def refuse(tag: str, header: Header, where: str, labels: list[str]) -> None:
    """What rnncls does not read: time stamps, regression targets, series without
    labels."""
    value = header.values[tag]
    if tag == "timestamps" and value:
        raise DataError(
            f"{where}: @timeStamps true (series with time stamps) is not supported; write "
            "the values alone, with @timeStamps false"
        )
    if tag == "targetlabel" and value:
        raise DataError(
            f"{where}: @targetLabel true is a regression data set (numbers to predict); "
            "rnncls classifies series into classes (@classLabel true and the labels)"
        )
    if tag == "classlabel":
        if not value:
            raise DataError(
                f"{where}: @classLabel false: the series have no class labels; a classifier "
                "needs them (@classLabel true and the labels)"
            )
        if not labels:
            raise DataError(
                f"{where}: @classLabel true without the labels; list them, like "
                "@classLabel true 1 2 3"
            )
        header.classes = list(sort_classes(labels))


def read_series(
    line: str,
    where: str,
    number: int,
    header: Header,
    first: dict[str, tuple[int, int]],
    read: Read,
    settings: DataConfig,
) -> None:
    """One line of data: its dimensions against the header's, its values, its label."""
    *dimensions, label = line.split(":")
    label = label.strip()
    if not dimensions:
        raise DataError(f"{where}: no class label (it follows the values, after a ':')")
    if label not in header.classes:
        raise DataError(
            f"{where}: class label {label!r} is not one of the header's @classLabel "
            f"({' '.join(header.classes)})"
        )
    check_dimensions(len(dimensions), where, number, header, first)
    texts = [dimension.strip() for dimension in dimensions]
    if not any(texts):
        raise DataError(f"{where}: an empty series (no value before its label)")
    tokens = []
    for position, text in enumerate(texts):
        if not text:
            raise DataError(f"{where}: dimension {position + 1} is empty (no value)")
        tokens.append([token.strip() for token in text.split(",")])
        if len(tokens[-1]) != len(tokens[0]):
            raise DataError(
                f"{where}: dimension {position + 1} has {len(tokens[-1])} values, dimension "
                f"1 has {len(tokens[0])}; the dimensions of a series are of one length"
            )
    steps = len(tokens[0])
    check_steps(steps, settings, where)
    check_length(steps, where, number, header, first)
    values = np.empty((steps, len(tokens)), np.float64)
    for position, dimension in enumerate(tokens):
        values[:, position] = dimension_values(dimension, position, len(tokens), where, header)
    read.add(values, label, number, settings)


def dimension_values(
    tokens: list[str], dimension: int, dimensions: int, where: str, header: Header
) -> np.ndarray:
    def place(index: int) -> str:
        value = f"value {index + 1}"
        return value if dimensions == 1 else f"dimension {dimension + 1}, {value}"

    missing = bool(header.values.get("missing", False))
    if not missing and MISSING in tokens:
        raise DataError(
            f"{where}: a missing value '?' at {place(tokens.index(MISSING))}, but the "
            "header says @missing false"
            if "missing" in header.values
            else f"{where}: a missing value '?' at {place(tokens.index(MISSING))}, but the "
            "header lacks @missing true"
        )
    return numbers(
        tokens,
        where,
        place,
        missing=frozenset({MISSING}) if missing else frozenset(),
        nan_text=missing,
        nan_hint=NAN_HINT,
    )


def check_dimensions(
    count: int, where: str, number: int, header: Header, first: dict[str, tuple[int, int]]
) -> None:
    """A series' dimensions: the header's @dimensions (1 for @univariate true), else the
    first series'."""
    said = counted(count, "dimension")
    if "dimensions" in header.values:
        if count != header.values["dimensions"]:
            raise DataError(f"{where}: {said}, the header says {header.said('dimensions')}")
    elif header.values.get("univariate") is True:
        if count != 1:
            raise DataError(f"{where}: {said}, the header says @univariate true")
    elif "dimensions" in first:
        line, expected = first["dimensions"]
        if count != expected:
            raise DataError(f"{where}: {said}, line {line} has {expected}")
    first.setdefault("dimensions", (number, count))


def check_length(
    steps: int, where: str, number: int, header: Header, first: dict[str, tuple[int, int]]
) -> None:
    """With @equalLength true: the header's @seriesLength, else the first series'."""
    if header.values.get("equallength") is True:
        said = f"a series of {counted(steps, 'step')}"
        if "serieslength" in header.values:
            if steps != header.values["serieslength"]:
                raise DataError(f"{where}: {said}, the header says {header.said('serieslength')}")
        elif "steps" in first and steps != first["steps"][1]:
            line, expected = first["steps"]
            raise DataError(
                f"{where}: {said}, line {line}'s has {expected} and the header says "
                "@equalLength true"
            )
    first.setdefault("steps", (number, steps))
