"""rnncls.trials without training: how a trial that runs a dead one again takes over its
run directory (config, checkpoint, metrics up to the checkpoint), and when it cannot."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import held_run_dir, write_run

from rnncls import rundir
from rnncls.trials import take_over

METRICS = [
    {"step": 4, "eval_accuracy": 0.2, "train_loss": 2.0},
    {"step": 8, "eval_accuracy": 0.3, "train_loss": 1.5},
    {"step": 12, "eval_accuracy": 0.4, "train_loss": 1.2},  # after the checkpoint: dropped
]


def study_with(number: int, run_dir: Path | None) -> SimpleNamespace:
    attrs = {"run_dir": str(run_dir)} if run_dir is not None else {}
    trials = [SimpleNamespace(number=number, user_attrs=attrs)]
    return SimpleNamespace(get_trials=lambda deepcopy=False: trials)


def test_a_dead_trials_checkpoint_config_and_metrics_are_taken_over(tmp_path) -> None:
    dead = write_run(
        tmp_path / "trial-1", {"train.learning_rate": 0.003}, metrics=METRICS, checkpoint=8
    )
    new = tmp_path / "trial-3"
    taken = take_over(study_with(1, dead), 1, new)
    assert taken is not None and taken.step == 8
    assert [(r["step"], r["eval_accuracy"]) for r in taken.evaluations] == [(4, 0.2), (8, 0.3)]
    for name in ("config.toml", "checkpoint.npz"):
        assert (new / name).read_bytes() == (dead / name).read_bytes()
    kept = [json.loads(line) for line in (new / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in kept] == [4, 8]
    # the dead trial's own folder is left as it was: the record of what happened
    assert len((dead / "metrics.jsonl").read_text().splitlines()) == 3
    assert sorted(os.listdir(new)) == ["checkpoint.npz", "config.toml", "metrics.jsonl"]


def test_nothing_to_take_over(tmp_path) -> None:
    new = tmp_path / "new"
    assert take_over(study_with(1, None), 1, new) is None  # no run_dir recorded
    assert take_over(study_with(2, tmp_path / "a"), 1, new) is None  # no such trial
    assert take_over(study_with(1, tmp_path / "elsewhere"), 1, new) is None  # not here
    no_checkpoint = write_run(tmp_path / "fresh", metrics=METRICS[:1])
    assert take_over(study_with(1, no_checkpoint), 1, new) is None
    assert not new.exists()


def test_a_trial_that_a_training_still_holds_is_not_taken_over(tmp_path) -> None:
    """Its worker missed heartbeats but lives (a suspended process): it may write again."""
    held = write_run(tmp_path / "held", metrics=METRICS, checkpoint=8)
    with held_run_dir(held, fresh=False):
        assert rundir.is_locked(held)
        assert take_over(study_with(1, held), 1, tmp_path / "new") is None
    assert take_over(study_with(1, held), 1, tmp_path / "new").step == 8


@pytest.mark.parametrize("missing", ["metrics.jsonl"])
def test_a_dead_trial_without_metrics_is_taken_over_with_none(tmp_path, missing) -> None:
    dead = write_run(tmp_path / "dead", checkpoint=8)
    (dead / missing).unlink(missing_ok=True)
    taken = take_over(study_with(1, dead), 1, tmp_path / "new")
    assert taken is not None and (taken.step, taken.evaluations) == (8, [])
