"""The typed training state's checkpoint round trip, and early stopping's rule, on
hand-made values (no TensorFlow)."""

from __future__ import annotations

import numpy as np

from rnncls.callbacks import EarlyStopping
from rnncls.training_state import CHECKPOINT_VERSION, EvalEvent, TrainingState


def test_a_state_round_trips_through_its_checkpoint_form():
    state = TrainingState(step=40, loss_sum=3.5, loss_count=7, best_step=30, stopped_early=True)
    assert TrainingState.from_checkpoint(state.to_checkpoint()) == state
    assert state.to_checkpoint()["version"] == CHECKPOINT_VERSION
    assert state.train_loss() == 0.5


def test_a_checkpoint_of_the_first_release_is_version_1_with_defaults():
    """rnncls 0.1 wrote no version and none of early stopping's keys."""
    old = TrainingState.from_checkpoint({"step": 12, "loss_sum": 1.0, "loss_count": 2})
    assert (old.version, old.step, old.best_accuracy, old.stopped_early) == (1, 12, -1.0, False)
    assert TrainingState.from_checkpoint({"step": 1, "a_later_key": 5}).step == 1


class FakeTrainer:
    """Model arrays that change with each call, so the kept ones can be told apart."""

    def __init__(self) -> None:
        self.calls = 0

    def state_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        self.calls += 1
        return {"model": {"w": np.full(2, self.calls, np.float32)}}


def event(step: int, accuracy: float) -> EvalEvent:
    return EvalEvent(step, 100, 0.1, accuracy, 0.2, 0.01)


def test_early_stopping_keeps_the_best_and_stops_after_patience_worse_evaluations():
    best: dict[str, np.ndarray] = {}
    stopping, state = EarlyStopping(FakeTrainer(), patience=2, best=best), TrainingState()
    for step, accuracy in [(10, 0.5), (20, 0.7), (30, 0.7), (40, 0.6)]:
        state.step = step
        stopping.on_evaluation(event(step, accuracy), state)
    # 0.7 at step 20 is the best; an equal one is no better; two without: stop
    assert (state.best_step, state.best_accuracy) == (20, 0.7)
    assert state.evaluations_since_best == 2 and state.stopped_early
    assert best["w"].tolist() == [2.0, 2.0]  # the arrays of the second evaluation
