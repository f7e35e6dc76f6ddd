"""Shell completion: Typer's scripts for bash, zsh and fish by name, and what rnncls
completes itself: config keys and choices after --set, run directories after --run."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import invoke, write_run

from rnncls import rundir
from rnncls.cells import CELLS
from rnncls.cli import completion
from rnncls.config_keys import ModelConfig


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "_RNNCLS_COMPLETE=complete_bash"),
        ("zsh", "#compdef rnncls"),
        ("fish", "complete --command rnncls"),
    ],
)
def test_show_completion_prints_the_named_shells_script(shell, marker) -> None:
    result = invoke("--show-completion", shell)
    assert result.exit_code == 0
    assert marker in result.stdout


def test_a_shell_without_a_script_is_a_usage_error() -> None:
    result = invoke("--show-completion", "ksh")
    assert result.exit_code == 2
    assert "'ksh' is not one of 'bash', 'zsh', 'fish'" in result.output


def test_install_completion_writes_the_script_where_bash_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = invoke("--install-completion", "bash")
    assert result.exit_code == 0, result.output
    assert "bash completion installed in" in result.stdout
    script = tmp_path / ".bash_completions" / "rnncls.sh"
    assert "_RNNCLS_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


def complete(words: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """What the bash script gets back from rnncls for the command line ``words`` (the
    last word being completed), as a shell would ask for it."""
    environment = {
        **os.environ,
        **(env or {}),
        "_RNNCLS_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run(
        [sys.executable, "-m", "rnncls"],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_completing_set_model_offers_the_model_keys(tmp_path) -> None:
    expected = [f"model.{field.name}=" for field in dataclasses.fields(ModelConfig)]
    assert complete("rnncls train --set model.", tmp_path) == expected
    assert complete("rnncls train --set model.ce", tmp_path) == ["model.cell="]
    assert complete("rnncls config show --set model.cell=", tmp_path) == [
        f"model.cell={cell}" for cell in CELLS
    ]
    assert complete("rnncls tr", tmp_path) == ["train"]


def test_completing_run_offers_the_runs_and_trials(tmp_path) -> None:
    root = tmp_path / "runs"
    write_run(root / "a")
    write_run(root / "study" / "trial-0")
    (root / "notes").mkdir()  # no run
    (root / "latest").symlink_to("a")
    found = complete("rnncls eval --run ", tmp_path, {"RNNCLS_RUNS_DIR": str(root)})
    assert found == [str(root / "latest"), str(root / "a"), str(root / "study" / "trial-0")]


def test_settings_and_runs_directly(tmp_path, monkeypatch) -> None:
    assert completion.settings("train.tensorboard=") == [
        "train.tensorboard=true",
        "train.tensorboard=false",
    ]
    assert completion.settings("train.tensorboard=t") == ["train.tensorboard=true"]
    assert completion.settings("train.steps=") == []  # any integer: nothing to offer
    assert completion.settings("nope.key=") == [] and completion.settings("zzz") == []
    assert completion.settings("seq")[0] == "sequence.order="
    monkeypatch.setattr(rundir, "RUNS_ROOT", tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere" / "run").mkdir(parents=True)
    assert completion.runs("") == ["elsewhere/"]  # no runs folder yet: the folders here
    assert completion.runs("else") == ["elsewhere/"]
    assert completion.runs("elsewhere/") == ["elsewhere/run/"]
