"""The hand-written LSTM training pass computes what Keras's layer and autodiff compute:
logits, gradients and whole training runs, to float32 rounding on any TensorFlow and CPU
(to the last bit where the CPU's kernels allow it, see ``assert_same_floats``).

Keras's side always runs with TensorFlow's default graph optimizations, as the training
loop did before the hand-written pass; the pass runs as the Trainer runs it, inside
``step_graph_options`` (grappler's arithmetic optimizer off).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from conftest import make_digits

import rnncls.lstm_pass
from rnncls.config import load_config
from rnncls.config_keys import keys
from rnncls.datasets import Split
from rnncls.datasets.idx import MNIST
from rnncls.lstm_pass import weight_gradient_order
from rnncls.trainer import (
    TRAIN_INTER_OP_THREADS,
    TRAIN_THREADS,
    BatchOrder,
    Trainer,
    step_graph_options,
    training_forward,
)

# Every test here builds or trains a Keras model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def tf() -> Any:
    from rnncls.tf_setup import import_tensorflow

    tf = import_tensorflow(threads=TRAIN_THREADS, inter_op_threads=TRAIN_INTER_OP_THREADS)
    tf.config.experimental.enable_op_determinism()  # as Trainer runs, and Keras's loop did
    return tf


def assert_same_floats(ours: np.ndarray, theirs: np.ndarray, name: str) -> None:
    """Equal to float32 rounding. Bit for bit is a property of the CPU's kernels, not of
    the versions alone: with TensorFlow 2.21.0 and Keras 3.15.1 the pass gave Keras's very
    floats on the AMD EPYC machine of earlier sessions, and differs in the last bit of
    some logits on an AMD EPYC without AVX-512 (bench/NOTES.md). A wrong gradient is off
    by far more than this tolerance."""
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the traces that went through the hand-written pass (so a test cannot pass
    by comparing Keras with Keras)."""
    traced: list[int] = []
    real = rnncls.lstm_pass.last_output

    def counting(*args: Any) -> Any:
        traced.append(1)
        return real(*args)

    monkeypatch.setattr(rnncls.lstm_pass, "last_output", counting)
    return traced


def grappler_defaults(tf: Any) -> Any:
    from rnncls.tf_setup import arithmetic_optimization

    return arithmetic_optimization(tf, enabled=True)


def build(tf: Any, units: int, seed: int) -> Any:
    import keras

    from rnncls.model import build_network

    keras.utils.set_random_seed(seed)
    config = load_config(overrides=[f"model.hidden_units={units}"])
    return build_network(config.model, config.sequence, MNIST.shape, 10)


def logits_and_gradients(tf: Any, model: Any, forward: Any, images: Any, labels: Any) -> Any:
    import keras

    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def run(batch: Any, targets: Any) -> Any:
        with tf.GradientTape() as tape:
            logits = forward(batch)
            loss = loss_function(targets, logits)
        return logits, tape.gradient(loss, model.trainable_variables)

    return run(tf.constant(images), tf.constant(labels))


@pytest.mark.parametrize(
    ("batch", "units"),
    [(64, 64), (33, 16), (32, 8), (128, 32), (32, 64), (33, 64)],
    ids=["default", "odd-halves", "smallest-halves", "large", "32-of-64", "33-of-64"],
)
def test_logits_and_gradients_equal_keras_autodiff(tf, calls, batch, units):
    model = build(tf, units, seed=batch)
    digits, labels = make_digits(batch, seed=batch)
    images, labels = digits[..., np.newaxis].astype(np.float32) / 255.0, labels.astype(np.int32)
    config = load_config(overrides=[f"model.hidden_units={units}"])
    with grappler_defaults(tf):
        keras_logits, keras_grads = logits_and_gradients(
            tf, model, lambda batch: model(batch, training=True), images, labels
        )
    with step_graph_options(tf):
        our_logits, our_grads = logits_and_gradients(
            tf, model, training_forward(tf, model, config), images, labels
        )
    assert calls, "the hand-written pass was not used"
    assert_same_floats(our_logits.numpy(), keras_logits.numpy(), "logits")
    variables = model.trainable_variables
    assert len(our_grads) == len(keras_grads) == len(variables) == 5
    for ours, theirs, variable in zip(our_grads, keras_grads, variables, strict=True):
        assert_same_floats(ours.numpy(), theirs.numpy(), variable.path)
        assert np.abs(theirs.numpy()).max() > 0, variable.path  # a real gradient


def test_keras_names_the_cell_of_step_t_lstm_cell_2t_plus_1(tf):
    """What weight_gradient_order relies on: grappler sorts the AddN of Keras's weight
    gradients by these names. A Keras that names its cells otherwise fails here."""
    model = build(tf, 8, seed=0)
    traced = tf.function(lambda batch: model(batch, training=True))
    graph = traced.get_concrete_function(tf.TensorSpec([4, 28, 28, 1], tf.float32)).graph
    cells = [
        int(match.group(1))
        for op in graph.get_operations()
        if op.type == "MatMul" and (match := re.search(r"lstm_cell_(\d+)/MatMul$", op.name))
    ]
    assert cells == [2 * t + 1 for t in range(28)]
    order = weight_gradient_order(28)
    assert sorted(order) == list(range(28))
    assert order[:7] == [0, 5, 6, 7, 8, 9, 10]  # "1/" < "11/" < ... < "19/" < "21/"


