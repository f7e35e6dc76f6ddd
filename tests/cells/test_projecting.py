"""The layer of the cells written here (rnncls/cells/projecting.py), whichever cell it runs:
training projects the whole sequence before its loop, inference a step at a time inside
it, and the two loops compute the same outputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from checks import cell_layer

from rnncls.cells import CELLS

pytestmark = pytest.mark.tensorflow

BATCH, STEPS, FEATURES, UNITS = 6, 50, 3, 5


# The cells of their own Keras classes, which run in the layer here; Keras's LSTM, GRU and
# simple RNN run in Keras's own layers.
OWN_CELLS = sorted(name for name, cell in CELLS.items() if cell.keras_objects is not None)


def projecting_layer(name: str, **arguments):
    """Cell ``name``'s layer, a ``ProjectingRNN``. Batch
    normalisation is off: in training it reads the batch's statistics, in inference its
    moving averages, so the two could not agree."""
    from rnncls.cells import projecting

    options = CELLS[name].options
    fields = {field.name for field in dataclasses.fields(options)} if options else set()
    chosen = {"batch_norm": "none"} if "batch_norm" in fields else {}
    layer = cell_layer(name, UNITS, steps=STEPS, options=chosen, **arguments)
    assert isinstance(layer, projecting.keras_objects()["ProjectingRNN"])
    return layer


def sequences() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")


@pytest.mark.parametrize("name", OWN_CELLS)
def test_inference_holds_no_projection_of_the_whole_sequence(name) -> None:
    """Evaluating 2,000 pictures of 784 steps with LEM held a (2000, 784, 512) projection
    and its time-major copy (6.8 GiB): in inference, no tensor outside the loop spans both
    the batch and the steps but the input itself. (The layer the head reads, which returns
    its last output only: a layer that returns every output holds them all anyway.)"""
    import tensorflow as tf

    layer = projecting_layer(name, return_sequences=False)
    inputs = sequences()
    layer(inputs)  # builds
    graph = (
        tf.function(lambda x: layer(x, training=False))
        .get_concrete_function(tf.TensorSpec(inputs.shape, tf.float32))
        .graph
    )
    spanning = {
        (op.type, tuple(tensor.shape))
        for op in graph.get_operations()
        for tensor in op.outputs
        if tensor.shape.rank == 3
        and {BATCH, STEPS} <= set(tensor.shape.as_list())
        and tensor.shape[-1] != FEATURES
    }
    assert spanning == set()


@pytest.mark.parametrize("name", OWN_CELLS)
def test_the_training_loop_and_the_inference_loop_agree(name) -> None:
    """Training through Keras's loop (all outputs asked for, so not the cell's own pass)
    projects the whole sequence first; inference projects in each step: same outputs."""
    layer = projecting_layer(name, return_sequences=True)
    inputs = sequences()
    inferred = np.asarray(layer(inputs, training=False))
    trained = np.asarray(layer(inputs, training=True))
    assert inferred.shape == (BATCH, STEPS, UNITS)
    np.testing.assert_allclose(trained, inferred, rtol=1e-5, atol=1e-6)
