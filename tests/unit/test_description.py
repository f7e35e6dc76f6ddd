"""What a run records of its data set (rnncls/datasets/description.py): dataset.json read
back field by field, the damage it refuses, and the words and class orders users see. The
expected values are written out by hand."""

from __future__ import annotations

import json

import pytest

from rnncls.datasets.description import (
    DataSet,
    is_integer_name,
    shown_classes,
    sort_classes,
)

# Every field away from its default, so that a field lost or changed on the way through
# JSON shows.
SERIES = DataSet(
    kind="series",
    format="ts",
    shape=(29, 12),
    classes=("walk", "run", "Äpfel"),
    pixel_max=65535,
    preparation="digits",
    path="/data/Walks",
    fingerprint="ab" * 32,
    sizes={"train": 40, "validation": 5, "test": 30},
    carved=("validation",),
    mean=(0.5, -1.25),
    std=(2.0, 0.125),
    lengths=(7, 29),
    masked=True,
    version=1,
)


def test_every_field_reads_back_from_json_text() -> None:
    text = SERIES.dumps()
    assert "Äpfel" in text  # written as it is, not as \u escapes
    assert DataSet.from_json(json.loads(text)) == SERIES
    record = json.loads(text)
    assert record["shape"] == [29, 12] and record["lengths"] == [7, 29]
    assert record["carved"] == ["validation"] and record["mean"] == [0.5, -1.25]


def test_fields_left_out_take_their_defaults_and_unknown_ones_are_ignored() -> None:
    record = {"kind": "pictures", "format": "folder", "shape": [8, 6, 3], "classes": ["a"]}
    record["added_by_a_later_version"] = 1
    read = DataSet.from_json(record)
    assert read == DataSet("pictures", "folder", (8, 6, 3), ("a",))
    assert (read.carved, read.sizes, read.mean, read.std, read.lengths) == ((), {}, (), (), (0, 0))
    assert (read.pixel_max, read.preparation, read.masked, read.version) == (
        255,
        "plain",
        False,
        1,
    )


def test_json_values_are_converted_to_the_fields_types() -> None:
    record = SERIES.to_json() | {
        "shape": ["29", 12.0],
        "classes": [1, 2],
        "sizes": {"train": "40"},
        "mean": ["0.5"],
        "std": [1],
        "lengths": ["7", "29"],
    }
    read = DataSet.from_json(record)
    assert read.shape == (29, 12) and read.classes == ("1", "2")
    assert read.sizes == {"train": 40} and read.mean == (0.5,) and read.std == (1.0,)
    assert read.lengths == (7, 29)


DAMAGED = "run/dataset.json: not a data set description"
NOT_AN_INT = "invalid literal for int() with base 10"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shape": None}, f"{DAMAGED} ('NoneType' object is not iterable)"),
        ({"shape": ["x", 3]}, f"{DAMAGED} ({NOT_AN_INT}: 'x')"),
        ({"sizes": {"train": "many"}}, f"{DAMAGED} ({NOT_AN_INT}: 'many')"),
        ({"kind": "pictures"}, DAMAGED),  # a picture's shape has 3 dimensions
        ({"shape": [29, 12, 1]}, DAMAGED),  # a series' has 2
        ({"kind": "sounds"}, DAMAGED),
        ({"classes": []}, DAMAGED),
    ],
)
def test_a_damaged_description_is_one_line_naming_the_file(change, message) -> None:
    with pytest.raises(ValueError) as caught:
        DataSet.from_json(SERIES.to_json() | change, "run/dataset.json")
    assert str(caught.value) == message


def test_a_missing_field_is_named() -> None:
    record = SERIES.to_json()
    del record["classes"]
    with pytest.raises(ValueError) as caught:
        DataSet.from_json(record)
    assert str(caught.value) == "dataset.json: not a data set description ('classes')"


def test_a_model_file_carries_no_location() -> None:
    bare = SERIES.without_location()
    assert (bare.path, bare.fingerprint, bare.sizes, bare.carved) == ("", "", {}, ())
    assert (bare.shape, bare.classes, bare.mean, bare.std, bare.lengths, bare.masked) == (
        SERIES.shape,
        SERIES.classes,
        SERIES.mean,
        SERIES.std,
        SERIES.lengths,
        True,
    )


