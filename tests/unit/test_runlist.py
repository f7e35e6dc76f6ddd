"""rnncls.runlist: which run directories a listing finds, their states and values, the
config keys that differ, sorting and the difference of two runs, on run directories
written here by hand (tests/conftest.py::write_run)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import write_run

from rnncls import rundir, runlist
from rnncls.config import to_dict
from rnncls.config_keys import CELL_SECTIONS, Config
from rnncls.errors import ConfigError, RunError

FINISHED_A = {
    "steps": 1200,
    "test_accuracy": 0.9746,
    "test_loss": 0.0812,
    "train_seconds": 8.25,
    "ms_per_step": 6.875,
    "run_dir": "runs/a",
    "kept_step": 1200,
    "validation_accuracy": 0.9752,
}


def build_tree(root: Path) -> Path:
    """Runs of every kind under ``root``, with runs/latest and things that are no runs.

    a       finished (summary with validation_accuracy)
    b       interrupted at step 300, hidden_units 128
    old     finished before summaries had validation_accuracy, lr 0.005
    broken  a config and nothing else: failed
    study/  trials of a search: 2 pruned, 3 running with its worker dead, 10 complete
    """
    write_run(
        root / "a",
        summary=FINISHED_A,
        metrics=[{"step": 1200, "eval_accuracy": 0.97}],
        checkpoint=1200,
    )
    write_run(
        root / "b",
        {"model.hidden_units": 128},
        metrics=[{"step": 250, "eval_accuracy": 0.9}, {"step": 300, "eval_accuracy": 0.93}],
        checkpoint=300,
    )
    write_run(
        root / "old",
        {"train.learning_rate": 0.005},
        summary={"steps": 600, "test_accuracy": 0.96, "test_loss": 0.13, "train_seconds": 4.5},
        metrics=[{"step": 300, "eval_accuracy": 0.94}, {"step": 600, "eval_accuracy": 0.955}],
    )
    write_run(root / "broken")
    os.symlink("a", root / "latest")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a run\n")
    study = root / "study"
    trial = {"study": "study", "value": None, "params": {}, "step": None}
    write_run(
        study / "trial-2",
        {"train.learning_rate": 0.003},
        metrics=[{"step": 100, "eval_accuracy": 0.5}],
        checkpoint=100,
        trial={**trial, "number": 2, "state": "pruned", "step": 100},
    )
    write_run(
        study / "trial-3",
        {"train.learning_rate": 0.02},
        metrics=[{"step": 50, "eval_accuracy": 0.8}],
        checkpoint=50,
        trial={**trial, "number": 3, "state": "running"},
    )
    write_run(
        study / "trial-10",
        {"model.hidden_units": 256},
        summary={"steps": 1200, "test_accuracy": 0.9901, "test_loss": 0.04,
                 "train_seconds": 30.5, "validation_accuracy": 0.9912},
        checkpoint=1200,
        trial={**trial, "number": 10, "state": "complete", "value": 0.9912},
    )  # fmt: skip
    (study / "study.db").write_text("")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "runs")


def row(run: runlist.RunInfo) -> tuple:
    return (
        run.name,
        run.state_text,
        run.steps,
        run.validation_accuracy,
        run.test_accuracy,
        run.train_seconds,
    )


def test_every_run_and_trial_is_listed_once_in_name_order(tree: Path) -> None:
    assert [row(run) for run in runlist.list_runs(tree)] == [
        ("a", "finished", 1200, 0.9752, 0.9746, 8.25),
        ("b", "interrupted at step 300", 300, 0.93, None, None),
        ("broken", "failed", None, None, None, None),
        ("old", "finished", 600, 0.955, 0.96, 4.5),
        ("study/trial-2", "pruned at step 100", 100, 0.5, None, None),
        ("study/trial-3", "failed", 50, 0.8, None, None),
        ("study/trial-10", "finished", 1200, 0.9912, 0.9901, 30.5),
    ]


def test_the_config_keys_that_differ(tree: Path) -> None:
    listed = runlist.list_runs(tree)
    assert runlist.differing_keys(listed) == ["model.hidden_units", "train.learning_rate"]
    finished = [run for run in listed if run.name in ("a", "study/trial-10")]
    assert runlist.differing_keys(finished) == ["model.hidden_units"]
    assert runlist.differing_keys(listed[:1]) == []
    assert runlist.differing_keys([]) == []


def test_a_key_one_run_lacks_differs(tmp_path: Path) -> None:
    write_run(tmp_path / "a")
    future = write_run(tmp_path / "b")  # a key this version does not know: read as written
    with open(future / rundir.CONFIG_FILE, "a") as handle:
        handle.write("\n[search]\nbudget = 3\n")
    listed = runlist.list_runs(tmp_path)
    assert listed[1].config["search.budget"] == 3
    assert listed[1].config["model.hidden_units"] == 64
    assert runlist.differing_keys(listed) == ["search.budget"]


def test_true_is_not_one_and_one_is_one_point_zero() -> None:
    def run(value: object) -> runlist.RunInfo:
        return runlist.RunInfo("r", "failed", None, None, None, None, None, None, {"k.v": value})

    assert runlist.differing_keys([run(True), run(1)]) == ["k.v"]
    assert runlist.differing_keys([run(1), run(1.0)]) == []
    assert runlist.differing_keys([run(False), run(False)]) == []


def test_the_config_is_resolved_so_older_runs_compare(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / rundir.CONFIG_FILE).write_text("[model]\nhidden_units = 32\n")  # older: fewer keys
    (config,) = [r.config for r in runlist.list_runs(tmp_path)]
    assert config["model.hidden_units"] == 32 and config["model.cell"] == "lstm"
    # every key of every section but the options of cells other than the run's (an LSTM's)
    assert list(config) == [
        f"{s}.{k}"
        for s, values in to_dict(Config()).items()
        if s not in CELL_SECTIONS
        for k in values
    ]


def test_a_config_that_cannot_be_read_gives_no_keys(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / rundir.CONFIG_FILE).write_text("[model\n")
    (listed,) = runlist.list_runs(tmp_path)
    assert (listed.name, listed.state, listed.config) == ("r", "failed", {})


# ---------------------------------------------------------------------- states


@contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """The lock a training holds, taken through a descriptor of our own."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(descriptor)


