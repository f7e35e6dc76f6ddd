"""Training on tiny synthetic data: run directory, resume, refusal to overwrite."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SETTINGS, make_digits, reporter_of

from rnncls import checkpoints, rundir
from rnncls.config import load_config, with_values
from rnncls.datasets import find_data
from rnncls.datasets.idx import MNIST
from rnncls.errors import RunError
from rnncls.train import train
from rnncls.trainer import BatchOrder

# Every test here builds or trains a Keras model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow

TINY = load_config(overrides=TINY_SETTINGS)


def checkpoint_arrays(run_dir):
    state, arrays = checkpoints.load_checkpoint(run_dir)
    return state, arrays


def accuracy_and_loss_of(model: Path, data: Path) -> tuple[float, float]:
    """Test accuracy and mean cross-entropy of an exported model, computed here with
    ONNX Runtime and math, not with rnncls's own evaluation."""
    import onnxruntime

    _, test_labels = make_digits(40, seed=1)  # what write_mnist puts in t10k
    test_images, _ = make_digits(40, seed=1)
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    # the model takes raw pixels (n, 28, 28, 1) and scales them itself
    (logits,) = session.run(None, {name: test_images[..., np.newaxis].astype(np.float32)})
    right, loss = 0, 0.0
    for row, label in zip(logits.astype(np.float64), test_labels, strict=True):
        right += int(row.argmax() == label)
        loss -= row[label] - math.log(sum(math.exp(x) for x in row))
    return right / len(test_labels), loss / len(test_labels)


def test_batch_order_is_a_function_of_seed_and_step():
    order = BatchOrder(seed=3, num_images=100, batch_size=16)
    assert order.steps_per_epoch == 6
    all_steps = order.batches(0, 14)
    assert all_steps.shape == (14, 16)
    # the same steps asked for later, or by a fresh object, are the same batches
    np.testing.assert_array_equal(BatchOrder(3, 100, 16).batches(9, 5), all_steps[9:])
    # one epoch never repeats an image; the next epoch is another permutation
    first_epoch = all_steps[:6].ravel()
    assert len(set(first_epoch)) == 96
    assert not np.array_equal(all_steps[:6], all_steps[6:12])
    assert not np.array_equal(BatchOrder(4, 100, 16).batches(0, 1), all_steps[:1])


def test_train_writes_a_complete_run(in_tmp, tiny_mnist):
    events = []
    result = train(
        TINY,
        find_data(tiny_mnist),
        in_tmp / "runs" / "a",
        reporter=reporter_of(evaluation=events.append),
    )
    run_dir = in_tmp / "runs" / "a"
    assert [e.step for e in events] == [3, 6]
    assert result.steps == 6
    accuracy, loss = accuracy_and_loss_of(run_dir / "model.onnx", tiny_mnist)
    assert result.test_accuracy == accuracy
    assert result.test_loss == pytest.approx(loss, rel=1e-4)
    assert result.train_seconds > 0 and result.ms_per_step > 0
    for name in ("config.toml", "checkpoint.npz", "metrics.jsonl", "summary.json", "model.keras"):
        assert (run_dir / name).is_file(), name
    assert load_config(run_dir / "config.toml") == TINY
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [3, 6]
    assert json.loads((run_dir / "summary.json").read_text()) == result.to_json()
    assert (in_tmp / "runs" / "latest").resolve() == run_dir.resolve()
    assert not list(run_dir.glob(".*tmp*")), "temporary files left behind"


def assert_same_checkpoints(run_a, run_b):
    """Every array of two checkpoints, by group and name, equal to the last bit."""
    state_a, arrays_a = checkpoint_arrays(run_a)
    state_b, arrays_b = checkpoint_arrays(run_b)
    assert state_a["step"] == state_b["step"]
    assert arrays_a.keys() == arrays_b.keys()
    for group in arrays_a:
        assert arrays_a[group].keys() == arrays_b[group].keys(), group
        for name, array in arrays_a[group].items():
            np.testing.assert_array_equal(array, arrays_b[group][name], err_msg=name)


RESUME_CASES = {
    "keras-graph": {"train": {"batch_size": 16}},
    "lstm-pass": {"train": {"batch_size": 32}},
    "dropout-augment": {
        "model": {"dropout": 0.3, "layers": 2},
        "augment": {"shift": 2.0, "rotation": 10.0, "zoom": 0.1},
    },
    "gru-bidirectional-schedule": {
        "model": {"cell": "gru", "bidirectional": True},
        "train": {"optimizer": "sgd", "momentum": 0.9, "schedule": "cosine", "warmup_steps": 2},
    },
}


