from __future__ import annotations

import numpy as np
import pytest
from conftest import idx_images, idx_labels, make_digits, write_mnist

from rnncls.data import DataError, find_data, load_split, load_training_data, parse_idx


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
