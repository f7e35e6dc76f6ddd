"""`rnncls train`: resolve the config (or a run's own, to resume it), train, show the
result. On a terminal a progress bar; piped, an evaluation line every eval_every."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from rnncls.cli.errors import errors
from rnncls.cli.main import STARTED
from rnncls.cli.options import (
    FLAG_SPELLINGS,
    ConfigOption,
    DataDirOption,
    SetOption,
    chosen_format,
    format_option,
    resolve_config,
)
from rnncls.cli.output import emit_json, log, stderr_console
from rnncls.config import load_config, resumed_config
from rnncls.config_keys import Config
from rnncls.errors import ConfigError, RunError
from rnncls.reporters import Reporter


def train(
    config: ConfigOption = None,
    set_: SetOption = None,
    steps: Annotated[
        int | None, typer.Option(help="Training steps.  [default: the config's, 1200]")
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Passes over the training images, instead of --steps.  [default: the config's]"
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per step.  [default: the config's, 64]")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", help="The learning rate.  [default: the config's, 0.01]")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of weights, data order, dropout, augmentation.  [default: 1]"),
    ] = None,
    eval_every: Annotated[
        int | None,
        typer.Option(help="Evaluate and save a checkpoint every N steps.  [default: 50]"),
    ] = None,
    data_dir: DataDirOption = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run directory (default: runs/<start time>).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(help="Continue the run in --run-dir (default: the newest interrupted run)."),
    ] = False,
    force: Annotated[bool, typer.Option(help="Start an existing run over.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON lines on stdout: eval events, then done.")
    ] = False,
    output_format: Annotated[
        Literal["text", "jsonl"] | None, format_option("text, jsonl (as --json)", "text")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only the final summary, and any warning.")
    ] = False,
) -> None:
    """Train the recurrent classifier; evaluate every `eval_every` steps and on the test set."""
    from rnncls import rundir
    from rnncls.datasets import find_data, recorded

    with errors():
        json_output = chosen_format(json_output, output_format, "text", "jsonl") == "jsonl"
        if steps is not None and epochs is not None:
            raise ConfigError("--steps and --epochs both set the length of training; give one")
        flags = {
            "train.steps": steps,  # a length given here replaces the config's steps or epochs
            "train.epochs": epochs,
            "train.batch_size": batch_size,
            "train.learning_rate": lr,
            "train.seed": seed,
            "train.eval_every": eval_every,
        }
        if resume:
            if run_dir is None:
                run_dir = rundir.newest_interrupted_run(rundir.RUNS_ROOT)
                log(f"resuming the newest interrupted run, {run_dir}")
            if not rundir.is_run_dir(run_dir):
                raise RunError(f"nothing to resume: {run_dir} is not a run directory")
            saved = load_config(run_dir / rundir.CONFIG_FILE)
            cfg = resumed_config(saved, str(run_dir), config, set_ or (), flags, FLAG_SPELLINGS)
            source = recorded.source_for(run_dir, data_dir, cfg.data)
        else:
            cfg = resolve_config(config, set_, flags)
            source = find_data(data_dir, cfg.data.dir)
        result = run_training(
            cfg, source, run_dir, resume=resume, force=force, json_output=json_output, quiet=quiet
        )
        show_train_result(result, json_output, resumed=resume)


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
        reporter = LineReporter(json_output=json_output, quiet=quiet)
        return train_model(cfg, source, run_dir, resume=resume, force=force, reporter=reporter)
    return train_with_progress(cfg, source, run_dir, resume=resume, force=force, console=console)


class LineReporter(Reporter):
    """Training piped or quiet: each evaluation a line (JSON with --json) on stdout, the
    log on stderr (--quiet: its warnings only)."""

    def __init__(self, *, json_output: bool, quiet: bool) -> None:
        self.json_output, self.quiet = json_output, quiet

    def status(self, message: str) -> None:
        (log_warnings if self.quiet else log)(message)

    def evaluation(self, event: Any) -> None:
        if self.json_output:
            emit_json(event.to_json())
        elif not self.quiet:
            print(format_eval(event), flush=True)


def log_warnings(message: str) -> None:
    """--quiet's status: a warning still reaches stderr, the rest of the log does not."""
    if message.startswith("warning: "):
        log(message)


def format_eval(event: Any) -> str:
    width = len(str(event.total_steps))
    return (
        f"step {event.step:>{width}}/{event.total_steps}  train loss {event.train_loss:.4f}  "
        f"validation loss {event.eval_loss:.4f}  validation accuracy {event.eval_accuracy:.4f}  "
        f"lr {event.learning_rate:.3g}"
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
        total = None if cfg.train.epochs else cfg.train.steps  # epochs: known once data loads
        task = progress.add_task("train", total=total, info="starting")

        reporter = BarReporter(progress, task)
        return train_model(cfg, source, run_dir, resume=resume, force=force, reporter=reporter)


class BarReporter(Reporter):
    """Training on a terminal: the phase of start-up and the accuracy beside the bar, an
    evaluation line above it, the log through the bar's console."""

    def __init__(self, progress: Any, task: Any) -> None:
        self.bar, self.task = progress, task

    def status(self, message: str) -> None:
        self.bar.console.print(message)

    def phase(self, message: str) -> None:  # what start-up is doing, beside the bar
        self.bar.update(self.task, info=message)

    def progress(self, done: Any) -> None:
        shown = self.bar.tasks[0].fields["info"]
        info = shown if shown.startswith("acc ") else "training"
        self.bar.update(self.task, completed=done.step, total=done.total_steps, info=info)

    def evaluation(self, event: Any) -> None:
        self.bar.update(
            self.task,
            completed=event.step,
            total=event.total_steps,
            info=f"acc {event.eval_accuracy:.4f}",
        )
        self.bar.console.print(format_eval(event))


def show_train_result(result: Any, json_output: bool, resumed: bool = False) -> None:
    """The final line. The training time is the run's (over every command that trained
    it); the time in all is this command's, so a resumed run says which is which."""
    if json_output:
        emit_json(result.to_json())
        return
    command_seconds = time.monotonic() - STARTED
    kept = ""
    if result.kept_step != result.steps:
        stopped = "stopped early; " if result.stopped_early else ""
        kept = f"  ({stopped}weights of step {result.kept_step})"
    whole_run = " over the whole run" if resumed else ""
    this_command = "this command took " if resumed else ""
    print(
        f"test accuracy {result.test_accuracy:.4f}  test loss {result.test_loss:.4f}  "
        f"{result.steps} steps in {result.train_seconds:.1f} s of training{whole_run} "
        f"({result.ms_per_step:.2f} ms/step; {this_command}{command_seconds:.1f} s in all, "
        f"with start-up, evaluations and saving){kept}  run {result.run_dir}",
        flush=True,
    )
