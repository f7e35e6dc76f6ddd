"""The fused LSTM loop (the pixel tasks' training pass) computes what Keras's layer and
autodiff compute, the reading layer reads as numpy does, and each config trains along the
path rnncls.training_path names for it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import make_digits

import rnncls.lstm_loop
from rnncls import training_path
from rnncls.config import load_config
from rnncls.config_keys import keys
from rnncls.datasets import Split
from rnncls.datasets.idx import MNIST
from rnncls.sequence import read
from rnncls.trainer import (
    TRAIN_INTER_OP_THREADS,
    TRAIN_THREADS,
    BatchOrder,
    Trainer,
    training_forward,
)

# Every test here builds or trains a Keras model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow

# Short pixel readings keep these tests to seconds; the kernel is the same at 784 steps.
PIXELS_49 = ["sequence.order='pixels'", "sequence.pixels_per_step=16"]
PERMUTED_49 = [*PIXELS_49, "sequence.permute=true", "sequence.permutation_seed=3"]


@pytest.fixture(scope="module")
def tf() -> Any:
    from rnncls.tf_setup import import_tensorflow

    return import_tensorflow(threads=TRAIN_THREADS, inter_op_threads=TRAIN_INTER_OP_THREADS)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the traces through the fused loop (so that no test compares Keras with
    Keras)."""
    traced: list[int] = []
    real = rnncls.lstm_loop.last_output

    def counting(*args: Any) -> Any:
        traced.append(1)
        return real(*args)

    monkeypatch.setattr(rnncls.lstm_loop, "last_output", counting)
    return traced


def build(settings: list[str], seed: int) -> tuple[Any, Any]:
    import keras

    from rnncls.model import build_network

    config = load_config(overrides=settings)
    keras.utils.set_random_seed(seed)
    return config, build_network(config.model, config.sequence, MNIST.shape, 10)


@pytest.mark.parametrize(
    ("settings", "batch"),
    [
        ([*PIXELS_49, "model.hidden_units=16"], 40),
        ([*PERMUTED_49, "model.hidden_units=12"], 33),
        ([*PIXELS_49, "model.hidden_units=8"], 10),  # too few rows to halve: one part
        (["sequence.order='columns'", "model.unroll=false", "model.hidden_units=8"], 32),
    ],
    ids=["49-steps", "permuted-odd-halves", "whole-batch", "columns-loop"],
)
def test_logits_and_gradients_equal_keras_autodiff(tf, calls, settings, batch):
    import keras

    config, model = build(settings, seed=batch)
    assert training_path.choose(config, MNIST).name == training_path.FUSED_LOOP
    digits, labels = make_digits(batch, seed=batch)
    images = tf.constant(digits[..., np.newaxis].astype(np.float32) / 255.0)
    targets = tf.constant(labels.astype(np.int32))
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def logits_and_gradients(forward: Any) -> Any:
        with tf.GradientTape() as tape:
            logits = forward(images)
            loss = loss_function(targets, logits)
        return logits, tape.gradient(loss, model.trainable_variables)

    keras_logits, keras_grads = logits_and_gradients(lambda x: model(x, training=True))
    our_logits, our_grads = tf.function(logits_and_gradients)(training_forward(tf, model, config))
    assert calls, "the fused loop was not used"
    np.testing.assert_allclose(our_logits.numpy(), keras_logits.numpy(), rtol=1e-4, atol=1e-6)
    assert len(our_grads) == len(model.trainable_variables) == 5
    for ours, theirs, variable in zip(
        our_grads, keras_grads, model.trainable_variables, strict=True
    ):
        # Gate order, forget bias or a gradient of the wrong op are off by far more.
        np.testing.assert_allclose(
            ours.numpy(), theirs.numpy(), rtol=1e-3, atol=1e-6, err_msg=variable.path
        )
        assert np.abs(theirs.numpy()).max() > 0, variable.path


def test_the_reading_layer_reads_as_numpy_does(tf):
    from rnncls.model import READING

    config, model = build([*PERMUTED_49, "model.hidden_units=4"], seed=0)
    digits, _ = make_digits(3, seed=1)
    pictures = digits[..., np.newaxis]
    ours = model.get_layer(READING)(tf.constant(pictures.astype(np.float32))).numpy()
    assert ours.shape == (3, 49, 16)
    np.testing.assert_array_equal(ours, read(pictures, config.sequence).astype(np.float32))


