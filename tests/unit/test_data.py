from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_images, idx_labels, make_digits, write_mnist

from rnncls import data as data_module
from rnncls.data import (
    FIX_HINT,
    DataError,
    DataSource,
    cache_candidates,
    find_data,
    load_split,
    load_training_data,
    parse_idx,
)


@pytest.mark.parametrize("gz", [True, False])
def test_reads_idx_folder(tmp_path, gz):
    folder = write_mnist(tmp_path / "d", train=50, test=20, gz=gz)
    source = find_data(folder)
    assert source.kind == "idx"
    images, labels = make_digits(50, 0)
    train, validation = load_training_data(source, validation_size=10)
    assert train.images.dtype == np.uint8 and train.images.shape == (40, 28, 28)
    np.testing.assert_array_equal(train.images, images[:40])
    np.testing.assert_array_equal(validation.labels, labels[40:])
    test = load_split(source, "test")
    assert len(test) == 20


def test_reads_npz(tmp_path):
    x_train, y_train = make_digits(30, 0)
    x_test, y_test = make_digits(10, 1)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    source = find_data(tmp_path)
    assert source.kind == "npz"
    np.testing.assert_array_equal(load_split(source, "test").images, x_test)
    assert len(load_split(source, "validation", validation_size=5)) == 5


def test_search_order(in_tmp, monkeypatch):
    flag_dir = write_mnist(in_tmp / "flag")
    env_dir = write_mnist(in_tmp / "env")
    cache_dir = write_mnist(in_tmp / "cache" / "rnncls")
    monkeypatch.setenv("RNNCLS_DATA_DIR", str(env_dir))
    assert find_data(flag_dir, "").path == flag_dir
    assert find_data(None, "").path == env_dir
    monkeypatch.delenv("RNNCLS_DATA_DIR")
    assert find_data(None, str(flag_dir)).path == flag_dir
    assert find_data(None, "").path == cache_dir


def test_nothing_found_offline_lists_where_it_looked(in_tmp):
    with pytest.raises(DataError) as caught:
        find_data(None, "", download=False)
    message = str(caught.value)
    assert "RNNCLS_DATA_DIR" in message and ".keras/datasets/mnist.npz" in message


def test_explicit_missing_folder_is_named(in_tmp):
    with pytest.raises(DataError, match="data folder not found: .*nowhere"):
        find_data(in_tmp / "nowhere")


def test_parse_idx_errors():
    images, labels = make_digits(4)
    raw = idx_images(images)
    assert parse_idx(raw, "images").shape == (4, 28, 28)
    with pytest.raises(DataError, match="truncated"):
        parse_idx(raw[:-1], "images")
    with pytest.raises(DataError, match="magic"):
        parse_idx(idx_labels(labels), "images")
    with pytest.raises(DataError, match="empty"):
        parse_idx(b"", "labels")


def test_count_mismatch_and_bad_labels(tmp_path):
    folder = write_mnist(tmp_path / "d", gz=False)
    _, labels = make_digits(41, 1)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_labels(labels))
    with pytest.raises(DataError, match="40 images but 41 labels"):
        load_split(find_data(folder), "test")
    bad = make_digits(40, 1)[1]
    bad[3] = 12
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_labels(bad))
    with pytest.raises(DataError, match="label 12 outside 0 to 9"):
        load_split(find_data(folder), "test")


def test_validation_size_must_leave_training_images(tiny_mnist):
    with pytest.raises(DataError, match="validation_size"):
        load_training_data(find_data(tiny_mnist), validation_size=120)


