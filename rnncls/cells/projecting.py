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

Not a cell (no ``CELL``): :func:`keras_objects` is shared by the cells' modules.
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
            projected = self.cell.project(sequences, mask=mask, training=training)
            return super().inner_loop(projected, initial_state, mask, training=training)

    return {"ProjectingRNN": ProjectingRNN}
