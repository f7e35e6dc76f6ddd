"""The plain (Elman) recurrent layer, Keras's ``SimpleRNN``: tanh of the input and the
previous state."""

from __future__ import annotations

from typing import Any

from rnncls.cells import Cell


def layer(model: Any, options: Any, steps: int, **arguments: Any) -> Any:
    import keras

    return keras.layers.SimpleRNN(model.hidden_units, **arguments)


CELL = Cell("simple_rnn", "Keras's SimpleRNN", layer, rank=2)
