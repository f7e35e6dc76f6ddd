"""The PyTorch reference for the benchmark: the seed's experiment in a plain torch loop.

Same model (LSTM of 64 units over 28 rows of 28 pixels, a dense layer on the last
output; with a config, its reading of the image: columns, or pixels a few at a time in
an optional fixed permutation), same optimizer (Adam at 0.01), same batch size, same
data and data order as ``rnncls train`` (the images come from :mod:`rnncls.datasets`, the
batches from :class:`rnncls.trainer.BatchOrder`), uint8 images scaled to 0..1 on the fly.

With ``--config FILE`` it trains the network an rnncls config describes instead: the cell
(``nn.LSTM``, ``nn.GRU``, ``nn.RNN``; LEM, coRNN and IndRNN as their authors' code runs
them, a Python loop over the steps, from ``bench/torch_cells.py``, one layer), stacked and
bidirectional layers, dropout between layers and before the head, the optimizer with its
momentum, weight decay, gradient clipping and learning-rate schedule, and the
augmentation's shifts, rotations and zooms (``affine_grid`` and ``grid_sample``; torch's
own random draws, the same amount of work).

It prints one JSON line shaped like rnncls's ``done`` event. ``train_seconds`` counts the
training steps only, as rnncls's does: not the imports, the data loading, the one warm-up
step (undone before the timed steps) or the final evaluation.

    python bench/torch_reference.py --steps 1200 [--data-dir DIR] [--threads 2]
    python bench/torch_reference.py --config configs/best.toml --steps 300
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnncls.config import load_config, with_values
from rnncls.config_keys import Config, DataConfig
from rnncls.datasets import find_data, open_data
from rnncls.datasets.idx import MNIST
from rnncls.sequence import is_identity, reading_indices, sequence_shape
from rnncls.trainer import BatchOrder

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is scripts, not a package
import torch_cells  # noqa: E402

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "simple_rnn": nn.RNN}


class RecurrentClassifier(nn.Module):
    """The network of rnncls.model.build_model for the ``[sequence]`` and ``[model]``
    sections: images read as rnncls reads them (one gather of the pixels, unless rows)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        model = config.model
        self.units = model.hidden_units
        self.bidirectional = model.bidirectional
        self.shape = sequence_shape(config.sequence, MNIST.shape)
        self.order = None
        if not is_identity(config.sequence):
            indices = reading_indices(config.sequence, MNIST.shape)
            self.order = torch.from_numpy(indices.reshape(-1))
            self.order = self.order.to(torch.int64)
        # The authors' cells read time-major sequences and give their last output.
        self.authors_cell = model.cell in torch_cells.CELLS
        if self.authors_cell:
            if model.layers != 1 or model.bidirectional:
                raise ValueError(
                    f"model.cell = {model.cell!r}: its PyTorch version here has one layer, "
                    "one direction (model.layers = 1, model.bidirectional = false)"
                )
            options = getattr(config, model.cell)
            self.rnn = torch_cells.build_layer(
                model.cell, self.shape[1], model.hidden_units, self.shape[0], options
            )
        else:
            self.rnn = CELLS[model.cell](
                self.shape[1],
                model.hidden_units,
                num_layers=model.layers,
                batch_first=True,
                bidirectional=model.bidirectional,
                dropout=model.dropout if model.layers > 1 else 0.0,
            )
        self.dropout = nn.Dropout(model.dropout)
        directions = 2 if model.bidirectional else 1
        self.logits = nn.Linear(directions * model.hidden_units, MNIST.num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.order is not None:
            flat = images.reshape(images.shape[0], -1)
            images = flat[:, self.order].reshape(images.shape[0], *self.shape)
        if self.authors_cell:
            return self.logits(self.dropout(self.rnn(images.transpose(0, 1))))
        outputs, _ = self.rnn(images)
        last = outputs[:, -1]
        if self.bidirectional:  # Keras joins each direction's own last output
            last = torch.cat([outputs[:, -1, : self.units], outputs[:, 0, self.units :]], 1)
        return self.logits(self.dropout(last))

    def constrain(self) -> None:
        """Bring the weights back within their bounds after an optimizer step (IndRNN's
        recurrent weights); nothing for the other cells."""
        constrain = getattr(self.rnn, "constrain", None)
        if constrain is not None:
            constrain()


def build_optimizer(model: nn.Module, config: Config) -> torch.optim.Optimizer:
    train = config.train
    parameters, rate = model.parameters(), train.learning_rate
    if train.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=rate, momentum=train.momentum, weight_decay=train.weight_decay
        )
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            parameters, lr=rate, alpha=0.9, eps=1e-7, momentum=train.momentum
        )
    if train.weight_decay or train.optimizer == "adamw":  # Keras's decay is decoupled
        return torch.optim.AdamW(parameters, lr=rate, eps=1e-7, weight_decay=train.weight_decay)
    return torch.optim.Adam(parameters, lr=rate, eps=1e-7)


