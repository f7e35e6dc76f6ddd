"""The LSTM's training pass written out by hand, so that two cores share one step.

Keras differentiates the unrolled LSTM into a single chain through the 28 time steps:
the gates of step t wait for step t-1, and the gradient of step t waits for step t+1.
That chain is most of a training step, and TensorFlow runs it on one core.

:func:`last_output` computes what the Keras layer and its autodiff compute
gradient, with the batch cut in two halves wherever rows do not mix: the input and
recurrent products, the gates, the cell state and the gradient along the sequence. The
halves are independent chains, which TensorFlow's two inter-op threads run side by side.
What does mix rows, the weight gradients (sums over the batch), takes the whole batch in
one product per time step, as in Keras's graph, so every float is summed in the order
Keras sums it. ``tests/unit/test_lstm_pass.py`` checks logits, gradients and a training run
against Keras to float32 rounding. Bit for bit is a property of the CPU's kernels: it held
on the AVX-512 machine of earlier sessions (TensorFlow 2.21 with oneDNN, Keras 3.15), not
on an AMD EPYC without AVX-512, where some logits differ in the last bit (bench/NOTES.md).

How it matches the graph Keras 3 builds for ``LSTM(unroll=True)``:

- forward, per step: ``z = x @ W``, ``z += h @ U``, ``z = bias_add(z, b)``, split into
  the i, f, c, o gates; ``c = f * c + i * tanh(zc)``, ``h = sigmoid(zo) * tanh(c)``.
  Here ``x @ W`` of all steps is one product per half: each row is the same dot product;
- backward, per step: ``Mul``, ``TanhGrad`` and ``SigmoidGrad`` as TensorFlow's registered
  gradients emit them, the four gate gradients concatenated, ``dz @ U^T`` for the step
  before, ``x^T dz``, ``h^T dz`` and ``BiasAddGrad(dz)`` for the weights;
- Keras's 28 per-step weight gradients meet in one ``AddN`` whose inputs grappler sorts
  by node name (Keras names the cell of step t ``lstm_cell_{2t+1}``); the pass adds its
  terms in that order, explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from rnncls.config_keys import Config
from rnncls.datasets.description import DataSet

# What a check of REQUIREMENTS reads: the config, and the data set it trains on.
Check = Callable[[Config, DataSet], "str | None"]

# Each half of the batch must have at least this many rows. Then each row of a product
# is the float it is in the whole batch's product, and a product with an explicit U^T is
# the float of Keras's transposed product; with 8 rows or fewer oneDNN picks other
# kernels, whose results differ in the last bit (measured here: bench/NOTES.md).
MIN_ROWS_PER_HALF = 16


def applies(batch_size: int) -> bool:
    """Whether a batch of this size trains through :func:`last_output` with the same
    floats as Keras (smaller batches train through Keras's own graph)."""
    return batch_size >= 2 * MIN_ROWS_PER_HALF


def _needs(key: str, wanted: Any) -> Check:
    section, name = key.split(".")

    def check(config: Config, dataset: DataSet) -> str | None:
        value = getattr(getattr(config, section), name)
        return None if value == wanted else f"{key} = {value!r}"

    return check


def _unrolled(config: Config, dataset: DataSet) -> str | None:
    from rnncls.sequence import UNROLL_STEPS, sequence_shape, unrolled

    shape = dataset.shape
    if unrolled(config.model, config.sequence, shape):
        return None
    if dataset.is_series:
        return "a series (its model reads any length as a loop)"
    if not config.model.unroll:
        return "model.unroll = false"
    steps = sequence_shape(config.sequence, shape)[0]
    return f"a sequence of {steps} steps (only {UNROLL_STEPS} or fewer unroll)"


def _batch_size(config: Config, dataset: DataSet) -> str | None:
    size = config.train.batch_size
    return None if applies(size) else f"train.batch_size = {size} (it needs at least 32)"


# What the pass needs of the keys that shape the network (every key of [model]: a new one
# fails tests/unit/test_lstm_pass.py until it is classified here, so no option of the
# network is silently ignored) and of the few others it reads. None: the key does not
# touch the recurrent layer's forward or backward pass. The rest of a config cannot: the
# data and the reading arrive as the sequence the pass reads, the optimizer and its
# schedule apply to the pass's gradients as to Keras's, augmentation happens before the
# pass, and a cell's own section ([lem] ...) belongs to a cell that is not the LSTM.
REQUIREMENTS: dict[str, Check | None] = {
    "model.cell": _needs("model.cell", "lstm"),
    "model.hidden_units": None,
    "model.layers": _needs("model.layers", 1),
    "model.bidirectional": _needs("model.bidirectional", False),
    "model.dropout": _needs("model.dropout", 0.0),
    "model.num_classes": None,
    "model.forget_bias": None,  # the initial bias; the pass computes with any weights
    # a convolutional front end: layers between the reading and the LSTM, not in the pass
    "model.conv_layers": _needs("model.conv_layers", 0),
    "model.conv_filters": None,
    "model.conv_kernel": None,
    "model.unroll": _unrolled,  # and a sequence short enough to unroll
    "train.batch_size": _batch_size,
    "train.fast_path": _needs("train.fast_path", "auto"),
    # Under a strategy each replica trains on its share of the batch through Keras's graph.
    "train.distribute": _needs("train.distribute", "none"),
}


def unsupported(config: Config, dataset: DataSet) -> list[str]:
    """The settings of ``config`` that keep it off the pass (empty: the pass applies) on
    ``dataset``."""
    reasons = [check(config, dataset) for check in REQUIREMENTS.values() if check is not None]
    return [reason for reason in reasons if reason]


def supports(config: Config, dataset: DataSet) -> bool:
    """Whether ``config`` trains through :func:`last_output` (Keras's maths, two cores)."""
    return not unsupported(config, dataset)


def weight_gradient_order(time_steps: int) -> list[int]:
    """The time steps in the order that Keras's weight gradients are summed, once grappler
    has sorted the inputs of their ``AddN`` by the names of Keras's cells."""
    return sorted(range(time_steps), key=lambda t: f"{2 * t + 1}/")


def last_output(tf: Any, images: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> Any:
    """The LSTM's output after the last time step, for a (batch, steps, features) float32
    batch; its gradient is Keras's, computed on two halves of the batch at once."""
    batch, steps, _ = (int(d) for d in images.shape)
    if not applies(batch):
        raise ValueError(f"a batch of {batch}: the halves need {MIN_ROWS_PER_HALF} rows each")
    units = int(recurrent_kernel.shape[0])
    halves = [batch // 2, batch - batch // 2]
    order = weight_gradient_order(steps)
    position = {t: i for i, t in enumerate(order)}
    width = len(str(steps - 1))

    @tf.custom_gradient
    def lstm(images: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> Any:
        saved = [
            _forward_half(tf, _input_products(tf, part, kernel), recurrent_kernel, bias)
            for part in tf.split(images, halves, axis=0)
        ]
        output = tf.concat([half[-1].h for half in saved], 0)

        def gradient(output_gradient: Any) -> Any:
            parts = tf.split(output_gradient, halves, 0)
            # Gate gradients per step, (rows, 4 * units), one list per half.
            gate_gradients = [
                _backward_half(tf, half, d_h, recurrent_kernel)
                for half, d_h in zip(saved, parts, strict=True)
            ]
            xs = tf.unstack(tf.transpose(images, [1, 0, 2]))
            h_before = tf.zeros([batch, units])
            d_kernel, d_recurrent, d_bias = {}, {}, {}
            for t in range(steps):
                d_z = tf.concat([g[t] for g in gate_gradients], 0)
                # Names that sort in `order`: where grappler sorts them, it keeps it.
                name = f"{position[t]:0{width}d}"
                d_kernel[t] = tf.matmul(xs[t], d_z, transpose_a=True, name=f"dw{name}")
                d_recurrent[t] = tf.matmul(h_before, d_z, transpose_a=True, name=f"du{name}")
                d_bias[t] = tf.raw_ops.BiasAddGrad(out_backprop=d_z, name=f"db{name}")
                h_before = tf.concat([half[t].h for half in saved], 0)
            return (
                None,
                *(tf.add_n([terms[t] for t in order]) for terms in (d_kernel, d_recurrent, d_bias)),
            )

        return output, gradient

    return lstm(images, kernel, recurrent_kernel, bias)


class _Step(NamedTuple):
    """What the backward pass needs of one forward step of one half."""

    c_before: Any
    i: Any
    f: Any
    g: Any
    o: Any
    tanh_c: Any
    h: Any


def _input_products(tf: Any, images: Any, kernel: Any) -> Any:
    """x @ W for every step of a (rows, steps, features) batch, time-major, in one
    product: each row is the dot product of Keras's per-step x @ W, so the same float."""
    rows, steps, features = (int(d) for d in images.shape)
    time_major = tf.reshape(tf.transpose(images, [1, 0, 2]), [steps * rows, features])
    return tf.reshape(tf.matmul(time_major, kernel), [steps, rows, int(kernel.shape[1])])


def _forward_half(tf: Any, inputs: Any, recurrent_kernel: Any, bias: Any) -> list[_Step]:
    rows, units = int(inputs.shape[1]), int(recurrent_kernel.shape[0])
    h = c = tf.zeros([rows, units])
    saved = []
    for x_kernel in tf.unstack(inputs):
        z = tf.nn.bias_add(tf.add(x_kernel, tf.matmul(h, recurrent_kernel)), bias)
        z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
        i, f, g = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c)
        c_before, c = c, f * c + i * g
        o = tf.sigmoid(z_o)
        tanh_c = tf.tanh(c)
        h = o * tanh_c
        saved.append(_Step(c_before=c_before, i=i, f=f, g=g, o=o, tanh_c=tanh_c, h=h))
    return saved


def _backward_half(tf: Any, saved: list[_Step], d_h: Any, recurrent_kernel: Any) -> list[Any]:
    """The gate gradients dz of each step, from the gradient of the last output."""
    # dz @ U^T as a plain product with an explicit U^T: the floats of Keras's transposed
    # product, 9 instead of 12 us for 64 rows (bench/NOTES.md). Grappler's arithmetic
    # optimizer would fold the transpose back: rnncls.trainer.step_graph_options.
    recurrent_transposed = tf.transpose(recurrent_kernel)
    d_c_carry = None
    gradients: list[Any] = [None] * len(saved)
    for t in reversed(range(len(saved))):
        s = saved[t]
        d_o = d_h * s.tanh_c
        d_c = tf.raw_ops.TanhGrad(y=s.tanh_c, dy=d_h * s.o)
        if d_c_carry is not None:
            d_c = d_c + d_c_carry
        d_z = tf.concat(
            [
                tf.raw_ops.SigmoidGrad(y=s.i, dy=d_c * s.g),
                tf.raw_ops.SigmoidGrad(y=s.f, dy=d_c * s.c_before),
                tf.raw_ops.TanhGrad(y=s.g, dy=d_c * s.i),
                tf.raw_ops.SigmoidGrad(y=s.o, dy=d_o),
            ],
            axis=1,
        )
        gradients[t] = d_z
        if t > 0:
            d_c_carry = d_c * s.f
            d_h = tf.matmul(d_z, recurrent_transposed)
    return gradients
