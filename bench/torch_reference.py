"""The PyTorch reference for the benchmark: the seed's experiment in a plain torch loop.

Same model (LSTM of 64 units over 28 rows of 28 pixels, a dense layer on the last
output), same optimizer (Adam at 0.01), same batch size, same data and data order as
``rnncls train`` (the images come from :mod:`rnncls.data`, the batches from
:class:`rnncls.train.BatchOrder`), uint8 images scaled to 0..1 on the fly.

It prints one JSON line shaped like rnncls's ``done`` event. ``train_seconds`` counts the
training steps only, as rnncls's does: not the imports, the data loading, the one warm-up
step (undone before the timed steps) or the final evaluation.

    python bench/torch_reference.py --steps 1200 [--data-dir DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

from rnncls.data import find_data, load_split, load_training_data
from rnncls.train import BatchOrder


class LSTMClassifier(nn.Module):
    def __init__(self, hidden_units: int, num_classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(28, hidden_units, batch_first=True)
        self.logits = nn.Linear(hidden_units, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(images)
        return self.logits(outputs[:, -1])


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
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    source = find_data(args.data_dir, download=False)
    train_split, _ = load_training_data(source, args.validation_size)
    test_split = load_split(source, "test")
    order = BatchOrder(args.seed, len(train_split), args.batch_size)
    images = torch.tensor(train_split.images)  # a copy: the file's buffer is read-only
    labels = torch.tensor(train_split.labels, dtype=torch.int64)
    del train_split

    model = LSTMClassifier(args.hidden_units, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_function = nn.CrossEntropyLoss()

    def step(indices: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(model(scaled(images[indices])), labels[indices])
        loss.backward()
        optimizer.step()
        return loss.item()

    all_indices = torch.from_numpy(order.batches(0, args.steps).astype(np.int64))
    # One warm-up step (first-call allocations), then undone: the timed run is unchanged.
    saved = copy.deepcopy((model.state_dict(), optimizer.state_dict()))
    step(all_indices[0])
    model.load_state_dict(saved[0])
    optimizer.load_state_dict(saved[1])

    loss_sum = 0.0
    started = time.perf_counter()
    for row in all_indices:
        loss_sum += step(row)
    train_seconds = time.perf_counter() - started

    test_accuracy, test_loss = evaluate(model, test_split.images, test_split.labels)
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
