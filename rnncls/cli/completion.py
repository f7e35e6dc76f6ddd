"""Shell completion: the scripts Typer writes for bash, zsh and fish, and what they
complete beyond command and option names: config keys (and a Literal key's values) after
``--set``, run directories after ``--run``.

The shell calls ``rnncls`` with ``_RNNCLS_COMPLETE`` set at each Tab; these functions then
run instead of a command, so they import only the key declarations and the file system.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import typer

Shell = Literal["bash", "zsh", "fish"]
COMPLETE_VARIABLE = "_RNNCLS_COMPLETE"  # set by the scripts: rnncls is asked to complete


def register_if_completing() -> None:
    """Typer's completion classes for the shells, registered only when a shell asks for
    completions: the import costs every other start of rnncls nothing."""
    if os.environ.get(COMPLETE_VARIABLE):
        from typer.completion import completion_init

        completion_init()


def show(ctx: typer.Context, param: Any, shell: str | None) -> None:
    """``--show-completion SHELL``: print Typer's completion script for that shell."""
    if shell is None or ctx.resilient_parsing:
        return
    from typer.completion import completion_init, show_callback

    completion_init()
    show_callback(ctx, param, shell)  # prints it, and exits


def install(ctx: typer.Context, param: Any, shell: str | None) -> None:
    """``--install-completion SHELL``: add the script to that shell's start-up file."""
    if shell is None or ctx.resilient_parsing:
        return
    from typer.completion import completion_init, install_callback

    completion_init()
    install_callback(ctx, param, shell)  # installs it, says where, and exits


def settings(incomplete: str) -> list[str]:
    """``--set`` values: ``section.key=`` for each key that starts so; after the ``=`` of a
    key with fixed choices (a Literal, or a bool), each choice."""
    from rnncls.config_keys import key_type, keys

    name, equals, _ = incomplete.partition("=")
    if equals:
        section, _, key = name.partition(".")
        if (section, key) not in keys():
            return []
        kind, choices = key_type(section, key)
        values = [str(c) for c in choices] or (["true", "false"] if kind is bool else [])
        return [f"{name}={value}" for value in values if f"{name}={value}".startswith(incomplete)]
    return [f"{s}.{k}=" for s, k in keys() if f"{s}.{k}".startswith(incomplete)]


def runs(incomplete: str) -> list[str]:
    """``--run`` values: ``runs/latest`` and the run directories ``rnncls runs`` lists
    (a search's trials too), as paths the shell can take."""
    from rnncls.rundir import LATEST, RUNS_ROOT
    from rnncls.runlist import find_run_dirs, name_order

    found = [RUNS_ROOT / LATEST] if (RUNS_ROOT / LATEST).exists() else []
    runs = find_run_dirs(RUNS_ROOT)  # the rule `rnncls runs` lists by
    found += sorted(runs, key=lambda path: name_order(str(path.relative_to(RUNS_ROOT))))
    shown = [str(path) for path in found]
    return [path for path in shown if path.startswith(incomplete)] or _folders(incomplete)


def _folders(incomplete: str) -> list[str]:
    """Folders that start so, where no run does (a run kept outside the runs folder)."""
    base = Path(incomplete or ".")
    parent = base if incomplete.endswith("/") else base.parent
    try:
        return sorted(
            f"{path}/"
            for path in parent.iterdir()
            if path.is_dir() and str(path).startswith(incomplete)
        )
    except OSError:
        return []
