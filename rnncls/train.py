"""Training: a plain function that returns a :class:`TrainResult` and never prints.

Progress reaches the caller through ``on_event``. The loop is hand-written rather than
``model.fit`` for two reasons measured or required elsewhere:

- speed: the steps between two evaluations run inside one ``tf.function`` call that
  gathers its batches from the uint8 training images already in memory, so there is no
  per-step Python or tf.data overhead (bench/NOTES.md has the numbers);
- exact resume: the batch of step ``s`` is a pure function of the seed and ``s``, and the
  checkpoint holds the model and optimizer variables, the step and the running loss sum,
  so a run resumed from any checkpoint ends with the same weights as one left alone.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncls import runs
from rnncls.config import Config, ConfigError, to_toml
from rnncls.data import DataSource, Split, load_split, load_training_data
from rnncls.evaluate import cross_entropy, keras_logits

CHECKPOINT_VERSION = 1
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
    train_loss: float
    eval_accuracy: float
    eval_loss: float

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

    def to_json(self) -> dict[str, Any]:
        return {"event": "done", **asdict(self)}


class TrainingInterrupted(runs.RunError):
    """SIGINT or SIGTERM stopped training after a checkpoint was saved (the CLI exits 1:
    the run is not finished; ``--resume`` continues it to the same weights)."""

    def __init__(self, run_dir: Path, step: int, signal_name: str) -> None:
        super().__init__(
            f"{signal_name} received: stopped at step {step} with a checkpoint saved; "
            f"continue with `rnncls train --run-dir {run_dir} --resume`"
        )
        self.step = step


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
def stop_on_signals() -> Iterator[dict[str, str]]:
    """Turn SIGINT and SIGTERM into a request to stop at the next safe point."""
    request: dict[str, str] = {}
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: Any) -> None:
        request["signal"] = signal.Signals(signum).name

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ---------------------------------------------------------------------- the loop


class Trainer:
    """The model, optimizer and compiled step loop of one run."""

    def __init__(self, config: Config, train_split: Split) -> None:
        from rnncls.tf_setup import import_tensorflow

        # first: it sets Keras's backend, quiets start-up and fixes the thread pools
        tf = import_tensorflow(threads=TRAIN_THREADS, inter_op_threads=TRAIN_INTER_OP_THREADS)
        import keras

        from rnncls.model import build_model

        tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.train.seed)
        self.model = build_model(config.model)
        self.optimizer = keras.optimizers.Adam(learning_rate=config.train.learning_rate)
        self.optimizer.build(self.model.trainable_variables)
        loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        images = tf.constant(train_split.images)
        labels = tf.constant(train_split.labels.astype(np.int32))
        model, optimizer = self.model, self.optimizer
        variables = model.trainable_variables
        forward = training_forward(tf, model, config)

        @tf.function(input_signature=[tf.TensorSpec([None, config.train.batch_size], tf.int32)])
        def run_steps(batch_indices: Any) -> Any:
            """One optimizer step per row of indices; returns the sum of the losses."""
            loss_sum = tf.constant(0.0, tf.float64)
            for row in tf.range(tf.shape(batch_indices)[0]):
                indices = batch_indices[row]
                batch = tf.cast(tf.gather(images, indices), tf.float32) / 255.0
                with tf.GradientTape() as tape:
                    loss = loss_function(tf.gather(labels, indices), forward(batch))
                gradients = tape.gradient(loss, variables)
                optimizer.apply_gradients(zip(gradients, variables, strict=True))
                loss_sum += tf.cast(loss, tf.float64)
            return loss_sum

        self._run_steps = run_steps
        self._tf = tf

    def state_arrays(self) -> dict[str, list[np.ndarray]]:
        return {
            "model": [v.numpy() for v in self.model.weights],
            "optimizer": [v.numpy() for v in self.optimizer.variables],
        }

    def restore(self, arrays: dict[str, list[np.ndarray]], where: Path) -> None:
        for group, variables in (
            ("model", self.model.weights),
            ("optimizer", self.optimizer.variables),
        ):
            values = arrays.get(group, [])
            kinds = [(tuple(v.shape), np.dtype(v.dtype)) for v in variables]
            if [(np.shape(v), np.asarray(v).dtype) for v in values] != kinds:
                raise runs.RunError(
                    f"checkpoint in {where} does not fit this model ({group} variables differ)"
                )
            for variable, value in zip(variables, values, strict=True):
                variable.assign(value)

    def warm_up(self, batch_indices: np.ndarray) -> None:
        """Trace and optimise the step graph on one batch, then undo that step, so the
        timed steps exclude compilation and the run's result is unchanged."""
        saved = self.state_arrays()
        with step_graph_options(self._tf):
            self._run_steps(batch_indices[:1])
        self.restore(saved, Path("<warm-up>"))

    def run_steps(self, batch_indices: np.ndarray) -> float:
        with step_graph_options(self._tf):
            return float(self._run_steps(batch_indices))