def rate_factor(config: Config, steps: int, step: int) -> float:
    """rnncls.optimization.WarmupSchedule's factor, written out again for torch."""
    train = config.train
    if step < train.warmup_steps:
        return (step + 1) / train.warmup_steps
    done = min(max((step - train.warmup_steps) / max(steps - train.warmup_steps, 1), 0.0), 1.0)
    if train.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * done))
    if train.schedule == "exponential":
        return train.decay_rate**done
    if train.schedule == "step":
        return train.decay_rate ** (min(math.floor(done * 3), 2) / 2)
    return 1.0


def augment(images: torch.Tensor, config: Config, generator: torch.Generator) -> torch.Tensor:
    """Random shifts, rotations and zooms of a (n, 28, 28) batch, bilinear, zero outside."""
    settings = config.augment
    count = images.shape[0]
    draws = torch.rand(count, 4, generator=generator) * 2 - 1
    angle = draws[:, 2] * math.radians(settings.rotation)
    scale = 1 + draws[:, 3] * settings.zoom
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift = draws[:, :2] * settings.shift * 2 / 28  # pixels to affine_grid's -1..1
    theta = torch.stack(
        [
            torch.stack([cos, sin, -shift[:, 0]], 1),
            torch.stack([-sin, cos, -shift[:, 1]], 1),
        ],
        1,
    )
    grid = nn.functional.affine_grid(theta, [count, 1, 28, 28], align_corners=False)
    moved = nn.functional.grid_sample(images[:, None], grid, align_corners=False)
    return moved[:, 0]


def scaled(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32) / 255.0


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean cross-entropy, in batches of 2000 like rnncls."""
    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(labels), 2000):
            batch = scaled(torch.tensor(images[start : start + 2000]))
            target = torch.tensor(labels[start : start + 2000], dtype=torch.int64)
            logits = model(batch)
            correct += int((logits.argmax(dim=1) == target).sum())
            loss_sum += float(nn.functional.cross_entropy(logits, target, reduction="sum"))
    model.train()
    return correct / len(labels), loss_sum / len(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden-units", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--validation-size", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--config", type=Path, default=None, help="an rnncls config to train")
    parser.add_argument("--set", action="append", default=[], help="as rnncls train --set")
    args = parser.parse_args(argv)
    config = load_config(args.config, args.set)
    if args.config is None:  # the seed's experiment, with the flags' values
        config = with_values(
            config,
            model={"hidden_units": args.hidden_units},
            train={"batch_size": args.batch_size, "learning_rate": args.lr, "seed": args.seed},
            data={"validation_size": args.validation_size},
        )
    args.batch_size, args.seed = config.train.batch_size, config.train.seed
    args.validation_size = config.data.validation_size

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    source = find_data(args.data_dir, download=False)
    data = open_data(source, DataConfig(validation_size=args.validation_size))
    train_split, test_split = data.split("train"), data.split("test")
    order = BatchOrder(args.seed, len(train_split), args.batch_size)
    # (n, 28, 28) grey: the LSTM reads rows as they are; a copy (the file's buffer is
    # read-only)
    images = torch.tensor(train_split.images[..., 0])
    labels = torch.tensor(train_split.labels, dtype=torch.int64)
    del train_split

    model = RecurrentClassifier(config)
    optimizer = build_optimizer(model, config)
    scheduled = config.train.schedule != "constant" or config.train.warmup_steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: rate_factor(config, args.steps, step)
    )
    loss_function = nn.CrossEntropyLoss()
    clipnorm = config.train.clipnorm
    augmented = bool(config.augment.shift or config.augment.rotation or config.augment.zoom)
    generator = torch.Generator().manual_seed(args.seed)

    def step(indices: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        batch = scaled(images[indices])
        if augmented:
            batch = augment(batch, config, generator)
        loss = loss_function(model(batch), labels[indices])
        loss.backward()
        if clipnorm and config.train.clip == "global":  # the joint norm of all gradients
            nn.utils.clip_grad_norm_(model.parameters(), clipnorm)
        elif clipnorm:  # Keras clips each variable's gradient by its own norm
            for parameter in model.parameters():
                nn.utils.clip_grad_norm_([parameter], clipnorm)
        optimizer.step()
        model.constrain()
        if scheduled:
            schedule.step()
        return loss.item()

    all_indices = torch.from_numpy(order.batches(0, args.steps).astype(np.int64))
    # One warm-up step (first-call allocations), then undone: the timed run is unchanged.
    saved = copy.deepcopy((model.state_dict(), optimizer.state_dict(), schedule.state_dict()))
    step(all_indices[0])
    model.load_state_dict(saved[0])
    optimizer.load_state_dict(saved[1])
    schedule.load_state_dict(saved[2])

    loss_sum = 0.0
    started = time.perf_counter()
    for row in all_indices:
        loss_sum += step(row)
    train_seconds = time.perf_counter() - started

    test_accuracy, test_loss = evaluate(model, test_split.images[..., 0], test_split.labels)
    record = {
        "event": "done",
        "steps": args.steps,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "train_loss": loss_sum / args.steps,
        "train_seconds": round(train_seconds, 3),
        "ms_per_step": round(1000 * train_seconds / args.steps, 3),
        "threads": args.threads,
        "torch": torch.__version__,
    }
    sys.stdout.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
