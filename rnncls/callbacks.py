"""Training's side effects, one class each, as Keras's callbacks are: the metrics log,
early stopping, TensorBoard and checkpoints. :func:`rnncls.train.train` makes the ones a
run needs and calls each at every evaluation, in order; adding a logger is adding a class.

A callback never prints; what the user should hear goes through the run's reporter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnncls import checkpoints, rundir
from rnncls.config_keys import Config
from rnncls.errors import ConfigError
from rnncls.training_state import EvalEvent, TrainingState, TrainResult


class Callback:
    """One side effect of training. Each hook does nothing here."""

    def on_evaluation(self, event: EvalEvent, state: TrainingState) -> None:
        """After an evaluation: ``state`` is the run's state at ``event.step``."""

    def on_end(self, result: TrainResult) -> None:
        """After the run finished: tested, its model and summary saved."""


class MetricsLog(Callback):
    """``metrics.jsonl``: one line an evaluation."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_evaluation(self, event: EvalEvent, state: TrainingState) -> None:
        rundir.append_metrics(self.run_dir, event.to_json())


class EarlyStopping(Callback):
    """``train.patience``: after that many evaluations without a better validation
    accuracy, ``state.stopped_early`` ends the loop; ``best`` holds the model arrays of
    the best evaluation so far (kept in every checkpoint, restored at the end)."""

    def __init__(self, trainer: Any, patience: int, best: dict[str, np.ndarray]) -> None:
        self.trainer = trainer
        self.patience = patience
        self.best = best

    def on_evaluation(self, event: EvalEvent, state: TrainingState) -> None:
        if event.eval_accuracy > state.best_accuracy:
            state.best_accuracy, state.best_step = event.eval_accuracy, state.step
            state.evaluations_since_best = 0
            self.best.clear()
            self.best.update(self.trainer.state_arrays()["model"])
        else:
            state.evaluations_since_best += 1
            state.stopped_early = state.evaluations_since_best >= self.patience


def check_tensorboard() -> None:
    from importlib.util import find_spec

    if find_spec("tensorboard") is None:
        raise ConfigError(
            "train.tensorboard = true: the tensorboard package is not installed "
            "(pip install tensorboard)"
        )


# Config keys left out of the HParams dashboard: where data and logs go and how the work
# is spread change no result, and the number of classes is MNIST's.
NOT_HPARAMS = (
    "data.dir",
    "train.tensorboard",
    "train.fast_path",
    "train.distribute",
    "model.num_classes",
)
# The final metrics beside the hyperparameters (TensorBoard lists them as the metrics).
FINAL_METRICS = ("validation_accuracy", "test_accuracy", "test_loss")


def hparams_of(config: Config) -> dict[str, bool | int | float | str]:
    """The config keys a run's HParams record holds, by dotted name."""
    from rnncls.config import written

    return {
        f"{section}.{key}": value
        for section, table in written(config).items()
        for key, value in table.items()
        if f"{section}.{key}" not in NOT_HPARAMS
    }


class TensorBoardLog(Callback):
    """TensorBoard event files in ``run_dir/tensorboard``: the scalars of each evaluation,
    the run's hyperparameters for the HParams dashboard (its config keys, the trial id
    being the run's folder name), and at the end the kept step's validation accuracy and
    the test accuracy and loss, under ``final/``. ``tensorboard --logdir runs`` then shows
    every run and search trial in one HParams table."""

    def __init__(self, run_dir: Path, config: Config) -> None:
        from rnncls.tf_setup import import_tensorflow

        tf = self._tf = import_tensorflow()
        from tensorboard.plugins.hparams import api as hparams_api

        self._writer = tf.summary.create_file_writer(str(run_dir / rundir.TENSORBOARD_DIR))
        with self._writer.as_default():
            # A resumed run writes the same record again: the dashboard reads the last.
            hparams_api.hparams(hparams_of(config), trial_id=run_dir.name)
        self._writer.flush()

    def on_evaluation(self, event: EvalEvent, state: TrainingState) -> None:
        tf = self._tf
        with self._writer.as_default(step=event.step):
            tf.summary.scalar("loss/train", event.train_loss)
            tf.summary.scalar("loss/validation", event.eval_loss)
            tf.summary.scalar("accuracy/validation", event.eval_accuracy)
            tf.summary.scalar("learning_rate", event.learning_rate)
        self._writer.flush()

    def on_end(self, result: TrainResult) -> None:
        tf = self._tf
        with self._writer.as_default(step=result.steps):
            for name in FINAL_METRICS:
                value = getattr(result, name)
                if value is not None:
                    tf.summary.scalar(f"final/{name}", value)
        self._writer.flush()


class Checkpoints(Callback):
    """``checkpoint.npz`` at every evaluation (atomic), and on demand when training
    stops between two; ``saved_step`` is the step of the last one written (None: none
    yet in this run directory)."""

    def __init__(
        self,
        run_dir: Path,
        trainer: Any,
        best: dict[str, np.ndarray],
        saved_step: int | None,
    ) -> None:
        self.run_dir = run_dir
        self.trainer = trainer
        self.best = best  # early stopping's best model arrays, when it keeps any
        self.saved_step = saved_step

    def on_evaluation(self, event: EvalEvent, state: TrainingState) -> None:
        self.save(state)

    def save(self, state: TrainingState) -> None:
        arrays = self.trainer.state_arrays()
        if self.best:
            arrays["best"] = self.best
        checkpoints.save_checkpoint(self.run_dir, state.to_checkpoint(), arrays)
        self.saved_step = state.step
