"""train.distribute: the cluster a run finds, and real runs on this one machine: mirrored
over two logical CPU devices, two multi_worker processes on 127.0.0.1, and a worker killed.

The real runs are subprocesses: a strategy configures TensorFlow's runtime before its
first op, which a pytest process that already trained cannot do again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SETTINGS, assert_one_line_error, sets

from rnncls import checkpoints, rundir
from rnncls.config import load_config
from rnncls.datasets import find_data

# The tiny run with batches of 32, so the single-device reference trains through the
# hand-written pass (what the default does) and each of two replicas gets 16 images.
SETTINGS = [*TINY_SETTINGS, "train.batch_size=32"]
# `rnncls` with the CPU split into two logical devices, before TensorFlow sets them up.
TWO_CPU_DEVICES = (
    "import sys, tensorflow as tf; "
    "cpu = tf.config.list_physical_devices('CPU')[0]; "
    "two = [tf.config.LogicalDeviceConfiguration()] * 2; "
    "tf.config.set_logical_device_configuration(cpu, two); "
    "from rnncls.cli import run; sys.argv[0] = 'rnncls'; run()"
)
# What a test waits at most for a process: it guards against a hang, it times nothing.
HANG_GUARD_SECONDS = 300


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_workers(cwd: Path, *args: str | Path, count: int = 2) -> list[subprocess.Popen]:
    """``rnncls train ARGS`` as the workers of one cluster on 127.0.0.1, each with its
    TF_CONFIG; worker 0 is the chief. Their temporary folders go into ``cwd/tmp``."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(count)]}
    (cwd / "tmp").mkdir(exist_ok=True)
    workers = []
    for index in range(count):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "rnncls", "train", *map(str, args)],
                cwd=cwd,
                env={**os.environ, "TF_CONFIG": json.dumps(task), "TMPDIR": str(cwd / "tmp")},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return workers


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=HANG_GUARD_SECONDS)
    return process.returncode, out, err


