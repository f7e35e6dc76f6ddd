"""Property-based tests: random and mutated input never crashes the IDX reader or the
config loader with anything but the tool's own errors (DataError, ConfigError)."""

from __future__ import annotations

import gzip
import io
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_images, idx_labels, make_digits, write_mnist
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rnncls.config import load_config, parse_override
from rnncls.config_keys import SECTIONS, Config, DataConfig, key_type
from rnncls.datasets import DataSource, open_data
from rnncls.datasets.idx import parse_idx
from rnncls.errors import ConfigError, DataError

# Bounded so the whole file runs in seconds; tmp_path is reused across examples on
# purpose (each example overwrites the files it needs).
FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

IMAGES, LABELS = make_digits(5)
GOOD_IMAGES = idx_images(IMAGES)
GOOD_LABELS = idx_labels(LABELS)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few bytes changed, cut short, extended or a header field set."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "extend", "header", "delete"]))
        if kind == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif kind == "extend":
            data += draw(st.binary(max_size=64))
        elif kind == "header" and len(data) >= 16:
            field = draw(st.integers(0, 3))
            value = draw(st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 28, 0x803])))
            data[4 * field : 4 * field + 4] = struct.pack(">I", value)
        elif kind == "delete" and data:
            start = draw(st.integers(0, len(data) - 1))
            del data[start : start + draw(st.integers(1, 32))]
    return bytes(data)


def parses_or_fails_in_one_line(raw: bytes, expect: str, source: str) -> None:
    """Either a well-formed array of what was expected, or one DataError line."""
    try:
        array = parse_idx(raw, expect, source)
    except DataError as exc:
        assert "\n" not in str(exc)
    else:
        check_parsed(array, expect, raw)


def check_parsed(array: np.ndarray, expect: str, raw: bytes) -> None:
    assert array.dtype == np.uint8
    if expect == "images":
        assert array.ndim == 3 and min(array.shape[1:]) >= 1
        assert len(raw) == 16 + array.size
    else:
        assert array.ndim == 1 and len(raw) == 8 + array.size


# ---------------------------------------------------------------------- IDX reader


@FAST
@given(raw=st.binary(max_size=2048), expect=st.sampled_from(["images", "labels"]))
@example(raw=b"", expect="images")
@example(raw=struct.pack(">IIII", 0x803, 2**32 - 1, 28, 28), expect="images")
@example(raw=struct.pack(">II", 0x801, 2**32 - 1), expect="labels")
def test_parse_idx_random_bytes(raw: bytes, expect: str) -> None:
    parses_or_fails_in_one_line(raw, expect, "random")


@FAST
@given(data=st.data(), expect=st.sampled_from(["images", "labels"]))
def test_parse_idx_mutated_files(data: st.DataObject, expect: str) -> None:
    original = GOOD_IMAGES if expect == "images" else GOOD_LABELS
    raw = data.draw(mutated(original))
    parses_or_fails_in_one_line(raw, expect, "mutated")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "mnist", train=30, test=10, gz=False)


def read_every_split(source: DataSource) -> None:
    """Open a data set and read its splits: pictures (n, h, w, c) of 8 or 16 bits, and
    labels that are class indices, or a DataError."""
    data = open_data(source, DataConfig(validation_size=1))
    for name in ("train", "validation", "test"):
        split = data.split(name)
        images = np.asarray(split.images)
        assert images.dtype in (np.uint8, np.uint16)
        assert images.ndim == 4 and images.shape[1:] == data.dataset.shape
        assert len(images) == len(split.labels)
        assert 0 <= split.labels.min() and split.labels.max() < data.dataset.num_classes


def read_both_parts(path: Path) -> None:
    read_every_split(DataSource(path, "idx"))


