"""The plumbing of a cell's own training pass: one function that every such cell calls
with its arithmetic, so that a cell's module holds its equations and not its loops.

A cell's own pass (``sequence_pass`` in :mod:`rnncls.cells.projecting`) runs a whole
sequence with its backward written out: the loop back in time carries only the states'
gradients, and every weight gradient is one product over all steps after it. What
differs between cells is a step forward, a step back, and the products of the recurrent
weights' gradients; the cell gives these as a :class:`Recurrence`, and :func:`run` does
the rest:

- the input product ``x W + b`` for the whole sequence, time-major from the start (the
  input is a few features a step, so its transpose is cheap; a transpose of the
  projection would copy 200 MB a call at 784 steps, 128 units, batch 128);
- the loop forward, writing what the cell keeps of each step into one array a tensor;
- the loop back, reading those arrays by index and writing the gradient of each step's
  projection, in the pieces the cell gives it (LEM's gates and its target of y, so that
  each weight gradient reads its piece without a copy);
- the input weights' and the inputs' gradients from those pieces, one product each;
- an even batch as two chains: each half of the batch through its own call of the
  compiled function, two programs that TensorFlow's two inter-op threads run side by
  side, each on one core (training's one intra-op thread). Each half's weight gradients
  are summed after, so the floats depend on the batch and the chains, never on the
  machine's threads. At 784 steps, 128 units, batch 128 (AMD EPYC), the forward and
  backward of a LEM layer took 483 and 595 ms against 778 and 782 for the best one
  program did (two intra-op threads); coRNN's 275 and 251 against 303 and 300
  (bench/NOTES.md);
- all of it compiled by XLA, which fuses each step's elementwise ops into a few kernels
  (bench/NOTES.md: LEM's pass 1,450 -> 1,010 ms). Keras's own loop cannot be compiled
  alone: its gradient's lists cannot cross out of the compiled function.

Imports TensorFlow when called, never at import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recurrence:
    """A cell's arithmetic for :func:`run` (tensors of one step are (batch, n)).

    - ``forward(projected, states, recurrent)``: the step's projected input and the
      states before it, and the recurrent weights; returns the new states and what the
      backward step needs of this step (``kept``, a tuple of tensors);
    - ``backward(kept, d_states, recurrent)``: the step's ``kept`` and the gradients of
      its new states; returns the gradients of the states before it, and the gradient of
      the step's projected input as pieces of the widths ``pieces``, in order;
    - ``weight_gradients(kept, d_pieces, recurrent)``: every step's ``kept`` and ``d_pieces``
      stacked (steps, batch, n); returns the gradients of the recurrent weights;
    - ``kept``: how many tensors ``forward`` keeps a step;
    - ``pieces``: the widths of the projection's pieces, summing to its width.
    """

    forward: Callable[
        [Any, tuple[Any, ...], tuple[Any, ...]], tuple[tuple[Any, ...], tuple[Any, ...]]
    ]
    backward: Callable[[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]], tuple[Any, Any]]
    weight_gradients: Callable[[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]], tuple[Any, ...]]
    kept: int
    pieces: tuple[int, ...]


# parts of an even batch that run as independent chains (the module)
CHAINS = 2


def rows(x: Any) -> Any:
    """(steps, batch, n) -> (steps * batch, n): a stack of steps as one matrix's rows."""
    import tensorflow as tf

    return tf.reshape(x, [-1, x.shape[-1]])


def run(
    recurrence: Recurrence,
    sequences: Any,
    states: Sequence[Any],
    kernel: Any,
    bias: Any,
    recurrent: Sequence[Any],
) -> tuple[Any, ...]:
    """The cell over ``sequences`` (batch, steps, features) from ``states``, with the
    input weights ``kernel`` and ``bias`` and the recurrent weights ``recurrent``: the
    last states, with the gradient written out (the module)."""
    import tensorflow as tf

    count = len(states)

    @tf.custom_gradient
    def whole(sequences: Any, kernel: Any, bias: Any, *rest: Any) -> Any:
        states, recurrent = tuple(rest[:count]), tuple(rest[count:])
        inputs = tf.transpose(sequences, [1, 0, 2])  # (steps, batch, features)
        steps, batch = tf.shape(inputs)[0], tf.shape(inputs)[1]
        projected = tf.reshape(rows(inputs) @ kernel + bias, [steps, batch, kernel.shape[-1]])

        def arrays(n: int) -> list[Any]:
            return [tf.TensorArray(sequences.dtype, size=steps) for _ in range(n)]

        def forward(t: Any, states: tuple[Any, ...], kept: list[Any]) -> Any:
            states, now = recurrence.forward(projected[t], states, recurrent)
            return t + 1, states, [array.write(t, x) for array, x in zip(kept, now, strict=True)]

        _, last, kept = tf.while_loop(
            lambda t, *_: t < steps, forward, (0, states, arrays(recurrence.kept))
        )
        kept = tuple(array.stack() for array in kept)

        def gradient(*d_last: Any) -> Any:
            def backward(t: Any, d_states: tuple[Any, ...], d_pieces: list[Any]) -> Any:
                d_states, d_now = recurrence.backward(
                    tuple(x[t] for x in kept), d_states, recurrent
                )
                written = [array.write(t, x) for array, x in zip(d_pieces, d_now, strict=True)]
                return t - 1, d_states, written

            d_last = tuple(
                tf.zeros_like(state) if d is None else d
                for d, state in zip(d_last, last, strict=True)
            )
            _, d_states, d_pieces = tf.while_loop(
                lambda t, *_: t >= 0,
                backward,
                (steps - 1, d_last, arrays(len(recurrence.pieces))),
            )
            d_pieces = tuple(array.stack() for array in d_pieces)
            kernels = tf.split(kernel, recurrence.pieces, axis=-1)
            d_inputs = sum(
                rows(d) @ tf.transpose(k) for d, k in zip(d_pieces, kernels, strict=True)
            )
            d_sequences = tf.transpose(tf.reshape(d_inputs, tf.shape(inputs)), [1, 0, 2])
            d_kernel = tf.concat(
                [tf.matmul(rows(inputs), rows(d), transpose_a=True) for d in d_pieces], -1
            )
            d_bias = tf.concat([tf.reduce_sum(rows(d), 0) for d in d_pieces], -1)
            d_recurrent = recurrence.weight_gradients(kept, d_pieces, recurrent)
            return (d_sequences, d_kernel, d_bias, *d_states, *d_recurrent)

        return last, gradient

    # the weights' values read here, outside: the compiled function sees tensors, not variables
    weights = [tf.identity(w) for w in (kernel, bias, *recurrent)]
    compiled = tf.function(whole, jit_compile=True)
    batch = sequences.shape[0]
    chains = CHAINS if batch and batch % CHAINS == 0 else 1
    ends = [
        compiled(part, weights[0], weights[1], *part_states, *weights[2:])
        for part, *part_states in zip(
            tf.split(sequences, chains), *(tf.split(s, chains) for s in states), strict=True
        )
    ]
    return tuple(tf.concat(parts, 0) for parts in zip(*ends, strict=True))
