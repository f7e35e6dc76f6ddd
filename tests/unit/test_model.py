"""The networks of [model]: each cell, stacked, bidirectional, with dropout."""

from __future__ import annotations

import numpy as np
import pytest

from rnncls.config_keys import ModelConfig, SequenceConfig
from rnncls.datasets.description import DataSet
from rnncls.datasets.idx import MNIST

# Every test here builds or trains a Keras model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow

FEATURES = 28


def recurrent_parameters(cell: str, inputs: int, units: int) -> int:
    """Weights of one Keras recurrent layer, from the cells' equations: a kernel and a
    recurrent kernel per gate, and a bias per gate (GRU's reset_after has two)."""
    products = inputs * units + units * units
    if cell == "lstm":
        return 4 * (products + units)
    if cell == "gru":
        return 3 * (products + 2 * units)
    return products + units


def build(config: ModelConfig, dataset: DataSet = MNIST):
    from rnncls.model import build_model

    return build_model(config, SequenceConfig(), dataset)


def test_the_seeds_network():
    from rnncls.model import dataset_of, network_of

    model = build(ModelConfig(hidden_units=5))
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    logits = model(np.zeros((3, 28, 28, 1), np.float32))
    assert tuple(logits.shape) == (3, 10)
    network = network_of(model)
    lstm = network.get_layer("lstm")
    assert lstm.units == 5 and not lstm.return_sequences
    assert [layer.name for layer in model.layers] == ["pictures", "scaling", "network"]
    assert [layer.name for layer in network.layers] == ["scaled", "reading", "lstm", "logits"]
    assert dataset_of(model) == MNIST


def test_the_model_scales_raw_pixels_as_training_does():
    """The whole model takes raw pixel values and divides them by the data set's largest
    (255, or 65535 for 16-bit pictures): the network sees what training feeds it."""
    from rnncls.model import network_of

    sixteen_bit = DataSet("pictures", "folder", (3, 2, 1), ("a", "b"), pixel_max=65535)
    model = build(ModelConfig(hidden_units=3), sixteen_bit)
    pictures = np.random.default_rng(0).integers(0, 65536, (4, 3, 2, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        model(pictures).numpy(), network_of(model)(pictures / np.float32(65535)).numpy()
    )
    assert model.output_shape == (None, 2)


def test_a_colour_picture_of_another_size():
    colour = DataSet("pictures", "folder", (6, 4, 3), ("a", "b", "c"))
    model = build(ModelConfig(hidden_units=3), colour)
    assert model.input_shape == (None, 6, 4, 3) and model.output_shape == (None, 3)
    lstm = model.get_layer("network").get_layer("lstm")
    assert lstm.input.shape == (None, 6, 12)  # 6 rows of 4 pixels of 3 values


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, False), (3, True)])
def test_parameter_count_follows_the_cells_equations(cell, layers, bidirectional):
    units, directions = 6, 2 if bidirectional else 1
    config = ModelConfig(cell=cell, hidden_units=units, layers=layers, bidirectional=bidirectional)
    model = build(config)
    expected, inputs = 0, FEATURES
    for _ in range(layers):
        expected += directions * recurrent_parameters(cell, inputs, units)
        inputs = directions * units
    expected += inputs * 10 + 10  # the dense head
    assert model.count_params() == expected
    assert tuple(model(np.zeros((2, 28, 28, 1), np.float32)).shape) == (2, 10)


def test_dropout_sits_after_each_recurrent_layer_and_acts_only_in_training():
    config = ModelConfig(hidden_units=16, layers=2, dropout=0.5)
    model = build(config)
    names = [layer.name for layer in model.get_layer("network").layers]
    assert names == ["scaled", "reading", "lstm_1", "dropout_1", "lstm_2", "dropout_2", "logits"]
    images = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32) * 255
    inference = [model(images, training=False).numpy() for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    training = [model(images, training=True).numpy() for _ in range(2)]
    assert not np.array_equal(training[0], training[1])
    assert not np.array_equal(training[0], inference[0])


def test_no_dropout_layer_when_dropout_is_zero():
    model = build(ModelConfig(layers=2, hidden_units=4))
    assert not [layer for layer in model.get_layer("network").layers if "dropout" in layer.name]


def test_the_chrono_start_of_the_lstm_gates():
    """forget log(u), u in [1, steps - 1]; input its negative; cell and output 0. Keras's
    own start (unit) is a forget bias of 1 and 0 elsewhere."""
    import keras

    from rnncls.model import build_network

    units, sequence = 64, SequenceConfig(order="pixels", pixels_per_step=4)  # 196 steps

    def bias_of(forget_bias: str) -> np.ndarray:
        config = ModelConfig(hidden_units=units, forget_bias=forget_bias)
        network = build_network(config, sequence, MNIST.shape, 10)
        return network.get_layer("lstm").cell.bias.numpy()

    keras.utils.set_random_seed(0)
    bias = bias_of("chrono")
    gate_i, gate_f, gate_c, gate_o = np.split(bias, 4)
    assert gate_f.min() >= 0.0 and gate_f.max() <= np.log(195) + 1e-5
    assert gate_f.std() > 0.5  # drawn, not one value
    np.testing.assert_array_equal(gate_i, -gate_f)
    assert not gate_c.any() and not gate_o.any()
    keras.utils.set_random_seed(0)
    np.testing.assert_array_equal(bias_of("chrono"), bias)
    expected = np.concatenate([np.zeros(units), np.ones(units), np.zeros(2 * units)])
    np.testing.assert_array_equal(bias_of("unit"), expected)


def test_a_chrono_model_saves_and_loads(tmp_path):
    from rnncls.predict import load_keras_model

    model = build(ModelConfig(hidden_units=4, forget_bias="chrono"))
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32) * 255
    model.save(tmp_path / "model.keras")
    loaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(images).numpy(), model(images).numpy(), rtol=1e-6)
