"""`rnncls runs [DIR]` and `rnncls runs diff A B` through the command line, on run
directories written here by hand: exact tables, JSON lines, CSV, sorting, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke, write_run
from typer.testing import CliRunner

from rnncls import rundir
from rnncls.cli import output
from rnncls.config import to_dict
from rnncls.config_keys import CELL_SECTIONS, Config

runner = CliRunner()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """a finished, b interrupted at step 300 (128 units, lr 0.005), a pruned trial of 128
    units, and runs/latest -> a."""
    root = tmp_path / "runs"
    write_run(
        root / "a",
        summary={"steps": 1200, "test_accuracy": 0.9746, "test_loss": 0.0812,
                 "train_seconds": 8.5, "validation_accuracy": 0.9752},
        metrics=[{"step": 1200, "eval_accuracy": 0.97}],
        checkpoint=1200,
    )  # fmt: skip
    write_run(
        root / "b",
        {"model.hidden_units": 128, "train.learning_rate": 0.005},
        metrics=[{"step": 300, "eval_accuracy": 0.93}],
        checkpoint=300,
    )
    trial = {"study": "study", "number": 1, "state": "pruned", "value": None, "params": {}}
    write_run(
        root / "study" / "trial-1",
        {"model.hidden_units": 128},
        metrics=[{"step": 100, "eval_accuracy": 0.5}],
        checkpoint=100,
        trial={**trial, "step": 100},
    )
    os.symlink("a", root / "latest")
    return root


TABLE = [
    "name           state                    steps  validation_accuracy  test_accuracy  "
    "train_seconds  model.hidden_units  train.learning_rate",
    "a              finished                 1200   0.9752               0.9746         "
    "8.5            64                  0.01",
    "b              interrupted at step 300  300    0.9300                              "
    "               128                 0.005",
    "study/trial-1  pruned at step 100       100    0.5000                              "
    "               128                 0.01",
]


def test_runs_lists_every_run_and_trial_once(tree: Path) -> None:
    result = invoke("runs", tree)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == TABLE
    assert result.stderr == ""
    assert invoke("runs", "list", tree).stdout == result.stdout


def test_runs_without_a_folder_lists_the_runs_folder(tree: Path, monkeypatch) -> None:
    monkeypatch.setattr(rundir, "RUNS_ROOT", tree)
    result = invoke("runs")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == TABLE


def test_runs_on_a_terminal_is_a_rich_table(tree: Path, monkeypatch) -> None:
    monkeypatch.setattr(output, "on_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    result = invoke("runs", tree)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == TABLE[0].split()
    assert set(lines[2].strip()) <= {"─", " "}  # the rule under the header
    assert [line.split() for line in lines[3:6]] == [line.split() for line in TABLE[1:]]


def test_runs_json_is_one_object_a_line_with_the_whole_config(tree: Path) -> None:
    result = invoke("runs", tree, "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [{k: v for k, v in r.items() if k != "config"} for r in records] == [
        {"name": "a", "state": "finished", "stopped_at": None, "steps": 1200,
         "validation_accuracy": 0.9752, "test_accuracy": 0.9746, "test_loss": 0.0812,
         "train_seconds": 8.5},
        {"name": "b", "state": "interrupted", "stopped_at": 300, "steps": 300,
         "validation_accuracy": 0.93, "test_accuracy": None, "test_loss": None,
         "train_seconds": None},
        {"name": "study/trial-1", "state": "pruned", "stopped_at": 100, "steps": 100,
         "validation_accuracy": 0.5, "test_accuracy": None, "test_loss": None,
         "train_seconds": None},
    ]  # fmt: skip
    # every section but the options of cells other than the run's (the LSTM has none)
    default = {s: t for s, t in to_dict(Config()).items() if s not in CELL_SECTIONS}
    assert records[0]["config"] == default
    assert records[1]["config"]["model"] == {**default["model"], "hidden_units": 128}
    assert records[1]["config"]["train"] == {**default["train"], "learning_rate": 0.005}
    assert invoke("runs", tree, "--format", "jsonl").stdout == result.stdout


def test_runs_csv(tree: Path) -> None:
    result = invoke("runs", tree, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "name,state,stopped_at,steps,validation_accuracy,test_accuracy,test_loss,"
        "train_seconds,model.hidden_units,train.learning_rate\n"
        "a,finished,,1200,0.9752,0.9746,0.0812,8.5,64,0.01\n"
        "b,interrupted,300,300,0.93,,,,128,0.005\n"
        "study/trial-1,pruned,100,100,0.5,,,,128,0.01\n"
    )


def test_the_table_shows_a_searchs_floats_to_six_digits_and_csv_all(tmp_path: Path) -> None:
    write_run(tmp_path / "t1", {"train.learning_rate": 0.006812345678901234})
    write_run(tmp_path / "t2", {"train.learning_rate": 2.5e-05, "train.momentum": 0.5})
    table = [line.split()[-2:] for line in invoke("runs", tmp_path).stdout.splitlines()]
    assert table == [
        ["train.learning_rate", "train.momentum"],
        ["0.00681235", "0.0"],  # a float stays one: 0.0, not 0
        ["2.5e-05", "0.5"],
    ]
    rows = list(csv.reader(io.StringIO(invoke("runs", tmp_path, "-f", "csv").stdout)))
    assert [row[-2] for row in rows[1:]] == ["0.006812345678901234", "2.5e-05"]


def test_runs_csv_quotes_and_writes_booleans_as_toml(tmp_path: Path) -> None:
    write_run(tmp_path / "x,y", {"model.bidirectional": True})
    write_run(tmp_path / "z")
    rows = list(csv.reader(io.StringIO(invoke("runs", tmp_path, "-f", "csv").stdout)))
    assert [(row[0], row[1], row[-1]) for row in rows] == [
        ("name", "state", "model.bidirectional"),
        ("x,y", "failed", "true"),
        ("z", "failed", "false"),
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--sort", "steps"], ["study/trial-1", "b", "a"]),
        (["--sort", "test_accuracy", "--reverse"], ["a", "b", "study/trial-1"]),
        (["--sort", "validation_accuracy", "-r"], ["a", "b", "study/trial-1"]),
        (["--sort", "train.learning_rate"], ["b", "a", "study/trial-1"]),
        (["--reverse"], ["study/trial-1", "b", "a"]),
    ],
)
def test_runs_sort(tree: Path, args: list[str], expected: list[str]) -> None:
    result = invoke("runs", tree, "--format", "csv", *args)
    assert result.exit_code == 0, result.output
    assert [row[0] for row in list(csv.reader(io.StringIO(result.stdout)))[1:]] == expected


def test_runs_sort_by_an_unknown_key_is_a_usage_error(tree: Path) -> None:
    result = invoke("runs", tree, "--sort", "accuracy")
    line = assert_one_line_error(result, 2, "unknown sort key 'accuracy': sort by name, state")
    assert "test_loss or a config key" in line
    assert result.stdout == ""


def test_runs_json_and_csv_at_once_is_a_usage_error(tree: Path) -> None:
    result = invoke("runs", tree, "--json", "--format", "csv")
    assert_one_line_error(result, 2, "--json and --format csv: give one")
    assert invoke("runs", tree, "--json", "--format", "jsonl").exit_code == 0


@pytest.mark.parametrize(
    ("args", "stdout"),
    [([], ""), (["--json"], ""), (["--format", "csv"], "name,state,stopped_at,steps,"
     "validation_accuracy,test_accuracy,test_loss,train_seconds\n")],
    ids=["table", "json", "csv"],
)  # fmt: skip
def test_runs_of_a_folder_without_runs(tmp_path: Path, args: list[str], stdout: str) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke("runs", tmp_path, *args)
    assert (result.exit_code, result.stdout) == (0, stdout)
    assert result.stderr == f"no runs in {tmp_path}\n"


def test_runs_before_any_training(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(rundir, "RUNS_ROOT", tmp_path / "runs")
    result = invoke("runs")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"no runs in {tmp_path / 'runs'} (it does not exist yet)\n"


def test_runs_of_a_folder_that_is_not_there(tmp_path: Path) -> None:
    result = invoke("runs", tmp_path / "nowhere")
    assert_one_line_error(result, 1, f"runs folder not found: {tmp_path / 'nowhere'}")
    (tmp_path / "file").write_text("")
    result = invoke("runs", tmp_path / "file", "--json")
    assert_one_line_error(result, 1, f"{tmp_path / 'file'} is not a folder")
    assert result.stdout == ""


def test_a_folder_named_like_a_command_is_listed_through_list(in_tmp: Path) -> None:
    write_run(in_tmp / "diff" / "r")
    result = invoke("runs", "list", "diff", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].startswith("r,failed,")
    assert invoke("runs", "./diff", "--format", "csv").stdout == result.stdout


# ---------------------------------------------------------------------- runs diff


def test_runs_diff(tree: Path) -> None:
    result = invoke("runs", "diff", tree / "a", tree / "b")
    assert result.exit_code == 0, result.output
    a, b = str(tree / "a"), str(tree / "b")
    width, width_b = len(a), max(len(b), len("interrupted at step 300"))
    assert result.stdout.splitlines() == [
        f"{'config':<19}  {a}  {b}",
        f"{'model.hidden_units':<19}  {'64':<{width}}  128",
        f"{'train.learning_rate':<19}  {'0.01':<{width}}  0.005",
        "",
        f"{'metric':<19}  {a:<{width}}  {b:<{width_b}}  B - A",
        f"{'state':<19}  {'finished':<{width}}  interrupted at step 300",
        f"{'steps':<19}  {'1200':<{width}}  {'300':<{width_b}}  -900",
        f"{'validation_accuracy':<19}  {'0.9752':<{width}}  {'0.9300':<{width_b}}  -0.0452",
        f"{'test_accuracy':<19}  0.9746",
        f"{'test_loss':<19}  0.0812",
        f"{'train_seconds':<19}  8.5",
    ]
    assert result.stderr == ""


def test_runs_diff_of_a_run_with_itself(tree: Path) -> None:
    result = invoke("runs", "diff", tree / "a", tree / "a")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["config: the same", ""]
    assert lines[3].split() == ["state", "finished", "finished"]
    changes = [line.split()[-1] for line in lines[4:]]
    assert changes == ["+0", "+0.0000", "+0.0000", "+0.0000", "+0.0"]


def test_runs_diff_json(tree: Path) -> None:
    result = invoke("runs", "diff", tree / "study" / "trial-1", tree / "a", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    difference = json.loads(result.stdout)
    assert difference == {
        "a": str(tree / "study" / "trial-1"),
        "b": str(tree / "a"),
        "state": {"a": "pruned at step 100", "b": "finished"},
        "config": {"model.hidden_units": {"a": 128, "b": 64}},
        "metrics": {
            "steps": {"a": 100, "b": 1200, "difference": 1100},
            "validation_accuracy": {"a": 0.5, "b": 0.9752, "difference": pytest.approx(0.4752)},
            "test_accuracy": {"a": None, "b": 0.9746, "difference": None},
            "test_loss": {"a": None, "b": 0.0812, "difference": None},
            "train_seconds": {"a": None, "b": 8.5, "difference": None},
        },
    }


def test_runs_diff_of_something_that_is_no_run(tree: Path) -> None:
    result = invoke("runs", "diff", tree / "a", tree / "study")
    assert_one_line_error(
        result, 1, f"error: {tree / 'study'} is not a run directory (it has no config.toml)"
    )
    result = invoke("runs", "diff", tree / "gone", tree / "a", "--json")
    assert_one_line_error(result, 1, f"error: run not found: {tree / 'gone'}")
    assert result.stdout == ""


# ---------------------------------------------------------------------- parsing, in a process


def rnncls_process(*args: object, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnncls", *map(str, args)], capture_output=True, text=True, **kwargs
    )


def test_runs_and_runs_diff_parse_apart(tree: Path, tmp_path: Path) -> None:
    """`runs DIR`, `runs` (RNNCLS_RUNS_DIR) and `runs diff A B` as a shell runs them."""
    env = {**os.environ, "RNNCLS_RUNS_DIR": str(tree)}
    listed = rnncls_process("runs", env=env, cwd=tmp_path)
    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout.splitlines() == TABLE
    compared = rnncls_process("runs", "diff", tree / "a", tree / "b", "--json")
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["config"]["model.hidden_units"] == {"a": 64, "b": 128}
    missing = rnncls_process("runs", "diff", tree / "a")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("error: Missing argument 'B'")
    assert missing.stderr.count("\n") == 1


def test_runs_help() -> None:
    group = rnncls_process("runs", "--help")
    assert group.returncode == 0
    assert group.stdout.startswith("Usage: rnncls runs [OPTIONS] [DIR] | diff A B\n")
    assert "rnncls runs [DIR], the same as rnncls runs list [DIR]" in " ".join(group.stdout.split())
    commands = group.stdout.split("Commands:")[1].split()
    assert commands[0] == "list" and "diff" in commands
    listing = rnncls_process("runs", "list", "--help")
    assert listing.stdout.startswith("Usage: rnncls runs list [OPTIONS] [DIR]\n")
    for option in ("--json", "--format", "--sort", "--reverse"):
        assert option in listing.stdout
    compare = rnncls_process("runs", "diff", "--help")
    assert compare.stdout.startswith("Usage: rnncls runs diff [OPTIONS] {A} {B}\n")
    assert "B's metrics minus A's" in compare.stdout
    top = rnncls_process("--help")
    assert "runs" in top.stdout.split("Commands:")[1].split()


@pytest.mark.parametrize("columns", [80, 100])
def test_runs_on_a_narrow_terminal_never_cuts_a_runs_name_state_or_accuracies(
    tree: Path, monkeypatch, columns: int
) -> None:
    """What a new user met: at 100 columns every cell was cut to `2…`. Now the runs' own
    columns come whole, and the differing keys after them, each run's name beside them."""
    for number in range(2, 5):  # more differing keys than fit beside the rest
        write_run(
            tree / "study" / f"trial-{number}",
            {"model.cell": "gru", "train.optimizer": "rmsprop", "augment.rotation": 10.0,
             "train.schedule": "cosine", "train.weight_decay": 0.0001},
            metrics=[{"step": 12345, "eval_accuracy": 0.9}],
            checkpoint=12345,
        )  # fmt: skip
    monkeypatch.setattr(output, "on_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))
    result = invoke("runs", tree)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= columns
    lines = text.splitlines()
    for name, state, accuracy in [
        ("a", "finished", "0.9752"),
        ("b", "interrupted at step 300", "0.9300"),
        ("study/trial-2", "interrupted at step 12345", "0.9000"),
    ]:
        row = next(line for line in lines if line.split() and line.split()[0] == name)
        assert accuracy in row
        assert state in row or state.split()[0] in row  # a long state wraps at its spaces
    for key in ("model.hidden_units", "model.cell", "train.optimizer", "augment.rotation"):
        assert key in text, key
