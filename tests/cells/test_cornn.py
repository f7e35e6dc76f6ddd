"""coRNN (rnncls/cells/cornn.py): its step as the paper writes it, masks, and a whole run."""

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


def cornn(dt: float, gamma: float, epsilon: float):
    """Rusch & Mishra 2021, eq. 3: the velocity z first, from the old position y and
    velocity; then the position from the new velocity."""

    def outputs(weights: dict[str, np.ndarray], sequences: np.ndarray) -> np.ndarray:
        kernel, bias, recurrent = weights["kernel"], weights["bias"], weights["recurrent_kernel"]
        n = kernel.shape[1]
        from_y, from_z = recurrent[:n], recurrent[n:]
        y = np.zeros((len(sequences), n))
        z = np.zeros((len(sequences), n))
        result = []
        for x in sequences.transpose(1, 0, 2):
            drive = np.tanh(y @ from_y + z @ from_z + x @ kernel + bias)
            z = z + dt * (drive - gamma * y - epsilon * z)
            y = y + dt * z
            result.append(y)
        return np.stack(result, axis=1)

    return outputs


@pytest.mark.parametrize("dt, gamma, epsilon", [(0.042, 2.7, 4.7), (0.5, 0.4, 8.0)])
def test_the_layer_follows_the_papers_equations(dt, gamma, epsilon) -> None:
    options = {"dt": dt, "gamma": gamma, "epsilon": epsilon}
    assert_layer_follows("cornn", options, cornn(dt, gamma, epsilon))


def test_a_padded_sequence_ends_where_it_ends() -> None:
    assert_padding_is_invisible("cornn", {"dt": 0.3})


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("cornn.dt", "0", "must be at least 1e-06"),
        ("cornn.gamma", "-1.0", "must be at least 0"),
        ("cornn.epsilon", "-0.5", "must be at least 0"),
    ],
)
def test_a_bad_option_is_one_line(key, value, problem) -> None:
    assert_refused(key, value, problem)


def test_a_run_trains_resumes_exports_and_serves(tmp_path) -> None:
    settings = ["model.cell='cornn'", "cornn.dt=0.1", "cornn.gamma=1.0", "cornn.epsilon=2.0"]
    assert_trains_resumes_exports_and_serves(tmp_path, settings)


@pytest.mark.parametrize("options", [{}, {"dt": 0.076, "gamma": 0.4, "epsilon": 8.0}])
def test_the_training_pass_has_kerass_outputs_and_gradients(options) -> None:
    assert_sequence_pass_follows_keras("cornn", options)
