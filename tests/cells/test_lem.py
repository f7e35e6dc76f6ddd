"""LEM (rnncls/cells/lem.py): its step as the paper writes it, masks, and a whole run."""

from __future__ import annotations

import numpy as np
import pytest
from checks import (
    assert_layer_follows,
    assert_padding_is_invisible,
    assert_refused,
    assert_sequence_pass_follows_keras,
    assert_trains_resumes_exports_and_serves,
)

pytestmark = pytest.mark.tensorflow


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def lem(dt: float):
    """Rusch et al. 2022, eq. 3: both states move towards their targets at learned rates
    of at most dt; z's target reads y, y's target reads the new z."""

    def outputs(weights: dict[str, np.ndarray], sequences: np.ndarray) -> np.ndarray:
        kernel, bias = weights["kernel"], weights["bias"]
        recurrent, z_kernel = weights["recurrent_kernel"], weights["z_kernel"]
        n = z_kernel.shape[0]
        y = np.zeros((len(sequences), n))
        z = np.zeros((len(sequences), n))
        result = []
        for x in sequences.transpose(1, 0, 2):
            inputs = x @ kernel + bias
            state = y @ recurrent
            rate_z = dt * sigmoid(inputs[:, :n] + state[:, :n])
            rate_y = dt * sigmoid(inputs[:, n : 2 * n] + state[:, n : 2 * n])
            z = (1 - rate_z) * z + rate_z * np.tanh(inputs[:, 2 * n : 3 * n] + state[:, 2 * n :])
            y = (1 - rate_y) * y + rate_y * np.tanh(z @ z_kernel + inputs[:, 3 * n :])
            result.append(y)
        return np.stack(result, axis=1)

    return outputs


@pytest.mark.parametrize("dt", [1.0, 0.21])
def test_the_layer_follows_the_papers_equations(dt) -> None:
    assert_layer_follows("lem", {"dt": dt}, lem(dt))


@pytest.mark.parametrize("dt", [1.0, 0.3])
def test_the_training_pass_has_kerass_outputs_and_gradients(dt) -> None:
    assert_sequence_pass_follows_keras("lem", {"dt": dt})


def test_a_padded_sequence_ends_where_it_ends() -> None:
    assert_padding_is_invisible("lem", {"dt": 0.5})


@pytest.mark.parametrize(
    "value, problem", [("0.0", "must be at least 1e-06"), ("1.5", "must be at most 1.0")]
)
def test_a_bad_dt_is_one_line(value, problem) -> None:
    assert_refused("lem.dt", value, problem)


def test_a_run_trains_resumes_exports_and_serves(tmp_path) -> None:
    assert_trains_resumes_exports_and_serves(tmp_path, ["model.cell='lem'", "lem.dt=0.3"])


def test_lem_dt_set_for_a_run_of_another_cell_stays_in_its_config_file() -> None:
    """A search's base may set LEM's options while a trial draws another cell."""
    import tomllib

    from rnncls.config import from_documents, to_toml

    config = from_documents([({"lem": {"dt": 0.21}}, "base.toml")], [])  # an LSTM run
    assert tomllib.loads(to_toml(config))["lem"] == {"dt": 0.21}


def test_the_log_says_which_layers_train_through_the_pass() -> None:
    from rnncls import training_path
    from rnncls.config import load_config
    from rnncls.datasets.idx import MNIST

    pixels = ["model.cell='lem'", "sequence.order='pixels'", "sequence.pixels_per_step=16"]
    for extra, line in [
        ([], "training through the lem cell's own pass, compiled by XLA (49 steps)"),
        (
            ["model.layers=2"],
            "training through Keras's loop, the last layer through the lem cell's own pass "
            "(XLA) (49 steps) (model.cell = 'lem', model.layers = 2)",
        ),
        (
            ["model.bidirectional=true"],
            "training through Keras's loop (49 steps) "
            "(model.cell = 'lem', model.bidirectional = True)",
        ),
    ]:
        config = load_config(overrides=[*pixels, *extra])
        assert training_path.choose(config, MNIST).describe(config, MNIST) == line, extra
