"""Trainer.recompute_batch_norm: before each evaluation, batch normalisation's moving
averages become the mean of its statistics over the first batches of the run's order,
read with the weights as they are; nothing else moves."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_SETTINGS, make_digits

from rnncls.config import load_config
from rnncls.datasets import Split, find_data
from rnncls.datasets.idx import MNIST
from rnncls.trainer import BATCH_NORM_BATCHES, BatchOrder, Trainer

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


def test_with_the_input_normalised_the_averages_are_those_of_the_projected_input() -> None:
    """``indrnn.batch_norm = 'inputs'``: the normalisation inside the cell, over the batch
    and the 28 steps of x W + b."""
    trainer, order = trainer_of(["model.cell='indrnn'", "indrnn.batch_norm='inputs'"])
    batches = order.batches(0, 4)
    cell = next(layer for layer in trainer.network.layers if hasattr(layer, "cell")).cell
    kernel, bias = cell.kernel.numpy(), cell.bias.numpy()
    means, variances = [], []
    for indices in batches:
        pictures, _ = trainer.batches(indices[None])
        projected = (pictures[0, ..., 0].astype("float64") / 255) @ kernel + bias
        means.append(projected.mean(axis=(0, 1)))
        variances.append(projected.var(axis=(0, 1)))
    trainer.recompute_batch_norm(batches)
    norm = cell.normalization
    np.testing.assert_allclose(norm.moving_mean.numpy(), np.mean(means, axis=0), rtol=1e-4)
    np.testing.assert_allclose(
        norm.moving_variance.numpy(), np.mean(variances, axis=0), rtol=1e-4, atol=1e-7
    )


def test_a_run_recomputes_before_each_evaluation_and_the_test(
    in_tmp, tiny_mnist, monkeypatch
) -> None:
    """Evaluations at steps 3 and 6, then the test: three recomputations, each from the
    first batches of the run's order."""
    from rnncls.train import train

    calls = []
    recompute = Trainer.recompute_batch_norm

    def recorded(self, batch_indices):
        calls.append(batch_indices.copy())
        return recompute(self, batch_indices)

    monkeypatch.setattr(Trainer, "recompute_batch_norm", recorded)
    config = load_config(overrides=[*TINY_SETTINGS, "model.cell='indrnn'"])
    train(config, find_data(tiny_mnist), in_tmp / "run")
    first = BatchOrder(config.train.seed, 100, config.train.batch_size).batches(0, 20)
    assert len(calls) == 3
    for indices in calls:
        assert indices.shape == (BATCH_NORM_BATCHES, config.train.batch_size)
        np.testing.assert_array_equal(indices, first)


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
