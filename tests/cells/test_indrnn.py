"""IndRNN (rnncls/cells/indrnn.py): its step as the paper writes it, the bound on its
recurrent weights, its batch normalisation, masks, and a whole run."""

from __future__ import annotations

import numpy as np
import pytest
from checks import (
    assert_layer_follows,
    assert_padding_is_invisible,
    assert_refused,
    assert_trains_resumes_exports_and_serves,
    cell_layer,
)

pytestmark = pytest.mark.tensorflow


def indrnn(weights: dict[str, np.ndarray], sequences: np.ndarray) -> np.ndarray:
    """Li et al. 2018, eq. 2: h = relu(W x + u * h + b), u elementwise."""
    kernel, bias, u = weights["kernel"], weights["bias"], weights["recurrent_weight"]
    h = np.zeros((len(sequences), len(u)))
    result = []
    for x in sequences.transpose(1, 0, 2):
        h = np.maximum(x @ kernel + bias + u * h, 0.0)
        result.append(h)
    return np.stack(result, axis=1)


def test_the_layer_follows_the_papers_equations() -> None:
    assert_layer_follows("indrnn", {"batch_norm": False}, indrnn)


def test_batch_norm_normalises_the_projected_input_over_batch_and_steps() -> None:
    """In training, each unit's projected input has mean 0 and variance 1 over the batch
    and the steps (batch norm's start: scale 1, shift 0); with u = 0 the output is its relu."""
    rng = np.random.default_rng(2)
    sequences = rng.normal(2.0, 3.0, size=(4, 6, 3)).astype("float32")
    layer = cell_layer("indrnn", 5, steps=6, options={"batch_norm": True})
    layer(sequences)
    layer.cell.recurrent_weight.assign(np.zeros(5, "float32"))
    projected = sequences.astype("float64") @ layer.cell.kernel.numpy() + layer.cell.bias.numpy()
    mean = projected.mean(axis=(0, 1))
    variance = projected.var(axis=(0, 1))
    expected = np.maximum((projected - mean) / np.sqrt(variance + 1e-3), 0.0)  # Keras's epsilon
    np.testing.assert_allclose(np.asarray(layer(sequences, training=True)), expected, atol=1e-4)


def test_in_inference_batch_norm_reads_its_moving_averages_at_every_step() -> None:
    """Inference projects each step inside the loop (rnncls/cells/projecting.py); batch
    norm then normalises each unit by its moving mean and variance; with u = 0 the output
    is its relu."""
    rng = np.random.default_rng(4)
    sequences = rng.normal(2.0, 3.0, size=(4, 6, 3)).astype("float32")
    layer = cell_layer("indrnn", 5, steps=6, options={"batch_norm": True})
    layer(sequences)
    layer.cell.recurrent_weight.assign(np.zeros(5, "float32"))
    norm = layer.cell.normalization
    mean, variance = rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)
    gamma, beta = rng.uniform(0.5, 1.5, size=5), rng.normal(size=5)
    for variable, value in zip(
        (norm.moving_mean, norm.moving_variance, norm.gamma, norm.beta),
        (mean, variance, gamma, beta),
        strict=True,
    ):
        variable.assign(value.astype("float32"))
    projected = sequences.astype("float64") @ layer.cell.kernel.numpy() + layer.cell.bias.numpy()
    normalised = gamma * (projected - mean) / np.sqrt(variance + 1e-3) + beta
    expected = np.maximum(normalised, 0.0)
    np.testing.assert_allclose(np.asarray(layer(sequences, training=False)), expected, atol=1e-4)


@pytest.mark.parametrize("steps, max_gain", [(784, 2.0), (10, 3.0)])
def test_the_recurrent_weights_stay_within_max_gain_to_the_one_over_steps(steps, max_gain):
    """The bound the paper sets (|u| <= gain ** (1/T)) holds from the start and after a
    step of the optimizer that pushes far past it; the layer the head reads starts at
    long memory, at least (1 / gain) ** (1/T)."""
    import keras

    limit = max_gain ** (1 / steps)
    options = {"max_gain": max_gain, "batch_norm": False}
    hidden = cell_layer("indrnn", 64, steps, options, return_sequences=True)
    last = cell_layer("indrnn", 64, steps, options, return_sequences=False)
    sequences = np.ones((2, 3, 1), "float32")
    hidden(sequences), last(sequences)
    start_hidden = hidden.cell.recurrent_weight.numpy()
    start_last = last.cell.recurrent_weight.numpy()
    assert 0.0 <= start_hidden.min() and start_hidden.max() <= limit
    assert (1 / max_gain) ** (1 / steps) <= start_last.min() and start_last.max() <= limit
    weight = last.cell.recurrent_weight
    optimizer = keras.optimizers.SGD(learning_rate=10.0)
    optimizer.apply([np.where(np.arange(64) % 2, -1.0, 1.0).astype("float32")], [weight])
    np.testing.assert_allclose(np.abs(weight.numpy()), limit, rtol=1e-6)


def test_a_padded_sequence_ends_where_it_ends() -> None:
    assert_padding_is_invisible("indrnn", {"batch_norm": False})


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("indrnn.max_gain", "0.5", "must be at least 1.0"),
        ("indrnn.batch_norm", "1", "expected true or false, got an integer"),
    ],
)
def test_a_bad_option_is_one_line(key, value, problem) -> None:
    assert_refused(key, value, problem)


def test_a_run_trains_resumes_exports_and_serves(tmp_path) -> None:
    """With batch norm: its moving statistics are part of the checkpoint."""
    settings = ["model.cell='indrnn'", "model.layers=2", "indrnn.max_gain=4.0"]
    assert_trains_resumes_exports_and_serves(tmp_path, settings)
