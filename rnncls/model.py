"""The model: the only module that names layers."""

from __future__ import annotations

import keras

from rnncls.config import ModelConfig
from rnncls.data import IMAGE_SIZE


def build_model(config: ModelConfig) -> keras.Model:
    """An LSTM over 28 time steps (rows) of 28 features (pixels in [0, 1]), and a dense
    layer of ``num_classes`` logits on its last output."""
    images = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), dtype="float32", name="images")
    last_output = keras.layers.LSTM(config.hidden_units, unroll=config.unroll, name="lstm")(images)
    logits = keras.layers.Dense(config.num_classes, name="logits")(last_output)
    return keras.Model(images, logits, name="rnncls")
