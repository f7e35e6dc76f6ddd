"""IndRNN, the independently recurrent network (Li, Li, Cook, Zhu & Gao, CVPR 2018).

Each unit recurs on itself only: its recurrent weight is one number ``u``, not a row of a
matrix, and the step is elementwise,

    h' = relu(x W + b + u * h),

so the input product ``x W`` for the whole sequence is one matmul
(:mod:`rnncls.cells.projecting`) and the loop multiplies and adds. A unit's memory is set
by ``u``: over ``T`` steps a state grows at most ``|u|**T``, which the paper bounds.
Here ``indrnn.max_gain`` is that bound: ``|u| <= max_gain ** (1 / T)`` for the run's
sequence of ``T`` steps, enforced after every optimizer step; ``u`` starts uniform in
``[0, max_gain ** (1 / T)]``, and in a stack's last layer in
``[(1 / max_gain) ** (1 / T), max_gain ** (1 / T)]`` (the authors' sMNIST setting: the
layer the head reads keeps its memory). Several layers (``model.layers``) are the paper's
networks.

``indrnn.batch_norm`` says what each layer batch-normalises (a padded step of a series
does not count), in training over the batch (and the steps, where it has them), in
inference by its moving averages, which follow the batches as PyTorch's do (momentum
0.1, the authors' code) and which training recomputes before each evaluation
(``Trainer.recompute_batch_norm``):

- ``"states"``: the layer's outputs, the authors' pixel-MNIST networks (``bn_after``):
  a hidden layer's states over the batch and the steps, the last layer's last state
  (the one the head reads) over the batch, where the authors pool it with the steps;
- ``"inputs"``: the projected input before the loop (the paper's ``bn_before``);
- ``"none"``.

On long sequences the states are the ones to normalise. The units of the last layer
keep nearly all they sum (``u`` near 1), so normalising the inputs lets a small error of
the moving mean add up over the steps: after 300 steps of a 2-layer sMNIST run, the
``"inputs"`` network read 63 % of 512 test digits right with its batches' statistics and
21 % with its moving ones, with logits over 100.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

from rnncls.cells import Cell, own_pass, projecting
from rnncls.keyspec import at_least, spec


@dataclass(frozen=True)
class IndRNNOptions:
    max_gain: float = spec(
        2.0,
        at_least(1.0, 1e6),
        help="IndRNN's bound on how much a unit's recurrence can grow a state over the "
        "whole sequence: each recurrent weight stays within max_gain ** (1 / steps).",
    )
    batch_norm: Literal["states", "inputs", "none"] = spec(
        "states",
        help="What each IndRNN layer batch-normalises: its states (the authors' "
        "pixel-MNIST networks; the last layer's last state, over the batch), its projected "
        "input (over the batch and the steps), or none.",
    )


@functools.cache
def keras_objects() -> dict[str, Any]:
    """The IndRNN cell and its weights' bound, defined and registered on the first call
    (imports Keras)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="rnncls")
    class Within(keras.constraints.Constraint):
        """Keeps every value of a weight in ``[-limit, limit]``."""

        def __init__(self, limit: float) -> None:
            self.limit = limit

        def __call__(self, weight: Any) -> Any:
            return ops.clip(weight, -self.limit, self.limit)

        def get_config(self) -> dict[str, Any]:
            return {"limit": self.limit}

    @keras.saving.register_keras_serializable(package="rnncls")
    class IndRNNCell(keras.layers.Layer):
        """One step of IndRNN on the projected (and normalised) input."""

        def __init__(
            self,
            units: int,
            recurrent_max: float,
            recurrent_min: float = 0.0,
            batch_norm: bool = True,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.recurrent_max = recurrent_max
            self.recurrent_min = recurrent_min
            self.batch_norm = batch_norm
            self.state_size = units
            self.output_size = units
            self.normalization = (
                keras.layers.BatchNormalization(momentum=0.9, name="batch_norm")
                if batch_norm
                else None
            )
            if batch_norm:  # the own pass projects without the normalisation
                self.sequence_pass = None

        def build(self, input_shape: Any) -> None:
            features = input_shape[-1]
            # PyTorch's kaiming_uniform_(a=8) of the authors' code: small input weights
            bound = math.sqrt(2 / (1 + 8**2)) * math.sqrt(3 / features)
            self.kernel = self.add_weight(
                shape=(features, self.units),
                initializer=keras.initializers.RandomUniform(-bound, bound),
                name="kernel",
            )
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
            self.recurrent_weight = self.add_weight(
                shape=(self.units,),
                initializer=keras.initializers.RandomUniform(
                    self.recurrent_min, self.recurrent_max
                ),
                constraint=Within(self.recurrent_max),
                name="recurrent_weight",
            )
            if self.normalization is not None:
                self.normalization.build((None, None, self.units))

        def project(self, sequences: Any, mask: Any = None, training: Any = None) -> Any:
            projected = ops.matmul(sequences, self.kernel) + self.bias
            if self.normalization is not None:
                projected = self.normalization(projected, training=training, mask=mask)
            return projected

        def call(self, projected: Any, states: Any) -> Any:
            state = states[0] if isinstance(states, (list, tuple)) else states
            state = ops.relu(projected + self.recurrent_weight * state)
            return state, [state]

        def sequence_pass(self, sequences: Any, states: Any) -> Any:
            """Training's pass over the whole sequence (no normalised input: the input's
            batch norm runs in ``project``, which this pass does not call)."""
            (state,) = own_pass.run(
                recurrence(self.units),
                sequences,
                states,
                self.kernel,
                self.bias,
                (self.recurrent_weight,),
            )
            return state, [state]

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "units": self.units,
                "recurrent_max": self.recurrent_max,
                "recurrent_min": self.recurrent_min,
                "batch_norm": self.batch_norm,
            }

    ProjectingRNN = projecting.keras_objects()["ProjectingRNN"]

    @keras.saving.register_keras_serializable(package="rnncls")
    class StateNormalisedRNN(ProjectingRNN):
        """The IndRNN layer with its outputs batch-normalised: every step's state over
        the batch and the steps that the mask keeps, or the last state (the one the head
        reads) over the batch."""

        def __init__(self, cell: Any, **kwargs: Any) -> None:
            super().__init__(cell, **kwargs)
            self.normalization = keras.layers.BatchNormalization(momentum=0.9, name="state_norm")

        def build(self, sequences_shape: Any, initial_state_shape: Any = None) -> None:
            super().build(sequences_shape, initial_state_shape)
            if self.return_sequences:
                self.normalization.build((None, None, self.cell.units))
            else:
                self.normalization.build((None, self.cell.units))

        def call(
            self,
            sequences: Any,
            initial_state: Any = None,
            mask: Any = None,
            training: Any = False,
        ) -> Any:
            outputs = super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
            step_mask = mask if self.return_sequences else None
            if step_mask is not None and self.go_backwards:
                # the outputs run from the last step back (Bidirectional turns them round
                # after this layer): so must the steps the mask keeps
                step_mask = ops.flip(step_mask, axis=1)
            return self.normalization(outputs, training=training, mask=step_mask)

    return {
        **projecting.keras_objects(),
        "Within": Within,
        "IndRNNCell": IndRNNCell,
        "StateNormalisedRNN": StateNormalisedRNN,
    }