def trial(state: str, step: int | None = None) -> dict:
    return {"study": "s", "number": 0, "state": state, "value": None, "params": {}, "step": step}


SUMMARY_100 = {"steps": 100, "test_accuracy": 0.9, "test_loss": 0.3, "train_seconds": 2.0}

# id: (files of the run, lock held, expected (state, steps, test accuracy))
STATE_CASES = {
    "summary": ({"summary": SUMMARY_100, "checkpoint": 100}, False, ("finished", 100, 0.9)),
    "summary-alone": ({"summary": SUMMARY_100}, False, ("finished", 100, 0.9)),
    "checkpoint-alone": ({"checkpoint": 40}, False, ("interrupted at step 40", 40, None)),
    "continued-then-stopped": (
        {"summary": SUMMARY_100, "checkpoint": 150},
        False,
        ("interrupted at step 150", 150, None),
    ),
    "nothing": ({}, False, ("failed", None, None)),
    "running": ({"checkpoint": 40}, True, ("running", 40, None)),
    "running-again-after-finishing": (
        {"summary": SUMMARY_100, "checkpoint": 100},
        True,
        ("running", 100, None),
    ),
    "running-from-the-start": ({}, True, ("running", None, None)),
    "trial-complete": (
        {"summary": SUMMARY_100, "checkpoint": 100, "trial": trial("complete")},
        False,
        ("finished", 100, 0.9),
    ),
    "trial-complete-without-summary": (
        {"checkpoint": 100, "trial": trial("complete")},
        False,
        ("finished", 100, None),
    ),
    "trial-pruned": (
        {"checkpoint": 50, "trial": trial("pruned", 30)},
        False,
        ("pruned at step 30", 50, None),
    ),
    "trial-pruned-no-step": (
        {"checkpoint": 50, "trial": trial("pruned")},
        False,
        ("pruned at step 50", 50, None),
    ),
    "trial-pruned-before-a-checkpoint": (
        {"trial": trial("pruned", 20)},
        False,
        ("pruned at step 20", 20, None),
    ),
    "trial-pruned-nothing-known": ({"trial": trial("pruned")}, False, ("pruned", None, None)),
    "trial-failed": ({"checkpoint": 100, "trial": trial("failed")}, False, ("failed", 100, None)),
    # a failed or pruned trial that `rnncls train --resume` then took to its end
    "trial-failed-then-resumed": (
        {"summary": SUMMARY_100, "checkpoint": 100, "trial": trial("failed")},
        False,
        ("finished", 100, 0.9),
    ),
    "trial-pruned-then-resumed": (
        {"summary": SUMMARY_100, "checkpoint": 100, "trial": trial("pruned", 50)},
        False,
        ("finished", 100, 0.9),
    ),
    "trial-running-worker-dead": (
        {"checkpoint": 50, "trial": trial("running")},
        False,
        ("failed", 50, None),
    ),
    "trial-running": ({"checkpoint": 50, "trial": trial("running")}, True, ("running", 50, None)),
    "trial-state-unknown": (
        {"checkpoint": 40, "trial": trial("waiting")},
        False,
        ("interrupted at step 40", 40, None),
    ),
}


