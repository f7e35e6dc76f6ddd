"""The model: the only module that names layers."""

from __future__ import annotations

import keras

from rnncls.config import ModelConfig
from rnncls.data import IMAGE_SIZE

CELL_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
}
HEAD = "logits"


def recurrent_layer_name(config: ModelConfig, index: int) -> str:
    """``lstm`` for the seed's single layer (as in every run before stacking existed),
    ``gru_2`` for the second of several GRU layers."""
    return config.cell if config.layers == 1 else f"{config.cell}_{index + 1}"


def build_model(config: ModelConfig) -> keras.Model:
    """Recurrent layers over 28 time steps (rows) of 28 features (pixels in [0, 1]), and a
    dense layer of ``num_classes`` logits on the last layer's last output.

    ``layers`` cells of ``hidden_units`` are stacked (each but the last returns its whole
    sequence); ``bidirectional`` reads each layer's input both ways and joins the two
    outputs; ``dropout`` drops units of each layer's output while training, so between
    layers and before the head.
    """
    images = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), dtype="float32", name="images")
    cell_layer = CELL_LAYERS[config.cell]
    features = images
    for index in range(config.layers):
        name = recurrent_layer_name(config, index)
        layer = cell_layer(
            config.hidden_units,
            unroll=config.unroll,
            return_sequences=index < config.layers - 1,
            name=name,
        )
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{name}")
        features = layer(features)
        if config.dropout:
            features = keras.layers.Dropout(config.dropout, name=f"dropout_{index + 1}")(features)
    logits = keras.layers.Dense(config.num_classes, name=HEAD)(features)
    return keras.Model(images, logits, name="rnncls")
