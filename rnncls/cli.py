"""The ``rnncls`` command line: each command resolves its config, calls one core function
and shows the result. Results go to stdout, progress and logs to stderr.

Nothing here imports TensorFlow at module level: ``rnncls --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncls import __version__
from rnncls.config import Config, ConfigError, load_config, to_toml, with_values
from rnncls.data import DataError
from rnncls.runs import RunError

app = typer.Typer(
    name="rnncls",
    help="Train, evaluate and use a recurrent (LSTM) digit classifier on MNIST.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Show the resolved configuration.", rich_markup_mode=None)
app.add_typer(config_app, name="config")

USAGE_ERRORS = (ConfigError,)
STATE = {"debug": os.environ.get("RNNCLS_DEBUG", "") not in ("", "0")}


# ---------------------------------------------------------------------- output


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def stdout_console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def log(message: str) -> None:
    """A status message for people, on stderr."""
    print(message, file=sys.stderr, flush=True)


def emit_json(record: dict[str, Any]) -> None:
    """One JSON object a line on stdout, flushed at once so a pipeline sees it now."""
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


@contextmanager
def errors() -> Iterator[None]:
    """Turn the tool's known failures into one ``error: ...`` line and an exit code:
    2 for usage and configuration errors, 1 for everything else."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        # Ctrl-C before training started or while its result is saved (during training
        # it is a TrainingInterrupted): nothing half-written is left, exit 1 as failures do.
        if STATE["debug"]:
            traceback.print_exc()
        print("error: interrupted", file=sys.stderr, flush=True)
        raise typer.Exit(code=1) from None
    except Exception as exc:  # noqa: BLE001 - this is the one place that reports errors
        if STATE["debug"]:
            traceback.print_exc()
        known = (ConfigError, DataError, RunError)
        message = str(exc) if isinstance(exc, known) else f"{type(exc).__name__}: {exc}"
        if type(exc).__name__ == "TrainingInterrupted":
            message = str(exc)
        message = " ".join(message.split())  # one line, whatever a library put in it
        print(f"error: {message}", file=sys.stderr, flush=True)
        raise typer.Exit(code=2 if isinstance(exc, USAGE_ERRORS) else 1) from None


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
) -> None:
    """Train, evaluate and use a recurrent (LSTM) digit classifier on MNIST."""
    if debug:
        STATE["debug"] = True


# ---------------------------------------------------------------------- options

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: the packaged one)."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override one config value, e.g. --set train.steps=500.",
    ),
]


def resolve_config(
    config_path: Path | None,
    overrides: list[str] | None,
    flags: dict[str, Any] | None = None,
) -> Config:
    return load_config(config_path, overrides or (), flags)


# ---------------------------------------------------------------------- commands


@config_app.command("show")
def config_show(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Print the resolved configuration as TOML (itself a valid config file)."""
    with errors():
        sys.stdout.write(to_toml(resolve_config(config, set_)))


@app.command()
def train(
    config: ConfigOption = None,
    set_: SetOption = None,
    steps: Annotated[int | None, typer.Option(help="Training steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Adam's learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of weights and data order.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder with the MNIST files.")] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run directory (default: runs/<start time>).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --run-dir (default: the newest run).")
    ] = False,
    force: Annotated[bool, typer.Option(help="Start an existing run over.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON lines on stdout: eval events, then done.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final summary.")] = False,
) -> None:
    """Train the LSTM classifier; evaluate every `eval_every` steps and on the test set."""
    from rnncls import runs
    from rnncls.data import find_data

    with errors():
        flags = {
            "train.steps": steps,
            "train.batch_size": batch_size,
            "train.learning_rate": lr,
            "train.seed": seed,
        }
        if resume:
            run_dir = run_dir or newest_run_dir()
            if config or set_ or any(v is not None for k, v in flags.items() if k != "train.steps"):
                raise ConfigError(
                    "--resume continues a run with its own config; only --steps may change"
                )
            cfg = load_config(run_dir / runs.CONFIG_FILE) if runs.is_run_dir(run_dir) else None
            if cfg is None:
                raise RunError(f"nothing to resume: {run_dir} is not a run directory")
            if steps is not None:
                cfg = with_values(cfg, train={"steps": steps})
        else:
            cfg = resolve_config(config, set_, flags)
        source = find_data(data_dir, cfg.data.dir)
        result = run_training(
            cfg, source, run_dir, resume=resume, force=force, json_output=json_output, quiet=quiet
        )
        show_train_result(result, json_output)


def newest_run_dir() -> Path:
    from rnncls import runs

    candidates = [p for p in runs.RUNS_ROOT.glob("*") if runs.is_run_dir(p) and not p.is_symlink()]
    if not candidates:
        raise RunError(f"no run to resume in {runs.RUNS_ROOT}/; pass --run-dir")
    return max(candidates, key=lambda p: p.stat().st_mtime)


def run_training(
    cfg: Config,
    source: Any,
    run_dir: Path | None,
    *,
    resume: bool,
    force: bool,
    json_output: bool,
    quiet: bool,
) -> Any:
    from rnncls.train import train as train_model

    console = stderr_console()
    if json_output or quiet or not console.is_terminal:

        def on_event(event: Any) -> None:
            if json_output:
                emit_json(event.to_json())
            elif not quiet:
                print(format_eval(event, cfg.train.steps), flush=True)

        return train_model(
            cfg,
            source,
            run_dir,
            resume=resume,
            force=force,
            on_event=on_event,
            on_status=None if quiet else log,
        )
    return train_with_progress(cfg, source, run_dir, resume=resume, force=force, console=console)


def format_eval(event: Any, total_steps: int) -> str:
    width = len(str(total_steps))
    return (
        f"step {event.step:>{width}}/{total_steps}  train loss {event.train_loss:.4f}  "
        f"eval loss {event.eval_loss:.4f}  eval accuracy {event.eval_accuracy:.4f}"
    )


def train_with_progress(
    cfg: Config, source: Any, run_dir: Path | None, *, resume: bool, force: bool, console: Any
) -> Any:
    """Training on a terminal: a rich progress bar, an evaluation line every eval_every."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from rnncls.train import train as train_model

    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("train", total=cfg.train.steps, info="")

        def on_event(event: Any) -> None:
            progress.update(task, completed=event.step, info=f"acc {event.eval_accuracy:.4f}")
            progress.console.print(format_eval(event, cfg.train.steps))

        return train_model(
            cfg,
            source,
            run_dir,
            resume=resume,
            force=force,
            on_event=on_event,
            on_status=progress.console.print,
        )


def show_train_result(result: Any, json_output: bool) -> None:
    if json_output:
        emit_json(result.to_json())
        return
    print(
        f"test accuracy {result.test_accuracy:.4f}  test loss {result.test_loss:.4f}  "
        f"{result.steps} steps in {result.train_seconds:.1f} s "
        f"({result.ms_per_step:.2f} ms/step)  run {result.run_dir}",
        flush=True,
    )


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
        context = getattr(exc, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context and exc.exit_code == 2 else ""
        print(f"error: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