@pytest.mark.parametrize(("files", "locked", "expected"), STATE_CASES.values(), ids=STATE_CASES)
def test_the_state_of_a_run(tmp_path: Path, files: dict, locked: bool, expected: tuple) -> None:
    run = write_run(tmp_path / "r", **files)
    if locked:
        with held_lock(run):
            found = runlist.read_run(run, "r")
    else:
        found = runlist.read_run(run, "r")
    assert (found.state_text, found.steps, found.test_accuracy) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{", "interrupted at step 40"), ("[1, 2]", "interrupted at step 40"), ("", "failed")],
    ids=["cut-short", "not-an-object", "empty"],
)
def test_a_damaged_summary_is_no_summary(tmp_path: Path, content: str, expected: str) -> None:
    run = write_run(tmp_path / "r", checkpoint=None if expected == "failed" else 40)
    (run / rundir.SUMMARY_FILE).write_text(content)
    found = runlist.read_run(run, "r")
    assert (found.state_text, found.test_accuracy) == (expected, None)


def test_a_damaged_trial_file_is_no_trial(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", checkpoint=40)
    (run / rundir.TRIAL_FILE).write_text('{"state": "pru')
    assert runlist.read_run(run, "r").state_text == "interrupted at step 40"
    (run / rundir.TRIAL_FILE).write_text('["pruned"]')
    assert runlist.read_run(run, "r").state_text == "interrupted at step 40"


def test_a_training_in_another_process_is_running(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = write_run(tmp_path / "r", checkpoint=40)
    hold = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.readline()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", hold, str(run)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "locked\n"
        assert runlist.read_run(run, "r").state_text == "running"
    finally:
        child.stdin.close()  # the child reads the end of its input and exits
        child.wait()
        child.stdout.close()
    assert runlist.read_run(run, "r").state_text == "interrupted at step 40"


# ---------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"summary": {**SUMMARY_100, "validation_accuracy": 0.91}}, 0.91),
        ({"summary": SUMMARY_100}, 0.88),  # older runs: the last evaluation's
        ({"summary": {**SUMMARY_100, "validation_accuracy": 0.91}, "checkpoint": 150}, 0.88),
        ({"checkpoint": 100}, 0.88),
        ({"summary": {**SUMMARY_100, "validation_accuracy": None}}, 0.88),
    ],
    ids=["summary", "older-summary", "stale-summary", "interrupted", "summary-of-none"],
)
def test_validation_accuracy_comes_from_the_summary_else_the_metrics(
    tmp_path: Path, files: dict, expected: float
) -> None:
    records = [{"step": 50, "eval_accuracy": 0.77}, {"step": 100, "eval_accuracy": 0.88}]
    run = write_run(tmp_path / "r", metrics=records, **files)
    assert runlist.read_run(run, "r").validation_accuracy == expected