def test_a_training_run_ends_with_keras_autodiffs_weights(tf, calls):
    """Thirty Adam steps through the Trainer (the hand-written pass) against the same
    loop through Keras's layer and autodiff, at the default model and batch size."""
    import keras

    from rnncls.model import build_network

    config = load_config()
    digits, labels = make_digits(600, seed=3)
    order = BatchOrder(config.train.seed, len(labels), config.train.batch_size)
    batches = order.batches(0, 30)

    keras.utils.set_random_seed(config.train.seed)
    model = build_network(config.model, config.sequence, MNIST.shape, 10)
    start = [w.numpy() for w in model.weights]
    optimizer = keras.optimizers.Adam(learning_rate=config.train.learning_rate)
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    images = tf.constant(digits[..., np.newaxis])
    targets = tf.constant(labels.astype(np.int32))

    @tf.function
    def keras_steps(batch_indices: Any) -> None:
        # Trainer's loop as it was before the hand-written pass: model(), autodiff.
        for row in tf.range(tf.shape(batch_indices)[0]):
            indices = batch_indices[row]
            batch = tf.cast(tf.gather(images, indices), tf.float32) / 255.0
            with tf.GradientTape() as tape:
                loss = loss_function(tf.gather(targets, indices), model(batch, training=True))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

    with grappler_defaults(tf):
        keras_steps(tf.constant(batches))

    trainer = Trainer(config, MNIST, Split("train", digits[..., np.newaxis], labels))
    trainer.run_steps(batches)
    assert calls, "the Trainer did not use the hand-written pass"
    for ours, theirs, first in zip(trainer.model.weights, model.weights, start, strict=True):
        assert not np.array_equal(ours.numpy(), first), f"{ours.path} never moved"
        assert_same_floats(ours.numpy(), theirs.numpy(), ours.path)
    for ours, theirs in zip(trainer.optimizer.variables, optimizer.variables, strict=True):
        assert_same_floats(ours.numpy(), theirs.numpy(), ours.path)


@pytest.mark.parametrize(
    "settings",
    [
        ["model.unroll=false"],
        ["train.batch_size=31"],
        ["train.batch_size=1"],
        ["train.fast_path='off'"],
        ["model.dropout=0.25"],
        ["model.layers=2"],
        ["model.bidirectional=true"],
        ["model.cell='gru'"],
    ],
    ids=["unroll-false", "batch-31", "batch-1", "off", "dropout", "two-layers", "bi", "gru"],
)
def test_what_the_pass_does_not_cover_trains_through_keras_itself(tf, monkeypatch, settings):
    """The not-unrolled layer (another graph), and batches whose halves would have fewer
    than 16 rows (where products of a few rows round otherwise)."""

    def refuse(*args: Any) -> Any:
        raise AssertionError("the hand-written pass was used")

    monkeypatch.setattr(rnncls.lstm_pass, "last_output", refuse)
    config = load_config(overrides=[*settings, "model.hidden_units=8"])
    digits, labels = make_digits(64, seed=4)
    trainer = Trainer(config, MNIST, Split("train", digits[..., np.newaxis], labels))
    order = BatchOrder(config.train.seed, len(labels), config.train.batch_size)
    assert np.isfinite(trainer.run_steps(order.batches(0, 2)))


def test_last_output_is_the_layers_output(tf):
    model = build(tf, 12, seed=5)
    layer = model.get_layer("lstm")
    digits, _ = make_digits(40, seed=5)  # two halves of 20
    batch = tf.constant(digits.astype(np.float32) / 255.0)  # the LSTM reads (n, 28, 28)
    cell = layer.cell
    variables = (cell.kernel, cell.recurrent_kernel, cell.bias)
    weights = [tf.convert_to_tensor(w.value) for w in variables]
    ours = rnncls.lstm_pass.last_output(tf, batch, *weights)
    assert ours.shape == (40, 12)
    assert_same_floats(ours.numpy(), layer(batch).numpy(), "last output")


def test_every_key_of_the_network_is_classified_by_the_pass():
    """A new key of [model] fails here until rnncls.lstm_pass.REQUIREMENTS says what the
    pass needs of it, so the fast path can never silently ignore an option of the
    network; the pass lists only the keys it reads (a cell's own section is not one)."""
    network = [f"{s}.{k}" for s, k in keys() if s == "model"]
    listed = list(rnncls.lstm_pass.REQUIREMENTS)
    assert [key for key in listed if key.startswith("model.")] == network
    assert set(listed) <= {f"{s}.{k}" for s, k in keys()}  # no key that is gone


def test_the_pass_supports_the_seeds_network_and_names_what_rules_it_out():
    assert rnncls.lstm_pass.supports(load_config(), MNIST)
    assert rnncls.lstm_pass.supports(
        load_config(
            overrides=[
                "train.optimizer='sgd'",
                "train.schedule='cosine'",
                "augment.shift=2",
                "model.hidden_units=128",
            ]
        ),
        MNIST,
    )
    config = load_config(overrides=["model.cell='gru'", "model.layers=3", "train.batch_size=8"])
    assert rnncls.lstm_pass.unsupported(config, MNIST) == [
        "model.cell = 'gru'",
        "model.layers = 3",
        "train.batch_size = 8 (it needs at least 32)",
    ]


def test_last_output_refuses_halves_of_fewer_than_16_rows(tf):
    weights = tf.zeros([28, 32]), tf.zeros([8, 32]), tf.zeros([32])
    with pytest.raises(ValueError, match="16 rows"):
        rnncls.lstm_pass.last_output(tf, tf.zeros([31, 28, 28]), *weights)
