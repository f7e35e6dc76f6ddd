"""The LSTM's training pass over a long sequence (the pixel tasks: 784 or 196 steps) as
TensorFlow's fused kernel, on two cores.

A long sequence cannot unroll (a graph of hundreds of copies of the cell takes minutes
to build), and Keras's loop (``LSTM(unroll=False)``) runs about fifteen small ops a time
step, forward and backward: on a 2-core CPU most of a step is the cost of launching
them, not the arithmetic. TensorFlow still ships the fused LSTM kernels of its old
contrib package as raw ops: ``BlockLSTM`` runs the whole sequence in one op, its
gradient ``BlockLSTMGrad`` the whole backward pass in another, with Keras's maths when
asked (no peepholes, no clipping, no forget bias of its own) and its gates in another
order, which :func:`_kernel_order` maps. (Not ``BlockLSTMV2``, whose gates are in Keras's
order: TensorFlow 2.21 registers the first version's gradient op for it, which reads
the gates in the other order, so its gradients are wrong.) :func:`last_output` runs it
on the two halves of the batch, which TensorFlow's two inter-op threads train side by
side, as :mod:`rnncls.lstm_pass` does for short sequences.

Measured on the 2-core Intel Xeon of this session (bench/NOTES.md), LSTM(128), batch
128, a training step: 784 steps of 1 pixel 267 ms against Keras's loop 441 to 513 ms;
196 steps of 4 pixels 78 against 106 to 130 ms. The floats are Keras's to float32
rounding (the kernel sums in its own order), ``tests/unit/test_lstm_loop.py`` checks logits
and gradients against Keras's layer and autodiff.
"""

from __future__ import annotations

from typing import Any

from rnncls.config_keys import Config
from rnncls.datasets.description import DataSet
from rnncls.lstm_pass import Check, _needs

# Halves of fewer rows than this are not worth a second thread: the batch runs whole.
MIN_ROWS_PER_HALF = 8


# What the fused loop needs of the keys that shape the network (every key of [model], as
# rnncls.lstm_pass.REQUIREMENTS says why) and of the few others it reads; None: the key
# does not touch the recurrent layer's passes. Whether a sequence runs as a loop at all is
# the model's choice (rnncls.sequence.unrolled, from the sequence keys and model.unroll);
# rnncls.training_path picks this pass for it. tests/unit/test_lstm_loop.py fails until a
# new key of [model] is classified here.
REQUIREMENTS: dict[str, Check | None] = {
    "model.cell": _needs("model.cell", "lstm"),
    "model.hidden_units": None,
    "model.layers": _needs("model.layers", 1),
    "model.bidirectional": _needs("model.bidirectional", False),
    "model.dropout": _needs("model.dropout", 0.0),
    "model.num_classes": None,
    "model.forget_bias": None,  # the initial bias; the pass computes with any weights
    "model.conv_layers": _needs("model.conv_layers", 0),
    "model.conv_filters": None,
    "model.conv_kernel": None,
    "model.unroll": None,
    "train.batch_size": None,  # any batch: one of fewer than 2 * MIN_ROWS_PER_HALF runs whole
    "train.fast_path": _needs("train.fast_path", "auto"),
    "train.distribute": _needs("train.distribute", "none"),
}


def unsupported(config: Config, dataset: DataSet) -> list[str]:
    """The settings of ``config`` that keep it off the fused loop (empty: it applies) on
    ``dataset``; the kernel runs every row to the same last step, so series of several
    lengths (or with missing values) need Keras's masked loop."""
    reasons = [check(config, dataset) for check in REQUIREMENTS.values() if check is not None]
    if dataset.masked:
        reasons.append("series of several lengths or with missing values (a mask)")
    return [reason for reason in reasons if reason]


def last_output(tf: Any, sequences: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> Any:
    """The LSTM's output after the last time step of a (batch, steps, features) float32
    batch, through the fused kernel, the batch's two halves side by side."""
    batch = int(sequences.shape[0])
    parts = [sequences]
    if batch >= 2 * MIN_ROWS_PER_HALF:
        parts = tf.split(sequences, [batch // 2, batch - batch // 2], axis=0)
    weights = _kernel_order(tf, tf.concat([kernel, recurrent_kernel], axis=0))
    bias = _kernel_order(tf, bias)
    return tf.concat([_fused(tf, part, weights, bias) for part in parts], axis=0)


def _kernel_order(tf: Any, keras_weights: Any) -> Any:
    """Keras's gate columns (input, forget, cell, output) in the fused kernel's order
    (input, cell, forget, output); autodiff takes the gradients back through it."""
    gate_i, gate_f, gate_c, gate_o = tf.split(keras_weights, 4, axis=-1)
    return tf.concat([gate_i, gate_c, gate_f, gate_o], axis=-1)


def _fused(tf: Any, sequences: Any, weights: Any, bias: Any) -> Any:
    rows, steps = int(sequences.shape[0]), int(sequences.shape[1])
    units = int(weights.shape[1]) // 4
    no_peephole = tf.zeros([units])
    outputs = tf.raw_ops.BlockLSTM(
        seq_len_max=tf.constant(steps, tf.int64),
        x=tf.transpose(sequences, [1, 0, 2]),  # time-major
        cs_prev=tf.zeros([rows, units]),
        h_prev=tf.zeros([rows, units]),
        w=weights,
        wci=no_peephole,
        wcf=no_peephole,
        wco=no_peephole,
        b=bias,
        forget_bias=0.0,  # Keras's bias holds it (unit_forget_bias starts it at 1)
        cell_clip=0.0,  # 0: no clipping
        use_peephole=False,
    )
    return outputs[6][-1]  # h of the last step
