"""Which implementation trains a config's recurrent layers, chosen in this one place.

- On a GPU: Keras's own layers, not unrolled, so that Keras hands the LSTM and GRU to
  cuDNN's fused kernels (a simple RNN has none: Keras's loop);
- on the CPU, a sequence short enough to unroll (``rnncls.sequence.unrolled``: the
  seed's 28 rows): the hand-written two-core pass (:mod:`rnncls.lstm_pass`) where it
  covers the config, else Keras's unrolled graph;
- on the CPU, a longer sequence (the pixel tasks): TensorFlow's fused LSTM kernel on two
  cores (:mod:`rnncls.lstm_loop`) where it covers the config, else Keras's loop.

Each pass lists what it needs of every config key (its ``REQUIREMENTS``), so a new key
can never be silently ignored by one; :func:`choose` says why a faster path was ruled
out, and training logs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnncls.cells import CELLS, takes_own_pass
from rnncls.config_keys import Config
from rnncls.datasets.description import DataSet
from rnncls.sequence import sequence_shape, unrolled

UNROLLED_PASS = "unrolled_pass"
FUSED_LOOP = "fused_loop"
CUDNN = "cudnn"
KERAS = "keras"


@dataclass(frozen=True)
class TrainingPath:
    name: str  # UNROLLED_PASS, FUSED_LOOP, CUDNN or KERAS
    unroll: bool  # whether the model's recurrent layers unroll
    reasons: tuple[str, ...] = ()  # what ruled out the CPU's hand-made path

    def describe(self, config: Config, dataset: DataSet) -> str:
        """One line for the log: which path, and for Keras's graph why."""
        steps = sequence_shape(config.sequence, dataset.shape)[0]
        if self.name == UNROLLED_PASS:
            return f"training through the hand-written two-core LSTM pass ({steps} steps)"
        if self.name == FUSED_LOOP:
            return f"training through TensorFlow's fused LSTM loop on two cores ({steps} steps)"
        if self.name == CUDNN:
            return f"training on the GPU through cuDNN's {config.model.cell.upper()} kernel"
        shape = "unrolled graph" if self.unroll else "loop"
        why = f" ({', '.join(self.reasons)})" if self.reasons else ""
        if self.name == KERAS and not self.unroll and own_pass(config, dataset):
            cell = config.model.cell
            if config.model.layers == 1:
                return (
                    f"training through the {cell} cell's own pass, compiled by XLA ({steps} steps)"
                )
            shape += f", the last layer through the {cell} cell's own pass (XLA)"
        return f"training through Keras's {shape} ({steps} steps){why}"


def own_pass(config: Config, dataset: DataSet) -> bool:
    """Whether the cell's own pass trains the last recurrent layer (``Cell.sequence_pass``:
    no mask, as a series has, and forward only, not bidirectional)."""
    cell = CELLS[config.model.cell]
    options = getattr(config, config.model.cell, None)
    return (
        takes_own_pass(cell, options) and not dataset.is_series and not config.model.bidirectional
    )


def choose(config: Config, dataset: DataSet, gpus: int = 0) -> TrainingPath:
    """The path that trains ``config`` on ``dataset`` on a machine where TensorFlow sees
    ``gpus`` GPUs."""
    shape = dataset.shape
    from rnncls import lstm_loop, lstm_pass

    if gpus:
        # Keras 3 gives a cell to cuDNN on a GPU when its options allow it (the cells that
        # say so are built as it wants them: default activations, a bias, not unrolled)
        name = CUDNN if CELLS[config.model.cell].cudnn else KERAS
        reasons = () if name == CUDNN else (f"model.cell = {config.model.cell!r}: no cuDNN kernel",)
        return TrainingPath(name, unroll=False, reasons=reasons)
    unroll = unrolled(config.model, config.sequence, shape)
    if unroll:
        reasons = tuple(lstm_pass.unsupported(config, dataset))
        return TrainingPath(KERAS if reasons else UNROLLED_PASS, unroll=True, reasons=reasons)
    reasons = tuple(lstm_loop.unsupported(config, dataset))
    return TrainingPath(KERAS if reasons else FUSED_LOOP, unroll=False, reasons=reasons)
