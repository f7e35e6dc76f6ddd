"""One training over several devices or machines: the ``tf.distribute`` strategy that
``[train] distribute`` asks for, built in this one place.

- ``none``: no strategy; training runs exactly as it did before this module existed.
- ``mirrored``: ``MirroredStrategy`` over the local GPUs, or over the logical CPU devices
  where there is no GPU (one CPU device unless the process split it, as the tests do).
- ``multi_worker``: ``MultiWorkerMirroredStrategy``; the cluster comes from ``TF_CONFIG``,
  or from Slurm's variables inside ``srun`` (``SlurmClusterResolver``).

``train.batch_size`` stays the global batch: every replica takes an equal share of each
step's batch, and the optimizer sums the replicas' gradients of their share of the mean
loss, so a step is the step of one device on the whole batch. The learning rate is the
config's, never rescaled.

Every worker of a cluster runs the same loop on the same batches (their order is a
function of the seed and the step), so the only decisions they must agree on are the
ones that depend on a clock or a signal: how many steps the next call trains, and
whether to stop. :meth:`Distribution.agreed` and :meth:`Distribution.any` make them
one decision, through a collective over the workers.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from rnncls.config_keys import TrainConfig
from rnncls.errors import ClusterError, ConfigError

# The first port of the workers that Slurm starts on one node (the next task on a node
# takes the next port); SlurmClusterResolver's own default.
SLURM_PORT_BASE = 8888


class Distribution:
    """The strategy of a run (None for ``distribute = "none"``) and what the training
    loop asks of it."""

    def __init__(self, tf: Any, strategy: Any = None, workers: int = 1, chief: bool = True):
        self._tf = tf
        self.strategy = strategy
        self.replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        self.workers = workers
        self.is_chief = chief
        self._mean = None

    def describe(self) -> str:
        """What the log says about the devices of the run (empty without a strategy)."""
        if self.strategy is None:
            return ""
        devices = ", ".join(self.strategy.extended.worker_devices)
        if self.workers > 1:
            role = "the chief" if self.is_chief else "a worker"
            return (
                f"{self.replicas} replicas on {self.workers} workers ({devices} here, "
                f"{role}); batch_size is the global batch"
            )
        return f"{self.replicas} replicas ({devices}); batch_size is the global batch"

    def scope(self) -> Any:
        """Where the model and the optimizer are built (their variables mirrored)."""
        return self.strategy.scope() if self.strategy is not None else nullcontext()

    def run(self, step: Callable[..., Any], *args: Any) -> Any:
        """``step(*args, replica=, replicas=)`` on every replica, in a ``tf.function``;
        the sum of what the replicas return. Without a strategy: ``step(*args)``."""
        if self.strategy is None:
            return step(*args)
        tf, replicas = self._tf, self.replicas

        def on_replica(*args: Any) -> Any:
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            return step(*args, replica=replica, replicas=replicas)

        per_replica = self.strategy.run(on_replica, args=args)
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def agreed(self, value: float) -> float:
        """The mean of ``value`` over the workers: one number they all have (the value
        itself on one machine)."""
        if self.workers == 1:
            return value
        tf = self._tf
        if self._mean is None:

            @tf.function
            def mean(value: Any) -> Any:
                per_replica = self.strategy.run(lambda: tf.identity(value))
                return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

            self._mean = mean
        with self.guard():
            return float(self._mean(tf.constant(value, tf.float64)))

    def guard(self) -> Any:
        """Where collectives run: a lost worker becomes one :class:`ClusterError`."""
        return cluster_errors(self._tf) if self.workers > 1 else nullcontext()

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is set on any worker (a stop asked of one stops them all)."""
        return self.agreed(1.0 if flag else 0.0) > 0.0


def build(tf: Any, train: TrainConfig, environ: Mapping[str, str] = os.environ) -> Distribution:
    """The distribution of ``train.distribute``; call it before TensorFlow runs any op
    (a multi-worker strategy configures the runtime and waits for the whole cluster)."""
    if train.distribute == "none":
        return Distribution(tf)
    if train.distribute == "mirrored":
        return Distribution(tf, tf.distribute.MirroredStrategy(devices=local_devices(tf)))
    resolver = cluster_resolver(tf, environ)
    cluster = resolver.cluster_spec()
    workers = sum(cluster.num_tasks(job) for job in cluster.jobs)
    with cluster_errors(tf):
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    return Distribution(tf, strategy, workers, chief=strategy.extended.should_checkpoint)


def local_devices(tf: Any) -> list[str]:
    """Every local GPU, or every logical CPU device where there is none (MirroredStrategy
    alone would take a single CPU device)."""
    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in gpus or tf.config.list_logical_devices("CPU")]


def cluster_resolver(tf: Any, environ: Mapping[str, str] = os.environ) -> Any:
    """The cluster of a multi-worker run: ``TF_CONFIG`` where it is set, else the Slurm
    job step this process is a task of (started by ``srun``)."""
    resolvers = tf.distribute.cluster_resolver
    if environ.get("TF_CONFIG"):
        resolver = resolvers.TFConfigClusterResolver()
        if not resolver.cluster_spec().jobs or resolver.task_type is None:
            raise ConfigError(
                "train.distribute = 'multi_worker': TF_CONFIG needs a cluster and this "
                'process\'s task, like {"cluster": {"worker": ["host1:port", '
                '"host2:port"]}, "task": {"type": "worker", "index": 0}}'
            )
        return resolver
    if environ.get("SLURM_STEP_NUM_TASKS"):
        # The resolver counts GPUs only to place tasks and to set CUDA_VISIBLE_DEVICES.
        # TensorFlow has seen its devices by now, so each task keeps the GPUs that Slurm
        # gives it (srun --gpus-per-task) and the resolver only names hosts and ports:
        # one placement slot per task, whatever the node holds.
        return resolvers.SlurmClusterResolver(
            port_base=SLURM_PORT_BASE, gpus_per_node=1024, gpus_per_task=1, auto_set_gpu=False
        )
    raise ConfigError(
        "train.distribute = 'multi_worker': no cluster found; set TF_CONFIG on each "
        "worker, or start the workers with srun inside a Slurm allocation"
    )


def _reason(error: Any) -> str:
    """The useful end of a TensorFlow runtime error: what aborted the collectives."""
    text = " ".join(str(getattr(error, "message", error)).split())
    marker = "Collective ops is aborted by: "
    if marker in text:
        text = text.split(marker, 1)[1]
    grpc = re.search(r" Additional GRPC error information from remote target (\S+)", text)
    if grpc:
        text = f"{text[: grpc.start()]}, from {grpc.group(1)}"
    return text[:160] + ("..." if len(text) > 160 else "")


@contextmanager
def cluster_errors(tf: Any) -> Iterator[None]:
    """TensorFlow's errors of a cluster that lost a worker as one :class:`ClusterError`."""
    lost = (
        tf.errors.UnavailableError,
        tf.errors.AbortedError,
        tf.errors.CancelledError,
        tf.errors.DeadlineExceededError,
        tf.errors.FailedPreconditionError,
        tf.errors.InternalError,
    )
    try:
        yield
    except lost as error:
        raise ClusterError(
            f"another worker of the cluster stopped or cannot be reached ({_reason(error)})"
        ) from None


@contextmanager
def worker_folder() -> Iterator[Path]:
    """A private temporary folder for the files of a worker other than the chief: only
    the chief writes the run directory. Removed when training ends."""
    folder = Path(tempfile.mkdtemp(prefix="rnncls-worker-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
