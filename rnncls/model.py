"""The model: the only module that names layers."""

from __future__ import annotations

from typing import Any

import keras

from rnncls.config_keys import ModelConfig, SequenceConfig
from rnncls.data import IMAGE_SIZE
from rnncls.sequence import describe, is_identity, reading_indices, unrolled

CELL_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
}
HEAD = "logits"
READING = "reading"


@keras.saving.register_keras_serializable(package="rnncls")
class SequenceReading(keras.layers.Layer):
    """Images (n, 28, 28) to the sequences (n, steps, features) the recurrent layers
    read: one gather of the row-major pixels, with the indices of
    :func:`rnncls.sequence.reading_indices` stored in the layer's config, so that a saved
    model reads its order whatever later code would draw from the seed."""

    def __init__(self, indices: list[list[int]], description: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.indices = [list(map(int, row)) for row in indices]
        self.description = description
        self.steps, self.features = len(self.indices), len(self.indices[0])

    def call(self, images: Any) -> Any:
        flat = keras.ops.reshape(images, (-1, IMAGE_SIZE * IMAGE_SIZE))
        order = keras.ops.convert_to_tensor([i for row in self.indices for i in row], dtype="int32")
        picked = keras.ops.take(flat, order, axis=1)
        return keras.ops.reshape(picked, (-1, self.steps, self.features))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], self.steps, self.features)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "indices": self.indices, "description": self.description}


def recurrent_layer_name(config: ModelConfig, index: int) -> str:
    """``lstm`` for the seed's single layer (as in every run before stacking existed),
    ``gru_2`` for the second of several GRU layers."""
    return config.cell if config.layers == 1 else f"{config.cell}_{index + 1}"


def build_model(
    config: ModelConfig, sequence: SequenceConfig | None = None, *, gpu: bool = False
) -> keras.Model:
    """Recurrent layers over the image read as a sequence (rows of 28 pixels in [0, 1]
    unless ``sequence`` says otherwise), and a dense layer of ``num_classes`` logits on
    the last layer's last output.

    The model takes 28x28 images whatever the reading: for any order but rows, its first
    layer (:class:`SequenceReading`) turns them into the sequence. ``layers`` cells of
    ``hidden_units`` are stacked (each but the last returns its whole sequence);
    ``bidirectional`` reads each layer's input both ways and joins the two outputs;
    ``dropout`` drops units of each layer's output while training, so between layers
    and before the head. ``gpu`` builds the layers as Keras's cuDNN kernels take them.
    """
    sequence = sequence or SequenceConfig()
    images = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), dtype="float32", name="images")
    cell_layer = CELL_LAYERS[config.cell]
    features = images
    if not is_identity(sequence):
        indices = reading_indices(sequence).tolist()
        features = SequenceReading(indices, describe(sequence), name=READING)(features)
    unroll = unrolled(config, sequence, gpu)
    for index in range(config.layers):
        name = recurrent_layer_name(config, index)
        layer = cell_layer(
            config.hidden_units,
            unroll=unroll,
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
