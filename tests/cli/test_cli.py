"""The command line: exit codes, one-line errors, output streams, cheap start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import TINY_SETTINGS, invoke, sets
from typer.testing import CliRunner

from rnncls import __version__
from rnncls.cli import app

runner = CliRunner()


def test_version_and_help():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"rnncls {__version__}"
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("train", "config"):
        assert command in result.stdout


def test_config_show_is_a_valid_config(tmp_path):
    result = invoke("config", "show", "--set", "train.steps=77")
    assert result.exit_code == 0
    assert tomllib.loads(result.stdout)["train"]["steps"] == 77
    path = tmp_path / "c.toml"
    path.write_text(result.stdout)
    again = invoke("config", "show", "--config", path)
    assert again.stdout == result.stdout


def test_configuration_error_is_one_line_and_exit_2(tmp_path):
    result = invoke("config", "show", "--set", "train.steps=-1")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: train.steps = -1")
    assert result.stderr.count("\n") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlearning_rate = 'fast'\n")
    result = invoke("train", "--config", bad)
    assert result.exit_code == 2
    assert "train.learning_rate" in result.stderr and "bad.toml" in result.stderr


def test_named_flag_out_of_range_is_exit_2(in_tmp):
    result = invoke("train", "--steps", "0")
    assert result.exit_code == 2
    assert "--steps" in result.stderr and "train.steps = 0" in result.stderr
    assert not (in_tmp / "runs").exists()


def test_missing_data_is_exit_1_and_leaves_no_run(in_tmp):
    result = invoke("train", "--data-dir", in_tmp / "nowhere")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error: data folder not found")
    assert "Traceback" not in result.stderr
    assert not (in_tmp / "runs").exists()


@pytest.mark.tensorflow
def test_train_json_events(in_tmp, tiny_mnist):
    result = invoke(
        "train", "--json", "--data-dir", tiny_mnist, "--run-dir", "runs/t", *sets(TINY_SETTINGS)
    )
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["eval", "eval", "done"]
    assert set(events[0]) == {
        "event",
        "step",
        "total_steps",
        "train_loss",
        "eval_accuracy",
        "eval_loss",
        "learning_rate",
    }
    assert [(e["step"], e["total_steps"]) for e in events[:2]] == [(3, 6), (6, 6)]
    assert events[0]["learning_rate"] == pytest.approx(0.01)
    done = events[-1]
    assert done["steps"] == 6 and done["run_dir"] == "runs/t"
    assert (done["kept_step"], done["stopped_early"]) == (6, False)
    assert done["validation_accuracy"] == events[1]["eval_accuracy"]
    for key in ("test_accuracy", "test_loss", "train_seconds", "ms_per_step"):
        assert isinstance(done[key], float)
    # the same run again is refused, and left as it was
    again = invoke("train", "--data-dir", tiny_mnist, "--run-dir", "runs/t", *sets(TINY_SETTINGS))
    assert again.exit_code == 1 and "--force" in again.stderr
    # --resume with the same steps reports the finished run
    resumed = invoke("train", "--json", "--data-dir", tiny_mnist, "--run-dir", "runs/t", "--resume")
    assert resumed.exit_code == 0
    assert json.loads(resumed.stdout.splitlines()[-1]) == done


def saved_run(folder, settings):
    """A run directory as training leaves it before its first checkpoint: its config."""
    from rnncls.config import load_config, to_toml

    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(to_toml(load_config(overrides=settings)))
    return folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--lr", "0.1"],
            "error: --resume: train.learning_rate is 0.01 in runs/x's config but 0.1 on this "
            "command line; a resumed run keeps its config (only --steps or --epochs may change)",
        ),
        (
            ["--set", "train.seed=4"],
            "error: --resume: train.seed is 3 in runs/x's config but 4 on this command line; "
            "a resumed run keeps its config (only --steps or --epochs may change)",
        ),
        (
            ["--config", "c.toml"],
            'error: --resume: model.cell is "lstm" in runs/x\'s config but "gru" on this '
            "command line; a resumed run keeps its config (only --steps or --epochs may change)",
        ),
    ],
    ids=["flag", "set", "config-file"],
)
def test_resume_names_the_key_that_differs_from_the_runs_config(in_tmp, args, message):
    saved_run(in_tmp / "runs" / "x", ["train.seed=3", "train.steps=20"])
    (in_tmp / "c.toml").write_text("[model]\ncell = 'gru'\n")
    result = invoke("train", "--resume", "--run-dir", "runs/x", "--set", "train.seed=3", *args)
    assert (result.exit_code, result.stderr) == (2, message + "\n")


@pytest.mark.tensorflow
def test_plain_output_has_an_eval_line_per_interval(in_tmp, tiny_mnist):
    result = invoke("train", "--data-dir", tiny_mnist, *sets(TINY_SETTINGS))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines[:2]] == ["3/6", "6/6"]
    assert "validation accuracy" in lines[0]
    assert lines[-1].startswith("test accuracy")


def test_cli_import_does_not_import_tensorflow():
    code = "import sys, rnncls.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["False", "False"]


def test_python_dash_m():
    result = subprocess.run(
        [sys.executable, "-m", "rnncls", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "train" in result.stdout


def test_parser_usage_errors_are_one_line_and_exit_2():
    for args in (["train", "--steps", "abc"], ["trian"], ["train", "--bogus"]):
        result = subprocess.run(
            [sys.executable, "-m", "rnncls", *args], capture_output=True, text=True
        )
        assert result.returncode == 2, args
        assert result.stdout == ""
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, args


def test_flag_errors_name_the_flag_as_typed(in_tmp):
    result = invoke("train", "--lr", "-1")
    assert result.exit_code == 2
    assert "(in --lr)" in result.stderr


@pytest.mark.parametrize("command", [["eval"], ["predict", "--n", "40"]])
def test_output_into_a_closed_pipe_is_no_failure(tmp_path, band_run, command):
    """`rnncls eval | head -1`: the reader stopped early; that is not an error. The pipe's
    reading end is closed before the process starts, so its first write fails, every time."""
    reading, writing = os.pipe()
    os.close(reading)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "rnncls", *command, "--run", str(band_run.run)],
            stdout=writing,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "RNNCLS_DATA_DIR": str(band_run.data)},
        )
    finally:
        os.close(writing)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()  # the line naming the model that answers, no error
    assert len(lines) == 1 and str(band_run.run) in lines[0], result.stderr
    assert not lines[0].startswith("error")


def rnncls_process(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnncls", *args], capture_output=True, text=True, timeout=120
    )


def test_rnncls_and_rnncls_config_alone_print_their_help_and_exit_0():
    top = rnncls_process()
    assert (top.returncode, top.stderr) == (0, "")
    assert top.stdout.startswith("Usage: rnncls [OPTIONS] COMMAND")
    assert "train" in top.stdout and "predict" in top.stdout
    config = rnncls_process("config")
    assert (config.returncode, config.stderr) == (0, "")
    assert config.stdout.startswith("Usage: rnncls config [OPTIONS] COMMAND")
    assert "keys" in config.stdout and "show" in config.stdout


def test_config_keys_lists_every_key_with_type_default_and_comment():
    from rnncls.cells import CELLS
    from rnncls.config_keys import keys

    result = invoke("config", "keys")
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert list(rows) == [f"{section}.{key}" for section, key in keys()]
    choices = " | ".join(CELLS).split()  # every cell of rnncls/cells, then the default
    assert rows["model.cell"].split()[1 : len(choices) + 2] == [*choices, '"lstm"']
    assert rows["train.steps"].split()[1:3] == ["int", "1200"]
    assert "Optimizer steps, one batch each." in rows["train.steps"]
    assert rows["augment.zoom"].split()[1:3] == ["float", "0.0"]


def test_config_show_composes_files_in_order_and_says_where_each_value_came_from(tmp_path):
    """The issue's example: fast.toml, then my.toml, then --set."""
    fast = Path(__file__).resolve().parents[2] / "configs" / "fast.toml"
    mine = tmp_path / "my.toml"
    mine.write_text("[train]\nseed = 5\nsteps = 300\n[model]\nhidden_units = 32\n")
    result = invoke(
        "config", "show", "--config", fast, "--config", mine, "--set", "train.seed=2", "--origin"
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    assert f"hidden_units = 32  # from {mine}" in lines
    assert "seed = 2  # from --set train.seed=2" in lines
    assert f"steps = 300  # from {mine}" in lines
    assert f"epochs = 0  # from {mine}" in lines  # my steps replace fast.toml's epochs
    assert f"clipnorm = 1.0  # from {fast}" in lines
    assert 'optimizer = "adam"  # from default' in lines
    plain = invoke("config", "show", "--config", fast, "--config", mine, "--set", "train.seed=2")
    assert "# from" not in plain.stdout
    assert [line.split("  #")[0] for line in result.stdout.splitlines()] == (
        plain.stdout.splitlines()
    )


def test_config_show_run_prints_the_runs_config(tiny_run):
    result = invoke("config", "show", "--run", tiny_run.run)
    assert result.exit_code == 0, result.output
    assert tomllib.loads(result.stdout) == tomllib.loads((tiny_run.run / "config.toml").read_text())
    model_file = invoke("config", "show", "--run", tiny_run.run / "model.onnx")
    assert model_file.stdout == result.stdout
    with_override = invoke("config", "show", "--run", tiny_run.run, "--set", "train.steps=9")
    assert tomllib.loads(with_override.stdout)["train"]["steps"] == 9


def test_config_show_run_of_a_folder_that_is_no_run(tmp_path):
    from conftest import assert_one_line_error

    result = invoke("config", "show", "--run", tmp_path)
    assert_one_line_error(result, 1, "is not a run: it has no config.toml")


def test_rnncls_runs_dir_is_where_runs_are_looked_for(tiny_run, tmp_path):
    """From any folder, RNNCLS_RUNS_DIR names the runs folder (its latest run answers)."""
    import os

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "RNNCLS_RUNS_DIR": str(tiny_run.root / "runs")}
    predicted = subprocess.run(
        [sys.executable, "-m", "rnncls", "predict", "--n", "1", "--data-dir", str(tiny_run.data)],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stderr.startswith(f"run {tiny_run.run} (model.onnx")


@pytest.mark.tensorflow
def test_resume_without_run_dir_picks_the_newest_interrupted_run(in_tmp, tiny_mnist):
    import os
    import time as clock

    from rnncls import rundir as run_files

    args = ["--data-dir", tiny_mnist, *sets(TINY_SETTINGS), "--quiet"]
    assert invoke("train", "--run-dir", "runs/interrupted", "--steps", "3", *args).exit_code == 0
    (in_tmp / "runs/interrupted" / run_files.SUMMARY_FILE).unlink()  # as if stopped at 3
    clock.sleep(0.01)
    assert invoke("train", "--run-dir", "runs/finished", *args).exit_code == 0
    old = (in_tmp / "runs/interrupted").stat().st_mtime
    os.utime(in_tmp / "runs/finished", (old + 10, old + 10))  # the finished one is newer
    result = invoke("train", "--resume", "--steps", "6", "--data-dir", tiny_mnist, "--json")
    assert result.exit_code == 0, result.output
    assert "resuming the newest interrupted run, runs/interrupted" in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["run_dir"] == "runs/interrupted"


@pytest.mark.tensorflow
def test_the_command_that_started_a_run_resumes_it_with_resume_added(in_tmp, tiny_mnist):
    """As a requeued job does: the same line plus --resume continues the run; with another
    seed it is refused before anything is touched."""
    from rnncls import rundir as run_files

    (in_tmp / "c.toml").write_text("[train]\nepochs = 1\n")
    line = ["train", "--config", "c.toml", *sets([*TINY_SETTINGS, "train.seed=3"])]
    line += ["--run-dir", "runs/x", "--data-dir", tiny_mnist, "--json"]
    assert invoke(*line).exit_code == 0
    (in_tmp / "runs/x" / run_files.SUMMARY_FILE).unlink()  # as if stopped before the end
    refused = invoke(*line, "--set", "train.seed=4", "--resume")
    assert refused.exit_code == 2
    assert "train.seed is 3 in runs/x's config but 4 on this command line" in refused.stderr
    assert not (in_tmp / "runs/x" / run_files.SUMMARY_FILE).exists()
    resumed = invoke(*line, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout.splitlines()[-1])["steps"] == 6


@pytest.mark.parametrize(
    ("summary_steps", "checkpoint_step", "interrupted"),
    [(None, 40, True), (None, None, True), (100, 100, False), (100, 150, True), (100, None, False)],
    ids=["no-summary", "nothing-yet", "finished", "continued-then-stopped", "no-checkpoint"],
)
def test_which_runs_count_as_interrupted(tmp_path, summary_steps, checkpoint_step, interrupted):
    import numpy as np

    from rnncls import checkpoints
    from rnncls import rundir as run_files

    run = tmp_path / "run"
    run.mkdir()
    (run / run_files.CONFIG_FILE).write_text("")
    if checkpoint_step is not None:
        state = {"step": checkpoint_step}
        checkpoints.save_checkpoint(run, state, {"model": {"w": np.zeros(2, np.float32)}})
    if summary_steps is not None:
        run_files.write_json(run / run_files.SUMMARY_FILE, {"steps": summary_steps})
    assert run_files.is_interrupted(run) is interrupted
    assert run_files.checkpoint_step(run) == checkpoint_step


def test_quiet_keeps_the_warnings_of_the_log_and_drops_the_rest(in_tmp, tiny_mnist, monkeypatch):
    """A setting the run does not use is still said under --quiet (train's own log lines
    are replaced here by a stand-in that sends one of each)."""
    import rnncls.train

    def stand_in(config, source, run_dir, *, reporter, **kwargs):
        reporter.status("data: mnist   run: r")
        reporter.status("warning: train.momentum = 0.5 is not used")
        return rnncls.train.TrainResult(
            steps=6, test_accuracy=0.5, test_loss=1.0, train_seconds=1.0, ms_per_step=1.0,
            run_dir="r", kept_step=6,
        )  # fmt: skip

    monkeypatch.setattr(rnncls.train, "train", stand_in)
    result = runner.invoke(app, ["train", "--quiet", "--data-dir", str(tiny_mnist)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["warning: train.momentum = 0.5 is not used"]
    assert result.stdout.startswith("test accuracy 0.5000")


# ---------------------------------------------------------------------- what new users met


def test_help_says_predict_takes_many_inputs_and_runs_shows_the_listing_options():
    usage = invoke("predict", "--help").stdout.splitlines()[0]
    assert usage == "Usage: rnncls predict [OPTIONS] [INPUT...]"
    shown = invoke("runs", "--help").stdout
    assert "Options of rnncls runs [DIR] (rnncls runs list):" in shown
    for option in ("--sort KEY", "-f, --format <table|jsonl|csv>", "--json", "-r, --reverse"):
        assert option in shown, option


def test_a_pictures_title_names_the_run_briefly(in_tmp):
    from rnncls.cli.eval import title_name

    run = in_tmp / "runs" / "20261206-001122"
    run.mkdir(parents=True)
    assert title_name(run) == "runs/20261206-001122"  # absolute, under the working folder
    deep = in_tmp / "a-long-folder-name" / "another-long-folder" / "runs" / "x"
    assert title_name(deep) == "…/another-long-folder/runs/x"  # 45 characters cut to 28
    outside = Path("/some/very/long/place/elsewhere/20261206-001122")
    assert title_name(outside) == "…/elsewhere/20261206-001122"


def test_a_resumed_runs_summary_says_which_time_is_the_runs_and_which_this_commands(capsys):
    from rnncls.cli.train import show_train_result
    from rnncls.training_state import TrainResult

    result = TrainResult(
        steps=600, test_accuracy=0.9, test_loss=0.3, train_seconds=30.8, ms_per_step=51.3,
        run_dir="runs/x", kept_step=600,
    )  # fmt: skip
    show_train_result(result, json_output=False, resumed=True)
    line = capsys.readouterr().out
    assert "600 steps in 30.8 s of training over the whole run (51.30 ms/step; " in line
    assert "this command took " in line and " s in all, with start-up" in line
    show_train_result(result, json_output=False)
    line = capsys.readouterr().out
    assert "30.8 s of training (51.30 ms/step; " in line and "this command" not in line
