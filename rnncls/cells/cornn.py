"""coRNN, the coupled oscillatory RNN (Rusch & Mishra, ICLR 2021).

A network of damped, driven oscillators: ``y`` (the output) is each oscillator's position,
``z`` its velocity, stepped by the paper's implicit-explicit scheme (eq. 3):

    z' = z + dt * (tanh(y W + z V + x U + b) - gamma * y - epsilon * z)
    y' = y + dt * z'

The options ``cornn.dt`` (the time step), ``cornn.gamma`` (the springs' stiffness) and
``cornn.epsilon`` (the damping) set the dynamics; the defaults are the paper's sMNIST
settings (psMNIST: 0.076, 0.4, 8.0). The weights start as PyTorch's ``Linear`` (uniform
in +-1/sqrt(fan in)), as in the authors' code; the input product ``x U`` runs once for
the whole sequence (:mod:`rnncls.cells.projecting`). Training runs :func:`recurrence`,
the step's backward written out, through :mod:`rnncls.cells.own_pass` as LEM's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from rnncls.cells import Cell, own_pass, projecting
from rnncls.keyspec import at_least, not_negative, spec


@dataclass(frozen=True)
class CoRNNOptions:
    dt: float = spec(
        0.042,
        at_least(1e-6, 1.0),
        help="coRNN's time step (the paper: 0.042 for sMNIST, 0.076 for psMNIST).",
    )
    gamma: float = spec(
        2.7,
        not_negative,
        help="coRNN's stiffness: the pull of each oscillator back to 0 "
        "(the paper: 2.7 for sMNIST, 0.4 for psMNIST).",
    )
    epsilon: float = spec(
        4.7,
        not_negative,
        help="coRNN's damping of each oscillator's velocity "
        "(the paper: 4.7 for sMNIST, 8.0 for psMNIST).",
    )


@functools.cache
def keras_objects() -> dict[str, Any]:
    """The coRNN cell, defined and registered on the first call (imports Keras)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="rnncls")
    class CoRNNCell(keras.layers.Layer):
        """One step of coRNN on the projected input ``x U + b``."""

        def __init__(
            self, units: int, dt: float, gamma: float, epsilon: float, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.dt = dt
            self.gamma = gamma
            self.epsilon = epsilon
            self.state_size = [units, units]  # y (position), z (velocity)
            self.output_size = units

        def build(self, input_shape: Any) -> None:
            units = self.units
            bound = 1 / math.sqrt(input_shape[-1] + 2 * units)
            start = keras.initializers.RandomUniform(-bound, bound)
            self.kernel = self.add_weight(
                shape=(input_shape[-1], units), initializer=start, name="kernel"
            )
            self.bias = self.add_weight(shape=(units,), initializer=start, name="bias")
            # the products of y and z, stacked: [y, z] @ recurrent_kernel
            self.recurrent_kernel = self.add_weight(
                shape=(2 * units, units), initializer=start, name="recurrent_kernel"
            )

        def project(self, sequences: Any, mask: Any = None, training: Any = None) -> Any:
            return ops.matmul(sequences, self.kernel) + self.bias

        def call(self, projected: Any, states: Any) -> Any:
            y, z = states
            drive = ops.tanh(
                projected + ops.matmul(ops.concatenate([y, z], axis=-1), self.recurrent_kernel)
            )
            z = z + self.dt * (drive - self.gamma * y - self.epsilon * z)
            y = y + self.dt * z
            return y, [y, z]

        def sequence_pass(self, sequences: Any, states: Any) -> Any:
            y, z = own_pass.run(
                recurrence(self.units, self.dt, self.gamma, self.epsilon),
                sequences,
                states,
                self.kernel,
                self.bias,
                (self.recurrent_kernel,),
            )
            return y, [y, z]

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "units": self.units,
                "dt": self.dt,
                "gamma": self.gamma,
                "epsilon": self.epsilon,
            }

    return {**projecting.keras_objects(), "CoRNNCell": CoRNNCell}


def recurrence(units: int, dt: float, gamma: float, epsilon: float) -> own_pass.Recurrence:
    """coRNN's steps for its own training pass (:mod:`rnncls.cells.own_pass`). Backward,
    from the gradients ``dy`` and ``dz`` of the step's new states (``y' = y + dt z'``):

        dz'          = dz + dt * dy
        d(drive's input) = dz' * dt * (1 - drive**2)
        [dy_m, dz_m] = d(drive's input) W^T
        dy_{t-1}     = dy - dz' * dt * gamma + dy_m
        dz_{t-1}     = dz' * (1 - dt * epsilon) + dz_m

    and after the loop ``dW = sum_t [y, z]_{t-1}^T d(drive's input)_t`` as one product."""
    import tensorflow as tf

    def forward(projected: Any, states: Any, recurrent: Any) -> Any:
        (y, z), (recurrent_kernel,) = states, recurrent
        state = tf.concat([y, z], -1)
        drive = tf.tanh(projected + tf.matmul(state, recurrent_kernel))
        z = z + dt * (drive - gamma * y - epsilon * z)
        return (y + dt * z, z), (state, drive)

    def backward(kept: Any, d_states: Any, recurrent: Any) -> Any:
        (_, drive), (dy, dz), (recurrent_kernel,) = kept, d_states, recurrent
        dz = dz + dt * dy
        d_drive = dz * dt * (1 - drive * drive)
        dy_m, dz_m = tf.split(tf.matmul(d_drive, recurrent_kernel, transpose_b=True), 2, axis=-1)
        return (dy - dz * (dt * gamma) + dy_m, dz * (1 - dt * epsilon) + dz_m), (d_drive,)

    def weight_gradients(kept: Any, d_pieces: Any, recurrent: Any) -> Any:
        (states_before, _), (d_drives,) = kept, d_pieces
        rows = own_pass.rows
        return (tf.matmul(rows(states_before), rows(d_drives), transpose_a=True),)

    return own_pass.Recurrence(forward, backward, weight_gradients, kept=2, pieces=(units,))


def layer(model: Any, options: CoRNNOptions, steps: int, **arguments: Any) -> Any:
    cell = keras_objects()["CoRNNCell"](
        model.hidden_units, options.dt, options.gamma, options.epsilon, name="cornn_cell"
    )  # a fixed name: checkpoints find the cell's weights by their path
    return keras_objects()["ProjectingRNN"](cell, **arguments)


CELL = Cell(
    "cornn",
    "coupled oscillatory RNN, Rusch & Mishra 2021",
    layer,
    options=CoRNNOptions,
    sequence_pass=True,
    keras_objects=keras_objects,
)
