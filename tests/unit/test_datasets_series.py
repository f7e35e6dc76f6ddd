"""Data sets of series through the datasets interface: tiny ``.ts``, ``.tsv``, ``.csv`` and
``.npz`` files written here (their values, classes, lengths and an exact one-line error
for each way such a file can be wrong), and the four UCR/UEA sets of
/work/shared/data/ucr, checked against its README's table.

A tiny set's values are small integers, so that every value read can be written out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnncls.config_keys import MAX_STEPS, DataConfig
from rnncls.datasets import OpenedData, find_data, open_data, sources
from rnncls.errors import DataError

NAN = np.nan
UCR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ucr"
NAN_HINT = "a missing value is '?', with '@missing true' in the header"
FINITE = "a series' values are finite numbers"


def open_at(path: Path, **settings: Any) -> OpenedData:
    return open_data(find_data(path), DataConfig(**settings))


def part(opened: OpenedData, name: str) -> np.ndarray:
    """A part of the files (before the splits are made), as read."""
    return np.asarray(opened.parts.read_images(name))


def failure(path: Path, **settings: Any) -> str:
    with pytest.raises(DataError) as caught:
        open_at(path, **settings)
    return str(caught.value)


# ---------------------------------------------------------------------- .ts files

HEADER = {
    "problemName": "Tiny",
    "timeStamps": "false",
    "missing": "false",
    "univariate": "true",
    "equalLength": "false",
    "classLabel": "true b a",
}
# 6 header lines and @data: the first series is line 8
TRAIN = ["1,2,3:a", "4,5:b", "6,7,8,9:a", "10,11,12:b"]
TEST = ["13,14:b", "15,16,17,18,19:a"]


def ts_text(lines: list[str], **tags: str | None) -> str:
    """A .ts file: the header (HEADER with ``tags`` changed, None leaves one out), @data
    and ``lines``."""
    header = {**HEADER, **tags}
    said = [f"@{tag} {value}" for tag, value in header.items() if value is not None]
    return "\n".join([*said, "@data", *lines]) + "\n"


def write_ts(
    folder: Path,
    train: list[str] = TRAIN,
    test: list[str] | None = TEST,
    name: str = "Tiny",
    **tags: str | None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}_TRAIN.ts").write_text(ts_text(train, **tags), encoding="utf-8")
    if test is not None:
        (folder / f"{name}_TEST.ts").write_text(ts_text(test, **tags), encoding="utf-8")
    return folder


def test_a_ts_pair_is_series_padded_with_nan(tmp_path: Path) -> None:
    folder = write_ts(tmp_path / "tiny")
    opened = open_at(folder)
    dataset = opened.dataset
    assert (dataset.kind, dataset.format, dataset.path) == ("series", "ts", str(folder))
    assert dataset.shape == (5, 1)  # the longest series: the test file's 5 steps
    assert dataset.classes == ("a", "b")  # sorted, not the header's order
    assert dataset.lengths == (2, 5)
    assert dataset.sizes == {"train": 3, "validation": 1, "test": 2}
    assert dataset.carved == ("validation",)
    train = part(opened, "train")
    assert train.dtype == np.float32
    np.testing.assert_array_equal(
        train[..., 0],
        [
            [1, 2, 3, NAN, NAN],
            [4, 5, NAN, NAN, NAN],
            [6, 7, 8, 9, NAN],
            [10, 11, 12, NAN, NAN],
        ],
    )
    assert opened.parts.labels["train"].tolist() == [0, 1, 0, 1]
    np.testing.assert_array_equal(
        part(opened, "test")[..., 0], [[13, 14, NAN, NAN, NAN], [15, 16, 17, 18, 19]]
    )
    assert opened.split("test").labels.tolist() == [1, 0]
    assert dataset.describe() == (
        f"ts data set {folder}: series of 2 to 5 steps of 1 channel, 2 classes (a, b); "
        "train 3, validation 1 (carved), test 2"
    )
    assert [name for name, _, _ in opened.parts.index] == ["Tiny_TRAIN.ts", "Tiny_TEST.ts"]


def test_multivariate_series_with_missing_values(tmp_path: Path) -> None:
    lines = ["1,2,3:4,?,6:x", "7,8:9,10:y", "?,1:2,3:y", "4:5:x"]
    folder = write_ts(
        tmp_path / "m",
        train=lines,
        test=["5,6,7,8:?,?,?,?:x"],
        univariate="false",
        dimensions="2",
        missing="true",
        classLabel="true y x",
    )
    opened = open_at(folder)
    assert opened.dataset.shape == (4, 2)
    assert opened.dataset.classes == ("x", "y")
    np.testing.assert_array_equal(
        part(opened, "train"),
        [
            [[1, 4], [2, NAN], [3, 6], [NAN, NAN]],
            [[7, 9], [8, 10], [NAN, NAN], [NAN, NAN]],
            [[NAN, 2], [1, 3], [NAN, NAN], [NAN, NAN]],
            [[4, 5], [NAN, NAN], [NAN, NAN], [NAN, NAN]],
        ],
    )
    np.testing.assert_array_equal(part(opened, "test")[0, :, 1], [NAN] * 4)
    assert opened.parts.labels["train"].tolist() == [0, 1, 1, 0]
    assert opened.dataset.lengths == (1, 4)


def test_a_ts_file_reads_as_aeon_writes_it_and_as_people_edit_it(tmp_path: Path) -> None:
    """Comments and blank lines anywhere, tags in any case, tags rnncls does not know,
    Windows line ends, a byte-order mark, spaces around values and labels."""
    text = (
        "\ufeff# made by hand\r\n"
        "\r\n"
        "@PROBLEMNAME Edited\r\n"
        "@timestamps FALSE\r\n"
        "@univariate True\r\n"
        "@equalLength true\r\n"
        "@seriesLength 3\r\n"
        "@targetLabel false\r\n"
        "@somethingNew 42\r\n"
        "@classLabel true 2 10 1\r\n"
        "@data\r\n"
        "# a comment among the series\r\n"
        "1, 2 ,3 : 10 \r\n"
        "\r\n"
        "4,5,6:2\r\n"
        "7,8,9:1\r\n"
    )
    folder = tmp_path / "edited"
    folder.mkdir()
    (folder / "Edited_TRAIN.ts").write_text(text, encoding="utf-8", newline="")
    opened = open_at(folder)
    assert opened.dataset.classes == ("1", "2", "10")  # integers: numerically
    assert opened.parts.labels["train"].tolist() == [2, 1, 0]
    np.testing.assert_array_equal(part(opened, "train")[..., 0], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert opened.dataset.carved == ("validation", "test")  # no test file: carved


CLASS_ORDERS = [
    ("true b a c", ["a", "b", "c"], ("a", "b", "c")),
    ("true 10 2 1", ["1", "2", "10"], ("1", "2", "10")),
    ("true 1 -1", ["-1", "1"], ("-1", "1")),  # UCR's two-class sets: -1 and 1
    ("true 2 010", ["2", "010"], ("010", "2")),  # "010" is not an integer's name
    ("true Standing Running Walking", ["Running", "Walking"], ("Running", "Standing", "Walking")),
]


@pytest.mark.parametrize(("said", "used", "classes"), CLASS_ORDERS)
def test_ts_classes_are_the_header_labels_sorted(
    tmp_path: Path, said: str, used: list[str], classes: tuple[str, ...]
) -> None:
    lines = [f"{index},{index}:{label}" for index, label in enumerate(used * 3)]
    opened = open_at(write_ts(tmp_path / "c", train=lines, test=None, classLabel=said))
    assert opened.dataset.classes == classes
    names = [classes[index] for index in opened.parts.labels["train"]]
    assert names == used * 3


@pytest.mark.parametrize("given", ["folder", "Tiny_TRAIN.ts", "Tiny_TEST.ts"])
def test_a_ts_pair_is_found_from_its_folder_or_either_file(tmp_path: Path, given: str) -> None:
    folder = write_ts(tmp_path / "tiny")
    path = folder if given == "folder" else folder / given
    source = find_data(path)
    assert (source.kind, source.path) == ("ts", path)
    opened = open_data(source)
    assert opened.dataset.sizes == {"train": 3, "validation": 1, "test": 2}


def test_a_folder_of_ts_files_with_subfolders_is_not_a_picture_folder(tmp_path: Path) -> None:
    folder = write_ts(tmp_path / "tiny")
    (folder / "results" / "a").mkdir(parents=True)
    assert find_data(folder).kind == "ts"


def test_series_sources_come_before_the_folder_of_pictures() -> None:
    assert [source.FORMAT for source in sources()] == ["idx", "npz", "ts", "tsv", "csv", "folder"]


def test_a_ts_file_of_another_name_is_a_training_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "walks.ts"
    path.write_text(ts_text(TRAIN + TEST), encoding="utf-8")
    opened = open_at(path)
    assert opened.dataset.carved == ("validation", "test")
    assert sum(opened.dataset.sizes.values()) == 6


def test_the_index_is_checked_before_any_value_is_read(tmp_path: Path) -> None:
    folder = write_ts(tmp_path / "tiny", train=["not, a series at all"])
    seen = []

    def check(index: list[tuple[str, int, str]]) -> None:
        seen.append(index)
        raise RuntimeError("another data set")

    with pytest.raises(RuntimeError, match="another data set"):
        open_data(find_data(folder), check=check)
    import hashlib

    train = folder / "Tiny_TRAIN.ts"
    digest = hashlib.sha256(train.read_bytes()).hexdigest()
    assert seen[0][0] == ("Tiny_TRAIN.ts", train.stat().st_size, digest)


def ts_case(
    name: str, train: list[str], message: str, tags: dict[str, Any] | None = None, **settings: Any
) -> Any:
    return pytest.param(train, tags or {}, settings, message, id=name)


BAD_TS = [
    ts_case(
        "more dimensions than @dimensions",
        ["1,2:3,4:a", "1,2:3,4:5,6:b"],
        "line 10: 3 dimensions, the header says @dimensions 2",  # @dimensions is line 7
        {"univariate": "false", "dimensions": "2"},
    ),
    ts_case(
        "two dimensions, @univariate true",
        ["1,2:a", "1,2:3,4:b"],
        "line 9: 2 dimensions, the header says @univariate true",
    ),
    ts_case(
        "dimensions change, no @dimensions",
        ["1,2:3,4:a", "1,2:3,4:b", "5,6:b"],
        "line 10: 1 dimension, line 8 has 2",
        {"univariate": "false"},
    ),
    ts_case(
        "length against @seriesLength",
        ["1,2,3:a", "1,2:b"],
        "line 10: a series of 2 steps, the header says @seriesLength 3",
        {"equalLength": "true", "seriesLength": "3"},
    ),
    ts_case(
        "lengths differ, @equalLength true",
        ["1,2,3:a", "4,5,6:b", "1,2,3,4:b"],
        "line 10: a series of 4 steps, line 8's has 3 and the header says @equalLength true",
        {"equalLength": "true"},
    ),
    ts_case(
        "@univariate true, @dimensions 2",
        ["1,2:3,4:a"],
        "line 8: the header says @univariate true and @dimensions 2",
        {"dimensions": "2"},
    ),
    ts_case(
        "a label not in @classLabel",
        ["1,2:a", "1,2:c"],
        "line 9: class label 'c' is not one of the header's @classLabel (a b)",
    ),
    ts_case(
        "dimensions of different lengths",
        ["1,2:3,4:a", "1,2,3:4,5:b"],
        "line 9: dimension 2 has 2 values, dimension 1 has 3; the dimensions of a series are "
        "of one length",
        {"univariate": "false"},
    ),
    ts_case(
        "text for a number",
        ["1,2:a", "1,x2,3:b"],
        "line 9: 'x2' where a number should be (value 2)",
    ),
    ts_case(
        "text in a dimension",
        ["1,2:3,4:a", "1,2:3,four:b"],
        "line 9: 'four' where a number should be (dimension 2, value 2)",
        {"univariate": "false"},
    ),
    ts_case(
        "an empty value", ["1,,3:a"], "line 8: an empty value where a number should be (value 2)"
    ),
    ts_case(
        "an empty series", ["1,2:a", ":b"], "line 9: an empty series (no value before its label)"
    ),
    ts_case(
        "an empty dimension",
        ["1,2::b"],
        "line 8: dimension 2 is empty (no value)",
        {"univariate": "false"},
    ),
    ts_case(
        "every value missing",
        ["1,2:a", "?,?:b"],
        "line 9: an empty series (no value)",
        {"missing": "true"},
    ),
    ts_case(
        "? with @missing false",
        ["1,?:a"],
        "line 8: a missing value '?' at value 2, but the header says @missing false",
    ),
    ts_case(
        "? without @missing",
        ["1,2,?:a"],
        "line 7: a missing value '?' at value 3, but the header lacks @missing true",
        {"missing": None},
    ),
    ts_case("nan text", ["1,nan:a"], f"line 8: 'nan' (not a number) at value 2; {NAN_HINT}"),
    ts_case(
        "inf text", ["1,2:a", "-inf,1:b"], f"line 9: an infinite value '-inf' at value 1; {FINITE}"
    ),
    ts_case(
        "beyond float32",
        ["1,2:a", "1,1e39:b"],
        "line 9: 1e39 at value 2 is beyond float32's range (±3.403e+38)",
    ),
    ts_case(
        "no label",
        ["1,2:a", "1,2,3"],
        "line 9: no class label (it follows the values, after a ':')",
    ),
    ts_case(
        "time stamps",
        ["1,2:a"],
        "line 2: @timeStamps true (series with time stamps) is not supported; write the "
        "values alone, with @timeStamps false",
        {"timeStamps": "true"},
    ),
    ts_case(
        "no labels",
        ["1,2"],
        "line 6: @classLabel false: the series have no class labels; a classifier needs "
        "them (@classLabel true and the labels)",
        {"classLabel": "false"},
    ),
    ts_case(
        "@classLabel true alone",
        ["1,2:a"],
        "line 6: @classLabel true without the labels; list them, like @classLabel true 1 2 3",
        {"classLabel": "true"},
    ),
    ts_case(
        "regression",
        ["1,2:0.5"],
        "line 6: @targetLabel true is a regression data set (numbers to predict); rnncls "
        "classifies series into classes (@classLabel true and the labels)",
        {"classLabel": None, "targetLabel": "true"},
    ),
    ts_case(
        "no @classLabel",
        ["1,2:a"],
        "line 6: @data before a @classLabel line; a classifier's data says @classLabel true "
        "and its labels",
        {"classLabel": None},
    ),
    ts_case(
        "a boolean that is not one",
        ["1,2:a"],
        "line 3: @missing takes true or false, not 'yes'",
        {"missing": "yes"},
    ),
    ts_case(
        "dimensions not a number",
        ["1,2:a"],
        "line 7: @dimensions takes a whole number of at least 1, not 'two'",
        {"dimensions": "two"},
    ),
    ts_case(
        "longer than data.max_steps",
        ["1,2,3:a", "1,2,3,4,5,6:b"],
        "line 9: a series of 6 steps, more than data.max_steps = 5; raise data.max_steps "
        "to read longer series",
        max_steps=5,
    ),
]


@pytest.mark.parametrize(("train", "tags", "settings", "message"), BAD_TS)
def test_bad_ts_files_are_exact_errors_naming_file_and_line(
    tmp_path: Path, train: list[str], tags: dict[str, Any], settings: dict[str, Any], message: str
) -> None:
    folder = write_ts(tmp_path / "bad", train=train, test=None, **tags)
    assert failure(folder, **settings) == f"{folder / 'Tiny_TRAIN.ts'}, {message}"


BAD_TS_FILES = [
    ("# only a comment\n", "{file}: no @data line (a .ts file's header ends with @data)"),
    (ts_text([]), "{file}: no series"),
    ("@problemName x\n1,2:a\n", "{file}, line 2: a series before the header's @data line"),
    ("@classLabel true a b\n@data now\n", "{file}, line 2: @data takes no value"),
    (b"@problemName \xff\n", "{file}: not a text file (not UTF-8)"),
]


@pytest.mark.parametrize(("content", "message"), BAD_TS_FILES)
def test_bad_ts_headers_are_exact_errors(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    file = tmp_path / "Bad_TRAIN.ts"
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        file.write_text(content, encoding="utf-8")
    assert failure(file) == message.format(file=file)


def test_train_and_test_of_different_dimensions_are_an_error(tmp_path: Path) -> None:
    folder = write_ts(tmp_path / "d", train=["1:2:a", "3:4:b"], test=["1:b"], univariate=None)
    assert failure(folder) == (
        f"{folder / 'Tiny_TEST.ts'}: series of 1 channel, those of {folder / 'Tiny_TRAIN.ts'} "
        "have 2; the parts of a data set have the same channels"
    )


def test_one_class_in_the_training_series_is_an_error(tmp_path: Path) -> None:
    folder = write_ts(tmp_path / "one", train=["1,2:a", "3,4:a", "5:a"], test=["1:b"])
    assert failure(folder) == (
        f"{folder}: one class only ('a') in the training series; a classifier needs at least two"
    )


def test_a_test_class_unknown_to_training_is_an_error(tmp_path: Path) -> None:
    folder = write_ts(tmp_path / "c", test=["1,2:c"], classLabel="true a b c")
    assert failure(folder) == (
        f"{folder}: the test series have class 'c', which no training series has"
    )


@pytest.mark.parametrize(
    ("files", "given", "message"),
    [
        (
            ["A_TRAIN.ts", "B_TRAIN.ts"],
            ".",
            "{folder}: 2 data sets (A_TRAIN.ts, B_TRAIN.ts); point at one's _TRAIN.ts file",
        ),
        (
            ["A_TEST.ts"],
            "A_TEST.ts",
            "{folder}/A_TEST.ts: a test file without its training file (A_TRAIN.ts) beside it",
        ),
    ],
    ids=["two data sets", "a test file alone"],
)
def test_ambiguous_or_incomplete_pairs_are_errors(
    tmp_path: Path, files: list[str], given: str, message: str
) -> None:
    for name in files:
        (tmp_path / name).write_text(ts_text(TRAIN), encoding="utf-8")
    assert failure(tmp_path / given) == message.format(folder=tmp_path)


# ---------------------------------------------------------------------- .tsv files


def write_tsv(folder: Path, train: list[str], test: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Tiny_TRAIN.tsv").write_text("\n".join(train) + "\n", encoding="utf-8")
    if test is not None:
        (folder / "Tiny_TEST.tsv").write_text("\n".join(test) + "\n", encoding="utf-8")
    return folder


def test_a_tsv_pair_with_nan_padding_and_empty_trailing_fields(tmp_path: Path) -> None:
    train = [
        "1\t0.5\t1.5\t2.5\t3.5",
        "-1\t4\t5\tNaN\tNaN",  # the 2018 archive's padding
        "1\t6\tNaN\t7\t8",  # a missing value inside
        "-1\t9\t10\t11\t",  # an empty trailing field
    ]
    folder = write_tsv(tmp_path / "tiny", train, ["-1\t1\t2\t\t", "1\t3\t4\t5\t6"])
    opened = open_at(folder)
    dataset = opened.dataset
    assert (dataset.kind, dataset.format, dataset.shape) == ("series", "tsv", (4, 1))
    assert dataset.classes == ("-1", "1")
    assert dataset.lengths == (2, 4)
    np.testing.assert_array_equal(
        part(opened, "train")[..., 0],
        [[0.5, 1.5, 2.5, 3.5], [4, 5, NAN, NAN], [6, NAN, 7, 8], [9, 10, 11, NAN]],
    )
    assert opened.parts.labels["train"].tolist() == [1, 0, 1, 0]
    np.testing.assert_array_equal(part(opened, "test")[..., 0], [[1, 2, NAN, NAN], [3, 4, 5, 6]])
    assert opened.parts.labels["test"].tolist() == [0, 1]
    assert find_data(folder / "Tiny_TEST.tsv").kind == "tsv"


def test_a_tsv_padded_throughout_is_as_long_as_its_longest_series(tmp_path: Path) -> None:
    folder = write_tsv(tmp_path / "p", ["a\t1\t2\tNaN\tNaN", "b\t3\tNaN\tNaN\tNaN", "a\t1\t\t\t"])
    opened = open_at(folder)
    assert opened.dataset.shape == (2, 1)
    assert opened.dataset.carved == ("validation", "test")


BAD_TSV = [
    (
        "ragged rows",
        ["1\t1\t2\t3", "2\t1\t2"],
        "line 2: 3 fields, line 1 has 4; every line of a .tsv file has as many (a shorter "
        "series is padded with NaN or empty fields)",
        {},
    ),
    (
        "a longer row",
        ["1\t1\t2", "2\t1\t2\t3"],
        "line 2: 4 fields, line 1 has 3; every line of a .tsv file has as many (a shorter "
        "series is padded with NaN or empty fields)",
        {},
    ),
    ("text", ["1\t1\t2", "2\t1\tabc"], "line 2: 'abc' where a number should be (value 2)", {}),
    (
        "infinity",
        ["1\t1\tinf", "2\t1\t2"],
        f"line 1: an infinite value 'inf' at value 2; {FINITE}",
        {},
    ),
    ("an empty label", ["1\t1\t2", "\t1\t2"], "line 2: an empty class label (the first field)", {}),
    ("an empty series", ["1\t1\t2", "2\tNaN\t"], "line 2: an empty series (no value)", {}),
    (
        "longer than data.max_steps",
        ["1\t1\t2\t3", "2\t1\tNaN\tNaN"],
        "line 1: a series of 3 steps, more than data.max_steps = 2; raise data.max_steps to "
        "read longer series",
        {"max_steps": 2},
    ),
]


@pytest.mark.parametrize(
    ("train", "message", "settings"),
    [case[1:] for case in BAD_TSV],
    ids=[case[0] for case in BAD_TSV],
)
def test_bad_tsv_files_are_exact_errors_naming_file_and_line(
    tmp_path: Path, train: list[str], message: str, settings: dict[str, Any]
) -> None:
    folder = write_tsv(tmp_path / "bad", train)
    assert failure(folder, **settings) == f"{folder / 'Tiny_TRAIN.tsv'}, {message}"


def test_one_class_in_a_tsv_is_an_error(tmp_path: Path) -> None:
    folder = write_tsv(tmp_path / "one", ["7\t1\t2"] * 4)
    assert failure(folder) == (
        f"{folder}: one class only ('7') in the training series; a classifier needs at least two"
    )


# ---------------------------------------------------------------------- .csv files

CSV_TRAIN = "t0,t1,label,t2\n1,2,cat,3\n4,5,dog,\n6,,dog,7\n8,9,cat,10\n"


def test_a_csv_file_alone_has_its_test_split_carved(tmp_path: Path) -> None:
    path = tmp_path / "walks.csv"
    path.write_text(CSV_TRAIN * 1, encoding="utf-8")
    opened = open_at(path)
    dataset = opened.dataset
    assert (dataset.kind, dataset.format, dataset.shape) == ("series", "csv", (3, 1))
    assert dataset.classes == ("cat", "dog")
    assert set(opened.parts.labels) == {"train"}
    assert dataset.carved == ("validation", "test")
    # the label column's place does not matter: the others are the values, in order
    np.testing.assert_array_equal(
        part(opened, "train")[..., 0], [[1, 2, 3], [4, 5, NAN], [6, NAN, 7], [8, 9, 10]]
    )
    assert opened.parts.labels["train"].tolist() == [0, 1, 1, 0]
    assert dataset.lengths == (2, 3)


@pytest.mark.parametrize(
    "names", [("train.csv", "test.csv"), ("Tiny_TRAIN.csv", "Tiny_TEST.csv")], ids=str
)
def test_a_folder_of_csv_files(tmp_path: Path, names: tuple[str, str]) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / names[0]).write_text(CSV_TRAIN, encoding="utf-8")
    (folder / names[1]).write_text("label,a,b,c,d\ndog,1,2,3,4\ncat,5,,,\n", encoding="utf-8")
    opened = open_at(folder)
    assert opened.dataset.format == "csv"
    assert opened.dataset.shape == (4, 1)
    np.testing.assert_array_equal(part(opened, "test")[..., 0], [[1, 2, 3, 4], [5, NAN, NAN, NAN]])
    assert opened.split("test").labels.tolist() == [1, 0]


def test_the_label_column_is_data_label(tmp_path: Path) -> None:
    path = tmp_path / "speakers.csv"
    path.write_text("x1,x2,speaker\n1,2,3\n4,5,10\n6,7,3\n8,9,10\n", encoding="utf-8-sig")
    opened = open_at(path, label="speaker")
    assert opened.dataset.classes == ("3", "10")
    assert opened.parts.labels["train"].tolist() == [0, 1, 0, 1]


def test_a_folder_with_subfolders_and_a_train_csv_is_a_folder_of_pictures(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train.csv").write_text("id,label\na.png,1\n", encoding="utf-8")
    assert find_data(tmp_path).kind == "folder"


BAD_CSV = [
    (
        "no label column",
        "a,b,c,d,e,f,g\n1,2,3,4,5,6,7\n",
        "{file}: no column 'label' in its first row (a, b, c, d, e, f, ...); name the column "
        "of class labels with data.label",
    ),
    ("two label columns", "label,a,label\n1,2,3\n", "{file}: 2 columns named 'label'"),
    ("the label column alone", "label\n1\n2\n", "{file}: no column of values beside 'label'"),
    ("empty", "\n\n", "{file}: an empty file (a CSV file's first row names its columns)"),
    (
        "a short row",
        "label,a,b\n1,2,3\n2,3\n",
        "{file}, line 3: 2 fields, the header has 3; every row has a field a column (empty "
        "fields after a shorter series)",
    ),
    (
        "text",
        "label,a,b\n1,2,3\n2,3,x\n",
        "{file}, line 3: 'x' where a number should be (column 'b')",
    ),
    (
        "infinity",
        "label,a,b\n1,2,3\n2,Infinity,1\n",
        f"{{file}}, line 3: an infinite value 'Infinity' at column 'a'; {FINITE}",
    ),
    (
        "an empty label",
        "label,a\n1,2\n ,3\n",
        "{file}, line 3: an empty class label (column 'label')",
    ),
    ("an empty series", "label,a,b\n1,2,3\n2,,\n", "{file}, line 3: an empty series (no value)"),
]


@pytest.mark.parametrize(
    ("content", "message"), [case[1:] for case in BAD_CSV], ids=[case[0] for case in BAD_CSV]
)
def test_bad_csv_files_are_exact_errors(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "bad.csv"
    file.write_text(content, encoding="utf-8")
    assert failure(file) == message.format(file=file)


def test_a_csv_series_longer_than_data_max_steps_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "long.csv"
    file.write_text("label,a,b,c\n1,1,2,\n2,1,2,3\n", encoding="utf-8")
    assert failure(file, max_steps=2) == (
        f"{file}, line 3: a series of 3 steps, more than data.max_steps = 2; raise "
        "data.max_steps to read longer series"
    )


# ---------------------------------------------------------------------- .npz series


def write_npz(path: Path, **arrays: Any) -> Path:
    values = {
        "x_train": np.arange(24, dtype=np.float64).reshape(6, 4),
        "y_train": np.array([0, 1] * 3),
        "x_test": np.arange(6, dtype=np.float32).reshape(2, 3) + 100,
        "y_test": np.array([1, 0]),
    }
    values.update(arrays)
    np.savez(path, **values)
    return path


def test_two_dimensional_npz_arrays_are_series(tmp_path: Path) -> None:
    x_train = np.arange(24, dtype=np.float64).reshape(6, 4)
    x_train[1, 2:] = NAN  # a shorter series
    x_train[2, 1] = NAN  # a missing value
    opened = open_at(write_npz(tmp_path / "s.npz", x_train=x_train))
    dataset = opened.dataset
    assert (dataset.kind, dataset.format, dataset.shape) == ("series", "npz", (4, 1))
    assert dataset.classes == ("0", "1")
    assert dataset.lengths == (2, 4)
    train = part(opened, "train")
    assert train.dtype == np.float32
    np.testing.assert_array_equal(
        train[:3, :, 0], [[0, 1, 2, 3], [4, 5, NAN, NAN], [8, NAN, 10, 11]]
    )
    np.testing.assert_array_equal(
        part(opened, "test")[..., 0], [[100, 101, 102, NAN], [103, 104, 105, NAN]]
    )
    assert dataset.describe().startswith(
        f"npz data set {tmp_path / 's.npz'}: series of 2 to 4 steps of 1 channel, 2 classes (0, 1)"
    )


def test_three_dimensional_npz_arrays_are_series_with_data_kind(tmp_path: Path) -> None:
    x_train = np.arange(36, dtype=np.float32).reshape(6, 3, 2) / 4
    path = write_npz(tmp_path / "s.npz", x_train=x_train, x_test=x_train[:2, :2] + 1)
    series = open_at(path, kind="series")
    assert (series.dataset.kind, series.dataset.shape) == ("series", (3, 2))
    np.testing.assert_array_equal(part(series, "train")[0], [[0, 0.25], [0.5, 0.75], [1, 1.25]])
    np.testing.assert_array_equal(part(series, "test")[0, 2], [NAN, NAN])
    # "auto" keeps (n, h, w) as pictures: 3x2 grey pictures of 0..1 floats
    with pytest.raises(DataError, match=r"x_train and x_test hold pictures of different shapes"):
        open_at(path)
    same = write_npz(tmp_path / "p.npz", x_train=x_train, x_test=x_train[:2])
    assert open_at(same).dataset.kind == "pictures"


def test_data_kind_pictures_keeps_two_dimensional_arrays_an_error(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "s.npz")
    assert failure(path, kind="pictures") == (
        f"{path} (train): images have shape (6, 4), expected (n, height, width) or (n, height, "
        "width, channels)"
    )


def with_value(array: np.ndarray, position: tuple[int, ...], value: Any) -> np.ndarray:
    array = array.astype(np.float64)
    array[position] = value
    return array


TRAIN_X = np.arange(24, dtype=np.float64).reshape(6, 4)
BAD_NPZ = [
    (
        "infinity",
        {"x_test": with_value(TRAIN_X[:2], (1, 2), np.inf)},
        {},
        "{path} (test): an infinite value at [1, 2]; a series' values are finite numbers (NaN "
        "where it has none)",
    ),
    (
        "an empty series",
        {"x_train": with_value(TRAIN_X, (3, slice(None)), NAN)},
        {},
        "{path} (train): series 3 is empty (no value, NaN alone)",
    ),
    (
        "longer than data.max_steps",
        {"x_train": with_value(TRAIN_X, (2, slice(2, None)), NAN)},
        {"max_steps": 3},
        "{path} (train): series 0 has 4 steps, more than data.max_steps = 3; raise "
        "data.max_steps to read longer series",
    ),
    (
        "channels differ",
        {"x_train": TRAIN_X.reshape(6, 2, 2), "x_test": TRAIN_X[:2].reshape(2, 4, 1)},
        {"kind": "series"},
        "{path}: x_train holds series of 2 channels, x_test of 1; the parts of a data set have "
        "the same channels",
    ),
    (
        "beyond float32",
        {"x_train": with_value(TRAIN_X, (0, 0), -1e300)},
        {},
        "{path} (train): a value of 1e+300 is beyond float32's range",
    ),
    (
        "text",
        {"x_train": np.full((6, 4), "x")},
        {},
        "{path} (train): series of <U1; expected integers or floats",
    ),
    (
        "four dimensions",
        {"x_train": TRAIN_X.reshape(6, 2, 2, 1)},
        {"kind": "series"},
        "{path} (train): series have shape (6, 2, 2, 1), expected (n, steps) or (n, steps, "
        "channels)",
    ),
    (
        "counts differ",
        {"y_train": np.array([0, 1] * 2)},
        {},
        "{path} (train): 6 series but 4 labels; the counts must agree",
    ),
    (
        "no test series",
        {"x_test": np.zeros((0, 4)), "y_test": np.zeros(0, np.int64)},
        {},
        "{path} (test): no series",
    ),
    (
        "one class",
        {"y_train": np.zeros(6, np.int64), "y_test": np.zeros(2, np.int64)},
        {},
        "{path}: one class only ('0') in the training series; a classifier needs at least two",
    ),
]


@pytest.mark.parametrize(
    ("arrays", "settings", "message"),
    [case[1:] for case in BAD_NPZ],
    ids=[case[0] for case in BAD_NPZ],
)
def test_bad_npz_series_are_exact_errors(
    tmp_path: Path, arrays: dict[str, Any], settings: dict[str, Any], message: str
) -> None:
    path = write_npz(tmp_path / "bad.npz", **arrays)
    assert failure(path, **settings) == message.format(path=path)


def test_the_default_limit_of_steps() -> None:
    assert MAX_STEPS == DataConfig().max_steps == 100_000


# ---------------------------------------------------------------------- the UCR/UEA sets

# the README's table: channels, shortest and longest, class names, train and test counts
UCR_SETS = [
    ("GunPoint", 1, (150, 150), ("1", "2"), 50, 150),
    ("ItalyPowerDemand", 1, (24, 24), ("1", "2"), 67, 1029),
    ("BasicMotions", 6, (100, 100), ("Badminton", "Running", "Standing", "Walking"), 40, 40),
    ("JapaneseVowels", 12, (7, 29), tuple(str(k) for k in range(1, 10)), 270, 370),
]


@pytest.mark.skipif(not UCR.is_dir(), reason=f"no {UCR}")
@pytest.mark.parametrize(("name", "channels", "lengths", "classes", "train", "test"), UCR_SETS)
def test_the_ucr_sets_read_as_their_readme_says(
    name: str,
    channels: int,
    lengths: tuple[int, int],
    classes: tuple[str, ...],
    train: int,
    test: int,
) -> None:
    folder = UCR / name
    opened = open_at(folder)
    dataset = opened.dataset
    assert (dataset.kind, dataset.format) == ("series", "ts")
    assert dataset.shape == (lengths[1], channels)
    assert dataset.lengths == lengths
    assert dataset.classes == classes
    assert {part: len(labels) for part, labels in opened.parts.labels.items()} == {
        "train": train,
        "test": test,
    }
    validation = max(1, train // 10)
    assert dataset.sizes == {"train": train - validation, "validation": validation, "test": test}
    assert len(dataset.mean) == len(dataset.std) == channels
    assert all(np.isfinite(dataset.mean)) and all(s > 0 for s in dataset.std)
    # every class in training and test; nothing but padding is NaN
    for part_name in ("train", "test"):
        assert set(opened.parts.labels[part_name].tolist()) == set(range(len(classes)))
        values = part(opened, part_name)
        assert values.shape == (len(opened.parts.labels[part_name]), lengths[1], channels)
        if lengths[0] == lengths[1]:
            assert not np.isnan(values).any()
    steps = f"{lengths[0]}" if lengths[0] == lengths[1] else f"{lengths[0]} to {lengths[1]}"
    shown = ", ".join(classes) if len(classes) <= 6 else "1, 2, 3, 4, ..., 9"
    plural = "" if channels == 1 else "s"
    assert dataset.describe() == (
        f"ts data set {folder.resolve()}: series of {steps} steps of {channels} channel{plural}, "
        f"{len(classes)} classes ({shown}); train {train - validation}, validation "
        f"{validation} (carved), test {test:,}"
    )


@pytest.mark.skipif(not UCR.is_dir(), reason=f"no {UCR}")
def test_japanese_vowels_values_and_lengths() -> None:
    opened = open_at(UCR / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    train = part(opened, "train")
    first = (UCR / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts").read_text().split("@data")[1]
    line = first.strip().splitlines()[0]
    dimensions = line.split(":")[:-1]
    assert len(dimensions) == 12
    expected = np.array([[float(v) for v in d.split(",")] for d in dimensions], np.float32).T
    length = len(expected)
    np.testing.assert_array_equal(train[0, :length], expected)
    assert np.isnan(train[0, length:]).all()
    assert opened.dataset.classes[opened.parts.labels["train"][0]] == line.split(":")[-1]
