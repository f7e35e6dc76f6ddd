"""rnncls.datasets.npz through the datasets interface: small ``.npz`` files made here
(x_train, y_train, x_test, y_test), their picture shapes and pixel types, their labels
(integers or strings), and an exact error for each way such a file can be wrong.

Each picture's top left pixel names it: 1 to 12 in training, 101 to 106 in the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnncls.datasets import OpenedData, find_data, open_data
from rnncls.errors import DataError

TRAIN_LEVELS = list(range(1, 13))
TEST_LEVELS = list(range(101, 107))
OBJECTS = (
    "an array holds Python objects (ragged lists of pictures, or labels of mixed types); "
    "save rectangular arrays of numbers or strings"
)


def pictures(levels: list[int], shape: tuple[int, ...] = (4, 4), dtype: Any = np.uint8) -> Any:
    """One picture a level, black but for its top left pixel (every channel of it)."""
    array = np.zeros((len(levels), *shape), dtype)
    array[:, 0, 0] = np.reshape(levels, (-1,) + (1,) * (len(shape) - 2))
    return array


def arrays(**changes: Any) -> dict[str, Any]:
    """A small valid data set, 12 training and 6 test pictures of 4x4, labels 0, 1, 2 in
    turn; ``changes`` replace arrays (None leaves one out)."""
    values = {
        "x_train": pictures(TRAIN_LEVELS),
        "y_train": np.arange(12) % 3,
        "x_test": pictures(TEST_LEVELS),
        "y_test": np.arange(6) % 3,
    }
    values.update(changes)
    return {name: array for name, array in values.items() if array is not None}


def write_npz(path: Path, values: dict[str, Any]) -> Path:
    np.savez(path, **values)
    return path


def open_npz(path: Path) -> OpenedData:
    return open_data(find_data(path))


def with_pixel(array: np.ndarray, position: tuple[int, ...], value: Any) -> np.ndarray:
    array = array.copy()
    array[position] = value
    return array


def levels(images: Any) -> list[int]:
    return [int(level) for level in np.asarray(images)[:, 0, 0, 0]]


# ---------------------------------------------------------------------- pictures


@pytest.mark.parametrize(
    ("shape", "described"),
    [
        ((4, 4), (4, 4, 1)),  # (N, H, W): grey
        ((4, 5, 1), (4, 5, 1)),
        ((4, 5, 3), (4, 5, 3)),  # (N, H, W, C)
    ],
)
def test_pictures_n_h_w_and_n_h_w_c(
    tmp_path: Path, shape: tuple[int, ...], described: tuple[int, int, int]
) -> None:
    path = write_npz(
        tmp_path / "data.npz",
        arrays(x_train=pictures(TRAIN_LEVELS, shape), x_test=pictures(TEST_LEVELS, shape)),
    )
    opened = open_npz(path)
    dataset = opened.dataset
    assert (dataset.format, dataset.path) == ("npz", str(path.resolve()))
    assert dataset.shape == described
    assert dataset.classes == ("0", "1", "2")
    assert dataset.pixel_max == 255
    # the files hold a test part; validation is a tenth of the training part, drawn per
    # class (a file that is not MNIST may be sorted by class)
    assert dataset.sizes == {"train": 11, "validation": 1, "test": 6}
    assert dataset.carved == ("validation",)
    train, validation, test = (opened.split(name) for name in ("train", "validation", "test"))
    assert np.asarray(train.images).shape == (11, *described)
    assert sorted(levels(train.images) + levels(validation.images)) == TRAIN_LEVELS
    for split in (train, validation):  # level L is the picture of label (L - 1) % 3
        assert split.labels.tolist() == [(level - 1) % 3 for level in levels(split.images)]
    assert levels(test.images) == TEST_LEVELS
    assert test.labels.tolist() == [0, 1, 2, 0, 1, 2]
    last_channel = np.asarray(test.images)[:, 0, 0, -1]
    assert last_channel.tolist() == TEST_LEVELS


PIXEL_TYPES = [
    # values in x_train, its dtype, the values read, their dtype, pixel_max
    ([0, 7, 255], np.uint8, [0, 7, 255], np.uint8, 255),
    ([0, 300, 65535], np.uint16, [0, 300, 65535], np.uint16, 65535),
    ([0, 7, 255], np.uint16, [0, 7, 255], np.uint16, 65535),  # uint16 stays 16 bits
    ([0, 7, 255], np.int64, [0, 7, 255], np.uint8, 255),
    ([0, 300, 65535], np.int64, [0, 300, 65535], np.uint16, 65535),
    ([0, 7, 127], np.int8, [0, 7, 127], np.uint8, 255),
    ([0.0, 0.2, 0.5, 1.0], np.float32, [0, 51, 128, 255], np.uint8, 255),  # 0..1: x 255
    ([0.0, 2.4, 127.5, 254.6], np.float64, [0, 2, 128, 255], np.uint8, 255),  # 0..255
    ([False, True], np.bool_, [0, 255], np.uint8, 255),
]


@pytest.mark.parametrize(("values", "dtype", "read", "read_dtype", "pixel_max"), PIXEL_TYPES)
def test_pixel_types(
    tmp_path: Path, values: list[Any], dtype: Any, read: list[int], read_dtype: Any, pixel_max: int
) -> None:
    x_train = np.zeros((12, 4, 4), dtype)
    x_train[0, 0, : len(values)] = values
    path = write_npz(
        tmp_path / "data.npz", arrays(x_train=x_train, x_test=np.zeros((6, 4, 4), dtype))
    )
    opened = open_npz(path)
    first = np.asarray(opened.parts.read_images("train"))[0]
    assert first.dtype == read_dtype
    assert first[0, : len(values), 0].tolist() == read
    assert opened.dataset.pixel_max == pixel_max
    assert np.asarray(opened.split("test").images).dtype == read_dtype


def test_eight_bit_pictures_beside_sixteen_bit_ones_are_scaled_by_257(tmp_path: Path) -> None:
    x_train = with_pixel(pictures(TRAIN_LEVELS), (0, 1, slice(0, 3)), [0, 1, 255])
    x_test = with_pixel(pictures(TEST_LEVELS, dtype=np.uint16), (0, 1, 0), 65535)
    opened = open_npz(write_npz(tmp_path / "data.npz", arrays(x_train=x_train, x_test=x_test)))
    assert opened.dataset.pixel_max == 65535
    train = np.asarray(opened.parts.read_images("train"))  # the part, in the file's order
    assert train.dtype == np.uint16
    assert train[0, 1, :3, 0].tolist() == [0, 257, 65535]
    assert levels(train) == [257 * level for level in TRAIN_LEVELS]
    assert levels(opened.split("test").images) == TEST_LEVELS
    assert np.asarray(opened.split("test").images)[0, 1, 0, 0] == 65535


# ---------------------------------------------------------------------- labels


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
def test_integer_labels_name_themselves(tmp_path: Path, dtype: Any) -> None:
    y_train = np.array([3, 0, 1, 2] * 3, dtype)
    y_test = np.array([2, 2, 0, 1, 3, 3], dtype)
    opened = open_npz(write_npz(tmp_path / "d.npz", arrays(y_train=y_train, y_test=y_test)))
    assert opened.dataset.classes == ("0", "1", "2", "3")
    assert opened.parts.labels["train"].tolist() == [3, 0, 1, 2] * 3
    assert opened.split("test").labels.tolist() == [2, 2, 0, 1, 3, 3]


@pytest.mark.parametrize("encode", [False, True], ids=["str", "bytes"])
def test_string_labels_are_sorted_class_names(tmp_path: Path, encode: bool) -> None:
    y_train = np.array(["dog", "é t", "cat"] * 4)
    y_test = np.array(["cat", "cat", "é t", "dog", "dog", "cat"])
    if encode:
        y_train, y_test = np.char.encode(y_train, "utf-8"), np.char.encode(y_test, "utf-8")
    opened = open_npz(write_npz(tmp_path / "d.npz", arrays(y_train=y_train, y_test=y_test)))
    assert opened.dataset.classes == ("cat", "dog", "é t")
    assert opened.parts.labels["train"].tolist() == [1, 2, 0] * 4
    assert opened.split("test").labels.tolist() == [0, 0, 2, 1, 1, 0]


def test_a_test_label_unknown_to_training_is_an_error(tmp_path: Path) -> None:
    path = write_npz(
        tmp_path / "d.npz",
        arrays(y_train=np.array(["cat", "dog"] * 6), y_test=np.array(["cat", "yak", "emu"] * 2)),
    )
    with pytest.raises(DataError) as caught:
        open_npz(path)
    assert (
        str(caught.value)
        == f"{path}: the test labels have class 'emu', which no training label has"
    )


@pytest.mark.parametrize(
    ("y_train", "y_test", "name"),
    [
        (np.zeros(12, np.int64), np.zeros(6, np.int64), "0"),
        (np.array(["cat"] * 12), np.array(["cat"] * 6), "cat"),
    ],
)
def test_one_class_only_is_an_error(
    tmp_path: Path, y_train: np.ndarray, y_test: np.ndarray, name: str
) -> None:
    path = write_npz(tmp_path / "d.npz", arrays(y_train=y_train, y_test=y_test))
    with pytest.raises(DataError) as caught:
        open_npz(path)
    assert str(caught.value) == (
        f"{path}: one class only ({name!r}) in the training pictures; a classifier needs "
        "at least two"
    )


# ---------------------------------------------------------------------- errors


def ragged() -> np.ndarray:
    array = np.empty(2, dtype=object)
    array[0], array[1] = np.zeros((4, 4)), np.zeros((5, 5))
    return array


NAN_PICTURES = with_pixel(pictures(TEST_LEVELS, dtype=np.float64), (2, 1, 3), np.nan)
INF_PICTURES = with_pixel(pictures(TRAIN_LEVELS, dtype=np.float32), (0, 0, 0), np.inf)

BAD_ARRAYS = [
    ("missing test", {"x_test": None, "y_test": None}, "{path}: missing array(s) x_test, y_test"),
    ("missing y_train", {"y_train": None}, "{path}: missing array(s) y_train"),
    ("ragged pictures", {"x_train": ragged()}, "{path}: " + OBJECTS),
    ("mixed labels", {"y_test": np.array([1, "a"], dtype=object)}, "{path}: " + OBJECTS),
    (
        "fewer train labels",
        {"y_train": np.arange(11) % 3},
        "{path} (train): 12 images but 11 labels; the counts must agree",
    ),
    (
        "more test labels",
        {"y_test": np.arange(7) % 3},
        "{path} (test): 6 images but 7 labels; the counts must agree",
    ),
    (
        "pictures of other sizes",
        {"x_test": pictures(TEST_LEVELS, (5, 5))},
        "{path}: x_train and x_test hold pictures of different shapes (4x4x1 and 5x5x1)",
    ),
    (
        "grey beside colour",
        {"x_train": pictures(TRAIN_LEVELS, (4, 4, 3))},
        "{path}: x_train and x_test hold pictures of different shapes (4x4x1 and 4x4x3)",
    ),
    ("NaN", {"x_test": NAN_PICTURES}, "{path} (test): NaN or infinite pixel at [2, 1, 3]"),
    ("infinity", {"x_train": INF_PICTURES}, "{path} (train): NaN or infinite pixel at [0, 0, 0]"),
    (
        "negative train label",
        {"y_train": with_pixel(np.arange(12) % 3, 5, -1)},
        "{path}: label -1 is negative; labels are 0 to K-1 or strings",
    ),
    (
        "negative test label",
        {"y_test": with_pixel(np.arange(6) % 3, 0, -2)},
        "{path}: label -2 is negative; labels are 0 to K-1 or strings",
    ),
    (
        "negative float pixels",
        {"x_train": with_pixel(pictures(TRAIN_LEVELS, dtype=np.float64) / 12, (3, 2, 2), -0.5)},
        "{path} (train): float pixels from -0.5 to 1; expected 0..1 or 0..255",
    ),
    (
        "float pixels above 255",
        {"x_test": with_pixel(pictures(TEST_LEVELS, dtype=np.float32), (1, 3, 3), 300.5)},
        "{path} (test): float pixels from 0 to 300.5; expected 0..1 or 0..255",
    ),
    (
        "negative integer pixels",
        {"x_train": with_pixel(pictures(TRAIN_LEVELS, dtype=np.int64), (0, 1, 1), -3)},
        "{path} (train): pixels from -3 to 12; expected 0..65535",
    ),
    (
        "integer pixels above 16 bits",
        {"x_test": with_pixel(pictures(TEST_LEVELS, dtype=np.int32), (5, 3, 3), 70000)},
        "{path} (test): pixels from 0 to 70000; expected 0..65535",
    ),
    (
        "pictures of text",
        {"x_train": np.full((12, 4, 4), "x")},
        "{path} (train): pictures of <U1; expected integer or float pixels",
    ),
    (
        "flat pictures",  # 2-D x arrays are series (tests/unit/test_datasets_series.py)
        {"x_train": np.zeros((12, 16), np.uint8)},
        "{path}: the x arrays hold series (n, steps) and pictures (x_train (12, 16) series, "
        "x_test (6, 4, 4) pictures); set data.kind to say which they are",
    ),
    (
        "labels in a column",
        {"y_train": (np.arange(12) % 3).reshape(12, 1)},
        "{path} (train): labels have shape (12, 1), expected (n,)",
    ),
    (
        "float labels",
        {"y_train": np.arange(12) % 3 * 1.0},
        "{path}: labels of train float64, test int64; expected integers or strings",
    ),
    (
        "numbers beside strings",
        {"y_test": np.array(["0", "1", "2"] * 2)},
        "{path}: labels of train int64, test <U1; expected integers or strings",
    ),
    (
        "no test pictures",
        {"x_test": np.zeros((0, 4, 4), np.uint8), "y_test": np.zeros(0, np.int64)},
        "{path} (test): no images",
    ),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [case[1:] for case in BAD_ARRAYS],
    ids=[case[0] for case in BAD_ARRAYS],
)
def test_bad_arrays_are_exact_errors(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    path = write_npz(tmp_path / "bad.npz", arrays(**changes))
    with pytest.raises(DataError) as caught:
        open_npz(path)
    assert str(caught.value) == message.format(path=path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"x_train,y_train\n1,2\n", "{path}: not an npz archive (damaged, or another format)"),
        (b"", "{path}: not an npz archive (damaged, or another format)"),
        (None, "{path}: missing array(s) x_train, y_train, x_test, y_test"),  # a zip of text
    ],
    ids=["text", "empty", "zip of text"],
)
def test_a_file_that_is_not_an_npz_is_an_exact_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    import zipfile

    path = tmp_path / "data.npz"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "no arrays here")
    else:
        path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        open_npz(path)
    assert str(caught.value) == message.format(path=path)
