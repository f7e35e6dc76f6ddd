"""The compiled training step of one run: the model, its optimizer and one
``tf.function`` that trains many steps a call (:class:`Trainer`), and the order of the
batches (:class:`BatchOrder`), a pure function of the seed and the step.

The steps between two evaluations run inside one call, fed their batches at once (a
gather from the pictures in memory, or from a memory-mapped folder a batch at a time),
so there is no per-step Python or tf.data overhead (bench/NOTES.md has the numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from rnncls import distribute
from rnncls.config import total_steps
from rnncls.config_keys import Config
from rnncls.datasets import Split
from rnncls.datasets.description import DataSet
from rnncls.errors import ConfigError, RunError
from rnncls.training_state import CHECKPOINT_VERSION

# TensorFlow's threads while training (bench/NOTES.md has the numbers). The ops of a
# step take microseconds (64x64 by 64x256 products, gates on 64x64), too short to split
# over two threads: one intra-op thread. Two inter-op threads run independent ops side by
# side: the two halves of the batch in rnncls.lstm_pass and in a cell's own pass
# (rnncls/cells/own_pass.py), and the weight gradients. The inter-op count changes the
# schedule, not the floats (with Keras's own graph, a 1200-step run ended with the same
# weights as with intra-op 2). The intra-op count can: XLA splits a long product's sum
# over those threads, and a cell's own pass would then train to other floats on another
# count (1e-9 apart in one step's gradients), so it stays at one on every machine.
TRAIN_THREADS = 1
TRAIN_INTER_OP_THREADS = 2

# Batches whose statistics a batch normalisation's moving averages are set to before each
# evaluation (Trainer.recompute_batch_norm).
BATCH_NORM_BATCHES = 20


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


# ---------------------------------------------------------------------- the step


class Trainer:
    """The model, optimizer and compiled step loop of one run."""

    def __init__(
        self, config: Config, dataset: DataSet, train_split: Split, steps: int | None = None
    ) -> None:
        from rnncls.tf_setup import import_tensorflow

        # first: it sets Keras's backend, quiets start-up and fixes the thread pools
        tf = import_tensorflow(threads=TRAIN_THREADS, inter_op_threads=TRAIN_INTER_OP_THREADS)
        import keras

        from rnncls import training_path
        from rnncls.augment import augmenter
        from rnncls.model import SCALING, build_model, cell_options, network_of
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
        self.path = training_path.choose(config, dataset, gpus)
        with distribution.scope():
            self.model = build_model(
                config.model,
                config.sequence,
                dataset,
                gpu=bool(gpus),
                cell_options=cell_options(config),
            )
            self.optimizer = build_optimizer(config.train, steps)
            self.optimizer.build(self.model.trainable_variables)
        loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.images, self.labels = train_split.images, train_split.labels.astype(np.int32)
        self.network = network = network_of(self.model)
        optimizer = self.optimizer
        variables = self.model.trainable_variables
        forward = training_forward(tf, network, config, self.path.name)
        augment = None if dataset.is_series else augmenter(tf, config.augment, config.train.seed)
        batch_size, scaling = config.train.batch_size, self.model.get_layer(SCALING)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, batch_size, *dataset.shape], tf.as_dtype(dataset.dtype)),
                tf.TensorSpec([None, batch_size], tf.int32),
                tf.TensorSpec([], tf.int64),
                tf.TensorSpec([], tf.float64),
            ]
        )
        def run_steps(pictures: Any, labels: Any, first_step: Any, loss_sum: Any) -> Any:
            """One optimizer step per batch of pictures and labels (the first is step
            ``first_step``); returns ``loss_sum`` plus their losses, added one by one, so
            an interval cut into several calls sums its losses as one call would."""
            for row in tf.range(tf.shape(labels)[0]):
                step = first_step + tf.cast(row, tf.int64)
                loss = distribution.run(train_step, pictures[row], labels[row], step)
                loss_sum += tf.cast(loss, tf.float64)
            return loss_sum

        def train_step(
            pictures: Any, batch_labels: Any, step: Any, replica: Any = 0, replicas: int = 1
        ) -> Any:
            """One optimizer step on a batch; under a strategy, on this replica's share of
            it. There Keras's loss is the share's mean over the number of replicas, and
            its optimizer sums the replicas' gradients: the step is the one-device step on
            the whole batch, and the replicas' losses sum to its loss. The model's own
            scaling layer scales the batch here (pixels to 0..1, series standardized), and
            augmentation moves pictures before the network reads them."""
            batch = scaling(tf.cast(pictures, tf.float32))
            if augment is not None:  # the whole batch, so each image moves as on one device
                batch = augment(batch, step)
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
                raise RunError(
                    f"checkpoint in {where} does not fit this model: {group} variable "
                    f"{name} is only in {where_it_is}"
                )
            for name, variable in variables.items():
                value = values[name]
                if value.shape != tuple(variable.shape) or value.dtype != np.dtype(variable.dtype):
                    raise RunError(
                        f"checkpoint in {where} does not fit this model: {group} variable "
                        f"{name} is {value.dtype}{list(value.shape)}, the model's "
                        f"{np.dtype(variable.dtype)}{list(variable.shape)}"
                    )
        for group, variables in named.items():
            for name, variable in variables.items():
                variable.assign(arrays[group][name])

    def recompute_batch_norm(self, batch_indices: np.ndarray) -> None:
        """Set each batch normalisation's moving averages to the mean of its statistics
        over the batches of ``batch_indices`` (batches, batch) of training pictures, read
        as they are (no augmentation) with the weights as they are now; nothing else
        changes.

        The moving averages follow the weights a few batches behind, and a model that
        evaluates with them reads its pictures with statistics of weights it no longer
        has. IndRNN's units near a weight of 1 sum the difference over the steps: a
        2-layer sMNIST model read 32.9 % of the 10,000 test digits right with the moving
        averages it trained with, and 68.8 % with these (README, "Cells for long
        sequences"). Training itself reads each batch's own statistics, so it is the
        same with or without this; the run's checkpoints hold the averages set here. On
        several replicas the averages stay as training moved them."""
        import keras

        norms = [
            layer
            for layer in self.model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        if not norms or self.distribution.replicas > 1:
            return
        named = self.named_variables()["model"]
        generators = {
            name: variable.numpy()
            for name, variable in named.items()
            if name.startswith("random_state_")
        }  # dropout draws in the passes below; the run's draws must not move
        momentums = [norm.momentum for norm in norms]
        totals = [
            [np.zeros(norm.moving_mean.shape), np.zeros(norm.moving_variance.shape)]
            for norm in norms
        ]
        try:
            for norm in norms:  # each pass below leaves its batch's statistics in place
                norm.momentum = 0.0
                norm.moving_mean.assign(np.zeros(norm.moving_mean.shape))  # 0 * NaN is NaN
                norm.moving_variance.assign(np.zeros(norm.moving_variance.shape))
            forward = self._tf.function(lambda pictures: self.model(pictures, training=True))
            for indices in batch_indices:
                pictures, _ = self.batches(indices[None])
                forward(pictures[0])
                for total, norm in zip(totals, norms, strict=True):
                    total[0] += norm.moving_mean.numpy()
                    total[1] += norm.moving_variance.numpy()
            for (mean, variance), norm in zip(totals, norms, strict=True):
                norm.moving_mean.assign((mean / len(batch_indices)).astype("float32"))
                norm.moving_variance.assign((variance / len(batch_indices)).astype("float32"))
        finally:
            for norm, momentum in zip(norms, momentums, strict=True):
                norm.momentum = momentum
            for name, value in generators.items():
                named[name].assign(value)

    def set_model_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name, variable in self.named_variables()["model"].items():
            variable.assign(arrays[name])

    def learning_rate(self) -> float:
        from rnncls.optimization import current_learning_rate

        return current_learning_rate(self.optimizer)

    def batches(self, batch_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pictures and labels of the training images that ``batch_indices`` (steps,
        batch) name, read from memory or from a memory-mapped folder."""
        flat = batch_indices.reshape(-1)
        pictures = np.asarray(self.images[flat])
        return (
            pictures.reshape(*batch_indices.shape, *pictures.shape[1:]),
            self.labels[flat].reshape(batch_indices.shape),
        )

    def warm_up(self, batch_indices: np.ndarray, step: int) -> None:
        """Trace and optimise the step graph on one batch, then undo that step, so the
        timed steps exclude compilation and the run's result is unchanged."""
        saved = self.state_arrays()
        with step_graph_options(self._tf), self.distribution.guard():
            self._run_steps(*self.batches(batch_indices[:1]), np.int64(step), np.float64(0.0))
        self.restore(saved, Path("<warm-up>"), CHECKPOINT_VERSION)

    def run_steps(
        self, batch_indices: np.ndarray, first_step: int = 0, loss_sum: float = 0.0
    ) -> float:
        """Train one step per row of ``batch_indices``; ``loss_sum`` plus their losses."""
        pictures, labels = self.batches(batch_indices)
        with step_graph_options(self._tf), self.distribution.guard():
            total = self._run_steps(pictures, labels, np.int64(first_step), np.float64(loss_sum))
            return float(total)


def step_graph_options(tf: Any) -> AbstractContextManager[None]:
    """Grappler's arithmetic optimizer off while the step graph runs. It would fold the
    explicit U^T of rnncls.lstm_pass back into a transposed product, 12 instead of 9 us
    for 64 rows (bench/NOTES.md). The floats of Keras's Dense, loss and Adam are the same
    either way, and that pass sums in an explicit order of its own."""
    from rnncls.tf_setup import arithmetic_optimization

    return arithmetic_optimization(tf, enabled=False)


def training_forward(
    tf: Any, network: Any, config: Config, path: str | None = None, dataset: Any = None
) -> Callable[[Any], Any]:
    """The network's logits for a training batch of scaled pictures, along ``path``
    (:mod:`rnncls.training_path`, chosen for ``config`` when not given): through one of
    the hand-written LSTM passes, :mod:`rnncls.lstm_pass` for a short unrolled sequence
    (the seed's network) or :mod:`rnncls.lstm_loop` for a long one, which compute what
    ``network(batch, training=True)`` and its gradient compute with the batch's halves
    on two cores; every other path is Keras's own layers."""
    from rnncls import lstm_loop, lstm_pass, training_path
    from rnncls.model import HEAD, READING, recurrent_layer_name

    if path is None:
        from rnncls.datasets.idx import MNIST

        path = training_path.choose(config, dataset or MNIST).name
    if path not in (training_path.UNROLLED_PASS, training_path.FUSED_LOOP):
        return lambda batch: network(batch, training=True)
    # The layers of rnncls.model.build_network for such a config: pictures -> the reading
    # -> LSTM (its defaults: tanh, sigmoid gates, a bias, no dropout, last output only)
    # -> Dense.
    reading = network.get_layer(READING)
    cell = network.get_layer(recurrent_layer_name(config.model, 0)).cell
    logits = network.get_layer(HEAD)
    pass_module = lstm_pass if path == training_path.UNROLLED_PASS else lstm_loop

    def forward(batch: Any) -> Any:
        sequences = reading(batch)
        if isinstance(sequences, (tuple, list)):  # a series' (values, mask): no step masked here
            sequences = sequences[0]
        weights = [
            tf.convert_to_tensor(w.value) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)
        ]
        return logits(pass_module.last_output(tf, sequences, *weights))

    return forward
