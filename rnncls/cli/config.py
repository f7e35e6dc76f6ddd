"""`rnncls config show` and `rnncls config keys`: the resolved configuration as TOML, and
every key it can have."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncls.cli.errors import errors
from rnncls.cli.options import ConfigOption, SetOption, resolve_config
from rnncls.cli.output import print_columns
from rnncls.config import to_toml
from rnncls.errors import ConfigError, RunError

config_app = typer.Typer(
    help="Show the resolved configuration, or every key it can have.",
    rich_markup_mode=None,
    no_args_is_help=True,
)


@config_app.command("show")
def config_show(
    config: ConfigOption = None,
    set_: SetOption = None,
    run: Annotated[
        Path | None, typer.Option("--run", help="Show the config a run was trained with.")
    ] = None,
    origin: Annotated[
        bool,
        typer.Option(
            "--origin", help="Say after each value where it came from (default, a file, --set)."
        ),
    ] = False,
) -> None:
    """Print the resolved configuration as TOML (itself a valid config file).

    Several --config files compose: each one's values replace the earlier ones', then
    --set values replace theirs.
    """
    from rnncls.config import load_config
    from rnncls.rundir import CONFIG_FILE, run_folder

    with errors():
        origins: dict[str, str] = {}
        if run is not None:
            if config:
                raise ConfigError("--run and --config both name a config; give one")
            path = run_folder(run) / CONFIG_FILE
            if not path.is_file():
                raise RunError(f"{run} is not a run: it has no {CONFIG_FILE}")
            # a run's config is the whole truth of the run: no environment over it
            resolved = load_config([path], set_ or (), origins=origins)
        else:
            resolved = resolve_config(config, set_, origins=origins)
        sys.stdout.write(to_toml(resolved, origins if origin else None))


@config_app.command("keys")
def config_keys() -> None:
    """List every config key with its type, default and what it does."""
    from rnncls.config import toml_value
    from rnncls.config_keys import describe_keys

    with errors():
        rows = [[k.name, k.type, toml_value(k.default), k.comment] for k in describe_keys()]
        print_key_rows(rows, terminal_width())


def terminal_width() -> int | None:
    """The terminal's columns, None when stdout is piped (a line a key then, for grep)."""
    import shutil

    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def print_key_rows(rows: list[list[str]], width: int | None) -> None:
    """Name, type, default and help text a line each; where that is wider than the
    terminal, the help text goes under its key, indented and wrapped to the width."""
    widest = max(len("  ".join(row)) for row in rows)
    if width is None or widest <= width:
        print_columns(rows)
        return
    import textwrap

    sizes = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(size) for cell, size in zip(row, sizes, strict=False)).rstrip())
        for line in textwrap.wrap(row[3], max(20, width - 4)):
            print(f"    {line}")
    sys.stdout.flush()
