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
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from rnncls.cells import Cell, projecting
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

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "units": self.units, "dt": self.dt}

    return {**projecting.keras_objects(), "LEMCell": LEMCell}


def layer(model: Any, options: LEMOptions, steps: int, **arguments: Any) -> Any:
    # a fixed name: checkpoints find the cell's weights by their path
    cell = keras_objects()["LEMCell"](model.hidden_units, options.dt, name="lem_cell")
    return keras_objects()["ProjectingRNN"](cell, **arguments)


CELL = Cell(
    "lem",
    "Long Expressive Memory, Rusch et al. 2022",
    layer,
    options=LEMOptions,
    keras_objects=keras_objects,
)