def test_rows_need_no_gather_only_a_reshape():
    import keras

    from rnncls.model import READING

    _, model = build(["model.hidden_units=4"], seed=0)
    assert isinstance(model.get_layer(READING), keras.layers.Reshape)


def test_a_saved_model_reads_in_its_own_order(tf, tmp_path):
    """model.keras keeps the reading's indices: loaded anywhere, it reads the order it
    was trained on."""
    import keras

    from rnncls.model import build_model
    from rnncls.predict import load_keras_model

    keras.utils.set_random_seed(2)
    config = load_config(overrides=[*PERMUTED_49, "model.hidden_units=6"])
    model = build_model(config.model, config.sequence, MNIST)
    digits, _ = make_digits(5, seed=2)
    images = digits[..., np.newaxis].astype(np.float32)  # raw pixels: the model scales them
    model.save(tmp_path / "model.keras")
    loaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(images).numpy(), model(images).numpy(), rtol=1e-6)


def test_a_trainer_over_a_permuted_reading_learns(tf, calls):
    """Forty Adam steps of the fused loop on learnable fake digits lower the loss."""
    config = load_config(overrides=[*PERMUTED_49, "model.hidden_units=16", "train.batch_size=32"])
    digits, labels = make_digits(320, seed=7)
    trainer = Trainer(config, MNIST, Split("train", digits[..., np.newaxis], labels))
    assert trainer.path.name == training_path.FUSED_LOOP
    order = BatchOrder(config.train.seed, len(labels), config.train.batch_size)
    first = trainer.run_steps(order.batches(0, 5)) / 5  # run_steps sums the losses
    trainer.run_steps(order.batches(5, 35))
    last = trainer.run_steps(order.batches(35, 40)) / 5
    assert calls
    assert np.isfinite(last) and last < 0.8 * first


@pytest.mark.parametrize(
    ("settings", "gpus", "name", "unroll", "reasons"),
    [
        ([], 0, training_path.UNROLLED_PASS, True, ()),
        (["model.cell='gru'"], 0, training_path.KERAS, True, ("model.cell = 'gru'",)),
        (PIXELS_49, 0, training_path.FUSED_LOOP, False, ()),
        (["model.unroll=false"], 0, training_path.FUSED_LOOP, False, ()),
        ([*PIXELS_49, "model.layers=2"], 0, training_path.KERAS, False, ("model.layers = 2",)),
        (PIXELS_49, 1, training_path.CUDNN, False, ()),
        (["model.cell='gru'"], 2, training_path.CUDNN, False, ()),
        (
            ["model.cell='simple_rnn'"],
            1,
            training_path.KERAS,
            False,
            ("model.cell = 'simple_rnn': no cuDNN kernel",),
        ),
    ],
    ids=["seed", "gru", "pixels", "rows-loop", "stack", "gpu", "gpu-gru", "gpu-simple"],
)
def test_each_config_trains_along_one_named_path(settings, gpus, name, unroll, reasons):
    path = training_path.choose(load_config(overrides=settings), MNIST, gpus=gpus)
    assert (path.name, path.unroll, path.reasons) == (name, unroll, reasons)


def test_the_log_line_names_the_path_and_why_keras():
    config = load_config(overrides=[*PIXELS_49, "model.layers=2"])
    line = training_path.choose(config, MNIST).describe(config, MNIST)
    assert line == "training through Keras's loop (49 steps) (model.layers = 2)"
    config = load_config(overrides=PIXELS_49)
    assert training_path.choose(config, MNIST).describe(config, MNIST) == (
        "training through TensorFlow's fused LSTM loop on two cores (49 steps)"
    )


def test_every_key_of_the_network_is_classified_by_the_loop():
    """A new key of [model] fails here until rnncls.lstm_loop.REQUIREMENTS says what the
    loop needs of it; the loop lists only the keys it reads."""
    network = [f"{s}.{k}" for s, k in keys() if s == "model"]
    listed = list(rnncls.lstm_loop.REQUIREMENTS)
    assert [key for key in listed if key.startswith("model.")] == network
    assert set(listed) <= {f"{s}.{k}" for s, k in keys()}  # no key that is gone


def test_runs_with_one_permutation_seed_read_alike_whatever_their_training_seed(tf):
    from rnncls.model import READING

    def order(*settings: str) -> list[list[int]]:
        _, model = build([*PERMUTED_49, "model.hidden_units=4", *settings], seed=0)
        return model.get_layer(READING).get_config()["indices"]

    first = order("train.seed=1")
    assert order("train.seed=2") == first
    assert order("train.seed=2", "sequence.permutation_seed=4") != first