def recurrence(units: int) -> own_pass.Recurrence:
    """IndRNN's steps for its own training pass (:mod:`rnncls.cells.own_pass`). Backward,
    from the gradient ``dh`` of the step's new state ``h' = relu(p + u * h)``:

        dp        = dh * (h' > 0)
        dh_{t-1}  = dp * u

    and after the loop ``du = sum over steps and batch of h_{t-1} * dp``."""
    import tensorflow as tf

    def forward(projected: Any, states: Any, recurrent: Any) -> Any:
        (state,), (u,) = states, recurrent
        new = tf.nn.relu(projected + u * state)
        return (new,), (state, new)

    def backward(kept: Any, d_states: Any, recurrent: Any) -> Any:
        (_, new), (d_new,), (u,) = kept, d_states, recurrent
        d_projected = tf.where(new > 0, d_new, tf.zeros_like(d_new))
        return (d_projected * u,), (d_projected,)

    def weight_gradients(kept: Any, d_pieces: Any, recurrent: Any) -> Any:
        (before, _), (d_projected,) = kept, d_pieces
        return (tf.reduce_sum(before * d_projected, axis=[0, 1]),)

    return own_pass.Recurrence(forward, backward, weight_gradients, kept=2, pieces=(units,))


def takes_own_pass(options: IndRNNOptions) -> bool:
    """The own pass trains the last layer unless the input is normalised (in ``project``)."""
    return options.batch_norm != "inputs"


def layer(model: Any, options: IndRNNOptions, steps: int, **arguments: Any) -> Any:
    recurrent_max = options.max_gain ** (1 / steps)
    last = not arguments.get("return_sequences", False)
    # the layer the head reads starts with every unit's memory long, as in the authors' code
    recurrent_min = (1 / options.max_gain) ** (1 / steps) if last else 0.0
    on_inputs = options.batch_norm == "inputs"
    cell = keras_objects()["IndRNNCell"](
        model.hidden_units, recurrent_max, recurrent_min, on_inputs, name="indrnn_cell"
    )  # a fixed name: checkpoints find the cell's weights by their path
    if options.batch_norm == "states":
        return keras_objects()["StateNormalisedRNN"](cell, **arguments)
    return keras_objects()["ProjectingRNN"](cell, **arguments)


CELL = Cell(
    "indrnn",
    "independently recurrent network, Li et al. 2018",
    layer,
    options=IndRNNOptions,
    sequence_pass=takes_own_pass,
    keras_objects=keras_objects,
)
