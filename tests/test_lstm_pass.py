"""The hand-written LSTM training pass computes what Keras's layer and autodiff compute,
to the last bit: logits, gradients and whole training runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from conftest import make_digits

from rnncls.config import load_config
from rnncls.data import Split
from rnncls.lstm_pass import last_output, weight_gradient_order
from rnncls.tf_setup import import_tensorflow
from rnncls.train import BatchOrder, Trainer, training_forward

tf = import_tensorflow(threads=1, inter_op_threads=2)
tf.config.experimental.enable_op_determinism()  # as Trainer runs, and Keras's loop did
import keras  # noqa: E402  (after import_tensorflow, which picks Keras's backend)

from rnncls.model import build_model  # noqa: E402


@contextmanager
def grappler_defaults() -> Iterator[None]:
    """TensorFlow's default graph optimizations, as Keras's own training runs with them
    (Trainer turns the arithmetic optimizer off for the whole process)."""
    before = tf.config.optimizer.get_experimental_options().get("arithmetic_optimization")
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": True})
    try:
        yield
    finally:
        if before is not None:
            tf.config.optimizer.set_experimental_options({"arithmetic_optimization": before})


def keras_and_handwritten(model: Any, images: np.ndarray, labels: np.ndarray) -> list[Any]:
    """(logits, gradients) twice: Keras's layer with autodiff, then the hand-written pass."""
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    config = load_config(overrides=[f"model.hidden_units={model.get_layer('lstm').units}"])
    handwritten = training_forward(tf, model, config)
    results = []
    for forward in (lambda batch: model(batch, training=True), handwritten):

        @tf.function
        def logits_and_gradients(batch: Any, targets: Any, forward: Any = forward) -> Any:
            with tf.GradientTape() as tape:
                logits = forward(batch)
                loss = loss_function(targets, logits)
            return logits, tape.gradient(loss, model.trainable_variables)

        with grappler_defaults():
            results.append(logits_and_gradients(tf.constant(images), tf.constant(labels)))
    return results


@pytest.mark.parametrize(
    ("batch", "units"),
    [(64, 64), (33, 16), (32, 8), (31, 8), (1, 8), (128, 32)],
    ids=["default", "odd-halves", "smallest-halves", "too-small-to-split", "one-image", "large"],
)
def test_logits_and_gradients_equal_keras_autodiff_bit_for_bit(batch, units):
    keras.utils.set_random_seed(batch)
    model = build_model(load_config(overrides=[f"model.hidden_units={units}"]).model)
    digits, labels = make_digits(batch, seed=batch)
    images = digits.astype(np.float32) / 255.0
    (keras_logits, keras_grads), (our_logits, our_grads) = keras_and_handwritten(
        model, images, labels.astype(np.int32)
    )
    np.testing.assert_array_equal(our_logits.numpy(), keras_logits.numpy())
    assert len(our_grads) == len(keras_grads) == 5
    variables = model.trainable_variables
    for ours, theirs, variable in zip(our_grads, keras_grads, variables, strict=True):
        assert np.array_equal(ours.numpy(), theirs.numpy()), variable.path
        assert np.abs(theirs.numpy()).max() > 0, variable.path  # a real gradient


def test_weight_gradients_are_summed_in_the_order_of_keras_cell_names():
    # Keras names the cell of step t "lstm_cell_{2t+1}"; sorted as strings, step 0
    # ("1/") comes first, then step 5 ("11/"), step 6 ("13/"), ...
    order = weight_gradient_order(28)
    assert sorted(order) == list(range(28))
    assert order[:4] == [0, 5, 6, 7]


def test_a_training_run_ends_with_keras_autodiffs_weights(tmp_path):
    """Thirty Adam steps through the Trainer (hand-written pass, arithmetic optimizer
    off) against the same loop through Keras's layer and autodiff (defaults)."""
    config = load_config(overrides=["train.batch_size=32", "model.hidden_units=16"])
    digits, labels = make_digits(400, seed=3)
    split = Split("train", digits, labels)
    order = BatchOrder(config.train.seed, len(labels), config.train.batch_size)
    batches = order.batches(0, 30)

    keras.utils.set_random_seed(config.train.seed)
    model = build_model(config.model)
    optimizer = keras.optimizers.Adam(learning_rate=config.train.learning_rate)
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    images = tf.constant(digits)
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

    with grappler_defaults():
        keras_steps(tf.constant(batches))

    trainer = Trainer(config, split)
    trainer.run_steps(batches)
    for ours, theirs in zip(trainer.model.weights, model.weights, strict=True):
        assert np.array_equal(ours.numpy(), theirs.numpy()), ours.path
    for ours, theirs in zip(trainer.optimizer.variables, optimizer.variables, strict=True):
        assert np.array_equal(ours.numpy(), theirs.numpy()), ours.path


def test_unroll_false_trains_through_keras_itself():
    config = load_config(overrides=["model.unroll=false", "model.hidden_units=8"])
    model = build_model(config.model)
    forward = training_forward(tf, model, config)
    batch = tf.zeros([2, 28, 28])
    np.testing.assert_array_equal(forward(batch).numpy(), model(batch, training=True).numpy())


def test_last_output_is_the_layers_output():
    keras.utils.set_random_seed(5)
    model = build_model(load_config(overrides=["model.hidden_units=12"]).model)
    cell = model.get_layer("lstm").cell
    digits, _ = make_digits(10, seed=5)
    batch = tf.constant(digits.astype(np.float32) / 255.0)
    weights = [
        tf.convert_to_tensor(w.value) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)
    ]
    ours = last_output(tf, batch, *weights)
    assert ours.shape == (10, 12)
    np.testing.assert_array_equal(ours.numpy(), model.get_layer("lstm")(batch).numpy())
