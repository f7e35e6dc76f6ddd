"""The model: the only module that names layers.

``pictures`` (n, height, width, channels) of raw pixel values -> :class:`PixelScaling`
(divides by the data set's largest pixel value, and carries the data set's description)
-> the ``network`` (a model of its own, on pictures in 0..1: the reading, the recurrent
layers, the dense head). Training feeds the network scaled pictures (augmentation moves
them first); everything else feeds the whole model raw pixels, so ONNX, ``predict`` and
``serve`` apply the scaling with nothing else to carry.

A series model takes ``series`` (n, steps, channels) of any length, NaN where a series
has no value (after its end, at a missing value): :class:`SeriesScaling` standardizes
each channel with the training split's mean and deviation, :class:`SeriesReading` groups
the samples into steps and says which steps have values, and every recurrent layer reads
with that mask: a series padded beside longer ones ends where it ends.
"""

from __future__ import annotations

import json
import math
from typing import Any

import keras

from rnncls.cells import CELLS, register_keras_objects
from rnncls.config_keys import ModelConfig, SequenceConfig
from rnncls.datasets.description import DataSet
from rnncls.sequence import (
    describe,
    is_identity,
    is_series,
    reading_indices,
    sequence_shape,
    unrolled,
)

# The cells' own layers, so that a saved model holding them loads.
register_keras_objects()

HEAD = "logits"
READING = "reading"
CONVOLUTION = "conv"
SCALING = "scaling"
NETWORK = "network"


@keras.saving.register_keras_serializable(package="rnncls")
class SequenceReading(keras.layers.Layer):
    """Pictures (n, height, width[, channels]) to the sequences (n, steps, features) the
    recurrent layers read: one gather of the row-major values, with the indices of
    :func:`rnncls.sequence.reading_indices` stored in the layer's config, so that a saved
    model reads its order whatever later code would draw from the seed."""

    def __init__(self, indices: list[list[int]], description: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.indices = [list(map(int, row)) for row in indices]
        self.description = description
        self.steps, self.features = len(self.indices), len(self.indices[0])

    def build(self, input_shape: Any) -> None:
        self.values = math.prod(input_shape[1:])

    def call(self, images: Any) -> Any:
        flat = keras.ops.reshape(images, (-1, self.values))
        order = keras.ops.convert_to_tensor([i for row in self.indices for i in row], dtype="int32")
        picked = keras.ops.take(flat, order, axis=1)
        return keras.ops.reshape(picked, (-1, self.steps, self.features))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], self.steps, self.features)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "indices": self.indices, "description": self.description}


