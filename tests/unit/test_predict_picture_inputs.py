"""``rnncls predict``'s standard input for a picture run, read without TensorFlow
(rnncls.predict.InputReader.stdin): .npy streams of one array or several, one path a
line (tests/cli/test_predict.py checks the errors of input that is neither)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rnncls.datasets.description import DataSet
from rnncls.errors import InputError
from rnncls.predict import InputReader

PICTURES = DataSet("pictures", "folder", (2, 3, 1), ("a", "b"))


def npy(*arrays: np.ndarray) -> bytes:
    stream = io.BytesIO()
    for array in arrays:
        np.save(stream, array)
    return stream.getvalue()


def read(raw: bytes, failures: list[str] | None = None) -> list[tuple[str, list, int | None]]:
    found = InputReader(PICTURES, failures).stdin(raw)
    return [
        (source, picture[..., 0].tolist(), label)
        for group, sources, labels in found
        for picture, source, label in zip(group, sources, labels, strict=True)
    ]


def test_a_npy_stream_of_one_picture_then_a_stack() -> None:
    one = np.arange(6, dtype=np.uint8).reshape(2, 3)
    stack = np.stack([one * 2, one * 3])
    assert read(npy(one, stack)) == [
        ("<stdin>", [[0, 1, 2], [3, 4, 5]], None),
        ("<stdin, array 2>[0]", [[0, 2, 4], [6, 8, 10]], None),
        ("<stdin, array 2>[1]", [[0, 3, 6], [9, 12, 15]], None),
    ]


def test_one_path_a_line_blank_lines_and_spaces_skipped(tmp_path: Path) -> None:
    for name, level in (("x.png", 7), ("y.png", 9)):
        Image.fromarray(np.full((2, 3), level, np.uint8), "L").save(tmp_path / name)
    (tmp_path / "b").mkdir()
    Image.fromarray(np.full((2, 3), 11, np.uint8), "L").save(tmp_path / "b" / "z.png")
    raw = f"  {tmp_path / 'x.png'}  \n\n{tmp_path / 'y.png'}\r\n{tmp_path / 'b'}\n".encode()
    assert read(raw) == [
        (str(tmp_path / "x.png"), [[7] * 3] * 2, None),
        (str(tmp_path / "y.png"), [[9] * 3] * 2, None),
        (str(tmp_path / "b" / "z.png"), [[11] * 3] * 2, 1),  # a folder named after a class
    ]
    failures: list[str] = []
    assert read(f"{tmp_path / 'gone.png'}\n{tmp_path / 'x.png'}".encode(), failures)[0][0] == (
        str(tmp_path / "x.png")
    )
    assert failures == [f"input not found: {tmp_path / 'gone.png'}"]


def test_a_json_line_is_a_path_for_a_picture_run() -> None:
    """Only a series run reads JSON arrays; for pictures the line is a file name."""
    with pytest.raises(InputError) as caught:
        read(b"[1, 2, 3]\n")
    assert str(caught.value) == "input not found: [1, 2, 3]"
