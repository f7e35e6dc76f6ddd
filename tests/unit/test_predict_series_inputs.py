"""``rnncls predict``'s inputs for a series run, read without TensorFlow
(rnncls.predict.InputReader): JSON lines and .npy streams on standard input, .tsv, .csv
and .npy files, each series named where it came from, the file's classes where it names
them, and one bad input a failure of its own. The expected series are written out here."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from rnncls.datasets.description import DataSet
from rnncls.errors import InputError
from rnncls.predict import InputReader

UNIVARIATE = DataSet("series", "tsv", (5, 1), ("1", "2"))
TWO_CHANNELS = DataSet("series", "ts", (5, 2), ("a", "b"))


def flat(found) -> list[tuple[str, list, int | None]]:
    """Each series of ``found`` as (its name, its values with None for NaN, its class)."""
    return [
        (source, np.where(np.isnan(series), None, series).tolist(), label)
        for group, sources, labels in found
        for series, source, label in zip(group, sources, labels, strict=True)
    ]


def npy(*arrays: np.ndarray) -> bytes:
    stream = io.BytesIO()
    for array in arrays:
        np.save(stream, array)
    return stream.getvalue()


def test_json_lines_a_series_a_line() -> None:
    failures: list[str] = []
    raw = b'  [1, 2, 3]\n\n[4, null, 5, null]\n{"not": "a series"}\n[[1, 2], [3]]\n'
    found = InputReader(UNIVARIATE, failures).stdin(raw)
    assert flat(found) == [
        ("<stdin, line 1>", [[1.0], [2.0], [3.0]], None),
        ("<stdin, line 3>", [[4.0], [None], [5.0]], None),  # the padding after 5 trimmed
        ("<stdin, line 5>[0]", [[1.0], [2.0]], None),  # a line of two series
        ("<stdin, line 5>[1]", [[3.0]], None),
    ]
    assert failures == ["<stdin, line 4>: expected a JSON array of numbers, got a dict"]
    with pytest.raises(InputError) as caught:
        InputReader(UNIVARIATE, None).stdin(b"[1]\n[oops\n")
    assert str(caught.value) == "<stdin, line 2>: not valid JSON"


def test_a_json_line_of_steps_with_two_channels() -> None:
    found = InputReader(TWO_CHANNELS, []).stdin(b"[[1, 10], [2, 20], [3, 30]]")
    assert flat(found) == [("<stdin, line 1>", [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]], None)]


def test_a_npy_stream_of_several_arrays() -> None:
    raw = npy(np.array([[1, 2, 3], [4, 5, 6]], np.int16), np.array([7.5, 8.5]))
    assert flat(InputReader(UNIVARIATE, []).stdin(raw)) == [
        ("<stdin>[0]", [[1.0], [2.0], [3.0]], None),
        ("<stdin>[1]", [[4.0], [5.0], [6.0]], None),
        ("<stdin, array 2>[0]", [[7.5], [8.5]], None),
    ]
    with pytest.raises(InputError) as caught:
        InputReader(TWO_CHANNELS, []).stdin(npy(np.zeros((2, 3, 4))))
    assert str(caught.value).startswith("<stdin>: array of shape (2, 3, 4); expected ")


def test_paths_on_standard_input_of_a_series_run(tmp_path: Path) -> None:
    (tmp_path / "one.tsv").write_text("2\t0.5\t0.25\n1\t1\t2\n")
    raw = f"{tmp_path / 'one.tsv'}\n\n".encode()
    assert flat(InputReader(UNIVARIATE, []).stdin(raw)) == [
        (f"{tmp_path / 'one.tsv'}[0]", [[0.5], [0.25]], 1),  # class "2" is the second
        (f"{tmp_path / 'one.tsv'}[1]", [[1.0], [2.0]], 0),
    ]


def test_series_files_of_each_kind(tmp_path: Path) -> None:
    reader = InputReader(UNIVARIATE, [])
    (tmp_path / "one.tsv").write_text("1\t3\t4\t5\n")
    assert flat(reader.path(tmp_path / "one.tsv")) == [
        (str(tmp_path / "one.tsv"), [[3.0], [4.0], [5.0]], 0)  # one series: the file's name
    ]
    (tmp_path / "unknown.tsv").write_text("7\t3\t4\n")
    assert flat(reader.path(tmp_path / "unknown.tsv"))[0][2] is None  # not a run's class
    np.save(tmp_path / "two.npy", np.array([[1.0, 2.0], [3.0, np.nan]]))
    assert flat(reader.path(tmp_path / "two.npy")) == [
        (f"{tmp_path / 'two.npy'}[0]", [[1.0], [2.0]], None),
        (f"{tmp_path / 'two.npy'}[1]", [[3.0]], None),
    ]
    (tmp_path / "labelled.csv").write_text("label,x1,x2\n2,0.5,1.5\n")
    assert flat(reader.path(tmp_path / "labelled.csv")) == [
        (str(tmp_path / "labelled.csv"), [[0.5], [1.5]], 1)
    ]
    # the run's data.label names the column of classes
    (tmp_path / "named.csv").write_text("x1,x2,kind\n0.5,1.5,1\n")
    by_kind = InputReader(UNIVARIATE, [], label_column="kind")
    assert flat(by_kind.path(tmp_path / "named.csv")) == [
        (str(tmp_path / "named.csv"), [[0.5], [1.5]], 0)
    ]


def test_bad_series_files_are_failures_of_their_own(tmp_path: Path) -> None:
    failures: list[str] = []
    (tmp_path / "notes.txt").write_text("1\t2\n")
    (tmp_path / "one.tsv").write_text("1\t3\t4\n")
    (tmp_path / "cut.tsv").write_text("1\t3\t4\n2\t5\n")
    reader = InputReader(TWO_CHANNELS, failures)
    assert reader.path(tmp_path / "notes.txt") == []
    assert reader.path(tmp_path / "one.tsv") == []
    assert reader.path(tmp_path / "cut.tsv") == []
    assert failures == [
        f"{tmp_path / 'notes.txt'}: not a series file (.ts, .tsv, .csv, .npy)",
        f"{tmp_path / 'one.tsv'}: series of 1 channels; the run reads 2",
        f"{tmp_path / 'cut.tsv'}, line 2: 2 fields, line 1 has 3; every line of a .tsv file "
        "has as many (a shorter series is padded with NaN or empty fields)",
    ]


def test_a_folder_of_a_series_run_reads_its_series_files_only(tmp_path: Path) -> None:
    (tmp_path / "b.tsv").write_text("1\t3\t4\n")
    (tmp_path / "a.npy").write_bytes(npy(np.array([9.0, 8.0])))
    (tmp_path / "picture.png").write_bytes(b"not read")
    found = flat(InputReader(UNIVARIATE, []).path(tmp_path))
    assert [name for name, _, _ in found] == [str(tmp_path / "a.npy"), str(tmp_path / "b.tsv")]
