"""Training: a plain function that returns a :class:`TrainResult` and never prints.

Progress reaches the caller through ``on_event``. The loop is hand-written rather than
``model.fit`` for two reasons measured or required elsewhere:

- speed: the steps between two evaluations run inside one ``tf.function`` call that
  gathers its batches from the uint8 training images already in memory, so there is no
  per-step Python or tf.data overhead (bench/NOTES.md has the numbers);
- exact resume: the batch of step ``s`` (and its augmentation) is a pure function of the
  seed and ``s``, and the checkpoint holds every variable by name (model, optimizer,
  the random-number state of dropout), the step and the running loss sum, so a run
  resumed from any checkpoint ends with the same weights as one left alone.

The step loop (:func:`training_loop`) yields what happened; :func:`train`, which owns
the run directory, writes it (metrics, checkpoints, TensorBoard) and tells the caller.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rnncls import distribute, runs
from rnncls.config import (
    Config,
    ConfigError,
    to_toml,
    total_steps,
    unused_sequence_settings,
    unused_settings,
)
from rnncls.data import DataSource, Split, load_split, load_training_data
from rnncls.errors import Stopped
from rnncls.evaluate import cross_entropy, keras_logits
from rnncls.sequence import describe as describe_sequence

# 1: arrays by position (model.weights, optimizer.variables), rnncls 0.1 runs, still read;
# 2: arrays by name, random-number state and the early-stopping state included.
CHECKPOINT_VERSION = 2
READABLE_CHECKPOINT_VERSIONS = (1, 2)
# Images per forward pass in the periodic and final evaluations: 2000 at a time made
# oneDNN hold about 50 MB more at the run's peak, for no measurable speed (bench/NOTES.md).
EVAL_BATCH_SIZE = 500
# TensorFlow's threads while training (bench/NOTES.md has the numbers). The ops of a
# step take microseconds (64x64 by 64x256 products, gates on 64x64), too short to split
# over two threads: one intra-op thread. Two inter-op threads run independent ops side by
# side: the two halves of the batch in rnncls.lstm_pass, and the weight gradients. The
# thread counts change the schedule, not the floats (the pass fixes every summation order;
# with Keras's own graph, a 1200-step run ended with the same weights as with intra-op 2).
TRAIN_THREADS = 1
TRAIN_INTER_OP_THREADS = 2


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


class TrainingInterrupted(Stopped):
    """SIGINT or SIGTERM stopped training after a checkpoint was saved (the CLI exits 1:
    the run is not finished; ``--resume`` continues it to the same weights)."""

    def __init__(
        self, run_dir: Path, step: int | None, signal_name: str, at_once: bool = False
    ) -> None:
        resume = f"continue with `rnncls train --run-dir {run_dir} --resume`"
        if at_once:
            kept = f"the last checkpoint is step {step}" if step else "no checkpoint yet"
            message = f"stopped at once ({signal_name}); {kept}; {resume}"
        else:
            message = f"stopped at step {step} ({signal_name}) with a checkpoint saved; {resume}"
        super().__init__(message)
        self.step = step
        self.signal_name = signal_name


@dataclass(frozen=True)
class Progress:
    """Steps done so far, between two evaluations (the loop reports at least every
    PROGRESS_SECONDS of training)."""

    step: int
    total_steps: int


# A compiled call trains this long at most (after the first, which measures the speed),
# so progress shows and Ctrl-C is answered at least this often.
PROGRESS_SECONDS = 0.4
# Steps of the first call of a run, before its speed is known.
FIRST_CALL_STEPS = 10


# ---------------------------------------------------------------------- data order


class BatchOrder:
    """Which training images make up each step's batch, a function of (seed, step).

    Each epoch is a fresh permutation drawn from a generator seeded with (seed, epoch);
    the last partial batch of an epoch is dropped, so every batch has the same size.
    """

    def __init__(self, seed: int, num_images: int, batch_size: int) -> None:
        if batch_size > num_images:
            raise ConfigError(
                f"train.batch_size = {batch_size}: larger than the {num_images} training images"
            )
        self.seed = seed
        self.num_images = num_images
        self.batch_size = batch_size
        self.steps_per_epoch = num_images // batch_size
        self._epoch = -1
        self._permutation = np.empty(0, dtype=np.int32)

    def _permutation_for(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            generator = np.random.default_rng([self.seed, epoch])
            self._permutation = generator.permutation(self.num_images).astype(np.int32)
            self._epoch = epoch
        return self._permutation

    def batches(self, first_step: int, count: int) -> np.ndarray:
        """Indices of shape (count, batch_size) for steps first_step .. first_step+count-1."""
        rows = []
        for step in range(first_step, first_step + count):
            epoch, position = divmod(step, self.steps_per_epoch)
            start = position * self.batch_size
            rows.append(self._permutation_for(epoch)[start : start + self.batch_size])
        return np.stack(rows)


# ---------------------------------------------------------------------- signals


@contextmanager
def stop_on_signals(acknowledge: bool = True) -> Iterator[dict[str, str]]:
    """Turn SIGINT and SIGTERM into a request to stop at the next safe point, told at once
    on stderr; a second SIGINT (Ctrl-C again) raises KeyboardInterrupt now.

    The acknowledgement goes straight to file descriptor 2 with ``os.write``: a handler
    that printed through Python's stderr or rich could meet the main thread halfway
    through a write of its own."""
    request: dict[str, str] = {}
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if request and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not request:
            request["signal"] = name
            again = "; Ctrl-C again to stop at once" if signum == signal.SIGINT else ""
            if acknowledge:
                message = f"\n{name}: stopping at the next step with a checkpoint{again}\n"
                os.write(2, message.encode())

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ---------------------------------------------------------------------- the loop


class Trainer:
    """The model, optimizer and compiled step loop of one run."""

    def __init__(self, config: Config, train_split: Split, steps: int | None = None) -> None:
        from rnncls.tf_setup import import_tensorflow

        # first: it sets Keras's backend, quiets start-up and fixes the thread pools
        tf = import_tensorflow(threads=TRAIN_THREADS, inter_op_threads=TRAIN_INTER_OP_THREADS)
        import keras

        from rnncls import training_path
        from rnncls.augment import augmenter
        from rnncls.model import build_model
        from rnncls.optimization import build_optimizer

        steps = total_steps(config.train, len(train_split)) if steps is None else steps
        # before any op: a multi-worker strategy configures the runtime for the cluster
        self.distribution = distribution = distribute.build(tf, config.train)
        if config.train.batch_size % distribution.replicas:
            raise ConfigError(
                f"train.batch_size = {config.train.batch_size}: the global batch must split "
                f"evenly over the {distribution.replicas} replicas of train.distribute = "
                f"{config.train.distribute!r}"
            )
        tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.train.seed)
        gpus = len(tf.config.list_physical_devices("GPU"))
        self.path = training_path.choose(config, gpus)
        with distribution.scope():
            self.model = build_model(config.model, config.sequence, gpu=bool(gpus))
            self.optimizer = build_optimizer(config.train, steps)
            self.optimizer.build(self.model.trainable_variables)
        loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        images = tf.constant(train_split.images)
        labels = tf.constant(train_split.labels.astype(np.int32))
        model, optimizer = self.model, self.optimizer
        variables = model.trainable_variables
        forward = training_forward(tf, model, config, self.path.name)
        augment = augmenter(tf, config.augment, config.train.seed)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, config.train.batch_size], tf.int32),
                tf.TensorSpec([], tf.int64),
                tf.TensorSpec([], tf.float64),
            ]
        )
        def run_steps(batch_indices: Any, first_step: Any, loss_sum: Any) -> Any:
            """One optimizer step per row of indices (the first is step ``first_step``);
            returns ``loss_sum`` plus their losses, added one by one, so an interval cut
            into several calls sums its losses as one call would."""
            for row in tf.range(tf.shape(batch_indices)[0]):
                step = first_step + tf.cast(row, tf.int64)
                loss = distribution.run(train_step, batch_indices[row], step)
                loss_sum += tf.cast(loss, tf.float64)
            return loss_sum

        def train_step(indices: Any, step: Any, replica: Any = 0, replicas: int = 1) -> Any:
            """One optimizer step on the batch of ``indices``; under a strategy, on this
            replica's share of it. There Keras's loss is the share's mean over the number
            of replicas, and its optimizer sums the replicas' gradients: the step is the
            one-device step on the whole batch, and the replicas' losses sum to its loss."""
            batch = tf.cast(tf.gather(images, indices), tf.float32) / 255.0
            if augment is not None:  # the whole batch, so each image moves as on one device
                batch = augment(batch, step)
            batch_labels = tf.gather(labels, indices)
            if replicas > 1:
                share = config.train.batch_size // replicas
                batch = batch[replica * share : (replica + 1) * share]
                batch_labels = batch_labels[replica * share : (replica + 1) * share]
            with tf.GradientTape() as tape:
                loss = loss_function(batch_labels, forward(batch))
            gradients = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(gradients, variables, strict=True))
            return loss

        self._run_steps = run_steps
        self._tf = tf

    def named_variables(self) -> dict[str, dict[str, Any]]:
        """Every variable of the run by a name that does not depend on what else this
        process built: the model's by path, the random-number states of its layers
        (dropout) by position (their paths are numbered process-wide), the optimizer's by
        path without its own name (``adam`` or ``adam_1``)."""
        model: dict[str, Any] = {}
        generators = 0
        for variable in self.model.variables:
            if variable.path.endswith("seed_generator_state"):
                model[f"random_state_{generators}"] = variable
                generators += 1
            else:
                model[variable.path] = variable
        optimizer = {v.path.split("/", 1)[-1]: v for v in self.optimizer.variables}
        return {"model": model, "optimizer": optimizer}

    def state_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        return {
            group: {name: v.numpy() for name, v in named.items()}
            for group, named in self.named_variables().items()
        }

    def restore(self, arrays: dict[str, dict[str, np.ndarray]], where: Path, version: int) -> None:
        """Set the variables from a checkpoint's arrays; a checkpoint of another model is a
        one-line error naming the first variable that does not fit."""
        if version == 1:  # by position: the model's weights, then the optimizer's variables
            named = {
                "model": {f"{i:04d}": v for i, v in enumerate(self.model.weights)},
                "optimizer": {f"{i:04d}": v for i, v in enumerate(self.optimizer.variables)},
            }
        else:
            named = self.named_variables()
        for group, variables in named.items():
            values = arrays.get(group, {})
            for name in sorted(set(variables) ^ set(values)):
                where_it_is = "the checkpoint" if name in values else "this model"
                raise runs.RunError(
                    f"checkpoint in {where} does not fit this model: {group} variable "
                    f"{name} is only in {where_it_is}"
                )
            for name, variable in variables.items():
                value = values[name]
                if value.shape != tuple(variable.shape) or value.dtype != np.dtype(variable.dtype):
                    raise runs.RunError(
                        f"checkpoint in {where} does not fit this model: {group} variable "
                        f"{name} is {value.dtype}{list(value.shape)}, the model's "
                        f"{np.dtype(variable.dtype)}{list(variable.shape)}"
                    )
        for group, variables in named.items():
            for name, variable in variables.items():
                variable.assign(arrays[group][name])

    def set_model_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name, variable in self.named_variables()["model"].items():
            variable.assign(arrays[name])

    def learning_rate(self) -> float:
        from rnncls.optimization import current_learning_rate

        return current_learning_rate(self.optimizer)

    def warm_up(self, batch_indices: np.ndarray, step: int) -> None:
        """Trace and optimise the step graph on one batch, then undo that step, so the
        timed steps exclude compilation and the run's result is unchanged."""
        saved = self.state_arrays()
        with step_graph_options(self._tf), self.distribution.guard():
            self._run_steps(batch_indices[:1], np.int64(step), np.float64(0.0))
        self.restore(saved, Path("<warm-up>"), CHECKPOINT_VERSION)

    def run_steps(
        self, batch_indices: np.ndarray, first_step: int = 0, loss_sum: float = 0.0
    ) -> float:
        """Train one step per row of ``batch_indices``; ``loss_sum`` plus their losses."""
        with step_graph_options(self._tf), self.distribution.guard():
            return float(self._run_steps(batch_indices, np.int64(first_step), np.float64(loss_sum)))


