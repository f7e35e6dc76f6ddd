"""Recurrent cells: one module a cell behind one small interface.

A cell module declares ``CELL``, a :class:`Cell`:

- ``name``: the value of ``model.cell``; ``summary``: a few words for ``config keys``;
- ``options``: a frozen dataclass of its own config keys, declared with
  :func:`rnncls.keyspec.spec` like every key (the config section named after the cell:
  ``[lem]``, ``[cornn]``), or None;
- ``layer(model, options, steps, **arguments)``: the Keras layer of one recurrent layer of
  ``model.hidden_units`` (``arguments``: ``return_sequences``, ``unroll``, ``name``, as
  Keras's recurrent layers take them), for sequences of ``steps`` steps; it imports Keras;
- ``cudnn``: Keras hands the layer to cuDNN's fused kernel on a GPU;
- ``lstm_passes``: the hand-written CPU passes of an LSTM (``rnncls.lstm_pass``,
  ``rnncls.lstm_loop``) can train it;
- ``sequence_pass``: its layer trains the plain case (no mask, forward, the last output)
  through the cell's own pass over the sequence (:mod:`rnncls.cells.projecting`); True,
  or a function of the cell's options that says whether they allow it;
- ``keras_objects``: for a cell of its own Keras classes, the function that defines and
  registers them (cached, so Keras is imported only when a model is built or loaded, and with the
  shared layers it uses:
  :func:`register_keras_objects`, which :mod:`rnncls.model` calls).

A cell written here reads its inputs, in training, through one product for the whole
sequence before its loop (:mod:`rnncls.cells.projecting`), and its loop runs only the
recurrence; in inference each step projects its own input, so no step is kept.

Every layer exports to ONNX through Keras's own export (each cell's test checks it).
Standard library only at import: the config's checks read the declarations. A new cell is
its module in this package (found here by its ``CELL``) and its test: nothing else lists
the cells.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cell:
    name: str
    summary: str
    layer: Callable[..., Any]
    options: type | None = None
    cudnn: bool = False
    lstm_passes: bool = False
    sequence_pass: bool | Callable[[Any], bool] = False
    rank: int = 10  # where config keys lists it: Keras's cells first, then by name
    keras_objects: Callable[[], Any] | None = None


def takes_own_pass(cell: Cell, options: Any) -> bool:
    """Whether ``cell`` with ``options`` (its config section) trains through its own pass."""
    if callable(cell.sequence_pass):
        return bool(cell.sequence_pass(options))
    return cell.sequence_pass


def _load() -> dict[str, Cell]:
    """Every module of this package that declares a ``CELL``."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        cell = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CELL", None)
        if isinstance(cell, Cell):
            found.append(cell)
    return {cell.name: cell for cell in sorted(found, key=lambda c: (c.rank, c.name))}


CELLS: dict[str, Cell] = _load()


def register_keras_objects() -> None:
    """Define and register every cell's Keras classes, so that a saved model that holds
    them loads (imports Keras)."""
    for cell in CELLS.values():
        if cell.keras_objects is not None:
            cell.keras_objects()
