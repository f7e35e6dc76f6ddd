"""The typed parts of a training run: where it stands (:class:`TrainingState`, the part of
a checkpoint that is not arrays), what it reports (:class:`Progress`, :class:`EvalEvent`)
and what it returns (:class:`TrainResult`). numpy-free, so the command line can name them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# 1: arrays by position (model.weights, optimizer.variables), rnncls 0.1 runs, still read;
# 2: arrays by name, random-number state and the early-stopping state included.
CHECKPOINT_VERSION = 2
READABLE_CHECKPOINT_VERSIONS = (1, 2)


@dataclass
class TrainingState:
    """Where a run stands after its last step: what a checkpoint holds besides the
    variables, and what the loop and the callbacks change as it goes."""

    version: int = CHECKPOINT_VERSION  # of the checkpoint it was read from or is written as
    step: int = 0
    loss_sum: float = 0.0  # training losses since the last evaluation, summed in order
    loss_count: int = 0
    train_seconds: float = 0.0
    # early stopping (train.patience): the best evaluation so far and how long ago it was
    best_step: int = 0
    best_accuracy: float = -1.0
    evaluations_since_best: int = 0
    stopped_early: bool = False
    validation_accuracy: float | None = None  # of the last evaluation

    def to_checkpoint(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, values: dict[str, Any]) -> TrainingState:
        """The state a checkpoint recorded; one that does not say its version is one of
        rnncls 0.1 (version 1), and keys it lacks keep their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{"version": 1, **{k: v for k, v in values.items() if k in known}})

    def train_loss(self) -> float:
        """The mean training loss since the last evaluation."""
        return self.loss_sum / self.loss_count


@dataclass(frozen=True)
class Progress:
    """Steps done so far, between two evaluations (the loop reports at least every
    PROGRESS_SECONDS of training)."""

    step: int
    total_steps: int


@dataclass(frozen=True)
class EvalEvent:
    step: int
    total_steps: int
    train_loss: float
    eval_accuracy: float
    eval_loss: float
    learning_rate: float

    def to_json(self) -> dict[str, Any]:
        return {"event": "eval", **asdict(self)}


@dataclass(frozen=True)
class TrainResult:
    steps: int
    test_accuracy: float
    test_loss: float
    train_seconds: float
    ms_per_step: float
    run_dir: str
    # The step whose weights the model holds: the last one, or with early stopping
    # (train.patience) the one with the best validation accuracy.
    kept_step: int
    stopped_early: bool = False
    # The validation accuracy of the kept step (what `rnncls tune` maximises); None in
    # summaries written before it was recorded.
    validation_accuracy: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": "done", **asdict(self)}

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> TrainResult:
        """The result a summary.json records (runs from before early stopping kept
        their last step)."""
        values = {k: summary[k] for k in cls.__dataclass_fields__ if k in summary}
        values.setdefault("kept_step", summary["steps"])
        return cls(**values)
