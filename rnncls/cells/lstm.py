"""The LSTM (Hochreiter & Schmidhuber 1997), Keras's layer: the seed's cell. Its one
option, the start of its gate biases, is ``model.forget_bias`` (``unit`` as Keras, or
``chrono``: :class:`rnncls.model.ChronoBias`). On the CPU the hand-written passes train it
(rnncls.lstm_pass for the seed's 28 rows, rnncls.lstm_loop for long sequences); on a GPU,
cuDNN."""

from __future__ import annotations

from typing import Any

from rnncls.cells import Cell


def layer(model: Any, options: Any, steps: int, **arguments: Any) -> Any:
    import keras

    if model.forget_bias == "chrono":
        from rnncls.model import ChronoBias

        arguments.update(unit_forget_bias=False, bias_initializer=ChronoBias(steps))
    return keras.layers.LSTM(model.hidden_units, **arguments)


CELL = Cell("lstm", "Keras's LSTM", layer, cudnn=True, lstm_passes=True, rank=0)
