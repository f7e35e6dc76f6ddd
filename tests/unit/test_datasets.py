"""Finding data sets, their splits, the MNIST layout's files, and what a run records
(tests/unit/test_datasets_folder.py and test_datasets_npz.py hold the other sources)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_images, idx_labels, make_digits, write_mnist

import rnncls.datasets as datasets_module
from rnncls.config_keys import DataConfig
from rnncls.datasets import (
    FIX_HINT,
    DataSource,
    cache_candidates,
    carve,
    changed,
    find_data,
    load_split,
    open_data,
)
from rnncls.datasets.description import DataSet
from rnncls.datasets.idx import MNIST, is_mnist, parse_idx
from rnncls.errors import DataError

SMALL = DataConfig(validation_size=20)


@pytest.mark.parametrize("gz", [True, False])
def test_reads_idx_folder(tmp_path, gz):
    folder = write_mnist(tmp_path / "d", train=50, test=20, gz=gz)
    source = find_data(folder)
    assert source.kind == "idx"
    images, labels = make_digits(50, 0)
    data = open_data(source, DataConfig(validation_size=10))
    train, validation = data.split("train"), data.split("validation")
    assert train.images.dtype == np.uint8 and train.images.shape == (40, 28, 28, 1)
    np.testing.assert_array_equal(train.images[..., 0], images[:40])
    np.testing.assert_array_equal(validation.labels, labels[40:])
    assert len(data.split("test")) == 20
    assert data.dataset.shape == (28, 28, 1) and data.dataset.classes == tuple("0123456789")


def test_reads_npz(tmp_path):
    x_train, y_train = make_digits(30, 0)
    x_test, y_test = x_train[:10] // 2, y_train[:10]  # classes the training pictures have
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    source = find_data(tmp_path)
    assert source.kind == "npz"
    np.testing.assert_array_equal(load_split(source, "test").images[..., 0], x_test)
    assert len(load_split(source, "validation", DataConfig(validation_size=5))) == 5


def test_search_order(in_tmp, monkeypatch):
    """--data-dir, then [data] dir (which the command line sets from RNNCLS_DATA_DIR
    where no --set gives it), then RNNCLS_DATA_DIR, then the caches."""
    flag_dir = write_mnist(in_tmp / "flag")
    config_dir = write_mnist(in_tmp / "config")
    env_dir = write_mnist(in_tmp / "env")
    cache_dir = write_mnist(in_tmp / "cache" / "rnncls")
    monkeypatch.setenv("RNNCLS_DATA_DIR", str(env_dir))
    assert find_data(flag_dir, str(config_dir)).path == flag_dir
    assert find_data(None, str(config_dir)).path == config_dir
    assert find_data(None, "").path == env_dir
    monkeypatch.delenv("RNNCLS_DATA_DIR")
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


def test_count_mismatch(tmp_path):
    folder = write_mnist(tmp_path / "d", gz=False)
    _, labels = make_digits(41, 1)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_labels(labels))
    with pytest.raises(DataError) as caught:
        load_split(find_data(folder), "test", SMALL)
    assert str(caught.value) == (f"{folder} (test): 40 images but 41 labels; the counts must agree")


def test_the_largest_label_sets_the_class_count(tmp_path):
    """KMNIST, EMNIST letters (labels 1 to 26) and the like: the classes are 0 to the
    largest label of any part."""
    folder = write_mnist(tmp_path / "d", gz=False)
    labels = make_digits(120, 0)[1]
    labels[3] = 12
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_labels(labels))
    dataset = open_data(find_data(folder), SMALL).dataset
    assert dataset.classes == tuple(str(k) for k in range(13))
    test_labels = make_digits(40, 1)[1]
    test_labels[0] = 11  # a class that no training picture has
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_labels(test_labels))
    with pytest.raises(DataError) as caught:
        open_data(find_data(folder), SMALL)
    assert str(caught.value) == (
        f"{folder}: the test pictures have class '11', which no training picture has"
    )


def test_pictures_of_another_size(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for part, count in (("train", 30), ("t10k", 10)):
        images = rng.integers(0, 256, (count, 5, 7)).astype(np.uint8)
        labels = np.arange(count) % 3
        (folder / f"{part}-images-idx3-ubyte").write_bytes(idx_images(images))
        (folder / f"{part}-labels-idx1-ubyte").write_bytes(idx_labels(labels))
    data = open_data(find_data(folder), DataConfig(validation_size=5))
    assert data.dataset.shape == (5, 7, 1) and data.dataset.classes == ("0", "1", "2")
    assert data.split("test").images.shape == (10, 5, 7, 1)


def test_validation_size_must_leave_training_images(tiny_mnist):
    with pytest.raises(DataError) as caught:
        open_data(find_data(tiny_mnist), DataConfig(validation_size=120))
    assert str(caught.value) == (
        f"data.validation_size = 120 leaves no training pictures (120 in {tiny_mnist}); "
        "set a smaller data.validation_size"
    )


@pytest.mark.tensorflow
def test_download_through_keras_lands_in_its_cache(in_tmp, monkeypatch):
    """The last resort, offline: Keras's fetch is replaced by a copy of a local file, so
    what is tested is our side: calling keras.datasets.mnist and reading its cache."""
    pytest.importorskip("keras")
    from rnncls.tf_setup import import_tensorflow

    import_tensorflow()
    import keras.src.datasets.mnist as keras_mnist

    x_train, y_train = make_digits(30, 0)
    x_test, y_test = x_train[:10], y_train[:10]
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
    monkeypatch.delenv("RNNCLS_DATA_DIR", raising=False)
    source = find_data(None, "")
    assert fetched and fetched[0].endswith("mnist.npz")
    assert source.kind == "npz"
    np.testing.assert_array_equal(load_split(source, "test", SMALL).labels, y_test)
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
        split = load_split(source, name, SMALL)
        assert split.name == name
        assert np.array_equal(split.images[..., 0], images)
        assert labels is None or np.array_equal(split.labels, labels)


def test_an_unknown_split_is_named(tiny_mnist) -> None:
    with pytest.raises(ValueError) as caught:
        load_split(find_data(tiny_mnist), "dev", SMALL)
    assert str(caught.value) == "unknown split 'dev'; choose from train, validation, test"


def test_an_npz_file_named_directly(tmp_path) -> None:
    x, y = make_digits(12, 0)
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    source = find_data(path)
    assert source == DataSource(path, "npz") and str(source) == str(path)
    (tmp_path / "other.zip").write_bytes(path.read_bytes())
    with pytest.raises(DataError) as caught:
        find_data(tmp_path / "other.zip")
    assert str(caught.value) == (
        f"{tmp_path / 'other.zip'}: not a data set (from --data-dir); {FIX_HINT}"
    )


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

    monkeypatch.setattr(datasets_module, "_download", offline)
    with pytest.raises(DataError) as caught:
        find_data()
    places = ", ".join(str(p) for p in cache_candidates())
    assert str(caught.value) == (
        f"no data set found: looked in --data-dir, [data] dir, RNNCLS_DATA_DIR, {places}; "
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
            "x: file is truncated: 16 bytes, header says 60129542160 (1 images)",
        ),
        (
            struct.pack(">IIII", 0x803, 1, 0, 28),
            "images",
            "x: images are 0x28; a picture needs a pixel",
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


def test_the_default_validation_split_is_a_tenth_at_most_5000(tiny_mnist) -> None:
    """MNIST's 60,000 training images keep their last 5,000 for validation, as every
    run before the default became automatic; a smaller set gives a tenth."""
    assert len(load_split(find_data(tiny_mnist), "validation")) == 12
    assert datasets_module.auto_size(60000, 0.1, 5000) == 5000
    assert datasets_module.auto_size(3, 0.1, 5000) == 1


def test_a_labels_file_in_a_folder_is_read_as_labels(tmp_path) -> None:
    folder = write_mnist(tmp_path / "d", gz=False)
    images, _ = make_digits(40, 1)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_images(images))
    path = folder / "t10k-labels-idx1-ubyte"
    with pytest.raises(DataError) as caught:
        load_split(find_data(folder), "test", SMALL)
    assert str(caught.value) == (
        f"{path}: wrong magic number 0x00000803 for IDX labels (expected 0x00000801)"
    )


# ---------------------------------------------------------------------- carving and changes


def test_carve_takes_each_class_in_its_share_with_a_fixed_seed() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    taken, kept = carve(labels, 10, seed=0)
    assert np.bincount(labels[taken]).tolist() == [6, 3, 1]
    assert sorted([*taken, *kept]) == list(range(100))
    again, _ = carve(labels, 10, seed=0)
    other, _ = carve(labels, 10, seed=1)
    assert again.tolist() == taken.tolist() and other.tolist() != taken.tolist()


def test_carve_hands_the_remainders_to_the_largest_fractions() -> None:
    # shares of 7 among 3, 3, 1 pictures: 3, 3, 1 exactly; of 2: 6/7, 6/7, 2/7 -> 1, 1, 0
    labels = np.array([0, 0, 0, 1, 1, 1, 2])
    assert np.bincount(labels[carve(labels, 2, 0)[0]], minlength=3).tolist() == [1, 1, 0]
    assert np.bincount(labels[carve(labels, 7, 0)[0]], minlength=3).tolist() == [3, 3, 1]


def test_changed_names_what_was_added_removed_and_changed() -> None:
    old = [("a.png", 1, "1"), ("b.png", 2, "2"), ("c.png", 3, "3")]
    new = [("a.png", 1, "1"), ("c.png", 3, "4"), ("d.png", 5, "5"), ("e.png", 5, "5")]
    assert changed(old, new) == (
        "2 files added (d.png, e.png); 1 file removed (b.png); 1 file changed (c.png)"
    )
    assert changed(old, old) == ""


def test_mnist_is_told_by_its_test_labels(tmp_path) -> None:
    """MNIST's own test labels mark the data set whose pictures predict prepares as MNIST's
    digits; the same layout with other labels (Fashion-MNIST) is prepared plainly."""
    real = Path(__file__).parents[1].parent / "../shared/data/mnist/t10k-labels-idx1-ubyte.gz"
    if real.is_file():
        import gzip

        labels = np.frombuffer(gzip.decompress(real.read_bytes()), np.uint8, offset=8)
        assert is_mnist(labels)
        assert not is_mnist(labels[::-1].copy())
    assert not is_mnist(np.zeros(10000, np.uint8)) and not is_mnist(None)
    dataset = open_data(find_data(write_mnist(tmp_path / "d")), SMALL).dataset
    assert dataset.preparation == "plain"
    forced = open_data(
        find_data(tmp_path / "d"), DataConfig(validation_size=20, preparation="digits")
    )
    assert forced.dataset.preparation == "digits"


def test_a_description_reads_back_and_refuses_damage() -> None:
    described = DataSet(
        "pictures", "folder", (8, 6, 3), ("cat", "dog"), path="/x", sizes={"test": 2}
    )
    assert DataSet.from_json(described.to_json()) == described
    assert DataSet.from_json(MNIST.to_json()) == MNIST
    with pytest.raises(ValueError) as caught:
        DataSet.from_json({"kind": "pictures"}, "run/dataset.json")
    assert str(caught.value) == "run/dataset.json: not a data set description ('shape')"
    assert MNIST.class_value(3) == 3 and described.class_value(1) == "dog"
    assert described.describe() == (
        "folder data set /x: 6x8 colour pictures, 2 classes (cat, dog); test 2"
    )


def test_rows_of_a_large_array_read_in_the_order_asked(tmp_path) -> None:
    from rnncls.datasets import Rows

    base = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.uint8, (5, 2, 3))
    base[:] = np.arange(30, dtype=np.uint8).reshape(5, 2, 3)
    rows = Rows(base, [3, 0, 4, 0])
    assert (len(rows), rows.shape, rows.dtype, rows.ndim) == (4, (4, 2, 3), np.uint8, 3)
    assert rows[1].tolist() == base[0].tolist()
    assert rows[np.int64(2)].tolist() == base[4].tolist()
    assert rows[:].tolist() == base[[3, 0, 4, 0]].tolist()
    assert rows[[2, 0]].tolist() == base[[4, 3]].tolist()
    assert rows[1:3].tolist() == base[[0, 4]].tolist()
    as_float = np.asarray(rows, dtype=np.float32)
    assert as_float.dtype == np.float32 and as_float.tolist() == base[[3, 0, 4, 0]].tolist()
    assert np.asarray(rows).dtype == np.uint8