@keras.saving.register_keras_serializable(package="rnncls")
class PixelScaling(keras.layers.Layer):
    """Raw pixel values (0..255, or 0..65535 for 16-bit data) to the 0..1 the network
    reads; its config holds the data set's description (shape, classes, preparation),
    so a model file says what it reads and what its outputs are."""

    def __init__(self, pixel_max: int, dataset: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pixel_max = int(pixel_max)
        self.dataset = dataset

    def call(self, pictures: Any) -> Any:
        return pictures / float(self.pixel_max)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pixel_max": self.pixel_max, "dataset": self.dataset}


@keras.saving.register_keras_serializable(package="rnncls")
class SeriesScaling(keras.layers.Layer):
    """Raw series (n, steps, channels) standardized channel by channel with the training
    split's mean and standard deviation; a missing value (NaN) stays missing. Its config
    holds the data set's description, as :class:`PixelScaling`'s does."""

    def __init__(
        self, mean: list[float], std: list[float], dataset: str = "", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.mean, self.std, self.dataset = list(mean), list(std), dataset

    def call(self, series: Any) -> Any:
        mean = keras.ops.convert_to_tensor(self.mean, dtype="float32")
        std = keras.ops.convert_to_tensor(self.std, dtype="float32")
        return (series - mean) / std

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "std": self.std, "dataset": self.dataset}


@keras.saving.register_keras_serializable(package="rnncls")
class SeriesReading(keras.layers.Layer):
    """Standardized series (n, T, channels), NaN where there is no value, as the steps
    the recurrent layers read: ``samples_per_step`` samples a step (the end padded), and
    which steps have any value. Returns (values, mask): values (n, ceil(T/k), k*channels)
    with a missing value as 0 (the training mean), mask (n, ceil(T/k)) boolean."""

    def __init__(self, samples_per_step: int, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.samples_per_step, self.channels = int(samples_per_step), int(channels)

    def call(self, series: Any) -> Any:
        ops, per_step = keras.ops, self.samples_per_step
        if per_step > 1:
            short = (-ops.shape(series)[1]) % per_step
            series = ops.pad(series, [[0, 0], [0, short], [0, 0]], constant_values=float("nan"))
        grouped = ops.reshape(series, (ops.shape(series)[0], -1, per_step * self.channels))
        missing = ops.isnan(grouped)
        # where(isnan(...)) directly: the ONNX converter then keeps a Where (NaN-safe),
        # where for another condition it would multiply by 0 (NaN * 0 is NaN)
        values = ops.where(missing, ops.zeros_like(grouped), grouped)
        return values, ops.logical_not(ops.all(missing, axis=-1))

    def compute_output_spec(self, series: Any) -> Any:
        steps = series.shape[1]
        if steps is not None:
            steps = -(-steps // self.samples_per_step)
        features = self.samples_per_step * self.channels
        return (
            keras.KerasTensor((series.shape[0], steps, features), dtype="float32"),
            keras.KerasTensor((series.shape[0], steps), dtype="bool"),
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return {**config, "samples_per_step": self.samples_per_step, "channels": self.channels}


@keras.saving.register_keras_serializable(package="rnncls")
class ChronoBias(keras.initializers.Initializer):
    """The chrono initialisation of an LSTM's bias (Tallec & Ollivier, "Can recurrent
    neural networks warp time?", ICLR 2018), in Keras's gate order (input, forget, cell,
    output): forget ``log(u)``, ``u`` uniform in [1, steps - 1], input its negative, the
    others 0. A unit then starts with a forget gate of ``1 - 1/u``: it remembers over
    about ``u`` steps, where Keras's forget bias of 1 (a gate of 0.73) forgets an input
    within some 20 steps, and its small input gate keeps the cell state from drifting
    over a long sequence."""

    def __init__(self, steps: int, seed: Any = None) -> None:
        self.steps = int(steps)
        self.seed = seed
        longest = float(max(self.steps - 1, 1))
        self._uniform = keras.initializers.RandomUniform(1.0, longest, seed=seed)

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        units = int(shape[0]) // 4
        forget = keras.ops.log(self._uniform((units,), dtype=dtype))
        zeros = keras.ops.zeros((2 * units,), dtype=dtype)
        return keras.ops.concatenate([-forget, forget, zeros])

    def get_config(self) -> dict[str, Any]:
        return {"steps": self.steps, "seed": self.seed}


def recurrent_layer_name(config: ModelConfig, index: int) -> str:
    """``lstm`` for the seed's single layer (as in every run before stacking existed),
    ``gru_2`` for the second of several GRU layers."""
    return config.cell if config.layers == 1 else f"{config.cell}_{index + 1}"


def build_model(
    config: ModelConfig,
    sequence: SequenceConfig,
    dataset: DataSet,
    *,
    gpu: bool = False,
    cell_options: Any = None,
) -> keras.Model:
    """The whole model for ``dataset``'s pictures or series: the scaling
    (:class:`PixelScaling`, :class:`SeriesScaling`), then the network
    (:func:`build_network`)."""
    description = json.dumps(dataset.without_location().to_json(), ensure_ascii=False)
    if dataset.is_series:
        inputs = keras.Input(shape=(None, dataset.channels), dtype="float32", name="series")
        scaling = SeriesScaling(dataset.mean, dataset.std, description, name=SCALING)
    else:
        inputs = keras.Input(shape=dataset.shape, dtype="float32", name="pictures")
        scaling = PixelScaling(dataset.pixel_max, description, name=SCALING)
    network = build_network(
        config, sequence, dataset.shape, dataset.num_classes, gpu=gpu, cell_options=cell_options
    )
    return keras.Model(inputs, network(scaling(inputs)), name="rnncls")


def build_network(
    config: ModelConfig,
    sequence: SequenceConfig,
    shape: tuple[int, int, int],
    num_classes: int,
    *,
    gpu: bool = False,
    cell_options: Any = None,
) -> keras.Model:
    """Recurrent layers over a picture in 0..1 read as a sequence (``sequence``: rows,
    columns or pixels), and a dense layer of ``num_classes`` logits on the last layer's
    last output.

    The first layer (``reading``) turns the picture into the sequence: a reshape of each
    row for rows, else one gather (:class:`SequenceReading`). ``layers`` cells of
    ``hidden_units`` are stacked (each but the last returns its whole sequence);
    ``bidirectional`` reads each layer's input both ways and joins the two outputs;
    ``dropout`` drops units of each layer's output while training, so between layers
    and before the head. ``gpu`` builds the layers as Keras's cuDNN kernels take them.
    """
    mask = None
    if is_series(shape):
        pictures = keras.Input(shape=(None, shape[-1]), dtype="float32", name="scaled")
        reading = SeriesReading(sequence.samples_per_step, shape[-1], name=READING)
        features, mask = reading(pictures)
    elif is_identity(sequence):
        pictures = keras.Input(shape=shape, dtype="float32", name="scaled")
        features = keras.layers.Reshape(sequence_shape(sequence, shape), name=READING)(pictures)
    else:
        pictures = keras.Input(shape=shape, dtype="float32", name="scaled")
        indices = reading_indices(sequence, shape).tolist()
        reading = SequenceReading(indices, describe(sequence, shape), name=READING)
        features = reading(pictures)
    for index in range(config.conv_layers):
        features = keras.layers.Conv1D(
            config.conv_filters,
            config.conv_kernel,
            padding="same",  # zeros beyond the ends, as a padded series' missing values are
            activation="relu",
            name=f"{CONVOLUTION}_{index + 1}",
        )(features)
    cell = CELLS[config.cell]
    unroll = unrolled(config, sequence, shape, gpu)
    steps = sequence_shape(sequence, shape)[0]
    for index in range(config.layers):
        name = recurrent_layer_name(config, index)
        layer = cell.layer(
            config,
            cell_options,
            steps,
            unroll=unroll,
            return_sequences=index < config.layers - 1,
            name=name,
        )
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{name}")
        features = layer(features) if mask is None else layer(features, mask=mask)
        if config.dropout:
            features = keras.layers.Dropout(config.dropout, name=f"dropout_{index + 1}")(features)
    logits = keras.layers.Dense(num_classes, name=HEAD)(features)
    return keras.Model(pictures, logits, name=NETWORK)


def cell_options(config: Any) -> Any:
    """A config's options of its cell (its section, ``config.lem``), None for a cell
    without options."""
    return getattr(config, config.model.cell, None)


def network_of(model: keras.Model) -> keras.Model:
    """The network inside a model of :func:`build_model` (scaled pictures in, logits out)."""
    return model.get_layer(NETWORK)


def dataset_of(model: keras.Model) -> DataSet | None:
    """The data set a model file describes, None for a model from before descriptions
    (MNIST's 28x28 digits in 0..1)."""
    try:
        scaling = model.get_layer(SCALING)
    except ValueError:
        return None
    return DataSet.from_json(json.loads(scaling.dataset), "the model's description")