@pytest.mark.parametrize("changes", RESUME_CASES.values(), ids=list(RESUME_CASES))
def test_resume_continues_to_the_same_weights(in_tmp, tiny_mnist, changes):
    source = find_data(tiny_mnist)
    config = with_values(TINY, **changes)
    straight = train(config, source, in_tmp / "straight")
    short = with_values(config, train={"steps": 3})
    train(short, source, in_tmp / "resumed")
    resumed = train(config, source, in_tmp / "resumed", resume=True)
    assert resumed.steps == straight.steps == 6
    assert resumed.test_loss == straight.test_loss
    assert checkpoint_arrays(in_tmp / "straight")[0]["step"] == 6
    assert_same_checkpoints(in_tmp / "straight", in_tmp / "resumed")
    steps = [json.loads(x)["step"] for x in (in_tmp / "resumed/metrics.jsonl").open()]
    assert steps == [3, 6]


def test_resume_of_a_finished_run_reports_it(in_tmp, tiny_mnist):
    source = find_data(tiny_mnist)
    first = train(TINY, source, in_tmp / "r")
    model_time = (in_tmp / "r" / "model.keras").stat().st_mtime_ns
    again = train(TINY, source, in_tmp / "r", resume=True)
    assert again == first
    assert (in_tmp / "r" / "model.keras").stat().st_mtime_ns == model_time


def test_existing_run_is_not_overwritten_without_force(in_tmp, tiny_mnist):
    source = find_data(tiny_mnist)
    train(TINY, source, in_tmp / "r")
    before = (in_tmp / "r" / "summary.json").read_bytes()
    with pytest.raises(RunError, match="already holds a run"):
        train(TINY, source, in_tmp / "r")
    assert (in_tmp / "r" / "summary.json").read_bytes() == before
    other = with_values(TINY, train={"seed": 9})
    result = train(other, source, in_tmp / "r", force=True)
    assert result.steps == 6
    assert load_config(in_tmp / "r" / "config.toml").train.seed == 9


def test_dropout_and_augmentation_change_the_run(in_tmp, tiny_mnist):
    """The options are not ignored: each gives other weights than the plain run."""
    source = find_data(tiny_mnist)
    plain = train(TINY, source, in_tmp / "plain")
    for name, changes in {
        "dropout": {"model": {"dropout": 0.3}},
        "augment": {"augment": {"shift": 2.0}},
    }.items():
        other = train(with_values(TINY, **changes), source, in_tmp / name)
        assert other.test_loss != plain.test_loss, name


def test_epochs_count_passes_over_the_training_images(in_tmp, tiny_mnist):
    # 120 training images less 20 held out, in batches of 16: 6 steps an epoch
    # and a warm-up longer than those 12 steps, and a momentum adam does not take, are said
    config = with_values(TINY, train={"epochs": 2, "steps": 1, "warmup_steps": 13, "momentum": 0.5})
    events, statuses = [], []
    result = train(
        config,
        find_data(tiny_mnist),
        in_tmp / "r",
        reporter=reporter_of(evaluation=events.append, status=statuses.append),
    )
    assert result.steps == 12
    assert [(e.step, e.total_steps) for e in events] == [(s, 12) for s in (3, 6, 9, 12)]
    assert [s for s in statuses if s.startswith("warning: ")] == [
        "warning: train.momentum = 0.5 is not used: only sgd and rmsprop take it, "
        "and train.optimizer is 'adam'",
        "warning: train.warmup_steps = 13 is more than the run's 12 steps: the learning rate "
        "never reaches train.learning_rate",
    ]


