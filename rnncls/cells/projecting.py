"""The recurrent layer of the cells written here: Keras's ``RNN`` with the input
projection taken out of the loop.

A cell's products with its input (``x_t W + b``) do not depend on its state, so
:class:`ProjectingRNN` runs them as one product over the whole sequence,
``(batch, steps, features) @ (features, width)``, and its loop passes each step's
projection to the cell: the loop, which costs a few small ops a step whatever their size,
runs only the recurrence. A cell for it has ``project(sequences)`` (its input weights, made
in ``build`` from the step's features as usual) and a ``call(projected, states)`` that reads
the projection. Everything else is Keras's layer: masks, stacking, ``Bidirectional``,
saving, ONNX export.

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

    @keras.saving.register_keras_serializable(package="rnncls")
    class ProjectingRNN(keras.layers.RNN):
        """Keras's RNN over a cell that has ``project``: the projection first, then the loop."""

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
            projected = self.cell.project(sequences, mask=mask, training=training)
            return super().inner_loop(projected, initial_state, mask, training=training)

        def takes_sequence_pass(self, mask: Any, training: Any) -> bool:
            """Whether the cell's own training pass computes this call (see the module)."""
            return (
                hasattr(self.cell, "sequence_pass")
                and training is True
                and mask is None
                and not (self.go_backwards or self.unroll or self.return_sequences)
                and not (self.stateful or self.return_state)
            )

    return {"ProjectingRNN": ProjectingRNN}
