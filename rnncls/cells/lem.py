"""LEM, the Long Expressive Memory (Rusch, Mishra, Erichson & Mahoney, ICLR 2022).

Two states, ``y`` (the output) and ``z``, each moving towards a target at its own rate, a
learned fraction of ``dt`` (the discretised multiscale ODE of the paper, eq. 3):

    dt_z = dt * sigmoid(x W1 + y U1 + b1)       dt_y = dt * sigmoid(x W2 + y U2 + b2)
    z'   = (1 - dt_z) * z + dt_z * tanh(x Wz + y Uz + bz)
    y'   = (1 - dt_y) * y + dt_y * tanh(z' V + x Wy + by)

One option, ``lem.dt``: the largest rate (1 lets a state forget in a step; the paper's
pixel tasks 0.21 and 0.31). The weights start uniform in +-1/sqrt(units), as the
authors' code; the input products ``x W`` run once for the whole sequence
(:mod:`rnncls.cells.projecting`).

Training runs LEM's own pass over the sequence, its backward written out
(:func:`recurrence`, run by :mod:`rnncls.cells.own_pass`): the loop back in time carries
only the two states' gradients, and the weight gradients are one product each over all
steps after it (autodiff of Keras's loop makes a small product a step for each).
Inference and the exports run the cell's ``call``, the same forward arithmetic.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from rnncls.cells import Cell, own_pass, projecting
from rnncls.keyspec import at_least, spec


@dataclass(frozen=True)
class LEMOptions:
    dt: float = spec(
        1.0,
        at_least(1e-6, 1.0),
        help="LEM's largest time step: each state moves at most this fraction of the way "
        "to its target in a step (the paper: 0.21 for sMNIST, 0.31 for psMNIST).",
    )


@functools.cache
def keras_objects() -> dict[str, Any]:
    """The LEM cell, defined and registered on the first call (imports Keras)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="rnncls")
    class LEMCell(keras.layers.Layer):
        """One step of LEM on the projected input ``x W + b`` (4 x units: the two rates'
        and the two targets' shares of the input)."""

        def __init__(self, units: int, dt: float = 1.0, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.dt = dt
            self.state_size = [units, units]  # y, z
            self.output_size = units

        def build(self, input_shape: Any) -> None:
            units = self.units
            start = keras.initializers.RandomUniform(-1 / math.sqrt(units), 1 / math.sqrt(units))
            self.kernel = self.add_weight(
                shape=(input_shape[-1], 4 * units), initializer=start, name="kernel"
            )
            self.bias = self.add_weight(shape=(4 * units,), initializer=start, name="bias")
            # y's products: the two rates and z's target, side by side
            self.recurrent_kernel = self.add_weight(
                shape=(units, 3 * units), initializer=start, name="recurrent_kernel"
            )
            self.z_kernel = self.add_weight(
                shape=(units, units), initializer=start, name="z_kernel"
            )

        def project(self, sequences: Any, mask: Any = None, training: Any = None) -> Any:
            return ops.matmul(sequences, self.kernel) + self.bias

        def call(self, projected: Any, states: Any) -> Any:
            y, z = states
            # Splits, not slices: a slice's gradient is a zero tensor of the whole input,
            # summed with the others; six slices a step cost 15 % of the training step
            # (1,697 against 1,447 ms at 784 steps, make bench-cells, AMD EPYC).
            from_input, input_to_y = ops.split(projected, [3 * self.units], axis=-1)
            gates = from_input + ops.matmul(y, self.recurrent_kernel)
            gate_z, gate_y, input_to_z = ops.split(gates, 3, axis=-1)
            rate_z = self.dt * ops.sigmoid(gate_z)
            rate_y = self.dt * ops.sigmoid(gate_y)
            z = z + rate_z * (ops.tanh(input_to_z) - z)
            target = ops.tanh(ops.matmul(z, self.z_kernel) + input_to_y)
            y = y + rate_y * (target - y)
            return y, [y, z]

        def sequence_pass(self, sequences: Any, states: Any) -> Any:
            y, z = own_pass.run(
                recurrence(self.units, self.dt),
                sequences,
                states,
                self.kernel,
                self.bias,
                (self.recurrent_kernel, self.z_kernel),
            )
            return y, [y, z]

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "units": self.units, "dt": self.dt}

    return {**projecting.keras_objects(), "LEMCell": LEMCell}


