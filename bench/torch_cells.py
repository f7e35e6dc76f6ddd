"""LEM, coRNN and IndRNN in PyTorch, as their authors wrote them, for the benchmark.

rnncls's cells (``rnncls/cells/``) are timed against the code that their papers' results
came from, run on this machine. Each class here follows its authors' own code for the
pixel tasks: a small ``nn.Module`` for one time step, called from a Python loop over a
time-major sequence ``(steps, batch, features)``, and autograd for the backward pass.
The weights keep the authors' names (``inp2hid``, ``i2h``, ``weight_hh``), so each line
can be set beside theirs.

- LEM (Rusch, Mishra, Erichson & Mahoney, ICLR 2022): ``tk-rusch/LEM``,
  ``src/psMNIST/network.py`` (``LEMCell``, ``LEM``). Three ``nn.Linear`` a step: the
  input to the four gates (``inp2hid``), ``y`` to three of them (``hid2hid``) and the new
  ``z`` to ``y``'s target (``transform_z``); every weight uniform in +-1/sqrt(units).
- coRNN (Rusch & Mishra, ICLR 2021): ``tk-rusch/coRNN``, ``psMNIST/network.py``
  (``coRNNCell`` and ``coRNN``, :class:`CoRNNCell` and :class:`CoRNN` here). One
  ``nn.Linear`` a step on ``cat(x, z, y)``, with PyTorch's own start.
- IndRNN (Li, Li, Cook, Zhu & Gao, CVPR 2018): ``Sunnydreamrain/IndRNN_pytorch``,
  ``pixelMNIST/IndRNN_onlyrecurrent.py``, the elementwise recurrence in the version the
  authors name for a machine without CUDA (:class:`IndRNNStep` and
  :class:`IndRNNRecurrence` here), inside the network of
  ``pixelMNIST/Indrnn_plainnet.py`` with ``utils.py``'s ``Linear_overtime_module`` and
  ``Batch_norm_overtime`` (:class:`LinearOverTime`, :class:`BatchNormOverTime`): one
  product over all the steps, batch normalisation over the batch and the steps, then the
  loop. The authors' ``clip_weight`` (every recurrent weight within
  ``max_gain ** (1 / steps)``) is :meth:`IndRNN.constrain`, which the training loop calls
  after each optimizer step, as Keras applies rnncls's constraint.

Where rnncls's cell arranges the same maths differently, the network here takes rnncls's
choice, so that both sides train the same function and only the code differs:

- LEM and coRNN take their settings from the run's ``[lem]`` and ``[cornn]`` sections.
- IndRNN normalises the projected input before the recurrence (the authors' option
  ``--bn_location bn_before``; their scripts use ``bn_after``), with the settings of
  Keras's ``BatchNormalization`` (epsilon 1e-3, moving averages at 0.99) in place of
  PyTorch's, and has one layer, the last one of the authors' stack: its recurrent weights
  start in ``[(1 / max_gain) ** (1 / steps), max_gain ** (1 / steps)]`` (their
  ``--u_lastlayer_ini``).

Every layer here reads ``(steps, batch, features)`` and returns its last output
``(batch, units)``, which the classifier reads.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class LEMCell(nn.Module):
    """One step of LEM: the rates ``dt * sigmoid(...)`` of both states, then ``z`` moves
    towards its target, then ``y`` towards a target that reads the new ``z``."""

    def __init__(self, ninp: int, nhid: int, dt: float) -> None:
        super().__init__()
        self.ninp = ninp
        self.nhid = nhid
        self.dt = dt
        self.inp2hid = nn.Linear(ninp, 4 * nhid)
        self.hid2hid = nn.Linear(nhid, 3 * nhid)
        self.transform_z = nn.Linear(nhid, nhid)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.nhid)
        for weight in self.parameters():
            weight.data.uniform_(-bound, bound)

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        transformed_inp = self.inp2hid(x)
        transformed_hid = self.hid2hid(y)
        i_dt1, i_dt2, i_z, i_y = transformed_inp.chunk(4, 1)
        h_dt1, h_dt2, h_y = transformed_hid.chunk(3, 1)
        ms_dt_bar = self.dt * torch.sigmoid(i_dt1 + h_dt1)
        ms_dt = self.dt * torch.sigmoid(i_dt2 + h_dt2)
        z = (1.0 - ms_dt) * z + ms_dt * torch.tanh(i_y + h_y)
        y = (1.0 - ms_dt_bar) * y + ms_dt_bar * torch.tanh(self.transform_z(z) + i_z)
        return y, z


class LEM(nn.Module):
    """LEM over a sequence: the authors' loop, both states starting at zero."""

    def __init__(self, ninp: int, nhid: int, dt: float = 1.0) -> None:
        super().__init__()
        self.nhid = nhid
        self.cell = LEMCell(ninp, nhid, dt)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        y = sequence.new_zeros(sequence.size(1), self.nhid)
        z = sequence.new_zeros(sequence.size(1), self.nhid)
        for x in sequence:
            y, z = self.cell(x, y, z)
        return y


