"""The recurrent layer of the cells written here: Keras's ``RNN`` with the input
projection taken out of the loop in training.

A cell's products with its input (``x_t W + b``) do not depend on its state, so
:class:`ProjectingRNN` runs them as one product over the whole sequence,
``(batch, steps, features) @ (features, width)``, and its loop passes each step's
projection to the cell: the loop, which costs a few small ops a step whatever their size,
runs only the recurrence. A cell for it has ``project(sequences)`` (its input weights, made
in ``build`` from the step's features as usual) and a ``call(projected, states)`` that reads
the projection. Everything else is Keras's layer: masks, stacking, ``Bidirectional``,
saving, ONNX export.

Only training projects the whole sequence at once, where the loop's backward pass needs
every step's projection anyway. Inference (evaluation, ``predict``, ``serve``, the ONNX
export) projects each step inside the loop: a batch of 2,000 pictures read as 784 steps
would otherwise hold a (2000, 784, 4 x 128) projection and its time-major copy, 6.4 GB
for LEM (``rnncls eval`` of 2,000 pictures peaked at 6,846 MiB; bench/NOTES.md,
"Inference memory").

A cell may also have ``sequence_pass(sequences, states)``: its training pass over the
whole sequence, its input product included, with the backward pass written out
(:func:`rnncls.cells.own_pass.run` over the cell's steps), which returns the last output
and the last states. The layer
takes it for the plain case of training, the one that dominates a long sequence's step:
training, no mask, forward in time, the last output only, not stateful; anything else
(and inference, and the exports) runs Keras's loop over the cell's ``call``. Its test
checks the pass's outputs and gradients against Keras's loop and autodiff.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def keras_objects() -> dict[str, Any]:
    """``ProjectingRNN``, defined and registered on the first call (imports Keras)."""
    import keras
    from keras import tree
    from keras.src import backend  # its rnn(), the loop that Keras's RNN.inner_loop runs

    @keras.saving.register_keras_serializable(package="rnncls")
    class ProjectingRNN(keras.layers.RNN):
        """Keras's RNN over a cell that has ``project``: in training the projection of the
        whole sequence first, then the loop; in inference a step's projection in its step."""

        def inner_loop(
            self, sequences: Any, initial_state: Any, mask: Any, training: Any = False
        ) -> Any:
            if self.takes_sequence_pass(mask, training):
                states = (
                    list(initial_state)
                    if isinstance(initial_state, (list, tuple))
                    else [initial_state]
                )
                last, states = self.cell.sequence_pass(sequences, states)
                return last, last[:, None, :], states
            if not training:
                return self.stepwise_loop(sequences, initial_state, mask)
            projected = self.cell.project(sequences, mask=mask, training=training)
            return super().inner_loop(projected, initial_state, mask, training=training)

        def stepwise_loop(self, sequences: Any, initial_state: Any, mask: Any) -> Any:
            """Keras's loop (``RNN.inner_loop``) over the cell's step on its own projection
            of the step's input: inference, which keeps no step. The cell projects the step
            as a sequence of one step, as ``project`` takes sequences (a batch
            normalisation in it was built for three axes)."""
            cell = self.cell

            def step(inputs: Any, states: Any) -> Any:
                projected = cell.project(inputs[:, None, :], training=False)[:, 0, :]
                output, new_states = cell(projected, states)
                if not tree.is_nested(new_states):
                    new_states = [new_states]
                return output, new_states

            if not tree.is_nested(initial_state):
                initial_state = [initial_state]
            return backend.rnn(
                step,
                sequences,
                initial_state,
                go_backwards=self.go_backwards,
                mask=mask,
                unroll=self.unroll,
                input_length=sequences.shape[1],
                zero_output_for_mask=self.zero_output_for_mask,
                return_all_outputs=self.return_sequences,
            )

        def takes_sequence_pass(self, mask: Any, training: Any) -> bool:
            """Whether the cell's own training pass computes this call (see the module)."""
            return (
                getattr(self.cell, "sequence_pass", None) is not None
                and training is True
                and mask is None
                and not (self.go_backwards or self.unroll or self.return_sequences)
                and not (self.stateful or self.return_state)
            )

    return {"ProjectingRNN": ProjectingRNN}
