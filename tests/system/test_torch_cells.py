"""The benchmark's PyTorch cells (bench/torch_cells.py) compute what rnncls's cells do.

``make bench`` times each of rnncls's cells against its authors' PyTorch code; the
comparison means something only if both are the same function. Here each Keras layer of
``rnncls/cells/`` gets random weights, the PyTorch layer gets the same weights (arranged
as the authors arrange them), and both read the same random sequences: every step's
output must agree. Skipped where torch is not installed (CI installs the dev extra only;
``make bench`` adds torch).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.tensorflow

ROOT = Path(__file__).resolve().parents[2]
STEPS, FEATURES, UNITS, BATCH = 7, 2, 5, 3


def torch_cells() -> ModuleType:
    """bench/torch_cells.py, imported from its path (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("torch_cells", ROOT / "bench" / "torch_cells.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def keras_layer(name: str, options: object) -> object:
    """rnncls's layer of cell ``name``: every step's output, built on the test's shapes."""
    from rnncls.cells import CELLS
    from rnncls.config_keys import ModelConfig

    model = dataclasses.replace(ModelConfig(), cell=name, hidden_units=UNITS)
    layer = CELLS[name].layer(model, options, STEPS, return_sequences=True, unroll=False, name=name)
    layer(np.zeros((BATCH, STEPS, FEATURES), dtype="float32"))  # builds
    return layer


def random_weights(layer: object, seed: int) -> dict[str, np.ndarray]:
    """Every weight of the layer's cell drawn anew (a variance stays positive), by name."""
    rng = np.random.default_rng(seed)
    weights = {}
    for variable in layer.cell.weights:
        low = 0.5 if variable.name == "moving_variance" else -0.9
        value = rng.uniform(low, 0.9, size=variable.shape).astype("float32")
        variable.assign(value)
        weights[variable.name] = value
    return weights


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def sequences(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")


def torch_outputs(step, states: list[torch.Tensor], sequence: np.ndarray) -> np.ndarray:
    """Every step's output of ``step(x, *states) -> states`` (the first state is the
    output), run over ``sequence`` (batch-major, as Keras reads it)."""
    outputs = []
    with torch.no_grad():
        for x in tensor(sequence).transpose(0, 1):
            states = list(step(x, *states))
            outputs.append(states[0].numpy())
    return np.stack(outputs, axis=1)


def assert_close(ours: np.ndarray, theirs: np.ndarray) -> None:
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_lem_of_the_authors_code_is_rnncls_lem():
    """rnncls's LEM keeps one bias a gate and its chunks in the order (z's rate, y's rate,
    z's target, y's target); the authors' has a bias on each of its three products and
    the order (y's rate, z's rate, y's target, z's target)."""
    from rnncls.cells.lem import LEMOptions

    cells = torch_cells()
    layer = keras_layer("lem", LEMOptions(dt=0.6))
    weights = random_weights(layer, seed=0)
    theirs = cells.LEM(FEATURES, UNITS, dt=0.6)
    n = UNITS
    # rnncls's columns for each of the authors' chunks of inp2hid (4n) and hid2hid (3n)
    input_order = np.r_[n : 2 * n, 0:n, 3 * n : 4 * n, 2 * n : 3 * n]
    hidden_order = np.r_[n : 2 * n, 0:n, 2 * n : 3 * n]
    cell = theirs.cell
    with torch.no_grad():
        cell.inp2hid.weight.copy_(tensor(weights["kernel"][:, input_order].T))
        cell.inp2hid.bias.copy_(tensor(weights["bias"][input_order]))
        cell.hid2hid.weight.copy_(tensor(weights["recurrent_kernel"][:, hidden_order].T))
        cell.hid2hid.bias.zero_()
        cell.transform_z.weight.copy_(tensor(weights["z_kernel"].T))
        cell.transform_z.bias.zero_()
    inputs = sequences(seed=1)
    ours = np.asarray(layer(inputs))
    zeros = torch.zeros(BATCH, UNITS)
    assert_close(ours, torch_outputs(cell, [zeros, zeros], inputs))
    with torch.no_grad():
        last = theirs(tensor(inputs).transpose(0, 1)).numpy()
    assert_close(ours[:, -1], last)


def test_cornn_of_the_authors_code_is_rnncls_cornn():
    """The authors' one product reads cat(x, z, y); rnncls's its input kernel, then
    [y, z] through its recurrent kernel."""
    from rnncls.cells.cornn import CoRNNOptions

    cells = torch_cells()
    options = CoRNNOptions(dt=0.3, gamma=1.5, epsilon=2.0)
    layer = keras_layer("cornn", options)
    weights = random_weights(layer, seed=2)
    theirs = cells.CoRNN(FEATURES, UNITS, options.dt, options.gamma, options.epsilon)
    recurrent = weights["recurrent_kernel"]  # rows: y's units, then z's
    joined = np.concatenate([weights["kernel"], recurrent[UNITS:], recurrent[:UNITS]])
    with torch.no_grad():
        theirs.cell.i2h.weight.copy_(tensor(joined.T))
        theirs.cell.i2h.bias.copy_(tensor(weights["bias"]))
    inputs = sequences(seed=3)
    ours = np.asarray(layer(inputs))
    zeros = torch.zeros(BATCH, UNITS)
    assert_close(ours, torch_outputs(theirs.cell, [zeros, zeros], inputs))
    with torch.no_grad():
        last = theirs(tensor(inputs).transpose(0, 1)).numpy()
    assert_close(ours[:, -1], last)


@pytest.mark.parametrize("training", [True, False], ids=["batch statistics", "moving averages"])
def test_indrnn_of_the_authors_code_is_rnncls_indrnn(training):
    """The product over time, the batch normalisation (over the batch and the steps while
    training, the moving averages after) and the elementwise recurrence."""
    from rnncls.cells.indrnn import IndRNNOptions

    cells = torch_cells()
    options = IndRNNOptions(max_gain=3.0, batch_norm="inputs")
    layer = keras_layer("indrnn", options)
    weights = random_weights(layer, seed=4)
    theirs = cells.IndRNN(FEATURES, UNITS, STEPS, options.max_gain, options.batch_norm)
    with torch.no_grad():
        theirs.dense.fc.weight.copy_(tensor(weights["kernel"].T))
        theirs.dense.fc.bias.copy_(tensor(weights["bias"]))
        theirs.indrnn.indrnn_cell.weight_hh.copy_(tensor(weights["recurrent_weight"]))
        norm = theirs.norm.bn
        norm.weight.copy_(tensor(weights["gamma"]))
        norm.bias.copy_(tensor(weights["beta"]))
        norm.running_mean.copy_(tensor(weights["moving_mean"]))
        norm.running_var.copy_(tensor(weights["moving_variance"]))
    theirs.train(training)
    inputs = sequences(seed=5)
    ours = np.asarray(layer(inputs, training=training))
    time_major = tensor(inputs).transpose(0, 1)
    with torch.no_grad():
        every_step = theirs.indrnn(theirs.norm(theirs.dense(time_major))).transpose(0, 1)
        theirs.train(training)  # the pass above moved the running averages; start again
        norm.running_mean.copy_(tensor(weights["moving_mean"]))
        norm.running_var.copy_(tensor(weights["moving_variance"]))
        last = theirs(time_major).numpy()
    assert_close(ours, every_step.numpy())
    assert_close(ours[:, -1], last)


@pytest.mark.parametrize("training", [True, False], ids=["batch statistics", "moving averages"])
def test_indrnn_with_its_states_normalised_is_the_reference_with_batch_norm_last(training):
    """rnncls's default (``indrnn.batch_norm = "states"``): the last state the head reads,
    normalised over the batch (or by the moving averages), as the reference's BatchNorm1d
    on its last output."""
    from rnncls.cells import CELLS
    from rnncls.cells.indrnn import IndRNNOptions
    from rnncls.config_keys import ModelConfig

    cells = torch_cells()
    options = IndRNNOptions(max_gain=3.0, batch_norm="states")
    model = dataclasses.replace(ModelConfig(), cell="indrnn", hidden_units=UNITS)
    layer = CELLS["indrnn"].layer(model, options, STEPS, return_sequences=False, name="last")
    inputs = sequences(seed=6)
    layer(inputs)  # builds
    weights = random_weights(layer, seed=7)
    rng = np.random.default_rng(8)
    norm = {}
    for variable in layer.normalization.weights:
        low = 0.5 if variable.name in ("moving_variance", "gamma") else -0.9
        norm[variable.name] = rng.uniform(low, 0.9, size=variable.shape).astype("float32")
        variable.assign(norm[variable.name])
    theirs = cells.IndRNN(FEATURES, UNITS, STEPS, options.max_gain, options.batch_norm)
    with torch.no_grad():
        theirs.dense.fc.weight.copy_(tensor(weights["kernel"].T))
        theirs.dense.fc.bias.copy_(tensor(weights["bias"]))
        theirs.indrnn.indrnn_cell.weight_hh.copy_(tensor(weights["recurrent_weight"]))
        bn = theirs.state_norm
        bn.weight.copy_(tensor(norm["gamma"]))
        bn.bias.copy_(tensor(norm["beta"]))
        bn.running_mean.copy_(tensor(norm["moving_mean"]))
        bn.running_var.copy_(tensor(norm["moving_variance"]))
    theirs.train(training)
    ours = np.asarray(layer(inputs, training=training))
    with torch.no_grad():
        last = theirs(tensor(inputs).transpose(0, 1)).numpy()
    assert_close(ours, last)
    if training:  # both moved their averages a tenth of the way to the batch's mean
        moved = layer.normalization.moving_mean.numpy()
        np.testing.assert_allclose(moved, bn.running_mean.numpy(), rtol=1e-4, atol=1e-5)


def test_indrnn_keeps_its_recurrent_weights_within_the_bound_after_a_step():
    """The authors' clip_weight: every recurrent weight within max_gain ** (1 / steps),
    as rnncls's constraint keeps them."""
    cells = torch_cells()
    layer = cells.IndRNN(FEATURES, UNITS, STEPS, max_gain=2.0, batch_norm="none")
    bound = 2.0 ** (1 / STEPS)
    weight = layer.indrnn.indrnn_cell.weight_hh.data
    assert float(weight.min()) >= 0.5 ** (1 / STEPS) and float(weight.max()) <= bound
    with torch.no_grad():
        weight.copy_(torch.linspace(-3, 3, UNITS))
    layer.constrain()
    assert weight.abs().max().item() == pytest.approx(bound)
    assert weight[UNITS // 2].item() == 0.0


def test_the_reference_trains_an_authors_cell_from_an_rnncls_config(tmp_path):
    """bench/torch_reference.py --config builds the authors' LEM from model.cell and
    [lem], and refuses a stack of them (its PyTorch version has one layer)."""
    from rnncls.config import load_config

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(
            "torch_reference", ROOT / "bench" / "torch_reference.py"
        )
        reference = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(reference)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    settings = [
        "model.cell='lem'",
        "lem.dt=0.25",
        "model.hidden_units=4",
        "sequence.order='pixels'",
        "sequence.pixels_per_step=16",
    ]
    model = reference.RecurrentClassifier(load_config(None, settings))
    assert type(model.rnn).__name__ == "LEM" and model.rnn.cell.dt == 0.25
    assert model(torch.zeros(2, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="one layer, one direction"):
        reference.RecurrentClassifier(load_config(None, [*settings, "model.layers=2"]))
