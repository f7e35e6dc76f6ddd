"""Trainer.recompute_batch_norm: before each evaluation, batch normalisation's moving
averages become the mean of its statistics over the first batches of the run's order,
read with the weights as they are; nothing else moves."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_digits

from rnncls.config import load_config
from rnncls.datasets import Split
from rnncls.datasets.idx import MNIST
from rnncls.trainer import BatchOrder, Trainer

pytestmark = pytest.mark.tensorflow

SETTINGS = ["model.hidden_units=4", "train.batch_size=8", "train.learning_rate=0.01"]


def trainer_of(settings: list[str]) -> tuple[Trainer, BatchOrder]:
    config = load_config(overrides=[*SETTINGS, *settings])
    digits, labels = make_digits(96, seed=3)
    trainer = Trainer(config, MNIST, Split("train", digits[..., np.newaxis], labels), steps=20)
    order = BatchOrder(config.train.seed, len(labels), config.train.batch_size)
    trainer.run_steps(order.batches(0, 3))  # the weights move off their start
    return trainer, order


def last_states(trainer: Trainer, pictures: np.ndarray) -> np.ndarray:
    """IndRNN's last state (Li et al. 2018, h = relu(W x + u * h + b)) of pictures read as
    28 rows of 28 pixels, worked out in numpy from the layer's weights."""
    cell = next(layer for layer in trainer.network.layers if hasattr(layer, "cell")).cell
    kernel, bias = cell.kernel.numpy(), cell.bias.numpy()
    u = cell.recurrent_weight.numpy()
    h = np.zeros((len(pictures), len(u)))
    for row in (pictures[..., 0].astype("float64") / 255).transpose(1, 0, 2):
        h = np.maximum(row @ kernel + bias + u * h, 0.0)
    return h


def test_the_moving_averages_become_the_mean_of_the_batches_statistics() -> None:
    trainer, order = trainer_of(["model.cell='indrnn'", "indrnn.batch_norm='states'"])
    batches = order.batches(0, 5)
    means, variances = [], []
    for indices in batches:
        pictures, _ = trainer.batches(indices[None])
        states = last_states(trainer, pictures[0])
        means.append(states.mean(axis=0))
        variances.append(states.var(axis=0))
    trainer.recompute_batch_norm(batches)
    norm = next(layer for layer in trainer.network.layers if hasattr(layer, "cell")).normalization
    np.testing.assert_allclose(norm.moving_mean.numpy(), np.mean(means, axis=0), rtol=1e-4)
    np.testing.assert_allclose(
        norm.moving_variance.numpy(), np.mean(variances, axis=0), rtol=1e-4, atol=1e-7
    )
    assert norm.momentum == 0.9  # as it was


@pytest.mark.parametrize(
    "settings",
    [
        ["model.cell='indrnn'", "indrnn.batch_norm='states'", "model.dropout=0.3"],
        ["model.cell='lstm'"],  # no batch normalisation: nothing to do
    ],
    ids=["indrnn with dropout", "lstm"],
)
def test_nothing_but_the_moving_averages_moves(settings) -> None:
    """The weights, the optimizer and dropout's random state are as they were."""
    trainer, order = trainer_of(settings)
    before = trainer.state_arrays()
    trainer.recompute_batch_norm(order.batches(0, 4))
    after = trainer.state_arrays()
    for group in before:
        for name, value in before[group].items():
            if "moving_" in name:
                continue
            np.testing.assert_array_equal(after[group][name], value, err_msg=name)
    moved = [name for name in before["model"] if "moving_" in name]
    assert len(moved) == (2 if "indrnn" in settings[0] else 0)