def step_graph_options(tf: Any) -> AbstractContextManager[None]:
    """Grappler's arithmetic optimizer off while the step graph runs. It would fold the
    explicit U^T of rnncls.lstm_pass back into a transposed product, 12 instead of 9 us
    for 64 rows (bench/NOTES.md). The floats are the same either way
    (tests/test_lstm_pass.py): that pass sums in an explicit order, and the optimizer
    changes no float of Keras's Dense, loss or Adam."""
    from rnncls.tf_setup import arithmetic_optimization

    return arithmetic_optimization(tf, enabled=False)


def training_forward(tf: Any, model: Any, config: Config) -> Callable[[Any], Any]:
    """The model's logits for a training batch, through :mod:`rnncls.lstm_pass` where it
    applies (the unrolled LSTM, batches of 32 or more): the same floats as
    ``model(batch, training=True)`` and its gradient, with the batch's halves on two cores."""
    from rnncls import lstm_pass

    if not config.model.unroll or not lstm_pass.applies(config.train.batch_size):
        return lambda batch: model(batch, training=True)
    # The layers of rnncls.model.build_model: images -> LSTM "lstm" (its defaults: tanh,
    # sigmoid gates, a bias, no dropout, last output only) -> Dense "logits".
    cell, logits = model.get_layer("lstm").cell, model.get_layer("logits")
    last_output = lstm_pass.last_output

    def forward(batch: Any) -> Any:
        weights = (cell.kernel, cell.recurrent_kernel, cell.bias)
        return logits(last_output(tf, batch, *(tf.convert_to_tensor(w.value) for w in weights)))

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
) -> TrainResult:
    """Train ``config`` on ``source`` into ``run_dir`` and return the final test result.

    ``on_event`` gets each periodic evaluation; ``on_status`` short messages about what
    happens (resuming, exporting). A resumed run takes its config from the run directory.
    ``run_dir`` None trains into a new folder under ``runs/``, named when it is made.

    Every input is checked before anything is written: a bad config, data set or run
    directory leaves the file system as it was.
    """
    status = on_status or (lambda message: None)
    notify = on_event or (lambda event: None)
    resuming = runs.check_run_dir(run_dir, resume=resume, force=force)
    state, saved_arrays, finished = _starting_state(config, run_dir, resuming)
    if finished is not None:
        status(f"run {run_dir} already finished at step {finished.steps}")
        return finished
    runs.check_writable(run_dir)

    train_split, validation_split = load_training_data(source, config.data.validation_size)
    # A slice of the training file keeps the whole file's buffer alive: copy the small
    # validation tail, so the buffer goes once the trainer holds the training images.
    validation_split = Split(
        validation_split.name, validation_split.images.copy(), validation_split.labels.copy()
    )
    test_split = load_split(source, "test")
    check_labels(config, (train_split, validation_split, test_split))
    order = BatchOrder(config.train.seed, len(train_split), config.train.batch_size)

    trainer = Trainer(config, train_split)
    del train_split
    run_dir = runs.claim_run_dir(run_dir, fresh=not resuming)
    if saved_arrays is not None:
        trainer.restore(saved_arrays, run_dir)
    status(f"data: {source}   run: {run_dir}")
    if saved_arrays is not None:
        status(f"resuming {run_dir} from step {state['step']}")
    elif resuming:
        status(f"no checkpoint in {run_dir} yet: starting it from step 0")
    runs.write_text(run_dir / runs.CONFIG_FILE, to_toml(config))
    runs.truncate_metrics(run_dir, state["step"])
    # An old summary.json stays until the new one replaces it: a run continued to more
    # steps and killed is still the finished run its model.keras and summary describe.

    _run_intervals(trainer, order, validation_split, state, config, run_dir, notify)
    return _finish(trainer, test_split, state, run_dir, status)