class CoRNNCell(nn.Module):
    """One step of coRNN: the velocity ``hz`` driven by ``tanh`` of one product of the
    input and both states, less the stiffness and the damping; then the position ``hy``."""

    def __init__(self, n_inp: int, n_hid: int, dt: float, gamma: float, epsilon: float) -> None:
        super().__init__()
        self.dt = dt
        self.gamma = gamma
        self.epsilon = epsilon
        self.i2h = nn.Linear(n_inp + n_hid + n_hid, n_hid)

    def forward(
        self, x: torch.Tensor, hy: torch.Tensor, hz: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        drive = torch.tanh(self.i2h(torch.cat((x, hz, hy), 1)))
        hz = hz + self.dt * (drive - self.gamma * hy - self.epsilon * hz)
        hy = hy + self.dt * hz
        return hy, hz


class CoRNN(nn.Module):
    """coRNN over a sequence: the authors' loop, both states starting at zero."""

    def __init__(self, n_inp: int, n_hid: int, dt: float, gamma: float, epsilon: float) -> None:
        super().__init__()
        self.n_hid = n_hid
        self.cell = CoRNNCell(n_inp, n_hid, dt, gamma, epsilon)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        hy = sequence.new_zeros(sequence.size(1), self.n_hid)
        hz = sequence.new_zeros(sequence.size(1), self.n_hid)
        for t in range(sequence.size(0)):
            hy, hz = self.cell(sequence[t], hy, hz)
        return hy


class IndRNNStep(nn.Module):
    """One step of IndRNN on an input already projected: ``relu(input + w_hh * h)``, each
    unit with its one recurrent weight."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_hh = nn.Parameter(torch.empty(hidden_size))
        nn.init.uniform_(self.weight_hh, 0.0, 1.0)

    def forward(self, projected: torch.Tensor, hx: torch.Tensor) -> torch.Tensor:
        recurrent = self.weight_hh.unsqueeze(0).expand(hx.size(0), len(self.weight_hh))
        return torch.relu(projected + hx * recurrent)


class IndRNNRecurrence(nn.Module):
    """The recurrence over a projected sequence: every step's state, stacked."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.indrnn_cell = IndRNNStep(hidden_size)

    def forward(self, projected: torch.Tensor) -> torch.Tensor:
        hx_cell = projected.new_zeros(projected.size(-2), projected.size(-1))
        outputs = []
        for projected_t in projected:
            hx_cell = self.indrnn_cell(projected_t, hx_cell)
            outputs.append(hx_cell)
        return torch.stack(outputs, 0)


class LinearOverTime(nn.Module):
    """One ``nn.Linear`` over every step of a ``(steps, batch, features)`` sequence."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.fc = nn.Linear(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x.contiguous().view(-1, self.input_size))
        return y.view(x.size(0), x.size(1), self.hidden_size)


class BatchNormOverTime(nn.Module):
    """Batch normalisation of each unit over the batch and the steps."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        # rnncls's BatchNormalization: Keras's epsilon (1e-3), PyTorch's momentum (0.1)
        self.bn = nn.BatchNorm1d(hidden_size, eps=1e-3, momentum=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(1, 2, 0)
        x = self.bn(x.clone())
        return x.permute(2, 0, 1)


class IndRNN(nn.Module):
    """A one-layer plain IndRNN as in ``Indrnn_plainnet.py``: the product over time, the
    recurrence, its last output, with batch normalisation where ``batch_norm`` says:
    ``"inputs"`` of the product over the batch and the steps (the authors'
    ``bn_before``), ``"states"`` of the last output over the batch (rnncls's last layer;
    the authors' ``bn_after`` pools the statistics over the steps), or ``"none"``."""

    def __init__(
        self, input_size: int, hidden_size: int, steps: int, max_gain: float, batch_norm: str
    ) -> None:
        super().__init__()
        self.u_bound = max_gain ** (1 / steps)
        self.u_lowbound = (1 / max_gain) ** (1 / steps)
        self.dense = LinearOverTime(input_size, hidden_size)
        self.norm = BatchNormOverTime(hidden_size) if batch_norm == "inputs" else None
        self.state_norm = (
            nn.BatchNorm1d(hidden_size, eps=1e-3, momentum=0.1) if batch_norm == "states" else None
        )
        self.indrnn = IndRNNRecurrence(hidden_size)
        self.init_weights()

    def init_weights(self) -> None:
        """The authors' ``init_weights`` for the last layer of the stack."""
        nn.init.kaiming_uniform_(self.dense.fc.weight, a=8, mode="fan_in")
        nn.init.zeros_(self.dense.fc.bias)
        self.indrnn.indrnn_cell.weight_hh.data.uniform_(self.u_lowbound, self.u_bound)

    def constrain(self) -> None:
        """The authors' ``clip_weight``: every recurrent weight within ``u_bound``."""
        self.indrnn.indrnn_cell.weight_hh.data.clamp_(-self.u_bound, self.u_bound)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        projected = self.dense(sequence)
        if self.norm is not None:
            projected = self.norm(projected)
        last = self.indrnn(projected)[-1]
        return last if self.state_norm is None else self.state_norm(last)


CELLS = ("lem", "cornn", "indrnn")


def build_layer(cell: str, features: int, units: int, steps: int, options: Any) -> nn.Module:
    """The authors' layer of ``cell`` for sequences of ``steps`` steps of ``features``,
    with the settings of ``options`` (the run's section of that cell)."""
    if cell == "lem":
        return LEM(features, units, options.dt)
    if cell == "cornn":
        return CoRNN(features, units, options.dt, options.gamma, options.epsilon)
    if cell == "indrnn":
        return IndRNN(features, units, steps, options.max_gain, options.batch_norm)
    raise ValueError(f"no PyTorch version of the cell {cell!r} here; these have one: {CELLS}")
