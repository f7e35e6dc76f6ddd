"""The command line: exit codes, one-line errors, output streams, cheap start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest
from conftest import TINY_SETTINGS
from typer.testing import CliRunner

from rnncls import __version__
from rnncls.cli import app

runner = CliRunner()


def invoke(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def sets(settings):
    return [part for setting in settings for part in ("--set", setting)]


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
    assert set(events[0]) == {"event", "step", "train_loss", "eval_accuracy", "eval_loss"}
    done = events[-1]
    assert done["steps"] == 6 and done["run_dir"] == "runs/t"
    for key in ("test_accuracy", "test_loss", "train_seconds", "ms_per_step"):
        assert isinstance(done[key], float)
    # the same run again is refused, and left as it was
    again = invoke("train", "--data-dir", tiny_mnist, "--run-dir", "runs/t", *sets(TINY_SETTINGS))
    assert again.exit_code == 1 and "--force" in again.stderr
    # --resume with the same steps reports the finished run
    resumed = invoke("train", "--json", "--data-dir", tiny_mnist, "--run-dir", "runs/t", "--resume")
    assert resumed.exit_code == 0
    assert json.loads(resumed.stdout.splitlines()[-1]) == done


def test_resume_refuses_config_changes(in_tmp):
    result = invoke("train", "--resume", "--lr", "0.1", "--run-dir", in_tmp)
    assert result.exit_code == 2 and "only --steps" in result.stderr


@pytest.mark.tensorflow
def test_plain_output_has_an_eval_line_per_interval(in_tmp, tiny_mnist):
    result = invoke("train", "--data-dir", tiny_mnist, *sets(TINY_SETTINGS))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines[:2]] == ["3/6", "6/6"]
    assert "eval accuracy" in lines[0]
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
    assert result.stderr == ""