@pytest.mark.parametrize(
    ("described", "items"),
    [
        (DataSet("pictures", "idx", (28, 28, 1), ("0",)), "28x28 grey pictures"),
        (DataSet("pictures", "folder", (8, 6, 3), ("a",)), "6x8 colour pictures"),
        (DataSet("pictures", "npz", (5, 7, 4), ("a",)), "7x5 4 channels pictures"),
        (
            DataSet("pictures", "npz", (5, 7, 1), ("a",), pixel_max=65535),
            "7x5 grey, 16-bit pictures",
        ),
        (
            DataSet("pictures", "npz", (5, 7, 1), ("a",), pixel_max=4095),
            "7x5 grey, 12-bit pictures",
        ),
        (DataSet("series", "ts", (150, 1), ("a",)), "series of 150 steps of 1 channel"),
        (
            DataSet("series", "ts", (150, 1), ("a",), lengths=(150, 150)),
            "series of 150 steps of 1 channel",
        ),
        (SERIES, "series of 7 to 29 steps of 12 channels"),
    ],
)
def test_what_one_example_is_in_words(described: DataSet, items: str) -> None:
    assert described.items() == items


def test_the_line_for_stderr() -> None:
    assert SERIES.describe() == (
        "ts data set /data/Walks: series of 7 to 29 steps of 12 channels, 3 classes "
        "(walk, run, Äpfel); train 40, validation 5 (carved), test 30"
    )
    assert DataSet("pictures", "npz", (2, 2, 1), ("0", "1")).describe() == (
        "npz data set (no path): 2x2 grey pictures, 2 classes (0, 1)"
    )
    sizes_in_any_order = DataSet(
        "pictures", "npz", (2, 2, 1), ("0",), sizes={"test": 3, "train": 12345}
    )
    assert sizes_in_any_order.describe().endswith("; train 12,345, test 3")


def test_shape_properties_and_dtypes() -> None:
    picture = DataSet("pictures", "npz", (5, 7, 3), ("a", "b"))
    assert (picture.height, picture.width, picture.channels, picture.pixels) == (5, 7, 3, 35)
    assert (picture.num_classes, picture.is_series, picture.dtype) == (2, False, "uint8")
    assert DataSet("pictures", "npz", (5, 7, 1), ("a",), pixel_max=256).dtype == "uint16"
    assert (SERIES.steps, SERIES.channels, SERIES.is_series, SERIES.dtype) == (
        29,
        12,
        True,
        "float32",
    )


def test_classes_by_value_and_by_index() -> None:
    digits = DataSet("pictures", "idx", (28, 28, 1), tuple("0123456789"))
    assert digits.numeric_classes and digits.class_value(7) == 7
    assert digits.class_index(7) == 7 and digits.class_index("7") == 7
    assert digits.class_index(10) is None and digits.class_index("seven") is None
    named = DataSet("pictures", "folder", (2, 2, 1), ("07", "8"))  # "07" is a name
    assert not named.numeric_classes and named.class_value(0) == "07"
    assert SERIES.class_index("run") == 1 and SERIES.class_value(2) == "Äpfel"


@pytest.mark.parametrize(
    ("name", "integer"),
    [
        ("0", True),
        ("7", True),
        ("10", True),
        ("07", False),
        ("00", False),
        ("-1", False),
        ("", False),
        ("1.0", False),
        ("٣", False),
        ("²", False),
    ],
)
def test_integer_names(name: str, integer: bool) -> None:
    assert is_integer_name(name) is integer


@pytest.mark.parametrize(
    ("names", "order"),
    [
        (["10", "2", "-1", "2", "0"], ("-1", "0", "2", "10")),  # numerically, each once
        ({"b", "a", "10", "9"}, ("10", "9", "a", "b")),  # not all integers: as text
        (("07", "1"), ("07", "1")),  # "07" is no integer name
        ([], ()),
    ],
)
def test_class_order(names, order) -> None:
    assert sort_classes(names) == order


def test_a_long_class_list_is_shortened() -> None:
    assert shown_classes(("a", "b", "c", "d", "e", "f")) == "a, b, c, d, e, f"
    assert shown_classes(tuple("abcdefg")) == "a, b, c, d, ..., g"
    assert shown_classes(tuple("abcd"), most=3) == "a, ..., d"
    assert shown_classes(()) == ""