def test_early_stopping_keeps_the_best_evaluations_weights(in_tmp, tiny_mnist, monkeypatch):
    """Scripted validation accuracies: the best is at the second evaluation (step 6);
    with patience 2 the fourth evaluation (step 12) stops the run."""
    import rnncls.train

    accuracies = iter([0.5, 0.7, 0.6, 0.65, 0.9, 0.9])
    real = rnncls.train._evaluate

    def scripted(model, split):
        loss, _ = real(model, split)
        return loss, next(accuracies) if split.name == "validation" else real(model, split)[1]

    monkeypatch.setattr(rnncls.train, "_evaluate", scripted)
    config = with_values(TINY, train={"steps": 18, "patience": 2})
    events = []
    result = train(
        config, find_data(tiny_mnist), in_tmp / "r", reporter=reporter_of(evaluation=events.append)
    )
    assert [e.step for e in events] == [3, 6, 9, 12]
    assert (result.steps, result.kept_step, result.stopped_early) == (12, 6, True)
    assert result.validation_accuracy == 0.7  # the kept step's, not the last one's
    summary = json.loads((in_tmp / "r" / "summary.json").read_text())
    assert (summary["kept_step"], summary["stopped_early"]) == (6, True)
    # the saved model holds the weights of step 6, which the checkpoint keeps as "best"
    import keras

    _, arrays = checkpoint_arrays(in_tmp / "r")
    model = keras.saving.load_model(in_tmp / "r" / "model.keras", compile=False)
    kernel = model.get_layer("network").get_layer("lstm").cell.kernel.numpy()
    np.testing.assert_array_equal(kernel, arrays["best"]["lstm/lstm_cell/kernel"])
    assert not np.array_equal(kernel, arrays["model"]["lstm/lstm_cell/kernel"])
    # resuming the stopped run reports it, as for any finished run
    assert train(config, find_data(tiny_mnist), in_tmp / "r", resume=True) == result


