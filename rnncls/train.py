"""Training: a plain function that returns a :class:`TrainResult` and never prints.

:func:`train` reads as the steps of a run: check everything, claim the run directory,
build the :class:`~rnncls.trainer.Trainer`, loop, finish. The loop is hand-written rather
than ``model.fit`` for two reasons measured or required elsewhere:

- speed: the steps between two evaluations run inside one ``tf.function`` call
  (:mod:`rnncls.trainer`; bench/NOTES.md has the numbers);
- exact resume: the batch of step ``s`` (and its augmentation) is a pure function of the
  seed and ``s``, and the checkpoint holds every variable by name (model, optimizer,
  the random-number state of dropout), the step and the running loss sum, so a run
  resumed from any checkpoint ends with the same weights as one left alone.

The step loop (:func:`training_loop`) yields what happened and writes nothing; the
side effects of each evaluation are callbacks (:mod:`rnncls.callbacks`), and what the
caller should hear goes through one :class:`~rnncls.reporters.Reporter`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rnncls import distribute, rundir
from rnncls.callbacks import (
    Callback,
    Checkpoints,
    EarlyStopping,
    MetricsLog,
    TensorBoardLog,
    check_tensorboard,
)
from rnncls.checkpoints import load_checkpoint
from rnncls.config import (
    to_toml,
    total_steps,
    unused_model_settings,
    unused_sequence_settings,
    unused_settings,
)
from rnncls.config_keys import Config
from rnncls.datasets import DataSource, OpenedData, Split, open_data, recorded
from rnncls.datasets.description import DataSet
from rnncls.errors import ClusterError, ConfigError, Diverged, RunError, TrainingInterrupted
from rnncls.evaluate import cross_entropy, keras_logits
from rnncls.reporters import Reporter
from rnncls.sequence import check_reading
from rnncls.sequence import describe as describe_sequence
from rnncls.stop_signals import stop_on_signals
from rnncls.trainer import BATCH_NORM_BATCHES, BatchOrder, Trainer
from rnncls.training_state import (
    CHECKPOINT_VERSION,
    READABLE_CHECKPOINT_VERSIONS,
    EvalEvent,
    Progress,
    TrainingState,
    TrainResult,
)

# Images per forward pass in the periodic and final evaluations: 2000 at a time made
# oneDNN hold about 50 MB more at the run's peak, for no measurable speed (bench/NOTES.md).
EVAL_BATCH_SIZE = 500
# A compiled call trains this long at most (after the first, which measures the speed),
# so progress shows and Ctrl-C is answered at least this often.
PROGRESS_SECONDS = 0.4
# Steps of the first call of a run, before its speed is known.
FIRST_CALL_STEPS = 10


# ---------------------------------------------------------------------- a run


@dataclass
class Start:
    """Where a run starts: its state, the checkpoint's arrays (None on a fresh start), and
    the finished result when a resumed run already has the steps asked for."""

    state: TrainingState
    arrays: dict[str, dict[str, np.ndarray]] | None = None
    finished: TrainResult | None = None


@dataclass
class Inputs:
    """The checked inputs of a run, before anything is written."""

    steps: int
    resuming: bool
    data: OpenedData
    start: Start
    order: BatchOrder | None  # None for a run that is already finished
    train_split: Split | None  # None once the trainer holds its images
    validation_split: Split
    test_split: Split | None  # None, as order and train_split, for a finished run


def train(
    config: Config,
    source: DataSource,
    run_dir: Path | None,
    *,
    resume: bool = False,
    force: bool = False,
    reporter: Reporter | None = None,
) -> TrainResult:
    """Train ``config`` on ``source`` into ``run_dir`` and return the final test result.

    ``reporter`` hears what happens (:class:`~rnncls.reporters.Reporter`). A resumed
    run takes its config from the run directory. ``run_dir`` None trains into a new
    folder under ``runs/``, named when it is made.

    Every input is checked before anything is written: a bad config, data set or run
    directory leaves the file system as it was.
    """
    reporter = reporter or Reporter()
    inputs = _check_inputs(config, source, run_dir, resume=resume, force=force, reporter=reporter)
    if inputs.start.finished is not None:
        reporter.status(f"run {run_dir} already finished at step {inputs.start.finished.steps}")
        return inputs.start.finished
    cluster = ", waiting for every worker" if config.train.distribute == "multi_worker" else ""
    reporter.phase(f"starting TensorFlow{cluster} and building the model")
    trainer = Trainer(config, inputs.data.dataset, inputs.train_split, inputs.steps)
    inputs.train_split = None  # the trainer holds the pictures
    chief = trainer.distribution.is_chief
    # Only the chief writes the run directory; another worker of a cluster writes its
    # files (the same checkpoints) into a private temporary folder.
    with ExitStack() as worker_folder:
        if chief:
            output = run_dir = rundir.claim_run_dir(run_dir, fresh=not inputs.resuming)
        else:
            output = rundir.claim_run_dir(
                worker_folder.enter_context(distribute.worker_folder()), fresh=True
            )
        # Released however training ends, so a process that goes on (rnncls tune) does
        # not keep the folder looking in use.
        try:
            _prepare(config, source, trainer, inputs, run_dir, output, reporter)
            state = inputs.start.state
            best = dict(inputs.start.arrays.get("best", {})) if inputs.start.arrays else {}
            saved_step = state.step if inputs.start.arrays is not None else None
            checkpoints = Checkpoints(output, trainer, best, saved_step)
            callbacks = _callbacks(config, trainer, output, best, chief, checkpoints)
            _run_loop(trainer, inputs, config, run_dir, callbacks, checkpoints, reporter)
            result = _finish(
                trainer, inputs.order, inputs.test_split, state, best, output, reporter, chief
            )
            for callback in callbacks:
                callback.on_end(result)
            return result if chief else replace(result, run_dir=str(run_dir))
        finally:
            rundir.release_run_dir(output)


def _check_inputs(
    config: Config,
    source: DataSource,
    run_dir: Path | None,
    *,
    resume: bool,
    force: bool,
    reporter: Reporter,
) -> Inputs:
    """Everything a run needs, checked, before anything is written."""
    if config.train.distribute == "multi_worker" and run_dir is None:
        raise ConfigError(
            "train.distribute = 'multi_worker': give every worker the same --run-dir, "
            "on a file system they share"
        )
    resuming = rundir.check_run_dir(run_dir, resume=resume, force=force)
    reporter.phase("loading the data set")
    check = recorded.unchanged(run_dir, str(source)) if resuming else None
    data = open_data(source, config.data, reporter.status, check)
    check_model_fits(config, data.dataset)
    train_split = data.split("train")
    # A copy in memory: evaluated again and again, and no view keeping a file's buffer
    validation_split = data.split("validation")
    validation_split = Split(
        "validation", np.array(validation_split.images), validation_split.labels.copy()
    )
    steps = total_steps(config.train, len(train_split))
    start = _starting_state(steps, run_dir, resuming)
    if start.finished is not None:
        return Inputs(steps, resuming, data, start, None, None, validation_split, None)
    rundir.check_writable(run_dir)
    if config.train.tensorboard:
        check_tensorboard()
    test_split = data.split("test")
    order = BatchOrder(config.train.seed, len(train_split), config.train.batch_size)
    return Inputs(steps, resuming, data, start, order, train_split, validation_split, test_split)


def _prepare(
    config: Config,
    source: DataSource,
    trainer: Trainer,
    inputs: Inputs,
    run_dir: Path,
    output: Path,
    reporter: Reporter,
) -> None:
    """Restore the checkpoint, say what the run is, write its config."""
    start, chief = inputs.start, trainer.distribution.is_chief
    if start.arrays is not None:
        trainer.restore(start.arrays, run_dir, start.state.version)
        start.state.version = CHECKPOINT_VERSION  # the next checkpoint is written as today's
    writer = "" if chief else " (the chief writes it)"
    dataset = inputs.data.dataset
    reporter.status(f"data: {dataset.describe()}")
    for note in inputs.data.parts.notes:
        reporter.status(f"data: {note}")
    reporter.status(f"run: {run_dir}{writer}")
    if trainer.distribution.strategy is not None:
        reporter.status(f"distributed: {trainer.distribution.describe()}")
    for unused in [
        *unused_settings(config.train, inputs.steps),
        *unused_model_settings(config),
    ]:
        reporter.status(f"warning: {unused}")
    reporter.status(
        f"sequence: {describe_sequence(config.sequence, dataset.shape)}; "
        f"{trainer.path.describe(config, dataset)}"
    )
    if dataset.is_series and config.augment.enabled:
        reporter.status("warning: [augment] is not used: it moves pictures, not series")
    for unused in unused_sequence_settings(config.sequence, dataset.is_series):
        reporter.status(f"warning: {unused}")
    if start.arrays is not None:
        reporter.status(f"resuming {run_dir} from step {start.state.step}")
    elif inputs.resuming:
        reporter.status(f"no checkpoint in {run_dir} yet: starting it from step 0")
    rundir.write_text(output / rundir.CONFIG_FILE, to_toml(config))
    recorded.write(output, inputs.data)
    rundir.truncate_metrics(output, start.state.step)
    # An old summary.json stays until the new one replaces it: a run continued to more
    # steps and killed is still the finished run its model.keras and summary describe.


def _callbacks(
    config: Config,
    trainer: Trainer,
    output: Path,
    best: dict[str, np.ndarray],
    chief: bool,
    checkpoints: Checkpoints,
) -> list[Callback]:
    """The side effects of each evaluation, in the order they run: early stopping first
    (it changes the state the checkpoint records), the checkpoint last."""
    callbacks: list[Callback] = []
    if config.train.patience:
        callbacks.append(EarlyStopping(trainer, config.train.patience, best))
    callbacks.append(MetricsLog(output))
    if config.train.tensorboard and chief:
        callbacks.append(TensorBoardLog(output, config))
    callbacks.append(checkpoints)
    return callbacks


def _run_loop(
    trainer: Trainer,
    inputs: Inputs,
    config: Config,
    run_dir: Path,
    callbacks: list[Callback],
    checkpoints: Checkpoints,
    reporter: Reporter,
) -> None:
    """The loop under the stop signals: each evaluation through the callbacks, then to
    the reporter; a stop asked for (by any worker) ends it with a checkpoint."""
    state, steps, order = inputs.start.state, inputs.steps, inputs.order
    if state.step < steps:
        reporter.phase("compiling the training step")
    with stop_on_signals() as stop:
        try:
            evaluations = training_loop(
                trainer, order, inputs.validation_split, state, steps, config.train.eval_every
            )
            for happened in evaluations:
                if isinstance(happened, EvalEvent):
                    for callback in callbacks:
                        callback.on_evaluation(happened, state)
                    reporter.evaluation(happened)
                else:
                    reporter.progress(happened)
                stop_asked = trainer.distribution.any(bool(stop))  # by any worker
                if stop_asked and state.step < steps and not state.stopped_early:
                    if checkpoints.saved_step != state.step:
                        checkpoints.save(state)
                    signal_name = stop.get("signal", "asked on another worker")
                    raise TrainingInterrupted(run_dir, state.step, signal_name)
        except KeyboardInterrupt:  # Ctrl-C twice: the last checkpoint is intact
            first = stop.get("signal", "SIGINT")
            how = "SIGINT twice" if first == "SIGINT" else f"{first}, then SIGINT"
            raise TrainingInterrupted(run_dir, checkpoints.saved_step, how, at_once=True) from None
        except Diverged as error:
            kept = checkpoints.saved_step
            kept = f"the run keeps its checkpoint of step {kept}" if kept else "no checkpoint yet"
            raise Diverged(
                error.first_step,
                error.last_step,
                error.loss,
                f"; {kept}; start it again (--force) with a lower train.learning_rate "
                f"(now {config.train.learning_rate:g}) or {_clipping_advice(config)}",
            ) from None
        except ClusterError as error:
            # --resume continues from the chief's checkpoint, which the chief names
            kept = f"step {checkpoints.saved_step}" if checkpoints.saved_step else "none yet"
            kept = f"last checkpoint: {kept}; " if trainer.distribution.is_chief else ""
            raise ClusterError(f"{error}; {kept}start every worker again with --resume") from None


def _clipping_advice(config: Config) -> str:
    clipnorm = config.train.clipnorm
    return f"a smaller train.clipnorm (now {clipnorm:g})" if clipnorm else "train.clipnorm = 1"


def _starting_state(steps: int, run_dir: Path | None, resuming: bool) -> Start:
    """Where a run starts: fresh, or from its checkpoint when resuming."""
    if not resuming:
        return Start(TrainingState())
    checkpoint = load_checkpoint(run_dir)
    summary = rundir.read_summary(run_dir)
    if checkpoint is None:
        if summary is not None:
            raise RunError(
                f"{run_dir} holds a finished run but no {rundir.CHECKPOINT_FILE} to continue "
                "from; use --force to start it over"
            )
        return Start(TrainingState())
    state = TrainingState.from_checkpoint(checkpoint[0])
    if state.version not in READABLE_CHECKPOINT_VERSIONS:
        raise RunError(
            f"the checkpoint in {run_dir} has version {state.version!r}; this rnncls "
            f"reads versions {', '.join(map(str, READABLE_CHECKPOINT_VERSIONS))}"
        )
    if state.step > steps:
        raise ConfigError(
            f"train.steps = {steps}: the run in {run_dir} is already at "
            f"step {state.step}; ask for at least that many steps"
        )
    stopped_here = (
        state.stopped_early and summary is not None and summary.get("steps") == state.step
    )
    if summary is not None and (summary.get("steps") == steps or stopped_here):
        return Start(state, checkpoint[1], TrainResult.from_summary(summary))
    return Start(state, checkpoint[1])


def training_loop(
    trainer: Trainer,
    order: BatchOrder,
    validation_split: Split,
    state: TrainingState,
    steps: int,
    eval_every: int,
) -> Iterator[Progress | EvalEvent]:
    """Train from ``state.step`` to ``steps``, one compiled call per interval between
    evaluations, updating ``state``, and yield progress and each evaluation. The
    callbacks of the evaluation run before the loop goes on: early stopping's
    ``state.stopped_early`` ends it. Writes nothing."""
    if state.step < steps:
        trainer.warm_up(order.batches(state.step, 1), state.step)
    seconds_per_step = None
    while state.step < steps and not state.stopped_early:
        step = state.step
        count = min(eval_every - step % eval_every, steps - step)
        if seconds_per_step is None:
            count = min(count, FIRST_CALL_STEPS)
        else:
            count = min(count, max(1, int(PROGRESS_SECONDS / seconds_per_step)))
        indices = order.batches(step, count)
        started = time.perf_counter()
        loss_sum = trainer.run_steps(indices, step, state.loss_sum)
        elapsed = time.perf_counter() - started
        if not math.isfinite(loss_sum):
            # NaN weights from here on: stop before anything writes them. The loss sum is
            # the same on every worker of a cluster (one all-reduced step), so all stop.
            raise Diverged(step + 1, step + count, loss_sum - state.loss_sum)
        state.loss_sum = loss_sum
        state.train_seconds += elapsed
        # the workers of a cluster must train the same steps in each call
        seconds_per_step = trainer.distribution.agreed(elapsed / count)
        state.loss_count += count
        state.step = step = step + count
        if not (step % eval_every == 0 or step == steps):
            yield Progress(step, steps)
            continue
        trainer.recompute_batch_norm(order.batches(0, BATCH_NORM_BATCHES))
        eval_loss, eval_accuracy = _evaluate(trainer.model, validation_split)
        event = EvalEvent(
            step=step,
            total_steps=steps,
            train_loss=state.train_loss(),
            eval_accuracy=eval_accuracy,
            eval_loss=eval_loss,
            learning_rate=trainer.learning_rate(),
        )
        state.loss_sum, state.loss_count = 0.0, 0
        state.validation_accuracy = eval_accuracy
        yield event


def _evaluate(model: Any, split: Split) -> tuple[float, float]:
    logits = keras_logits(model, split.images, batch_size=EVAL_BATCH_SIZE)
    accuracy = float((logits.argmax(axis=1) == split.labels).mean())
    return cross_entropy(logits, split.labels), accuracy


def _finish(
    trainer: Trainer,
    order: BatchOrder,
    test_split: Split,
    state: TrainingState,
    best: dict[str, np.ndarray],
    run_dir: Path,
    reporter: Reporter,
    chief: bool = True,
) -> TrainResult:
    """Test, save the model and its pictures, then the summary (the last file written).
    With early stopping the model keeps the weights of its best evaluation. A worker
    other than the chief saves no model: the chief's is the run's."""
    kept_step, validation_accuracy = state.step, state.validation_accuracy
    if best:
        trainer.set_model_arrays(best)
        kept_step, validation_accuracy = state.best_step, state.best_accuracy
        how = "stopped early" if state.stopped_early else "finished"
        reporter.status(
            f"{how} at step {state.step}; keeping the weights of step {kept_step} "
            f"(validation accuracy {state.best_accuracy:.4f})"
        )
    try:
        # as the last evaluation set them (the same weights, the same batches), unless the
        # run resumed from its last checkpoint with no step left to train
        trainer.recompute_batch_norm(order.batches(0, BATCH_NORM_BATCHES))
        test_loss, test_accuracy = _evaluate(trainer.model, test_split)
        if chief:
            reporter.status("saving the model")
            save_model(trainer.model, run_dir, reporter.status)
            draw_curves(run_dir, reporter.status)
    except KeyboardInterrupt:  # Ctrl-C after the last step: its checkpoint is saved
        raise TrainingInterrupted(run_dir, state.step, "SIGINT") from None
    result = TrainResult(
        steps=state.step,
        test_accuracy=test_accuracy,
        test_loss=test_loss,
        train_seconds=round(state.train_seconds, 3),
        ms_per_step=round(1000 * state.train_seconds / max(state.step, 1), 3),
        run_dir=str(run_dir),
        kept_step=kept_step,
        stopped_early=state.stopped_early,
        validation_accuracy=validation_accuracy,
    )
    rundir.write_json(run_dir / rundir.SUMMARY_FILE, result.to_json())
    try:
        if chief:
            rundir.update_latest(run_dir)
    except RunError as exc:  # the run is complete; only the pointer to it is not
        reporter.status(f"warning: {exc}")
    rundir.release_run_dir(run_dir)
    return result


def check_model_fits(config: Config, dataset: DataSet) -> None:
    """The model's outputs are the data set's classes (``model.num_classes``, where set,
    must say the same), and its reading must fit the pictures."""
    wanted = config.model.num_classes
    if wanted and wanted != dataset.num_classes:
        raise ConfigError(
            f"model.num_classes = {wanted}: the data set at {dataset.path} has "
            f"{dataset.num_classes} classes; set 0 to take the data set's"
        )
    check_reading(config.sequence, dataset.shape)


def draw_curves(run_dir: Path, status: Callable[[str], None]) -> None:
    """``curves.png`` from ``metrics.jsonl``; a plot that fails costs a warning, not the run."""
    from rnncls.plots import training_curves

    try:
        training_curves(
            rundir.read_metrics(run_dir), run_dir / rundir.CURVES_FILE, title=f"run {run_dir}"
        )
    except Exception as exc:  # noqa: BLE001 - the run is complete without its picture
        status(f"warning: could not draw the training curves ({exc})")


def save_model(model: Any, run_dir: Path, status: Callable[[str], None]) -> None:
    """``model.keras`` always; ``model.onnx`` for fast inference, where export works.

    The ONNX export costs about as much as saving the Keras model and more (bench/NOTES.md
    has the numbers); it stays here, once per run, because ``predict`` must answer in a
    fresh process without TensorFlow, which exporting on first use would need."""
    from rnncls.export import export_onnx

    started = time.perf_counter()
    rundir.write_with(run_dir / rundir.MODEL_FILE, model.save)
    saved = time.perf_counter()
    try:
        export_onnx(model, run_dir / rundir.ONNX_FILE)
    except Exception as exc:  # noqa: BLE001 - the Keras model is the fallback
        status(f"warning: ONNX export failed, predict will use model.keras ({exc})")
        return
    status(
        f"saved {rundir.MODEL_FILE} ({saved - started:.1f} s) and {rundir.ONNX_FILE} "
        f"({time.perf_counter() - saved:.1f} s)"
    )
