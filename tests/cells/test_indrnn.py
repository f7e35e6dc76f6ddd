"""IndRNN (rnncls/cells/indrnn.py): its step as the paper writes it, the bound on its
recurrent weights, its batch normalisation, masks, and a whole run."""

from __future__ import annotations

import numpy as np
import pytest
from checks import (
    assert_layer_follows,
    assert_padding_is_invisible,
    assert_refused,
    assert_sequence_pass_follows_keras,
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
    assert_layer_follows("indrnn", {"batch_norm": "none"}, indrnn)


def test_the_own_training_pass_follows_keras_loop() -> None:
    """Outputs and gradients of IndRNN's own pass (rnncls/cells/own_pass.py) against
    Keras's loop over the step and autodiff; its normalisation is off, as the pass
    concerns the recurrence (a "states" layer normalises after it)."""
    assert_sequence_pass_follows_keras("indrnn", {"batch_norm": "none"})


@pytest.mark.parametrize(
    "batch_norm, own_pass", [("states", True), ("none", True), ("inputs", False)]
)
def test_the_own_pass_trains_unless_the_input_is_normalised(batch_norm, own_pass) -> None:
    """The pass projects the input itself: a batch norm of the input (in ``project``)
    trains through Keras's loop, and the training path says so."""
    from rnncls import training_path
    from rnncls.config import load_config
    from rnncls.datasets.idx import MNIST

    layer = cell_layer("indrnn", 5, steps=6, options={"batch_norm": batch_norm})
    assert (layer.cell.sequence_pass is not None) is own_pass
    config = load_config(overrides=["model.cell='indrnn'", f"indrnn.batch_norm='{batch_norm}'"])
    assert training_path.own_pass(config, MNIST) is own_pass


def test_batch_norm_normalises_the_projected_input_over_batch_and_steps() -> None:
    """In training, each unit's projected input has mean 0 and variance 1 over the batch
    and the steps (batch norm's start: scale 1, shift 0); with u = 0 the output is its relu."""
    rng = np.random.default_rng(2)
    sequences = rng.normal(2.0, 3.0, size=(4, 6, 3)).astype("float32")
    layer = cell_layer("indrnn", 5, steps=6, options={"batch_norm": "inputs"})
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
    layer = cell_layer("indrnn", 5, steps=6, options={"batch_norm": "inputs"})
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


def test_batch_norms_moving_averages_keep_up_as_pytorchs_do() -> None:
    """Each training batch moves the moving mean and variance a tenth of the way to the
    batch's own (PyTorch's momentum of 0.1, the authors' code): after 20 batches they
    hold 1 - 0.9 ** 20 = 88 % of the way from their start (0 and 1). Keras's default
    (0.99) holds 18 % there, and at 784 steps a lagging mean adds up in every state: a
    2-layer sMNIST run at step 300 read 46 % of the test digits right with its batches'
    statistics and 8 % with its moving ones."""
    rng = np.random.default_rng(5)
    sequences = rng.normal(2.0, 3.0, size=(4, 6, 3)).astype("float32")
    layer = cell_layer("indrnn", 5, steps=6, options={"batch_norm": "inputs"})
    layer(sequences)
    for _ in range(20):
        layer(sequences, training=True)
    projected = sequences.astype("float64") @ layer.cell.kernel.numpy() + layer.cell.bias.numpy()
    mean, variance = projected.mean(axis=(0, 1)), projected.var(axis=(0, 1))
    moved = 1 - 0.9**20
    norm = layer.cell.normalization
    np.testing.assert_allclose(norm.moving_mean.numpy(), moved * mean, rtol=1e-4)
    np.testing.assert_allclose(norm.moving_variance.numpy(), 1 + moved * (variance - 1), rtol=1e-4)


def _states_layer(units: int, steps: int, **kw):
    """A "states" layer (the default), built, its weights drawn, with numpy's outputs."""
    rng = np.random.default_rng(6)
    sequences = rng.normal(1.0, 2.0, size=(4, steps, 3)).astype("float32")
    layer = cell_layer("indrnn", units, steps=steps, **kw)
    layer(sequences)
    weights = {}
    for variable in layer.cell.trainable_weights:
        value = rng.uniform(0.1, 0.9, size=variable.shape).astype("float32")
        variable.assign(value)
        weights[variable.name] = value
    return layer, sequences, indrnn(weights, sequences.astype("float64"))


def test_states_are_normalised_over_batch_and_steps_in_training() -> None:
    layer, sequences, states = _states_layer(5, 6)
    mean, variance = states.mean(axis=(0, 1)), states.var(axis=(0, 1))
    expected = (states - mean) / np.sqrt(variance + 1e-3)
    np.testing.assert_allclose(np.asarray(layer(sequences, training=True)), expected, atol=1e-4)


def test_the_last_state_is_normalised_over_the_batch_where_the_head_reads_it() -> None:
    layer, sequences, states = _states_layer(5, 6, return_sequences=False)
    last = states[:, -1]
    expected = (last - last.mean(axis=0)) / np.sqrt(last.var(axis=0) + 1e-3)
    np.testing.assert_allclose(np.asarray(layer(sequences, training=True)), expected, atol=1e-4)
    moving = layer.normalization.moving_mean.numpy()
    np.testing.assert_allclose(moving, 0.1 * last.mean(axis=0), rtol=1e-4)  # a tenth of the way


def test_in_inference_the_states_are_normalised_by_the_moving_averages() -> None:
    layer, sequences, states = _states_layer(5, 6)
    rng = np.random.default_rng(7)
    norm = layer.normalization
    mean, variance = rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)
    norm.moving_mean.assign(mean.astype("float32"))
    norm.moving_variance.assign(variance.astype("float32"))
    expected = (states - mean) / np.sqrt(variance + 1e-3)
    np.testing.assert_allclose(np.asarray(layer(sequences, training=False)), expected, atol=1e-4)


