"""coRNN, the coupled oscillatory RNN (Rusch & Mishra, ICLR 2021).

A network of damped, driven oscillators: ``y`` (the output) is each oscillator's position,
``z`` its velocity, stepped by the paper's implicit-explicit scheme (eq. 3):

    z' = z + dt * (tanh(y W + z V + x U + b) - gamma * y - epsilon * z)
    y' = y + dt * z'

The options ``cornn.dt`` (the time step), ``cornn.gamma`` (the springs' stiffness) and
``cornn.epsilon`` (the damping) set the dynamics; the defaults are the paper's sMNIST
settings (psMNIST: 0.076, 0.4, 8.0). The weights start as PyTorch's ``Linear`` (uniform
in +-1/sqrt(fan in)), as in the authors' code; the input product ``x U`` runs once for
the whole sequence (:mod:`rnncls.cells.projecting`). Training runs :func:`sequence_pass`,
the step's backward written out and compiled by XLA, as LEM's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from rnncls.cells import Cell, projecting
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
            y, z = states
            weights = (self.kernel, self.bias, self.recurrent_kernel)
            y, z = sequence_pass(sequences, y, z, *weights, self.dt, self.gamma, self.epsilon)
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


def sequence_pass(
    sequences: Any,
    y: Any,
    z: Any,
    kernel: Any,
    bias: Any,
    recurrent_kernel: Any,
    dt: float,
    gamma: float,
    epsilon: float,
) -> tuple[Any, Any]:
    """coRNN over a whole sequence (batch, steps, features) from the states ``y`` and
    ``z``: the last ``y`` and ``z``, with a hand-written gradient. Backward, from the
    gradients ``dy`` and ``dz`` of the step's new states (``y' = y + dt z'``):

        dz'          = dz + dt * dy
        d(drive's input) = dz' * dt * (1 - drive**2)
        [dy_m, dz_m] = d(drive's input) W^T
        dy_{t-1}     = dy - dz' * dt * gamma + dy_m
        dz_{t-1}     = dz' * (1 - dt * epsilon) + dz_m

    and after the loop ``dW = sum_t [y, z]_{t-1}^T d(drive's input)_t`` as one product."""
    import tensorflow as tf

    units = recurrent_kernel.shape[1]
    # the weights' values read here, outside: the pass sees tensors, not variables
    kernel, bias, recurrent_kernel = (tf.identity(w) for w in (kernel, bias, recurrent_kernel))

    @tf.custom_gradient
    def run(projected: Any, y: Any, z: Any, recurrent_kernel: Any) -> Any:
        inputs = tf.TensorArray(projected.dtype, size=0, dynamic_size=True)
        inputs = inputs.unstack(tf.transpose(projected, [1, 0, 2]))
        steps = tf.shape(projected)[1]

        def arrays(count: int) -> list[Any]:
            return [tf.TensorArray(projected.dtype, size=steps) for _ in range(count)]

        def forward(t: Any, y: Any, z: Any, saved: list[Any]) -> Any:
            state = tf.concat([y, z], -1)
            drive = tf.tanh(inputs.read(t) + tf.matmul(state, recurrent_kernel))
            z = z + dt * (drive - gamma * y - epsilon * z)
            y = y + dt * z
            kept = (state, drive)
            return t + 1, y, z, [array.write(t, x) for array, x in zip(saved, kept, strict=True)]

        _, y_last, z_last, saved = tf.while_loop(
            lambda t, *_: t < steps, forward, (0, y, z, arrays(2))
        )
        states_before, drives = (array.stack() for array in saved)

        def gradient(d_y_last: Any, d_z_last: Any) -> Any:
            drive_at = tf.TensorArray(projected.dtype, size=steps).unstack(drives)

            def backward(t: Any, dy: Any, dz: Any, d_drives: Any) -> Any:
                drive = drive_at.read(t)
                dz = dz + dt * dy
                d_drive = dz * dt * (1 - drive * drive)
                dy_m, dz_m = tf.split(
                    tf.matmul(d_drive, recurrent_kernel, transpose_b=True), 2, axis=-1
                )
                dy = dy - dz * (dt * gamma) + dy_m
                dz = dz * (1 - dt * epsilon) + dz_m
                return t - 1, dy, dz, d_drives.write(t, d_drive)

            zero = tf.zeros_like(y_last)
            _, dy, dz, d_drives = tf.while_loop(
                lambda t, *_: t >= 0,
                backward,
                (
                    steps - 1,
                    zero if d_y_last is None else d_y_last,
                    zero if d_z_last is None else d_z_last,
                    *arrays(1),
                ),
            )
            d_drives = d_drives.stack()
            d_recurrent = tf.matmul(
                tf.reshape(states_before, [-1, 2 * units]),
                tf.reshape(d_drives, [-1, units]),
                transpose_a=True,
            )
            return tf.transpose(d_drives, [1, 0, 2]), dy, dz, d_recurrent

        return (y_last, z_last), gradient

    # XLA fuses the step's elementwise ops (see rnncls/cells/lem.py)
    def whole(sequences: Any, y: Any, z: Any, kernel: Any, bias: Any, recurrent: Any) -> Any:
        return run(tf.matmul(sequences, kernel) + bias, y, z, recurrent)

    weights = (kernel, bias, recurrent_kernel)
    return tf.function(whole, jit_compile=True)(sequences, y, z, *weights)


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
