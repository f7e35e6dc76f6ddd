"""The plain RNN (rnncls/cells/simple_rnn.py, Keras's SimpleRNN) through a whole run of
49 steps."""

from __future__ import annotations

import pytest
from checks import assert_padding_is_invisible, assert_trains_resumes_exports_and_serves

pytestmark = pytest.mark.tensorflow


def test_a_padded_sequence_ends_where_it_ends() -> None:
    assert_padding_is_invisible("simple_rnn")


def test_a_run_trains_resumes_exports_and_serves(tmp_path) -> None:
    assert_trains_resumes_exports_and_serves(tmp_path, ["model.cell='simple_rnn'"])