def test_metrics_cut_short_or_without_accuracy(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", metrics=[{"step": 50, "eval_accuracy": 0.77}])
    with open(run / rundir.METRICS_FILE, "a") as handle:
        handle.write('{"step": 100, "eval_acc')  # a kill mid-line
    assert runlist.read_run(run, "r").validation_accuracy == 0.77
    (run / rundir.METRICS_FILE).write_text('{"step": 100}\n')
    assert runlist.read_run(run, "r").validation_accuracy is None
    (run / rundir.METRICS_FILE).write_text('{"step": 100, "eval_accuracy": "0.9"}\n[1]\n')
    assert runlist.read_run(run, "r").validation_accuracy is None
    (run / rundir.METRICS_FILE).write_bytes(b'{"step": 100, "eval_accuracy": 0.9}\n\xff\n')
    assert runlist.read_run(run, "r").validation_accuracy is None  # not text: not read
    (run / rundir.METRICS_FILE).unlink()
    (run / rundir.METRICS_FILE).mkdir()
    assert runlist.read_run(run, "r").validation_accuracy is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 0.5), (1, 1), (True, None), ("0.5", None), (float("nan"), None), (None, None)],
)
def test_only_finite_numbers_are_values(tmp_path: Path, value: object, expected: object) -> None:
    run = write_run(tmp_path / "r", summary={**SUMMARY_100, "test_accuracy": value})
    assert runlist.read_run(run, "r").test_accuracy == expected


