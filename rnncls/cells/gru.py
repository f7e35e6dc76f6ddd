"""The GRU (Cho et al. 2014), Keras's layer (reset after the product, as cuDNN's)."""

from __future__ import annotations

from typing import Any

from rnncls.cells import Cell


def layer(model: Any, options: Any, steps: int, **arguments: Any) -> Any:
    import keras

    return keras.layers.GRU(model.hidden_units, **arguments)


CELL = Cell("gru", "Keras's GRU", layer, cudnn=True, rank=1)