def _starting_state(
    config: Config, run_dir: Path | None, resuming: bool
) -> tuple[dict[str, Any], dict[str, list[np.ndarray]] | None, TrainResult | None]:
    """The training state to start from, the checkpoint's arrays (None on a fresh start),
    and the finished result when a resumed run already has the steps asked for."""
    state: dict[str, Any] = {
        "version": CHECKPOINT_VERSION,
        "step": 0,
        "loss_sum": 0.0,
        "loss_count": 0,
        "train_seconds": 0.0,
    }
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
    state.update(checkpoint[0])
    if state["version"] != CHECKPOINT_VERSION:
        raise runs.RunError(
            f"the checkpoint in {run_dir} has version {state['version']!r}; this rnncls "
            f"reads version {CHECKPOINT_VERSION}"
        )
    if state["step"] > config.train.steps:
        raise ConfigError(
            f"train.steps = {config.train.steps}: the run in {run_dir} is already at "
            f"step {state['step']}; ask for at least that many steps"
        )
    if summary is not None and summary.get("steps") == config.train.steps:
        finished = TrainResult(**{k: summary[k] for k in TrainResult.__dataclass_fields__})
        return state, checkpoint[1], finished
    return state, checkpoint[1], None


def _run_intervals(
    trainer: Trainer,
    order: BatchOrder,
    validation_split: Split,
    state: dict[str, Any],
    config: Config,
    run_dir: Path,
    notify: Callable[[EvalEvent], None],
) -> None:
    """Train from ``state["step"]`` to ``train.steps``, one compiled call per interval
    between evaluations; evaluate, log and checkpoint at the end of each interval."""
    eval_every, total_steps = config.train.eval_every, config.train.steps
    with stop_on_signals() as stop:
        if state["step"] < total_steps:
            trainer.warm_up(order.batches(state["step"], 1))
        while state["step"] < total_steps:
            step = state["step"]
            count = min(eval_every - step % eval_every, total_steps - step)
            indices = order.batches(step, count)
            started = time.perf_counter()
            state["loss_sum"] += trainer.run_steps(indices)
            state["train_seconds"] += time.perf_counter() - started
            state["loss_count"] += count
            state["step"] = step = step + count
            if step % eval_every == 0 or step == total_steps:
                eval_loss, eval_accuracy = _evaluate(trainer.model, validation_split)
                event = EvalEvent(
                    step=step,
                    train_loss=state["loss_sum"] / state["loss_count"],
                    eval_accuracy=eval_accuracy,
                    eval_loss=eval_loss,
                )
                state["loss_sum"], state["loss_count"] = 0.0, 0
                runs.append_metrics(run_dir, event.to_json())
                runs.save_checkpoint(run_dir, state, trainer.state_arrays())
                notify(event)
            if stop and state["step"] < total_steps:
                runs.save_checkpoint(run_dir, state, trainer.state_arrays())
                raise TrainingInterrupted(run_dir, state["step"], stop["signal"])


def _finish(
    trainer: Trainer,
    test_split: Split,
    state: dict[str, Any],
    run_dir: Path,
    status: Callable[[str], None],
) -> TrainResult:
    """Test, save the model and its pictures, then the summary (the last file written)."""
    try:
        test_loss, test_accuracy = _evaluate(trainer.model, test_split)
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
    )
    runs.write_json(run_dir / runs.SUMMARY_FILE, result.to_json())
    try:
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
        training_curves(runs.read_metrics(run_dir), run_dir / runs.CURVES_FILE)
    except Exception as exc:  # noqa: BLE001 - the run is complete without its picture
        status(f"warning: could not draw the training curves ({exc})")


def save_model(model: Any, run_dir: Path, status: Callable[[str], None]) -> None:
    """``model.keras`` always; ``model.onnx`` for fast inference, where export works."""
    from rnncls.export import export_onnx

    runs.write_with(run_dir / runs.MODEL_FILE, model.save)
    try:
        export_onnx(model, run_dir / runs.ONNX_FILE)
    except Exception as exc:  # noqa: BLE001 - the Keras model is the fallback
        status(f"warning: ONNX export failed, predict will use model.keras ({exc})")
