"""The networks of [model]: each cell, stacked, bidirectional, with dropout."""

from __future__ import annotations

import numpy as np
import pytest

from rnncls.config_keys import ModelConfig

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


def test_the_seeds_network():
    from rnncls.model import build_model

    model = build_model(ModelConfig(hidden_units=5, num_classes=10))
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    logits = model(np.zeros((3, 28, 28), np.float32))
    assert tuple(logits.shape) == (3, 10)
    lstm = model.get_layer("lstm")
    assert lstm.units == 5 and not lstm.return_sequences
    assert [layer.name for layer in model.layers] == ["images", "lstm", "logits"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, False), (3, True)])
def test_parameter_count_follows_the_cells_equations(cell, layers, bidirectional):
    from rnncls.model import build_model

    units, directions = 6, 2 if bidirectional else 1
    config = ModelConfig(cell=cell, hidden_units=units, layers=layers, bidirectional=bidirectional)
    model = build_model(config)
    expected, inputs = 0, FEATURES
    for _ in range(layers):
        expected += directions * recurrent_parameters(cell, inputs, units)
        inputs = directions * units
    expected += inputs * 10 + 10  # the dense head
    assert model.count_params() == expected
    assert tuple(model(np.zeros((2, 28, 28), np.float32)).shape) == (2, 10)


def test_dropout_sits_after_each_recurrent_layer_and_acts_only_in_training():
    from rnncls.model import build_model

    config = ModelConfig(hidden_units=16, layers=2, dropout=0.5)
    model = build_model(config)
    names = [layer.name for layer in model.layers]
    assert names == ["images", "lstm_1", "dropout_1", "lstm_2", "dropout_2", "logits"]
    images = np.random.default_rng(0).random((8, 28, 28), dtype=np.float32)
    inference = [model(images, training=False).numpy() for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    training = [model(images, training=True).numpy() for _ in range(2)]
    assert not np.array_equal(training[0], training[1])
    assert not np.array_equal(training[0], inference[0])


def test_no_dropout_layer_when_dropout_is_zero():
    from rnncls.model import build_model

    model = build_model(ModelConfig(layers=2, hidden_units=4))
    assert not [layer for layer in model.layers if "dropout" in layer.name]
