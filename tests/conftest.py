"""Shared fixtures: tiny synthetic data sets in the MNIST layout, made in tmp_path."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

REAL_MNIST = Path(os.environ.get("RNNCLS_DATA_DIR", "../shared/data/mnist"))


def idx_images(images: np.ndarray) -> bytes:
    count, rows, cols = images.shape
    return struct.pack(">IIII", 0x803, count, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


def make_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k lights row band k, plus a little noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = rng.integers(0, 40, (count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 * label + 4 : 2 * label + 7, 4:24] = 250
    return images, labels


def write_mnist(folder: Path, train: int = 120, test: int = 40, gz: bool = True) -> Path:
    """The four IDX files of a small data set in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    opener = gzip.open if gz else open
    for part, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = make_digits(count, seed)
        with opener(folder / f"{part}-images-idx3-ubyte{suffix}", "wb") as handle:
            handle.write(idx_images(images))
        with opener(folder / f"{part}-labels-idx1-ubyte{suffix}", "wb") as handle:
            handle.write(idx_labels(labels))
    return folder


TINY_SETTINGS = [
    "model.hidden_units=8",
    "train.batch_size=16",
    "train.steps=6",
    "train.eval_every=3",
    "data.validation_size=20",
]


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "mnist")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, with no data-set environment leaking in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RNNCLS_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path
