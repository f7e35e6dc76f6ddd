"""The options several commands share, declared once, and the checks of their values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from rnncls.cli import completion
from rnncls.config import load_config
from rnncls.config_keys import Config
from rnncls.errors import ConfigError

ConfigOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (default: the packaged one); give it again to layer another "
        "over it: later files win, then --set, then flags.",
    ),
]
SpaceConfigOption = Annotated[  # rnncls tune's: a search space holds the base config
    list[Path] | None,
    typer.Option(
        "--config",
        "-c",
        help="Config files layered over the space file's base config (later files win), "
        "then --set.",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override one config value, e.g. --set train.steps=500.",
        autocompletion=completion.settings,
    ),
]
RunOption = Annotated[
    Path | None,
    typer.Option(
        "--run",
        help="Run directory or model file (.onnx, .keras); default: runs/latest.",
        autocompletion=completion.runs,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The data set: a folder with the MNIST files, an .npz file, or a folder of "
        "pictures with a subfolder a class (default: the run's own, RNNCLS_DATA_DIR, MNIST).",
    ),
]
Split = Literal["test", "validation", "train"]


# How the command line spells the config keys its named flags set (messages name the flag
# typed: `train.learning_rate = -1 (in --lr)`).
FLAG_SPELLINGS = {
    "train.steps": "--steps",
    "train.epochs": "--epochs",
    "train.batch_size": "--batch-size",
    "train.learning_rate": "--lr",
    "train.seed": "--seed",
    "train.eval_every": "--eval-every",
}


# The environment variable that names the data set, as [data] dir does (over a config
# file's, under --set and --data-dir).
DATA_DIR_VARIABLE = "RNNCLS_DATA_DIR"


def resolve_config(
    config_paths: list[Path] | None,
    overrides: list[str] | None,
    flags: dict[str, Any] | None = None,
    origins: dict[str, str] | None = None,
) -> Config:
    """The config of a command line: files, ``RNNCLS_DATA_DIR``, ``--set``, flags."""
    environment = []
    if os.environ.get(DATA_DIR_VARIABLE):
        environment.append(({"data": {"dir": os.environ[DATA_DIR_VARIABLE]}}, DATA_DIR_VARIABLE))
    return load_config(
        config_paths, overrides or (), flags, FLAG_SPELLINGS, origins, environment=environment
    )


# Every command that prints results spells their form one way: --format, with --json as
# its shorthand (JSON: one object, or one a line where there are many).
JsonOption = Annotated[
    bool, typer.Option("--json", help="JSON on stdout (the same as --format json or jsonl).")
]


def format_option(choices: str, default: str) -> Any:
    """``--format``/``-f`` taking ``choices`` ("table, json"), its default shown."""
    return typer.Option("--format", "-f", help=f"Output format: {choices}.  [default: {default}]")


def chosen_format(json_flag: bool, output_format: str | None, default: str, json_name: str) -> str:
    """The output format of ``--format`` and ``--json`` (which means ``json_name``);
    both given and different is a usage error."""
    if json_flag and output_format not in (None, json_name):
        raise ConfigError(f"--json and --format {output_format}: give one")
    return json_name if json_flag else output_format or default


def at_least(option: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise ConfigError(f"{option} {value}: must be at least {minimum}")