def test_steps_that_are_no_count_are_not_known(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", summary={**SUMMARY_100, "steps": True})
    assert runlist.read_run(run, "r").steps is None
    run = write_run(tmp_path / "s", summary={**SUMMARY_100, "steps": 1.5})
    assert runlist.read_run(run, "s").steps is None


def test_to_json_has_every_field_and_the_config_nested(tree: Path) -> None:
    by_name = {run.name: run for run in runlist.list_runs(tree)}
    record = by_name["b"].to_json()
    assert {key: value for key, value in record.items() if key != "config"} == {
        "name": "b",
        "state": "interrupted",
        "stopped_at": 300,
        "steps": 300,
        "validation_accuracy": 0.93,
        "test_accuracy": None,
        "test_loss": None,
        "train_seconds": None,
    }
    expected = {s: t for s, t in to_dict(Config()).items() if s not in CELL_SECTIONS}
    expected["model"]["hidden_units"] = 128
    assert record["config"] == expected
    assert by_name["a"].to_json()["test_loss"] == 0.0812
    assert by_name["study/trial-2"].to_json()["state"] == "pruned"


# ---------------------------------------------------------------------- finding runs


def test_the_folder_itself_may_be_a_run(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", checkpoint=40)
    write_run(run / "inside")  # never searched: a run directory holds no runs
    assert [row(found) for found in runlist.list_runs(run)] == [
        (".", "interrupted at step 40", 40, None, None, None)
    ]


def test_links_and_hidden_folders_are_not_searched(tmp_path: Path) -> None:
    elsewhere = write_run(tmp_path / "elsewhere")
    root = tmp_path / "runs"
    write_run(root / "r")
    write_run(root / ".hidden" / "h")
    os.symlink(elsewhere, root / "link")
    (root / "deep").mkdir()
    os.symlink(root / "deep", root / "loop")
    assert [found.name for found in runlist.list_runs(root)] == ["r"]
    assert [found.name for found in runlist.list_runs(root / "link")] == ["."]


def test_names_in_natural_order(tmp_path: Path) -> None:
    for name in ("trial-10", "trial-9", "b", "a10b", "a9c", "trial-1"):
        write_run(tmp_path / name)
    names = [run.name for run in runlist.list_runs(tmp_path)]
    assert names == ["a9c", "a10b", "b", "trial-1", "trial-9", "trial-10"]


def test_a_folder_without_runs_lists_none(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert runlist.list_runs(tmp_path) == []


def test_a_folder_that_is_not_there_or_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(RunError) as caught:
        runlist.list_runs(tmp_path / "nowhere")
    assert str(caught.value) == f"runs folder not found: {tmp_path / 'nowhere'}"
    (tmp_path / "file").write_text("")
    with pytest.raises(RunError) as caught:
        runlist.list_runs(tmp_path / "file")
    assert str(caught.value) == f"{tmp_path / 'file'} is not a folder"


# ---------------------------------------------------------------------- sorting


def names(listed: list[runlist.RunInfo]) -> list[str]:
    return [run.name for run in listed]


@pytest.mark.parametrize(
    ("key", "reverse", "expected"),
    [
        ("test_accuracy", False,
         ["old", "a", "study/trial-10", "b", "broken", "study/trial-2", "study/trial-3"]),
        ("test_accuracy", True,
         ["study/trial-10", "a", "old", "b", "broken", "study/trial-2", "study/trial-3"]),
        ("validation_accuracy", True,
         ["study/trial-10", "a", "old", "b", "study/trial-3", "study/trial-2", "broken"]),
        ("steps", False,
         ["study/trial-3", "study/trial-2", "b", "old", "a", "study/trial-10", "broken"]),
        ("model.hidden_units", False,
         ["a", "broken", "old", "study/trial-2", "study/trial-3", "b", "study/trial-10"]),
        ("model.hidden_units", True,
         ["study/trial-10", "b", "a", "broken", "old", "study/trial-2", "study/trial-3"]),
        ("train.learning_rate", False,
         ["study/trial-2", "old", "a", "b", "broken", "study/trial-10", "study/trial-3"]),
        ("name", True,
         ["study/trial-10", "study/trial-3", "study/trial-2", "old", "broken", "b", "a"]),
        ("state", False,
         ["broken", "study/trial-3", "a", "old", "study/trial-10", "b", "study/trial-2"]),
        ("test_loss", False,
         ["study/trial-10", "a", "old", "b", "broken", "study/trial-2", "study/trial-3"]),
        ("train_seconds", True,
         ["study/trial-10", "a", "old", "b", "broken", "study/trial-2", "study/trial-3"]),
    ],
)  # fmt: skip
def test_sort(tree: Path, key: str, reverse: bool, expected: list[str]) -> None:
    assert names(runlist.sort_runs(runlist.list_runs(tree), key, reverse)) == expected


def test_sort_by_state_puts_the_earlier_stop_first() -> None:
    def run(name: str, state: str, stopped_at: int | None) -> runlist.RunInfo:
        return runlist.RunInfo(name, state, stopped_at, None, None, None, None, None)

    listed = [run("a", "interrupted", 300), run("b", "interrupted", 40), run("c", "failed", None)]
    assert names(runlist.sort_runs(listed, "state")) == ["c", "b", "a"]
    assert names(runlist.sort_runs(listed, "state", reverse=True)) == ["a", "b", "c"]
    at_0 = [run("a", "interrupted", 1), run("b", "interrupted", 0)]  # stopped before a step
    assert names(runlist.sort_runs(at_0, "state")) == ["b", "a"]


def test_sort_never_compares_text_with_numbers() -> None:
    def run(name: str, value: object) -> runlist.RunInfo:
        return runlist.RunInfo(name, "failed", None, None, None, None, None, None, {"k.v": value})

    listed = [run("a", "x"), run("b", 2), run("c", [2]), run("d", 1.5), run("e", "w")]
    listed.append(run("f", [1]))  # neither number nor text: ordered by its text, [1] < [2]
    assert names(runlist.sort_runs(listed, "k.v")) == ["d", "b", "e", "a", "f", "c"]


def test_sort_by_a_config_key_of_no_listed_run(tree: Path) -> None:
    listed = runlist.list_runs(tree)
    assert names(runlist.sort_runs(listed, "augment.zoom")) == names(listed)
    assert runlist.sort_runs([], "augment.zoom") == []


def test_sort_by_an_unknown_key(tree: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        runlist.sort_runs(runlist.list_runs(tree), "accuracy")
    assert str(caught.value) == (
        "unknown sort key 'accuracy': sort by name, state, steps, validation_accuracy, "
        "test_accuracy, train_seconds, test_loss or a config key such as "
        "model.hidden_units (`rnncls config keys` lists them)"
    )


# ---------------------------------------------------------------------- two runs


def test_diff_of_two_runs(tree: Path) -> None:
    difference = runlist.diff_runs(tree / "a", tree / "study/trial-10")
    assert difference.config == [("model.hidden_units", 64, 256)]
    metrics = {metric: (a, b) for metric, a, b, _ in difference.metrics}
    assert metrics == {
        "steps": (1200, 1200),
        "validation_accuracy": (0.9752, 0.9912),
        "test_accuracy": (0.9746, 0.9901),
        "test_loss": (0.0812, 0.04),
        "train_seconds": (8.25, 30.5),
    }
    changes = [change for *_, change in difference.metrics]
    assert changes == pytest.approx([0, 0.016, 0.0155, -0.0412, 22.25])
    assert changes[0] == 0 and isinstance(changes[0], int)


def test_diff_of_an_unfinished_run(tree: Path) -> None:
    difference = runlist.diff_runs(tree / "b", tree / "old")
    assert difference.config == [
        ("model.hidden_units", 128, 64),
        ("train.learning_rate", 0.01, 0.005),
    ]
    assert difference.metrics == [
        ("steps", 300, 600, 300),
        ("validation_accuracy", 0.93, 0.955, pytest.approx(0.025)),
        ("test_accuracy", None, 0.96, None),
        ("test_loss", None, 0.13, None),
        ("train_seconds", None, 4.5, None),
    ]
    assert difference.to_json() == {
        "a": str(tree / "b"),
        "b": str(tree / "old"),
        "state": {"a": "interrupted at step 300", "b": "finished"},
        "config": {
            "model.hidden_units": {"a": 128, "b": 64},
            "train.learning_rate": {"a": 0.01, "b": 0.005},
        },
        "metrics": {
            "steps": {"a": 300, "b": 600, "difference": 300},
            "validation_accuracy": {"a": 0.93, "b": 0.955, "difference": pytest.approx(0.025)},
            "test_accuracy": {"a": None, "b": 0.96, "difference": None},
            "test_loss": {"a": None, "b": 0.13, "difference": None},
            "train_seconds": {"a": None, "b": 4.5, "difference": None},
        },
    }


def test_diff_of_a_run_with_itself(tree: Path) -> None:
    difference = runlist.diff_runs(tree / "old", tree / "old")
    assert difference.config == []
    assert [change for *_, change in difference.metrics] == [0, 0, 0, 0, 0]


def test_diff_needs_two_run_directories(tree: Path) -> None:
    with pytest.raises(RunError) as caught:
        runlist.diff_runs(tree / "a", tree / "notes")
    assert str(caught.value) == f"{tree / 'notes'} is not a run directory (it has no config.toml)"
    with pytest.raises(RunError) as caught:
        runlist.diff_runs(tree / "gone", tree / "a")
    assert str(caught.value) == f"run not found: {tree / 'gone'}"


def test_runlist_imports_no_tensorflow() -> None:
    import subprocess
    import sys

    code = "import sys, rnncls.runlist; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["False", "False"]