def test_padded_steps_do_not_count_in_the_states_statistics() -> None:
    """Two sequences, the second masked after 3 of 6 steps: the mean and variance are
    those of the 9 real steps."""
    layer, sequences, states = _states_layer(5, 6)
    mask = np.ones((4, 6), dtype=bool)
    mask[1, 3:] = False
    real = states[mask]
    expected = (states - real.mean(axis=0)) / np.sqrt(real.var(axis=0) + 1e-3)
    got = np.asarray(layer(sequences, mask=mask, training=True))
    np.testing.assert_allclose(got[mask], expected[mask], atol=1e-4)


def test_backwards_the_padded_steps_do_not_count_either() -> None:
    """In a Bidirectional layer the backward copy's states come out last step first:
    the statistics are still those of the real steps, each sequence read backwards."""
    import keras

    layer, sequences, _ = _states_layer(5, 6)
    both = keras.layers.Bidirectional(layer)
    mask = np.ones((4, 6), dtype=bool)
    mask[1, 2:] = False
    mask[3, 4:] = False
    both(sequences, mask=mask, training=True)
    backward = both.backward_layer
    weights = {v.name: v.numpy() for v in backward.cell.trainable_weights}
    real = [
        indrnn(weights, sequence[steps][None, ::-1].astype("float64"))[0]
        for sequence, steps in zip(sequences, mask, strict=True)
    ]
    mean = np.concatenate(real).mean(axis=0)
    # one training call moves the moving mean a tenth of the way from 0
    np.testing.assert_allclose(backward.normalization.moving_mean.numpy(), 0.1 * mean, rtol=1e-4)


@pytest.mark.parametrize("batch_norm", ["states", "inputs"])
def test_a_padded_sequence_ends_where_it_ends_with_batch_norm(batch_norm) -> None:
    assert_padding_is_invisible("indrnn", {"batch_norm": batch_norm})


@pytest.mark.parametrize("steps, max_gain", [(784, 2.0), (10, 3.0)])
def test_the_recurrent_weights_stay_within_max_gain_to_the_one_over_steps(steps, max_gain):
    """The bound the paper sets (|u| <= gain ** (1/T)) holds from the start and after a
    step of the optimizer that pushes far past it; the layer the head reads starts at
    long memory, at least (1 / gain) ** (1/T)."""
    import keras

    limit = max_gain ** (1 / steps)
    options = {"max_gain": max_gain, "batch_norm": "none"}
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
    assert_padding_is_invisible("indrnn", {"batch_norm": "none"})


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("indrnn.max_gain", "0.5", "must be at least 1.0"),
    ],
)
def test_a_bad_option_is_one_line(key, value, problem) -> None:
    assert_refused(key, value, problem)


def test_a_run_trains_resumes_exports_and_serves(tmp_path) -> None:
    """With batch norm: its moving statistics are part of the checkpoint."""
    settings = ["model.cell='indrnn'", "model.layers=2", "indrnn.max_gain=4.0"]
    assert_trains_resumes_exports_and_serves(tmp_path, settings)


@pytest.mark.parametrize(
    "value, line",
    [
        (
            "after",
            "indrnn.batch_norm = 'after' (in --set indrnn.batch_norm=after): "
            "must be one of states, inputs, none",
        ),
        # a config from before the choice was a string (true meant "inputs")
        (
            "true",
            "indrnn.batch_norm = True (in --set indrnn.batch_norm=true): "
            "expected a string, got a boolean",
        ),
    ],
)
def test_batch_norm_takes_one_of_its_three_names(value, line) -> None:
    from conftest import assert_one_line_error, invoke

    result = invoke("config", "show", "--set", f"indrnn.batch_norm={value}")
    assert assert_one_line_error(result, 2) == f"error: {line}"
