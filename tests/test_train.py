"""Training on tiny synthetic data: run directory, resume, refusal to overwrite."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SETTINGS, make_digits

from rnncls import runs
from rnncls.config import load_config, with_values
from rnncls.data import find_data
from rnncls.train import BatchOrder, train

TINY = load_config(overrides=TINY_SETTINGS)


def checkpoint_arrays(run_dir):
    state, arrays = runs.load_checkpoint(run_dir)
    return state, arrays


def accuracy_and_loss_of(model: Path, data: Path) -> tuple[float, float]:
    """Test accuracy and mean cross-entropy of an exported model, computed here with
    ONNX Runtime and math, not with rnncls's own evaluation."""
    import onnxruntime

    _, test_labels = make_digits(40, seed=1)  # what write_mnist puts in t10k
    test_images, _ = make_digits(40, seed=1)
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    (logits,) = session.run(None, {name: test_images.astype(np.float32) / 255})
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
    result = train(TINY, find_data(tiny_mnist), in_tmp / "runs" / "a", on_event=events.append)
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


@pytest.mark.parametrize("batch_size", [16, 32], ids=["keras-graph", "lstm-pass"])
def test_resume_continues_to_the_same_weights(in_tmp, tiny_mnist, batch_size):
    source = find_data(tiny_mnist)
    config = with_values(TINY, train={"batch_size": batch_size})
    straight = train(config, source, in_tmp / "straight")
    short = with_values(config, train={"steps": 3})
    train(short, source, in_tmp / "resumed")
    resumed = train(config, source, in_tmp / "resumed", resume=True)
    assert resumed.steps == straight.steps == 6
    assert resumed.test_loss == straight.test_loss
    state_a, arrays_a = checkpoint_arrays(in_tmp / "straight")
    state_b, arrays_b = checkpoint_arrays(in_tmp / "resumed")
    assert state_a["step"] == state_b["step"] == 6
    for group in ("model", "optimizer"):
        for a, b in zip(arrays_a[group], arrays_b[group], strict=True):
            np.testing.assert_array_equal(a, b)
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
    with pytest.raises(runs.RunError, match="already holds a run"):
        train(TINY, source, in_tmp / "r")
    assert (in_tmp / "r" / "summary.json").read_bytes() == before
    other = with_values(TINY, train={"seed": 9})
    result = train(other, source, in_tmp / "r", force=True)
    assert result.steps == 6
    assert load_config(in_tmp / "r" / "config.toml").train.seed == 9
