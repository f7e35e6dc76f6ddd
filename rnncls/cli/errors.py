"""The one place that turns a failure into what the user sees: a line and an exit code."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from rnncls.cli.main import STATE
from rnncls.cli.output import log
from rnncls.errors import ConfigError, DataError, RunError, Stopped

USAGE_ERRORS = (ConfigError,)  # exit 2, as the parser's own usage errors do
KNOWN_ERRORS = (ConfigError, DataError, RunError)  # their message alone says it


def error_line(exc: Exception) -> tuple[str, int]:
    """A failure's one line for stderr, and the exit code: 2 for usage and configuration
    errors, 1 for everything else."""
    message = str(exc) if isinstance(exc, KNOWN_ERRORS) else f"{type(exc).__name__}: {exc}"
    message = " ".join(message.split())  # one line, whatever a library put in it
    if isinstance(exc, Stopped):
        # A stop the user asked for (Ctrl-C, SIGTERM) is no error, though the run is not
        # finished (exit 1).
        return message, 1
    return f"error: {message}", 2 if isinstance(exc, USAGE_ERRORS) else 1


@contextmanager
def errors() -> Iterator[None]:
    """Turn the tool's known failures into one ``error: ...`` line and an exit code
    (error_line); Ctrl-C and a reader that stopped early are no errors."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        # Ctrl-C before training started or while its result is saved (during training
        # it is a TrainingInterrupted): nothing half-written is left. A stop the user asked
        # for is no error; it did not finish, so exit 1.
        if STATE["debug"]:
            traceback.print_exc()
        log("stopped (Ctrl-C)")
        raise typer.Exit(code=1) from None
    except BrokenPipeError:
        # The reader stopped early (`rnncls predict ... | head`): it has all it wanted.
        # Point stdout at /dev/null so the flush at exit does not fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise typer.Exit(code=0) from None
    except Exception as exc:  # noqa: BLE001 - this is the one place that reports errors
        if STATE["debug"]:
            traceback.print_exc()
        line, code = error_line(exc)
        log(line)
        raise typer.Exit(code=code) from None