@pytest.mark.tensorflow
def test_download_through_keras_lands_in_its_cache(in_tmp, monkeypatch):
    """The last resort, offline: Keras's fetch is replaced by a copy of a local file, so
    what is tested is our side: calling keras.datasets.mnist and reading its cache."""
    pytest.importorskip("keras")
    from rnncls.tf_setup import import_tensorflow

    import_tensorflow()
    import keras.src.datasets.mnist as keras_mnist

    x_train, y_train = make_digits(30, 0)
    x_test, y_test = make_digits(10, 1)
    local = in_tmp / "served.npz"
    np.savez(local, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    fetched = []

    def fake_get_file(fname, origin, **kwargs):
        fetched.append(origin)
        target = in_tmp / "home" / ".keras" / "datasets" / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(local.read_bytes())
        return str(target)

    monkeypatch.setattr(keras_mnist, "get_file", fake_get_file)
    source = find_data(None, "")
    assert fetched and fetched[0].endswith("mnist.npz")
    assert source.kind == "npz"
    np.testing.assert_array_equal(load_split(source, "test").labels, y_test)
    # the next search finds the cached file without fetching again
    assert find_data(None, "").path == source.path and len(fetched) == 1


# ---------------------------------------------------------------------- splits and sources


def test_each_split_has_its_name_and_its_images(tiny_mnist) -> None:
    source = find_data(tiny_mnist)
    train_images, train_labels = make_digits(120, 0)
    test_images, _ = make_digits(40, 1)
    for name, images, labels in (
        ("train", train_images[:100], train_labels[:100]),
        ("validation", train_images[100:], train_labels[100:]),
        ("test", test_images, None),
    ):
        split = load_split(source, name, validation_size=20)
        assert split.name == name
        assert np.array_equal(split.images, images)
        assert labels is None or np.array_equal(split.labels, labels)
    train, validation = load_training_data(source, 20)
    assert (train.name, validation.name) == ("train", "validation")


def test_an_unknown_split_is_named() -> None:
    with pytest.raises(ValueError) as caught:
        load_split(DataSource(Path("x"), "idx"), "dev")
    assert str(caught.value) == "unknown split 'dev'; choose from train, validation, test"


def test_an_npz_file_named_directly(tmp_path) -> None:
    x, y = make_digits(12, 0)
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    source = find_data(path)
    assert source == DataSource(path, "npz") and str(source) == str(path)
    (tmp_path / "other.zip").write_bytes(path.read_bytes())
    with pytest.raises(DataError, match="^no MNIST files in .*other.zip \\(from --data-dir\\)"):
        find_data(tmp_path / "other.zip")


def test_cache_candidates_follow_keras_home_and_xdg(in_tmp, monkeypatch) -> None:
    home = in_tmp / "home"
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_candidates() == [
        home / ".keras" / "datasets" / "mnist.npz",
        home / ".cache" / "rnncls",
    ]
    monkeypatch.setenv("KERAS_HOME", str(in_tmp / "k"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(in_tmp / "x"))
    assert cache_candidates() == [in_tmp / "k" / "datasets" / "mnist.npz", in_tmp / "x" / "rnncls"]


def test_nothing_found_tries_a_download_by_default(in_tmp, monkeypatch) -> None:
    def offline() -> None:
        raise ConnectionError("no route to host")

    monkeypatch.setattr(data_module, "_download", offline)
    with pytest.raises(DataError) as caught:
        find_data()
    places = ", ".join(str(p) for p in cache_candidates())
    assert str(caught.value) == (
        f"no MNIST data found: looked in --data-dir, RNNCLS_DATA_DIR, [data] dir, {places}; "
        f"download failed (ConnectionError: no route to host); {FIX_HINT}"
    )
    with pytest.raises(DataError, match=f"{places}; no download attempted; point --data-dir"):
        find_data(download=False)
    cached = write_mnist(in_tmp / "cache" / "rnncls")
    assert find_data() == DataSource(cached, "idx")  # no [data] dir given: the caches


# ---------------------------------------------------------------------- IDX files, exactly


@pytest.mark.parametrize(
    ("raw", "expect", "message"),
    [
        (b"\x00\x00\x08", "labels", "x: file is only 3 bytes, too short for an IDX labels header"),
        (
            struct.pack(">I", 0x801),
            "labels",
            "x: file is truncated inside its 8-byte header",
        ),
        (
            struct.pack(">II", 0x80000801, 1),
            "labels",
            "x: wrong magic number 0x80000801 for IDX labels (expected 0x00000801)",
        ),
        (
            struct.pack(">II", 0x801, 2**31),
            "labels",
            "x: file is truncated: 8 bytes, header says 2147483656 (2147483648 labels)",
        ),
        (
            struct.pack(">II", 0x801, 1) + b"\x01\x02",
            "labels",
            "x: file is longer than its header says: 10 bytes, header says 9 (1 labels)",
        ),
        (
            struct.pack(">IIII", 0x803, 2**31, 28, 28),
            "images",
            "x: file is truncated: 16 bytes, header says 1683627180048 (2147483648 images)",
        ),
        (
            struct.pack(">IIII", 0x803, 1, 28, 2**31),
            "images",
            "x: images are 28x2147483648, expected 28x28",
        ),
    ],
)
def test_idx_errors_are_exact(raw: bytes, expect: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_idx(raw, expect, "x")
    assert str(caught.value) == message


def test_parse_idx_names_raw_bytes_by_default() -> None:
    with pytest.raises(DataError, match="^<bytes>: file is empty, too short"):
        parse_idx(b"", "images")


def test_the_default_validation_split_needs_more_than_5000_images(tiny_mnist) -> None:
    with pytest.raises(DataError) as caught:
        load_split(find_data(tiny_mnist), "validation")
    assert str(caught.value) == (
        f"validation_size = 5000 leaves no training images (120 in {tiny_mnist})"
    )


def test_a_labels_file_in_a_folder_is_read_as_labels(tmp_path) -> None:
    folder = write_mnist(tmp_path / "d", gz=False)
    images, _ = make_digits(40, 1)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_images(images))
    path = folder / "t10k-labels-idx1-ubyte"
    with pytest.raises(DataError) as caught:
        load_split(find_data(folder), "test")
    assert str(caught.value) == (
        f"{path}: wrong magic number 0x00000803 for IDX labels (expected 0x00000801)"
    )


# ---------------------------------------------------------------------- npz files, exactly


def write_npz(path, **arrays) -> None:
    x, y = make_digits(6, 0)
    contents = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    contents.update(arrays)
    np.savez(path, **{k: v for k, v in contents.items() if v is not None})


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_test": None, "y_test": None}, "{p}: missing array(s) x_test, y_test"),
        (
            {"x_test": np.zeros((6, 28, 28), np.float32)},
            "{p}: expected uint8 images and integer labels, got float32 and uint8",
        ),
        (
            {"y_test": np.zeros(6, np.float64)},
            "{p}: expected uint8 images and integer labels, got uint8 and float64",
        ),
        ({"y_test": np.full(6, -1)}, "{p} (test): label -1 outside 0 to 9"),
        ({"y_test": np.full(6, 10)}, "{p} (test): label 10 outside 0 to 9"),
        ({"y_test": np.full(6, 256)}, "{p} (test): label 256 outside 0 to 9"),
        ({"y_test": np.full(6, 266)}, "{p} (test): label 266 outside 0 to 9"),
        ({"y_test": np.zeros(5, np.uint8)}, "{p} (test): 6 images but 5 labels; the counts"),
        (
            {"x_test": np.zeros((6, 28, 27), np.uint8)},
            "{p} (test): images have shape (6, 28, 27), expected (n, 28, 28)",
        ),
        (
            {"y_test": np.zeros((6, 1), np.uint8)},
            "{p} (test): labels have shape (6, 1), expected (n,)",
        ),
        (
            {"x_test": np.array([None] * 6, dtype=object)},
            "cannot read {p}: Object arrays cannot be loaded when allow_pickle=False",
        ),
    ],
)
def test_npz_errors_are_exact(tmp_path, arrays, message) -> None:
    path = tmp_path / "mnist.npz"
    write_npz(path, **arrays)
    with pytest.raises(DataError) as caught:
        load_split(find_data(path), "test")
    assert str(caught.value).startswith(message.format(p=path))


def test_npz_labels_of_any_integer_type_read_as_uint8(tmp_path) -> None:
    path = tmp_path / "mnist.npz"
    write_npz(path, y_test=np.array([0, 9, 3, 1, 2, 5], np.int64))
    split = load_split(find_data(path), "test")
    assert split.labels.dtype == np.uint8 and split.labels.tolist() == [0, 9, 3, 1, 2, 5]


def test_a_damaged_npz_member_is_reported_in_one_line(tmp_path) -> None:
    path = tmp_path / "mnist.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("x_train", "y_train", "y_test"):
            archive.writestr(f"{name}.npy", b"")
        archive.writestr("x_test.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zz'}   \n")
    with pytest.raises(DataError) as caught:
        load_split(find_data(path), "test")
    message = str(caught.value)
    assert message.startswith(f"cannot read {path}: ") and "\n" not in message
    reason = message.removeprefix(f"cannot read {path}: ")
    assert " " in reason and "XX" not in reason  # numpy's own words, not a class name