def test_tensorboard_gets_the_scalars_of_each_evaluation(in_tmp, tiny_mnist):
    import tensorflow as tf

    config = with_values(TINY, train={"tensorboard": True})
    events = []
    result = train(
        config, find_data(tiny_mnist), in_tmp / "r", reporter=reporter_of(evaluation=events.append)
    )
    files = list((in_tmp / "r" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    seen: dict[str, list[tuple[int, float]]] = {}
    for record in tf.compat.v1.train.summary_iterator(str(files[0])):
        for value in record.summary.value:
            if value.tag.startswith("_hparams_/"):
                continue  # the HParams record: read in the test below
            number = float(tf.make_ndarray(value.tensor))
            seen.setdefault(value.tag, []).append((record.step, number))
    assert sorted(seen) == [
        "accuracy/validation",
        "final/test_accuracy",
        "final/test_loss",
        "final/validation_accuracy",
        "learning_rate",
        "loss/train",
        "loss/validation",
    ]
    expected = [(e.step, e.eval_accuracy) for e in events]
    assert seen["accuracy/validation"] == [(s, pytest.approx(a)) for s, a in expected]
    assert seen["final/test_accuracy"] == [(result.steps, pytest.approx(result.test_accuracy))]


def test_tensorboard_hparams_of_two_runs_read_back_with_tensorboards_own_reader(in_tmp, tiny_mnist):
    """Two runs with different learning rates: each one's HParams record (read as the
    HParams dashboard reads it) holds its config keys and trial id, and its final metrics
    are its summary's."""
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2
    from tensorboard.util import tensor_util

    source = find_data(tiny_mnist)
    for name, rate in [("slow", 0.001), ("fast", 0.02)]:
        config = with_values(TINY, train={"tensorboard": True, "learning_rate": rate})
        train(config, source, in_tmp / "runs" / name)
    for name, rate in [("slow", 0.001), ("fast", 0.02)]:
        events = EventAccumulator(str(in_tmp / "runs" / name / "tensorboard"))
        events.Reload()
        content = events.PluginTagToContent(metadata.PLUGIN_NAME)
        record = plugin_data_pb2.HParamsPluginData.FromString(
            content[metadata.SESSION_START_INFO_TAG]
        ).session_start_info
        assert record.group_name == name
        assert record.hparams["train.learning_rate"].number_value == pytest.approx(rate)
        assert record.hparams["model.cell"].string_value == "lstm"
        assert record.hparams["model.hidden_units"].number_value == TINY.model.hidden_units
        assert record.hparams["train.tensorboard"].WhichOneof("kind") is None  # left out
        assert "data.dir" not in record.hparams and "train.seed" in record.hparams
        summary = json.loads((in_tmp / "runs" / name / "summary.json").read_text())
        for metric in ("validation_accuracy", "test_accuracy", "test_loss"):
            (last,) = events.Tensors(f"final/{metric}")
            assert last.step == summary["steps"]
            value = float(tensor_util.make_ndarray(last.tensor_proto))
            assert value == pytest.approx(summary[metric], rel=1e-6)
    groups = hparams_session_groups(in_tmp / "runs")
    assert sorted(groups) == ["fast", "slow"]
    assert groups["fast"]["hparams"]["train.learning_rate"] == pytest.approx(0.02)
    assert groups["slow"]["hparams"]["train.learning_rate"] == pytest.approx(0.001)
    for name in ("fast", "slow"):
        summary = json.loads((in_tmp / "runs" / name / "summary.json").read_text())
        metrics = {m["name"]["tag"]: m["value"] for m in groups[name]["metricValues"]}
        assert metrics["final/test_accuracy"] == pytest.approx(summary["test_accuracy"])


def hparams_session_groups(logdir: Path) -> dict[str, dict]:
    """What the HParams dashboard of `tensorboard --logdir LOGDIR` lists: a real
    TensorBoard on a free loopback port, asked through the plugin's own API."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    query = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE"],
        "colParams": [],
        "startIndex": 0,
        "sliceSize": 100,
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/data/plugin/hparams/session_groups",
        data=json.dumps(query).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        deadline = time.monotonic() + 120  # a hang guard, not a speed target
        while True:
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    groups = json.loads(answer.read())["sessionGroups"]
                if len(groups) == 2 or time.monotonic() > deadline:
                    return {group["name"]: group for group in groups}
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_run_of_the_first_release_resumes_to_the_same_weights(in_tmp, tiny_mnist):
    """Checkpoint format 1 held the arrays by position and no version; it still resumes,
    to the weights of a run left alone."""
    import keras

    from rnncls.model import build_model
    from rnncls.optimization import build_optimizer

    source = find_data(tiny_mnist)
    train(TINY, source, in_tmp / "straight")
    train(with_values(TINY, train={"steps": 3}), source, in_tmp / "old")
    state, arrays = checkpoints.load_checkpoint(in_tmp / "old")
    model = build_model(TINY.model, TINY.sequence, MNIST)
    optimizer = build_optimizer(TINY.train, 6)
    optimizer.build(model.trainable_variables)
    by_position = {
        "model": [arrays["model"][v.path] for v in model.weights],
        "optimizer": [arrays["optimizer"][v.path.split("/", 1)[1]] for v in optimizer.variables],
    }
    del state["version"], state["best_step"], state["stopped_early"]
    old_arrays = {g: {f"{i:04d}": a for i, a in enumerate(v)} for g, v in by_position.items()}
    checkpoints.save_checkpoint(in_tmp / "old", state, old_arrays)
    keras.backend.clear_session()
    resumed = train(TINY, source, in_tmp / "old", resume=True)
    assert resumed.steps == 6
    _, straight = checkpoint_arrays(in_tmp / "straight")
    _, after = checkpoint_arrays(in_tmp / "old")
    for group in ("model", "optimizer"):
        for name, array in straight[group].items():
            np.testing.assert_array_equal(after[group][name], array, err_msg=name)


def test_a_checkpoint_of_another_network_is_one_line_naming_a_variable(in_tmp, tiny_mnist):
    source = find_data(tiny_mnist)
    train(with_values(TINY, train={"steps": 3}), source, in_tmp / "r")
    config_path = in_tmp / "r" / "config.toml"
    config_path.write_text(config_path.read_text().replace('cell = "lstm"', 'cell = "gru"'))
    gru = with_values(load_config(config_path), train={"steps": 6})
    with pytest.raises(RunError, match="does not fit this model: model variable gru/"):
        train(gru, source, in_tmp / "r", resume=True)


def test_calls_cut_short_for_progress_change_no_float(in_tmp, tiny_mnist, monkeypatch):
    """Progress every few steps (here: every step) trains the very same run as one call
    per interval: weights, optimizer state, losses and evaluations."""
    import rnncls.train

    source = find_data(tiny_mnist)
    config = with_values(TINY, train={"steps": 12, "eval_every": 6})
    whole = train(config, source, in_tmp / "whole")
    monkeypatch.setattr(rnncls.train, "PROGRESS_SECONDS", 1e-9)
    monkeypatch.setattr(rnncls.train, "FIRST_CALL_STEPS", 1)
    progress = []
    cut = train(config, source, in_tmp / "cut", reporter=reporter_of(progress=progress.append))
    assert [(p.step, p.total_steps) for p in progress] == [
        (s, 12) for s in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11)
    ]
    assert cut.test_loss == whole.test_loss
    assert_same_checkpoints(in_tmp / "whole", in_tmp / "cut")
    assert rundir.read_metrics(in_tmp / "cut") == rundir.read_metrics(in_tmp / "whole")


def test_a_stop_between_evaluations_resumes_to_the_same_run(in_tmp, tiny_mnist, monkeypatch):
    """A stop asked for mid-interval checkpoints that step, with the partial loss sum, and
    the resumed run ends as the run left alone, its reported losses included."""
    import rnncls.train
    from rnncls.errors import TrainingInterrupted

    source = find_data(tiny_mnist)
    config = with_values(TINY, train={"steps": 12, "eval_every": 6})
    train(config, source, in_tmp / "whole")
    monkeypatch.setattr(rnncls.train, "PROGRESS_SECONDS", 1e-9)
    monkeypatch.setattr(rnncls.train, "FIRST_CALL_STEPS", 1)

    def stop_at_step_8(progress):
        if progress.step == 8:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(TrainingInterrupted, match=r"stopped at step 8 \(SIGTERM\)"):
        train(config, source, in_tmp / "cut", reporter=reporter_of(progress=stop_at_step_8))
    assert checkpoints.load_checkpoint(in_tmp / "cut")[0]["step"] == 8
    train(config, source, in_tmp / "cut", resume=True)
    assert_same_checkpoints(in_tmp / "whole", in_tmp / "cut")
    assert rundir.read_metrics(in_tmp / "cut") == rundir.read_metrics(in_tmp / "whole")


def test_ctrl_c_twice_stops_at_once_keeping_the_last_checkpoint(
    in_tmp, tiny_mnist, monkeypatch, capfd
):
    import rnncls.train
    from rnncls.errors import TrainingInterrupted

    source = find_data(tiny_mnist)
    config = with_values(TINY, train={"steps": 12, "eval_every": 6})
    monkeypatch.setattr(rnncls.train, "PROGRESS_SECONDS", 1e-9)
    monkeypatch.setattr(rnncls.train, "FIRST_CALL_STEPS", 1)

    def ctrl_c_twice_at_step_8(progress):
        if progress.step == 8:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted) as stopped:
        train(config, source, in_tmp / "r", reporter=reporter_of(progress=ctrl_c_twice_at_step_8))
    assert str(stopped.value) == (
        "stopped at once (SIGINT twice); the last checkpoint is step 6; "
        f"continue with `rnncls train --run-dir {in_tmp / 'r'} --resume`"
    )
    acknowledged = capfd.readouterr().err
    assert (
        "\nSIGINT: stopping at the next step with a checkpoint; Ctrl-C again to stop at once\n"
        in acknowledged
    )
    assert checkpoints.load_checkpoint(in_tmp / "r")[0]["step"] == 6


def test_a_diverged_training_stops_keeping_its_last_checkpoint(in_tmp, tiny_mnist, monkeypatch):
    """A weight made NaN after the first evaluation (step 3) makes the loss of the next
    interval NaN through the real training step: training stops there, writes nothing of
    the lost weights, and the checkpoint of step 3 stays as it was."""
    import rnncls.train

    real_run_steps = rnncls.train.Trainer.run_steps

    def poisoned_after_step_3(trainer, batch_indices, first_step=0, loss_sum=0.0):
        if first_step == 3:
            weight = trainer.model.trainable_weights[0]
            weight.assign(np.full(weight.shape, np.nan, dtype=np.float32))
        return real_run_steps(trainer, batch_indices, first_step, loss_sum)

    monkeypatch.setattr(rnncls.train.Trainer, "run_steps", poisoned_after_step_3)
    run_dir = in_tmp / "r"
    with pytest.raises(rnncls.train.Diverged) as diverged:
        train(TINY, find_data(tiny_mnist), run_dir)
    assert str(diverged.value) == (
        "training diverged: the loss became nan in steps 4 to 6; the run keeps its "
        "checkpoint of step 3; start it again (--force) with a lower train.learning_rate "
        "(now 0.01) or train.clipnorm = 1"
    )
    state, arrays = checkpoints.load_checkpoint(run_dir)
    assert state["step"] == 3
    assert all(np.isfinite(array).all() for array in arrays["model"].values())
    assert [event["step"] for event in rundir.read_metrics(run_dir)] == [3]
    assert not (run_dir / "model.keras").exists() and not (run_dir / "summary.json").exists()
