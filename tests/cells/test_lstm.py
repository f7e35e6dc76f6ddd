"""The LSTM (rnncls/cells/lstm.py, Keras's layer) through a whole run of 49 steps, with
its chrono start (the cause of sMNIST's collapse and its fix: tests/unit/test_long_memory.py)."""

from __future__ import annotations

import pytest
from checks import assert_padding_is_invisible, assert_trains_resumes_exports_and_serves

pytestmark = pytest.mark.tensorflow


def test_a_padded_sequence_ends_where_it_ends() -> None:
    assert_padding_is_invisible("lstm")


def test_a_run_trains_resumes_exports_and_serves(tmp_path) -> None:
    settings = ["model.cell='lstm'", "model.forget_bias='chrono'", "train.clip='global'"]
    assert_trains_resumes_exports_and_serves(tmp_path, [*settings, "train.clipnorm=1.0"])
