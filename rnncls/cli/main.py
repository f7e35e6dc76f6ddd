"""The ``rnncls`` app: its root options (--version, --debug), the state they set, and the
console script that runs it.

Not named ``app.py``: ``rnncls.cli.app`` is the Typer app itself (``from rnncls.cli import
app``), and a submodule of the same name would be hidden behind it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

from rnncls import __version__
from rnncls.cli import completion
from rnncls.cli.completion import Shell

app = typer.Typer(
    name="rnncls",
    help="Train, evaluate and use a recurrent (LSTM) digit classifier on MNIST.",
    no_args_is_help=True,
    add_completion=False,  # its own --show-completion takes the shell by name: see root()
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

completion.register_if_completing()
STARTED = time.monotonic()  # the command's start, near enough: this module loads first
STATE = {"debug": os.environ.get("RNNCLS_DEBUG", "") not in ("", "0")}


def version_callback(value: bool) -> None:
    if value:
        print(f"rnncls {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks (or set RNNCLS_DEBUG=1).")
    ] = False,
    install_completion: Annotated[
        Shell | None,
        typer.Option(
            "--install-completion",
            metavar="SHELL",
            callback=completion.install,
            expose_value=False,
            is_eager=True,
            help="Install Tab completion for bash, zsh or fish (commands, options, config "
            "keys after --set, runs after --run).",
        ),
    ] = None,
    show_completion: Annotated[
        Shell | None,
        typer.Option(
            "--show-completion",
            metavar="SHELL",
            callback=completion.show,
            expose_value=False,
            is_eager=True,
            help="Print the completion script for bash, zsh or fish, to install by hand.",
        ),
    ] = None,
) -> None:
    """Train, evaluate and use a recurrent (LSTM) digit classifier on MNIST."""
    if debug:
        STATE["debug"] = True


def run() -> None:
    """The console script: the app, with the parser's usage errors as one line too.

    Typer (0.29 vendors its own click) raises its usage errors as exceptions with
    ``format_message()`` and ``exit_code`` when not in standalone mode; that shape is
    what is caught here, whichever click provides it.
    """
    try:
        code = app(prog_name="rnncls", standalone_mode=False)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # `rnncls`, `rnncls config`: help
            print(exc.format_message())
            sys.exit(0)
        context = getattr(exc, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context and exc.exit_code == 2 else ""
        message = " ".join(exc.format_message().split())  # choices come one per line
        print(f"error: {message}{hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