def recurrence(units: int, dt: float) -> own_pass.Recurrence:
    """LEM's steps for its own training pass (:mod:`rnncls.cells.own_pass`).

    Forward, step t, as the cell's ``call``: ``s_z, s_y = sigmoid(gates)``, rates
    ``dt * s``, ``a = tanh(target of z)``, ``b = tanh(z_t V + x Wy)``. Backward, from the
    gradients ``dy`` and ``dz`` of the step's new states:

        d(b's input) = dy * dt s_y * (1 - b**2)      dz += d(b's input) V^T
        d(gate_y)    = dy * (b - y_{t-1}) * dt s_y (1 - s_y)
        d(gate_z)    = dz * (a - z_{t-1}) * dt s_z (1 - s_z)
        d(a's input) = dz * dt s_z * (1 - a**2)
        dy_{t-1}     = dy * (1 - dt s_y) + d(gates) U^T     dz_{t-1} = dz * (1 - dt s_z)

    and after the loop ``dU = sum_t y_{t-1}^T d(gates)_t``, ``dV = sum_t z_t^T d(b's input)_t``
    as one product each. The projection's pieces: the gates (3 x units), then y's target."""
    import tensorflow as tf

    def forward(projected: Any, states: Any, recurrent: Any) -> Any:
        (y, z), (recurrent_kernel, z_kernel) = states, recurrent
        from_input, input_to_y = tf.split(projected, [3 * units, units], axis=-1)
        gates = from_input + tf.matmul(y, recurrent_kernel)
        gate_z, gate_y, input_to_z = tf.split(gates, 3, axis=-1)
        s_z, s_y = tf.sigmoid(gate_z), tf.sigmoid(gate_y)
        a = tf.tanh(input_to_z)
        new_z = z + dt * s_z * (a - z)
        b = tf.tanh(tf.matmul(new_z, z_kernel) + input_to_y)
        new_y = y + dt * s_y * (b - y)
        return (new_y, new_z), (y, z, new_z, s_z, s_y, a, b)

    def backward(kept: Any, d_states: Any, recurrent: Any) -> Any:
        (y0, z0, _, s_z, s_y, a, b), (dy, dz) = kept, d_states
        recurrent_kernel, z_kernel = recurrent
        rate_z, rate_y = dt * s_z, dt * s_y
        d_target = dy * rate_y * (1 - b * b)
        dz = dz + tf.matmul(d_target, z_kernel, transpose_b=True)
        d_gate_y = dy * (b - y0) * rate_y * (1 - s_y)
        d_gate_z = dz * (a - z0) * rate_z * (1 - s_z)
        d_input_to_z = dz * rate_z * (1 - a * a)
        d_gates = tf.concat([d_gate_z, d_gate_y, d_input_to_z], -1)
        dy = dy * (1 - rate_y) + tf.matmul(d_gates, recurrent_kernel, transpose_b=True)
        return (dy, dz * (1 - rate_z)), (d_gates, d_target)

    def weight_gradients(kept: Any, d_pieces: Any, recurrent: Any) -> Any:
        (y_before, _, z_after, *_), (d_gates, d_targets) = kept, d_pieces
        rows = own_pass.rows
        return (
            tf.matmul(rows(y_before), rows(d_gates), transpose_a=True),
            tf.matmul(rows(z_after), rows(d_targets), transpose_a=True),
        )

    return own_pass.Recurrence(
        forward, backward, weight_gradients, kept=7, pieces=(3 * units, units)
    )


def layer(model: Any, options: LEMOptions, steps: int, **arguments: Any) -> Any:
    # a fixed name: checkpoints find the cell's weights by their path
    cell = keras_objects()["LEMCell"](model.hidden_units, options.dt, name="lem_cell")
    return keras_objects()["ProjectingRNN"](cell, **arguments)


CELL = Cell(
    "lem",
    "Long Expressive Memory, Rusch et al. 2022",
    layer,
    options=LEMOptions,
    sequence_pass=True,
    keras_objects=keras_objects,
)