def step_graph_options(tf: Any) -> AbstractContextManager[None]:
    """Grappler's arithmetic optimizer off while the step graph runs. It would fold the
    explicit U^T of rnncls.lstm_pass back into a transposed product, 12 instead of 9 us
    for 64 rows (bench/NOTES.md). The floats of Keras's Dense, loss and Adam are the same
    either way, and that pass sums in an explicit order of its own."""
    from rnncls.tf_setup import arithmetic_optimization

    return arithmetic_optimization(tf, enabled=False)


def training_forward(
    tf: Any, model: Any, config: Config, path: str | None = None
) -> Callable[[Any], Any]:
    """The model's logits for a training batch of images, along ``path``
    (:mod:`rnncls.training_path`, chosen for ``config`` when not given): through one of
    the hand-written LSTM passes, :mod:`rnncls.lstm_pass` for a short unrolled sequence
    (the seed's network) or :mod:`rnncls.lstm_loop` for a long one, which compute what
    ``model(batch, training=True)`` and its gradient compute with the batch's halves on
    two cores; every other path is Keras's own layers."""
    from rnncls import lstm_loop, lstm_pass, training_path
    from rnncls.model import HEAD, READING, recurrent_layer_name

    path = path or training_path.choose(config).name
    if path not in (training_path.UNROLLED_PASS, training_path.FUSED_LOOP):
        return lambda batch: model(batch, training=True)
    # The layers of rnncls.model.build_model for such a config: images -> the reading
    # (for any order but rows) -> LSTM (its defaults: tanh, sigmoid gates, a bias, no
    # dropout, last output only) -> Dense.
    reading = model.get_layer(READING) if config.sequence.order != "rows" else None
    cell = model.get_layer(recurrent_layer_name(config.model, 0)).cell
    logits = model.get_layer(HEAD)
    pass_module = lstm_pass if path == training_path.UNROLLED_PASS else lstm_loop

    def forward(batch: Any) -> Any:
        sequences = reading(batch) if reading is not None else batch
        weights = [
            tf.convert_to_tensor(w.value) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)
        ]
        return logits(pass_module.last_output(tf, sequences, *weights))

    return forward