def done_event(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def model_arrays(run_dir: Path) -> dict[str, np.ndarray]:
    return checkpoints.load_checkpoint(run_dir)[1]["model"]


def assert_same_model(run: Path, reference: Path) -> None:
    """The same weights to float32 rounding: the replicas' gradients are summed in
    another order than one device sums the batch's."""
    arrays, expected = model_arrays(run), model_arrays(reference)
    assert arrays.keys() == expected.keys()
    for name, array in arrays.items():
        np.testing.assert_allclose(array, expected[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import write_mnist

    folder = tmp_path_factory.mktemp("distribute")
    write_mnist(folder / "mnist")
    return folder


@pytest.fixture(scope="module")
def single_device(workspace: Path) -> Path:
    """The run of SETTINGS on one device, that every distributed run must equal."""
    from rnncls.train import train

    run_dir = workspace / "single"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        train(load_config(overrides=SETTINGS), find_data(workspace / "mnist"), run_dir)
    return run_dir


# ---------------------------------------------------------------------- the cluster


def test_multi_worker_needs_a_shared_run_dir(in_tmp, tiny_mnist):
    from typer.testing import CliRunner

    from rnncls.cli import app

    args = ["train", "--data-dir", str(tiny_mnist), "--set", "train.distribute=multi_worker"]
    result = CliRunner().invoke(app, args)
    assert_one_line_error(result, 2, "train.distribute = 'multi_worker': give every worker")
    assert not (in_tmp / "runs").exists()


@pytest.mark.tensorflow
def test_tf_config_gives_the_cluster_and_the_task():
    from rnncls import distribute
    from rnncls.tf_setup import import_tensorflow

    tf = import_tensorflow()
    task = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TF_CONFIG", json.dumps(task))  # where TensorFlow's resolver reads it
        resolver = distribute.cluster_resolver(tf, {"TF_CONFIG": json.dumps(task)})
        assert resolver.cluster_spec().as_dict() == {"worker": ["a:1", "b:2"]}
        assert (resolver.task_type, resolver.task_id) == ("worker", 1)


@pytest.mark.tensorflow
def test_slurm_gives_the_cluster_when_there_is_no_tf_config():
    from rnncls import distribute
    from rnncls.tf_setup import import_tensorflow

    tf = import_tensorflow()
    slurm = {
        "SLURM_PROCID": "2",
        "SLURM_STEP_NUM_TASKS": "4",
        "SLURM_STEP_NODELIST": "node[1-2]",
        "SLURM_STEP_TASKS_PER_NODE": "2(x2)",
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("TF_CONFIG", raising=False)
        for name, value in slurm.items():
            patch.setenv(name, value)
        patch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        resolver = distribute.cluster_resolver(tf, slurm)
        workers = resolver.cluster_spec().as_dict()["worker"]
        assert "CUDA_VISIBLE_DEVICES" not in os.environ  # the GPUs are Slurm's to give
    assert workers == ["node1:8888", "node1:8889", "node2:8888", "node2:8889"]
    assert (resolver.task_type, resolver.task_id) == ("worker", 2)


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({}, "no cluster found; set TF_CONFIG"),
        ({"TF_CONFIG": '{"cluster": {}}'}, "TF_CONFIG needs a cluster and this process's task"),
    ],
    ids=["nothing", "no-task"],
)
def test_multi_worker_without_a_cluster_is_a_config_error(environ, fragment):
    from rnncls import distribute
    from rnncls.errors import ConfigError
    from rnncls.tf_setup import import_tensorflow

    tf = import_tensorflow()
    with pytest.raises(ConfigError, match=fragment):
        distribute.cluster_resolver(tf, environ)


# ---------------------------------------------------------------------- real runs


@pytest.mark.slow
@pytest.mark.tensorflow
def test_mirrored_on_two_cpu_devices_trains_the_single_device_model(workspace, single_device):
    run_dir = workspace / "mirrored"
    process = subprocess.Popen(
        [sys.executable, "-c", TWO_CPU_DEVICES, "train", "--run-dir", str(run_dir), "--json"]
        + ["--data-dir", str(workspace / "mnist"), *sets([*SETTINGS, "train.distribute=mirrored"])],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    code, out, err = finish(process)
    assert code == 0, err
    assert "distributed: 2 replicas" in err
    assert "train.distribute = 'mirrored'" in err  # the fast path steps aside, and says so
    done = done_event(out)
    expected = json.loads((single_device / "summary.json").read_text())
    assert abs(done["test_accuracy"] - expected["test_accuracy"]) <= 0.01
    assert done["test_loss"] == pytest.approx(expected["test_loss"], rel=1e-4)
    assert_same_model(run_dir, single_device)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_two_workers_train_one_model_written_by_the_chief_and_resume(workspace, single_device):
    run_dir = workspace / "cluster"
    args = ["--run-dir", run_dir, "--data-dir", workspace / "mnist", "--json"]
    settings = sets([*SETTINGS, "train.distribute=multi_worker"])
    chief, worker = start_workers(workspace, *args, *settings, "--steps", "3")
    results = [finish(chief), finish(worker)]
    for code, _, err in results:
        assert code == 0, err
    # one run, its files written once, by the chief
    assert [m["step"] for m in map(json.loads, (run_dir / "metrics.jsonl").open())] == [3]
    assert {p.name for p in run_dir.iterdir()} == set(rundir.RUN_FILES) - {rundir.TRIAL_FILE}
    assert (workspace / "runs" / "latest").resolve() == run_dir.resolve()
    assert list((workspace / "tmp").glob("rnncls-worker-*")) == []  # the worker's, removed
    chief_done, worker_done = (done_event(out) for _, out, _ in results)
    timings = {"train_seconds", "ms_per_step"}  # each worker times its own steps
    assert {k: v for k, v in worker_done.items() if k not in timings} == {
        k: v for k, v in chief_done.items() if k not in timings
    }

    # every worker continues from the chief's checkpoint, to the single-device model
    chief, worker = start_workers(workspace, *args, "--resume", "--steps", "6")
    for code, _, err in (finish(chief), finish(worker)):
        assert code == 0, err
        assert "resuming" in err
    assert [m["step"] for m in map(json.loads, (run_dir / "metrics.jsonl").open())] == [3, 6]
    assert_same_model(run_dir, single_device)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_a_killed_worker_stops_the_chief_with_one_error_line(workspace):
    run_dir = workspace / "killed"
    settings = [*SETTINGS, "train.distribute=multi_worker", "train.steps=1000000"]
    args = ["--run-dir", run_dir, "--data-dir", workspace / "mnist", "--quiet", *sets(settings)]
    chief, worker = start_workers(workspace, *args)
    while rundir.checkpoint_step(run_dir) is None and chief.poll() is None:
        time.sleep(0.1)  # both train: the chief has written a checkpoint
    worker.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    code, _, err = finish(chief)
    seconds = time.monotonic() - killed
    worker.communicate()
    assert code == 1, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: another worker of the cluster stopped"), err
    assert "start every worker again with --resume" in line
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1, err
    assert "Traceback" not in err
    print(f"the chief stopped {seconds:.1f} s after the worker was killed")