@FAST
@given(
    data=st.data(),
    name=st.sampled_from(["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]),
    compress=st.booleans(),
)
def test_read_part_mutated_file_on_disk(
    folder: Path, data: st.DataObject, name: str, compress: bool
) -> None:
    """One file of a good folder damaged, plain or gzip (whose own stream may be damaged
    too): reading the folder gives data or a DataError, never another exception."""
    original = (folder / name).read_bytes()
    raw = data.draw(mutated(original))
    if compress:
        raw = gzip.compress(raw, mtime=0)
        if data.draw(st.booleans()):
            raw = data.draw(mutated(raw))  # damage the gzip stream itself
    target = folder / (f"{name}.gz" if compress else name)
    try:
        if compress:
            (folder / name).rename(folder / f"{name}.keep")
        target.write_bytes(raw)
        try:
            read_both_parts(folder)
        except DataError as exc:
            assert "\n" not in str(exc)
    finally:
        target.unlink()
        if compress:
            (folder / f"{name}.keep").rename(folder / name)
        else:
            (folder / name).write_bytes(original)


def good_npz() -> bytes:
    images, labels = make_digits(12)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=images, y_train=labels, x_test=images[:4], y_test=labels[:4])
    return buffer.getvalue()


GOOD_NPZ = good_npz()


@FAST
@given(data=st.data())
def test_npz_mutated_file(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "mnist.npz"
    path.write_bytes(data.draw(mutated(GOOD_NPZ)))
    try:
        read_every_split(DataSource(path, "npz"))
    except DataError as exc:
        assert "\n" not in str(exc)


@FAST
@given(
    arrays=st.dictionaries(
        st.sampled_from(["x_train", "y_train", "x_test", "y_test", "other"]),
        st.tuples(
            st.sampled_from(["uint8", "int64", "float32", "int8", "bool", "U3"]),
            st.lists(st.integers(0, 30), min_size=0, max_size=3),
        ),
    )
)
def test_npz_with_arrays_of_any_shape_and_type(tmp_path: Path, arrays: dict) -> None:
    path = tmp_path / "mnist.npz"
    rng = np.random.default_rng(0)
    contents = {
        name: rng.integers(-3, 300, size=shape).astype(dtype) if dtype != "U3" else np.array("abc")
        for name, (dtype, shape) in arrays.items()
    }
    with zipfile.ZipFile(path, "w") as archive:  # np.savez would need at least one array
        for name, value in contents.items():
            with archive.open(f"{name}.npy", "w") as handle:
                np.lib.format.write_array(handle, value)
    try:
        read_every_split(DataSource(path, "npz"))
    except DataError as exc:
        assert "\n" not in str(exc)


# ---------------------------------------------------------------------- config loader

KNOWN_KEYS = sorted(
    {f"{section}.{key}" for section, cls in SECTIONS.items() for key in cls.__dataclass_fields__}
)
TOML_SCALARS = st.one_of(
    st.integers(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=10),
    st.datetimes(),
    st.dates(),
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=6), inner, max_size=3),
    ),
    max_leaves=6,
)
SECTION_NAMES = st.one_of(st.sampled_from(list(SECTIONS)), st.text(max_size=8))


@st.composite
def documents(draw: st.DrawFn) -> dict:
    """Mostly well-shaped config documents with wrong values, plus stray keys and sections."""
    document: dict = {}
    for _ in range(draw(st.integers(0, 4))):
        section = draw(SECTION_NAMES)
        fields = list(SECTIONS.get(section, Config).__dataclass_fields__)
        keys = st.one_of(st.sampled_from(fields), st.text(max_size=8))
        table = draw(st.one_of(st.dictionaries(keys, TOML_VALUES, max_size=4), TOML_SCALARS))
        document[section] = table
    return document


def check_config(config: Config) -> None:
    for section in SECTIONS:
        for key in getattr(config, section).__dataclass_fields__:
            value = getattr(getattr(config, section), key)
            kind, choices = key_type(section, key)
            assert type(value) is kind, (section, key, value)
            assert not choices or value in choices, (section, key, value)
            if isinstance(value, float):  # rates, fractions, sizes: none below 0
                assert math.isfinite(value) and value >= 0
            if isinstance(value, int) and not isinstance(value, bool):
                assert 0 <= value < 2**32


def loads_or_names_the_file(path: Path) -> None:
    """A config file either loads into a valid config or is one ConfigError naming it."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        check_config(config)


@FAST
@given(document=documents())
def test_config_documents(tmp_path: Path, document: dict) -> None:
    import tomli_w

    path = tmp_path / "config.toml"
    try:
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
    except (TypeError, ValueError):
        return  # not representable in TOML (tomli-w refuses it): nothing to test
    loads_or_names_the_file(path)


@FAST
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
@example(raw=b"[train]\nsteps = " + b"[" * 2000)
@example(raw=b"a = " + b"{b = " * 2000)
@example(raw=b"[train]\nsteps = 99999999999999999999999\n")
def test_config_random_bytes(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(raw)
    loads_or_names_the_file(path)


@FAST
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda key, value: f"{key}={value}",
            st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12)),
            st.text(max_size=20),
        ),
    )
)
@example(text="train.steps=" + "[" * 2000)
def test_set_overrides(text: str) -> None:
    try:
        parse_override(text)
        config = load_config(overrides=[text])
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        check_config(config)