def _evaluate(model: Any, split: Split) -> tuple[float, float]:
    logits = keras_logits(model, split.images, batch_size=EVAL_BATCH_SIZE)
    accuracy = float((logits.argmax(axis=1) == split.labels).mean())
    return cross_entropy(logits, split.labels), accuracy


def train(
    config: Config,
    source: DataSource,
    run_dir: Path | None,
    *,
    resume: bool = False,
    force: bool = False,
    on_event: Callable[[EvalEvent], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``config`` on ``source`` into ``run_dir`` and return the final test result.

    ``on_event`` gets each periodic evaluation; ``on_progress`` the steps done at least
    every PROGRESS_SECONDS in between; ``on_phase`` what start-up is doing (loading,
    building, compiling); ``on_status`` messages about what happens (resuming, saving).
    A resumed run takes its config from the run directory.
    ``run_dir`` None trains into a new folder under ``runs/``, named when it is made.

    Every input is checked before anything is written: a bad config, data set or run
    directory leaves the file system as it was.
    """
    status = on_status or (lambda message: None)
    notify = on_event or (lambda event: None)
    advance = on_progress or (lambda progress: None)
    phase = on_phase or (lambda message: None)
    if config.train.distribute == "multi_worker" and run_dir is None:
        raise ConfigError(
            "train.distribute = 'multi_worker': give every worker the same --run-dir, "
            "on a file system they share"
        )
    resuming = runs.check_run_dir(run_dir, resume=resume, force=force)
    phase("loading the data set")
    train_split, validation_split = load_training_data(source, config.data.validation_size)
    steps = total_steps(config.train, len(train_split))
    state, saved, finished = _starting_state(config, steps, run_dir, resuming)
    if finished is not None:
        status(f"run {run_dir} already finished at step {finished.steps}")
        return finished
    runs.check_writable(run_dir)
    if config.train.tensorboard:
        check_tensorboard()

    # A slice of the training file keeps the whole file's buffer alive: copy the small
    # validation tail, so the buffer goes once the trainer holds the training images.
    validation_split = Split(
        validation_split.name, validation_split.images.copy(), validation_split.labels.copy()
    )
    test_split = load_split(source, "test")
    check_labels(config, (train_split, validation_split, test_split))
    order = BatchOrder(config.train.seed, len(train_split), config.train.batch_size)

    cluster = ", waiting for every worker" if config.train.distribute == "multi_worker" else ""
    phase(f"starting TensorFlow{cluster} and building the model")
    trainer = Trainer(config, train_split, steps)
    del train_split
    chief = trainer.distribution.is_chief
    # Only the chief writes the run directory; another worker of a cluster writes its
    # files (the same checkpoints) into a private temporary folder.
    worker_folder = ExitStack()
    if chief:
        output = run_dir = runs.claim_run_dir(run_dir, fresh=not resuming)
    else:
        output = runs.claim_run_dir(
            worker_folder.enter_context(distribute.worker_folder()), fresh=True
        )
    # Released however training ends, so a process that goes on (rnncls tune) does
    # not keep the folder looking in use.
    try:
        if saved is not None:
            trainer.restore(saved, run_dir, state["version"])
            state["version"] = CHECKPOINT_VERSION  # the next checkpoint is written as today's
        status(f"data: {source}   run: {run_dir}" + ("" if chief else " (the chief writes it)"))
        if trainer.distribution.strategy is not None:
            status(f"distributed: {trainer.distribution.describe()}")
        for unused in unused_settings(config.train, steps):
            status(f"warning: {unused}")
        status(f"sequence: {describe_sequence(config.sequence)}; {trainer.path.describe(config)}")
        for unused in unused_sequence_settings(config.sequence):
            status(f"warning: {unused}")
        if saved is not None:
            status(f"resuming {run_dir} from step {state['step']}")
        elif resuming:
            status(f"no checkpoint in {run_dir} yet: starting it from step 0")
        runs.write_text(output / runs.CONFIG_FILE, to_toml(config))
        runs.truncate_metrics(output, state["step"])
        # An old summary.json stays until the new one replaces it: a run continued to more
        # steps and killed is still the finished run its model.keras and summary describe.

        board = TensorBoardWriter(output) if config.train.tensorboard and chief else None
        # early stopping's best model arrays so far (train.patience), kept in the checkpoint
        best: dict[str, np.ndarray] = dict(saved.get("best", {})) if saved is not None else {}
        saved_step = state["step"] if saved is not None else None

        def checkpoint() -> None:
            nonlocal saved_step
            arrays = trainer.state_arrays()
            if best:
                arrays["best"] = best
            runs.save_checkpoint(output, state, arrays)
            saved_step = state["step"]

        if state["step"] < steps:
            phase("compiling the training step")
        with stop_on_signals() as stop:
            try:
                for happened in training_loop(
                    trainer, order, validation_split, state, config, steps, best
                ):
                    if isinstance(happened, EvalEvent):
                        runs.append_metrics(output, happened.to_json())
                        if board is not None:
                            board.write(happened)
                        checkpoint()
                        notify(happened)
                    else:
                        advance(happened)
                    stop_asked = trainer.distribution.any(bool(stop))  # by any worker
                    if stop_asked and state["step"] < steps and not state["stopped_early"]:
                        if saved_step != state["step"]:
                            checkpoint()
                        signal_name = stop.get("signal", "asked on another worker")
                        raise TrainingInterrupted(run_dir, state["step"], signal_name)
            except KeyboardInterrupt:  # Ctrl-C twice: the last checkpoint is intact
                first = stop.get("signal", "SIGINT")
                how = "SIGINT twice" if first == "SIGINT" else f"{first}, then SIGINT"
                raise TrainingInterrupted(run_dir, saved_step, how, at_once=True) from None
            except distribute.ClusterError as error:
                # --resume continues from the chief's checkpoint, which the chief names
                kept = f"step {saved_step}" if saved_step else "none yet"
                kept = f"last checkpoint: {kept}; " if chief else ""
                raise distribute.ClusterError(
                    f"{error}; {kept}start every worker again with --resume"
                ) from None
        result = _finish(trainer, test_split, state, best, output, status, chief)
        return result if chief else replace(result, run_dir=str(run_dir))
    finally:
        runs.release_run_dir(output)
        worker_folder.close()


def fresh_state() -> dict[str, Any]:
    return {
        "version": CHECKPOINT_VERSION,
        "step": 0,
        "loss_sum": 0.0,
        "loss_count": 0,
        "train_seconds": 0.0,
        "best_step": 0,
        "best_accuracy": -1.0,
        "evaluations_since_best": 0,
        "stopped_early": False,
        "validation_accuracy": None,
    }


def _starting_state(
    config: Config, steps: int, run_dir: Path | None, resuming: bool
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]] | None, TrainResult | None]:
    """The training state to start from, the checkpoint's arrays (None on a fresh start),
    and the finished result when a resumed run already has the steps asked for."""
    state = fresh_state()
    if not resuming:
        return state, None, None
    checkpoint = runs.load_checkpoint(run_dir)
    summary = runs.read_summary(run_dir)
    if checkpoint is None:
        if summary is not None:
            raise runs.RunError(
                f"{run_dir} holds a finished run but no {runs.CHECKPOINT_FILE} to continue "
                "from; use --force to start it over"
            )
        return state, None, None
    state["version"] = 1  # a checkpoint that does not say is one of rnncls 0.1
    state.update(checkpoint[0])
    if state["version"] not in READABLE_CHECKPOINT_VERSIONS:
        raise runs.RunError(
            f"the checkpoint in {run_dir} has version {state['version']!r}; this rnncls "
            f"reads versions {', '.join(map(str, READABLE_CHECKPOINT_VERSIONS))}"
        )
    if state["step"] > steps:
        raise ConfigError(
            f"train.steps = {steps}: the run in {run_dir} is already at "
            f"step {state['step']}; ask for at least that many steps"
        )
    stopped_here = (
        state["stopped_early"] and summary is not None and (summary.get("steps") == state["step"])
    )
    if summary is not None and (summary.get("steps") == steps or stopped_here):
        return state, checkpoint[1], TrainResult.from_summary(summary)
    return state, checkpoint[1], None


def training_loop(
    trainer: Trainer,
    order: BatchOrder,
    validation_split: Split,
    state: dict[str, Any],
    config: Config,
    steps: int,
    best: dict[str, np.ndarray],
) -> Iterator[EvalEvent]:
    """Train from ``state["step"]`` to ``steps``, one compiled call per interval between
    evaluations, updating ``state``, and yield each evaluation. With early stopping
    (``train.patience``) ``best`` is kept holding the model arrays of the best evaluation
    so far, and ``state["stopped_early"]`` ends the loop. Writes nothing."""
    eval_every, patience = config.train.eval_every, config.train.patience
    if state["step"] < steps:
        trainer.warm_up(order.batches(state["step"], 1), state["step"])
    seconds_per_step = None
    while state["step"] < steps and not state["stopped_early"]:
        step = state["step"]
        count = min(eval_every - step % eval_every, steps - step)
        if seconds_per_step is None:
            count = min(count, FIRST_CALL_STEPS)
        else:
            count = min(count, max(1, int(PROGRESS_SECONDS / seconds_per_step)))
        indices = order.batches(step, count)
        started = time.perf_counter()
        state["loss_sum"] = trainer.run_steps(indices, step, state["loss_sum"])
        elapsed = time.perf_counter() - started
        state["train_seconds"] += elapsed
        # the workers of a cluster must train the same steps in each call
        seconds_per_step = trainer.distribution.agreed(elapsed / count)
        state["loss_count"] += count
        state["step"] = step = step + count
        if not (step % eval_every == 0 or step == steps):
            yield Progress(step, steps)
        else:
            eval_loss, eval_accuracy = _evaluate(trainer.model, validation_split)
            event = EvalEvent(
                step=step,
                total_steps=steps,
                train_loss=state["loss_sum"] / state["loss_count"],
                eval_accuracy=eval_accuracy,
                eval_loss=eval_loss,
                learning_rate=trainer.learning_rate(),
            )
            state["loss_sum"], state["loss_count"] = 0.0, 0
            state["validation_accuracy"] = eval_accuracy
            if patience:
                _track_best(trainer, state, best, eval_accuracy, patience)
            yield event


def _track_best(
    trainer: Trainer,
    state: dict[str, Any],
    best: dict[str, np.ndarray],
    accuracy: float,
    patience: int,
) -> None:
    if accuracy > state["best_accuracy"]:
        state["best_accuracy"], state["best_step"] = accuracy, state["step"]
        state["evaluations_since_best"] = 0
        best.clear()
        best.update(trainer.state_arrays()["model"])
    else:
        state["evaluations_since_best"] += 1
        state["stopped_early"] = state["evaluations_since_best"] >= patience


def check_tensorboard() -> None:
    from importlib.util import find_spec

    if find_spec("tensorboard") is None:
        raise ConfigError(
            "train.tensorboard = true: the tensorboard package is not installed "
            "(pip install tensorboard)"
        )


class TensorBoardWriter:
    """Scalars of each evaluation as TensorBoard event files in ``run_dir/tensorboard``."""

    def __init__(self, run_dir: Path) -> None:
        from rnncls.tf_setup import import_tensorflow

        tf = self._tf = import_tensorflow()
        self._writer = tf.summary.create_file_writer(str(run_dir / runs.TENSORBOARD_DIR))

    def write(self, event: EvalEvent) -> None:
        tf = self._tf
        with self._writer.as_default(step=event.step):
            tf.summary.scalar("loss/train", event.train_loss)
            tf.summary.scalar("loss/validation", event.eval_loss)
            tf.summary.scalar("accuracy/validation", event.eval_accuracy)
            tf.summary.scalar("learning_rate", event.learning_rate)
        self._writer.flush()


def _finish(
    trainer: Trainer,
    test_split: Split,
    state: dict[str, Any],
    best: dict[str, np.ndarray],
    run_dir: Path,
    status: Callable[[str], None],
    chief: bool = True,
) -> TrainResult:
    """Test, save the model and its pictures, then the summary (the last file written).
    With early stopping the model keeps the weights of its best evaluation. A worker
    other than the chief saves no model: the chief's is the run's."""
    kept_step = state["step"]
    validation_accuracy = state.get("validation_accuracy")
    if best:
        trainer.set_model_arrays(best)
        kept_step, validation_accuracy = state["best_step"], state["best_accuracy"]
        how = "stopped early" if state["stopped_early"] else "finished"
        status(
            f"{how} at step {state['step']}; keeping the weights of step {kept_step} "
            f"(validation accuracy {state['best_accuracy']:.4f})"
        )
    try:
        test_loss, test_accuracy = _evaluate(trainer.model, test_split)
        if chief:
            status("saving the model")
            save_model(trainer.model, run_dir, status)
            draw_curves(run_dir, status)
    except KeyboardInterrupt:  # Ctrl-C after the last step: its checkpoint is saved
        raise TrainingInterrupted(run_dir, state["step"], "SIGINT") from None
    result = TrainResult(
        steps=state["step"],
        test_accuracy=test_accuracy,
        test_loss=test_loss,
        train_seconds=round(state["train_seconds"], 3),
        ms_per_step=round(1000 * state["train_seconds"] / max(state["step"], 1), 3),
        run_dir=str(run_dir),
        kept_step=kept_step,
        stopped_early=state["stopped_early"],
        validation_accuracy=validation_accuracy,
    )
    runs.write_json(run_dir / runs.SUMMARY_FILE, result.to_json())
    try:
        if chief:
            runs.update_latest(run_dir)
    except runs.RunError as exc:  # the run is complete; only the pointer to it is not
        status(f"warning: {exc}")
    runs.release_run_dir(run_dir)
    return result


def check_labels(config: Config, splits: tuple[Split, ...]) -> None:
    """Every label must be one of the model's classes (else TensorFlow fails mid-step)."""
    for split in splits:
        largest = int(split.labels.max())
        if largest >= config.model.num_classes:
            raise ConfigError(
                f"model.num_classes = {config.model.num_classes}: the {split.name} split has "
                f"label {largest}; use at least {largest + 1} classes"
            )


def draw_curves(run_dir: Path, status: Callable[[str], None]) -> None:
    """``curves.png`` from ``metrics.jsonl``; a plot that fails costs a warning, not the run."""
    from rnncls.plots import training_curves

    try:
        training_curves(
            runs.read_metrics(run_dir), run_dir / runs.CURVES_FILE, title=f"run {run_dir}"
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
    runs.write_with(run_dir / runs.MODEL_FILE, model.save)
    saved = time.perf_counter()
    try:
        export_onnx(model, run_dir / runs.ONNX_FILE)
    except Exception as exc:  # noqa: BLE001 - the Keras model is the fallback
        status(f"warning: ONNX export failed, predict will use model.keras ({exc})")
        return
    status(
        f"saved {runs.MODEL_FILE} ({saved - started:.1f} s) and {runs.ONNX_FILE} "
        f"({time.perf_counter() - saved:.1f} s)"
    )
