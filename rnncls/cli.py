"""The ``rnncls`` command line: each command resolves its config, calls one core function
and shows the result. Results go to stdout, progress and logs to stderr.

Nothing here imports TensorFlow at module level: ``rnncls --help`` stays fast.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from rnncls import __version__
from rnncls.config import Config, ConfigError, load_config, resumed_config, to_toml
from rnncls.errors import DataError, RunError

app = typer.Typer(
    name="rnncls",
    help="Train, evaluate and use a recurrent (LSTM) digit classifier on MNIST.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(
    help="Show the resolved configuration, or every key it can have.",
    rich_markup_mode=None,
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")

USAGE_ERRORS = (ConfigError,)
STARTED = time.monotonic()  # the command's start, near enough: this module loads first
STATE = {"debug": os.environ.get("RNNCLS_DEBUG", "") not in ("", "0")}


# ---------------------------------------------------------------------- output


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def stdout_console() -> Any:
    from rich.console import Console

    class ResultConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 here; a reader that stopped early (`| head`) is no failure, so
            # hand it to errors(), which ends quietly with 0 as for plain output.
            self.quiet = True
            raise BrokenPipeError

    return ResultConsole(highlight=False)


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
        # it is a TrainingInterrupted): nothing half-written is left. A stop the user asked
        # for is no error; it did not finish, so exit 1.
        if STATE["debug"]:
            traceback.print_exc()
        print("stopped (Ctrl-C)", file=sys.stderr, flush=True)
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
        known = (ConfigError, DataError, RunError)
        message = str(exc) if isinstance(exc, known) else f"{type(exc).__name__}: {exc}"
        message = " ".join(message.split())  # one line, whatever a library put in it
        # A stop the user asked for (Ctrl-C, SIGTERM) is no error, though the run is not
        # finished (exit 1).
        stopped = type(exc).__name__ in ("TrainingInterrupted", "TuneStopped")
        print(message if stopped else f"error: {message}", file=sys.stderr, flush=True)
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
def config_show(
    config: ConfigOption = None,
    set_: SetOption = None,
    run: Annotated[
        Path | None, typer.Option("--run", help="Show the config a run was trained with.")
    ] = None,
) -> None:
    """Print the resolved configuration as TOML (itself a valid config file)."""
    from rnncls.runs import CONFIG_FILE, RunError

    with errors():
        if run is not None:
            if config is not None:
                raise ConfigError("--run and --config both name a config; give one")
            config = run / CONFIG_FILE if run.is_dir() else run.parent / CONFIG_FILE
            if not config.is_file():
                raise RunError(f"{run} is not a run: it has no {CONFIG_FILE}")
        sys.stdout.write(to_toml(resolve_config(config, set_)))


@config_app.command("keys")
def config_keys() -> None:
    """List every config key with its type, default and what it does."""
    from rnncls.config import describe_keys, toml_value

    with errors():
        rows = [(k.name, k.type, toml_value(k.default), k.comment) for k in describe_keys()]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            print("  ".join([*cells, row[3]]))


@app.command()
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
    data_dir: Annotated[Path | None, typer.Option(help="Folder with the MNIST files.")] = None,
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
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only the final summary, and any warning.")
    ] = False,
) -> None:
    """Train the recurrent classifier; evaluate every `eval_every` steps and on the test set."""
    from rnncls import runs
    from rnncls.data import find_data

    with errors():
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
            run_dir = run_dir or newest_run_dir()
            if not runs.is_run_dir(run_dir):
                raise RunError(f"nothing to resume: {run_dir} is not a run directory")
            saved = load_config(run_dir / runs.CONFIG_FILE)
            cfg = resumed_config(saved, str(run_dir), config, set_ or (), flags)
        else:
            cfg = resolve_config(config, set_, flags)
        source = find_data(data_dir, cfg.data.dir)
        result = run_training(
            cfg, source, run_dir, resume=resume, force=force, json_output=json_output, quiet=quiet
        )
        show_train_result(result, json_output)


def newest_run_dir() -> Path:
    """The newest interrupted run (one without a summary) under the runs folder."""
    from rnncls import runs

    candidates = [
        p
        for p in runs.RUNS_ROOT.glob("*")
        if runs.is_run_dir(p) and not p.is_symlink() and runs.is_interrupted(p)
    ]
    if not candidates:
        raise RunError(f"no interrupted run to resume in {runs.RUNS_ROOT}/; pass --run-dir")
    newest = max(candidates, key=lambda p: p.stat().st_mtime)
    log(f"resuming the newest interrupted run, {newest}")
    return newest


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
                print(format_eval(event), flush=True)

        return train_model(
            cfg,
            source,
            run_dir,
            resume=resume,
            force=force,
            on_event=on_event,
            on_status=log_warnings if quiet else log,
        )
    return train_with_progress(cfg, source, run_dir, resume=resume, force=force, console=console)


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

        def on_phase(message: str) -> None:  # what start-up is doing, beside the bar
            progress.update(task, info=message)

        def on_progress(done: Any) -> None:
            shown = progress.tasks[0].fields["info"]
            info = shown if shown.startswith("acc ") else "training"
            progress.update(task, completed=done.step, total=done.total_steps, info=info)

        def on_event(event: Any) -> None:
            progress.update(
                task,
                completed=event.step,
                total=event.total_steps,
                info=f"acc {event.eval_accuracy:.4f}",
            )
            progress.console.print(format_eval(event))

        return train_model(
            cfg,
            source,
            run_dir,
            resume=resume,
            force=force,
            on_event=on_event,
            on_status=progress.console.print,
            on_progress=on_progress,
            on_phase=on_phase,
        )


def show_train_result(result: Any, json_output: bool) -> None:
    if json_output:
        emit_json(result.to_json())
        return
    command_seconds = time.monotonic() - STARTED
    kept = ""
    if result.kept_step != result.steps:
        stopped = "stopped early; " if result.stopped_early else ""
        kept = f"  ({stopped}weights of step {result.kept_step})"
    print(
        f"test accuracy {result.test_accuracy:.4f}  test loss {result.test_loss:.4f}  "
        f"{result.steps} steps in {result.train_seconds:.1f} s of training "
        f"({result.ms_per_step:.2f} ms/step; {command_seconds:.1f} s in all, with start-up, "
        f"evaluations and saving){kept}  run {result.run_dir}",
        flush=True,
    )


# ---------------------------------------------------------------------- searching


@app.command()
def tune(
    space_file: Annotated[
        Path,
        typer.Argument(
            metavar="SPACE.toml",
            help="A base config and a [space] table of dotted keys to ranges or choices.",
        ),
    ],
    trials: Annotated[
        int | None,
        typer.Option(
            help="Completed or pruned trials the study should hold in all, counting every "
            "worker's.  [default: the space's [tune] trials, else 10]"
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(help="Study name: runs/<study>/ holds its trials.  [default: SPACE's name]"),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Database URL shared by workers (postgresql://..., mysql://...).  "
            "[default: sqlite in runs/<study>/study.db]"
        ),
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option(
            help="Stop hopeless trials: median, hyperband or none.  [default: the space's, "
            "else median]"
        ),
    ] = None,
    heartbeat: Annotated[
        int,
        typer.Option(
            help="Seconds between a worker's heartbeats; a trial silent for three is run "
            "again by a live worker."
        ),
    ] = 10,
    set_: SetOption = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder with the MNIST files.")] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="JSON lines on stdout: each finished trial, then a summary."),
    ] = False,
) -> None:
    """Search hyperparameters with Optuna: each trial is a run in runs/<study>/trial-N.

    Run the same command again, or on other machines with one --storage, to add workers
    to the same study.
    """
    from rnncls.data import find_data
    from rnncls.space import PRUNERS, load_space

    with errors():
        at_least("--trials", trials, 1)
        at_least("--heartbeat", heartbeat, 1)
        if pruner is not None and pruner not in PRUNERS:
            raise ConfigError(f"--pruner {pruner!r}: expected one of {', '.join(PRUNERS)}")
        space = load_space(space_file, set_ or ())
        from rnncls import tune as tuning

        name = tuning.check_study_name(study or space_file.stem)
        source = find_data(data_dir, space.base.data.dir)
        reporter = TuneReporter(space, json_output)
        with reporter.live():
            summary = tuning.tune(
                space,
                source,
                study_name=name,
                storage_url=storage,
                trials=trials,
                pruner=pruner,
                heartbeat=heartbeat,
                on_trial=reporter.trial,
                on_status=reporter.status,
                on_event=reporter.event,
                on_progress=reporter.progress,
            )
        reporter.summary(summary)


class TuneReporter:
    """What `rnncls tune` shows: JSON lines, plain lines, or on a terminal a table of the
    finished trials that grows, with the running trial's progress under it."""

    def __init__(self, space: Any, json_output: bool) -> None:
        self.keys = [d.key for d in space.dimensions]
        self.header = ["trial", "state", "value", *self.keys, "seconds"]
        self.json_output = json_output
        self.console = stdout_console()
        self.rows: list[list[str]] = []
        self.running = ""
        self.display: Any = None

    @contextmanager
    def live(self) -> Iterator[None]:
        if self.json_output or not self.console.is_terminal:
            yield
            return
        from rich.live import Live

        with Live(self.render(), console=self.console, refresh_per_second=4) as self.display:
            yield
        self.display = None

    def render(self) -> Any:
        from rich import box
        from rich.console import Group
        from rich.table import Table

        table = Table(*self.header, box=box.SIMPLE_HEAD)
        for row in self.rows:
            table.add_row(*row)
        return Group(table, self.running) if self.running else table

    def refresh(self) -> None:
        if self.display is not None:
            self.display.update(self.render())

    def status(self, message: str) -> None:
        log(message)

    def progress(self, number: int, done: Any) -> None:
        self.running = f"trial {number}: step {done.step}/{done.total_steps}"
        self.refresh()

    def event(self, number: int, event: Any) -> None:
        self.running = (
            f"trial {number}: step {event.step}/{event.total_steps}, "
            f"validation accuracy {event.eval_accuracy:.4f}"
        )
        self.refresh()

    def trial(self, record: Any) -> None:
        from rnncls.tune import value_text

        if self.json_output:
            emit_json(record.to_json())
            return
        state = record.state
        if state == "pruned" and record.step is not None:
            state = f"pruned at step {record.step}"
        params = [format_param(record.params.get(key)) for key in self.keys]
        row = [str(record.number), state, value_text(record.value), *params]
        row.append(f"{record.seconds:.0f}")
        if self.display is None:  # not a terminal: one plain line a trial
            print("  ".join(f"{h}={v}" for h, v in zip(self.header, row, strict=True)), flush=True)
            return
        self.rows.append(row)
        self.running = ""
        self.refresh()

    def summary(self, summary: Any) -> None:
        from rnncls.tune import value_text

        if self.json_output:
            emit_json(summary.to_json())
            return
        counts = f"{summary.complete} complete, {summary.pruned} pruned, {summary.failed} failed"
        if summary.best_trial is None:
            print(f"study {summary.study}: {counts}; no completed trial yet", flush=True)
            return
        params = ", ".join(f"{k}={format_param(v)}" for k, v in summary.best_params.items())
        print(
            f"study {summary.study}: {counts}; best trial {summary.best_trial}, validation "
            f"accuracy {value_text(summary.best_value)} ({params}); its config: "
            f"{summary.best_config}",
            flush=True,
        )


def format_param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


# ---------------------------------------------------------------------- using a model

RunOption = Annotated[
    Path | None,
    typer.Option(
        "--run", help="Run directory or model file (.onnx, .keras); default: runs/latest."
    ),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder with the MNIST files.")
]
Split = Literal["test", "validation", "train"]


def at_least(option: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise ConfigError(f"{option} {value}: must be at least {minimum}")


@app.command("eval")
def eval_command(
    run: RunOption = None,
    split: Annotated[Split, typer.Option(help="Data-set split to evaluate on.")] = "test",
    limit: Annotated[
        int | None, typer.Option(help="Only the first N images of the split.", show_default=False)
    ] = None,
    data_dir: DataDirOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object on stdout instead of tables.")
    ] = False,
    confusion: Annotated[
        Path | None,
        typer.Option("--confusion", metavar="PNG", help="Also draw the confusion matrix here."),
    ] = None,
    errors_png: Annotated[
        Path | None,
        typer.Option(
            "--errors",
            metavar="PNG",
            help=f"Also draw the first {ERROR_GRID_SIZE} misclassified images here.",
        ),
    ] = None,
) -> None:
    """Evaluate a trained model on a data-set split.

    Loss, accuracy, per-class precision/recall/support and the confusion matrix.
    """
    from rnncls.data import find_data, load_split
    from rnncls.evaluate import evaluate
    from rnncls.predict import describe_model, load_classifier, run_config
    from rnncls.runs import resolve_run

    with errors():
        at_least("--limit", limit, 1)
        run_path = resolve_run(run)
        cfg = run_config(run_path)
        classifier = load_classifier(run_path)
        data = load_split(find_data(data_dir, cfg.data.dir), split, cfg.data.validation_size)
        metrics = evaluate(classifier, data, limit)
        if confusion is not None:
            from rnncls.plots import confusion_matrix

            title = f"{run_path}: {split} accuracy {metrics.accuracy:.4f} on {metrics.n} images"
            log(f"confusion matrix: {confusion_matrix(metrics.confusion, confusion, title)}")
        if errors_png is not None:
            log(f"misclassified images: {draw_errors(metrics, data, run_path, errors_png)}")
        log(describe_model(classifier))
        if json_output:
            emit_json({**metrics.to_json(), "model": str(classifier.path)})
        else:
            show_metrics(metrics, classifier.path)


ERROR_GRID_SIZE = 50


def draw_errors(metrics: Any, data: Any, run_path: Path, path: Path) -> Path:
    from rnncls.evaluate import misclassified
    from rnncls.plots import error_grid

    wrong = misclassified(metrics, data.labels, ERROR_GRID_SIZE)
    total = int(metrics.n - round(metrics.accuracy * metrics.n))
    shown = f"the first {len(wrong)} of {total}" if total > len(wrong) else f"all {total}"
    title = f"{run_path}: {shown} misclassified {data.name} images of {metrics.n}"
    return error_grid(
        data.images[wrong],
        [int(metrics.predicted[i]) for i in wrong],
        [int(data.labels[i]) for i in wrong],
        [float(metrics.confidence[i]) for i in wrong],
        [f"{data.name}[{i}]" for i in wrong],
        path,
        title,
    )


def show_metrics(metrics: Any, model_path: Path) -> None:
    from rich import box
    from rich.table import Table

    console = stdout_console()
    console.print(
        f"{metrics.split}: {metrics.n} images   accuracy {metrics.accuracy:.4f}   "
        f"loss {metrics.loss:.4f}   model {model_path}",
        soft_wrap=True,
    )
    per_class = Table("class", "precision", "recall", "support", box=box.SIMPLE_HEAD)
    for row in metrics.per_class:
        per_class.add_row(
            str(row.label), f"{row.precision:.4f}", f"{row.recall:.4f}", str(row.support)
        )
    console.print(per_class)
    classes = range(len(metrics.confusion))
    matrix = Table(
        "true",
        *(str(c) for c in classes),
        box=box.SIMPLE_HEAD,
        title="confusion matrix (rows: true class, columns: predicted)",
    )
    for true_class, counts in enumerate(metrics.confusion):
        cells = [confusion_cell(count, col == true_class) for col, count in enumerate(counts)]
        matrix.add_row(str(true_class), *cells)
    console.print(matrix)


def confusion_cell(count: int, correct: bool) -> str:
    if correct:
        return f"[bold green]{count}[/]"
    return f"[red]{count}[/]" if count else "0"


@app.command()
def predict(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="INPUT",
            help="PNG or JPEG files, .npy arrays, folders of them, or - for standard "
            "input (a .npy stream or one path a line). None: images of the data set.",
            show_default=False,
        ),
    ] = None,
    run: RunOption = None,
    n: Annotated[
        int | None, typer.Option("--n", "-n", help="Data-set images to predict.  [default: 10]")
    ] = None,
    split: Annotated[
        Split | None, typer.Option(help="Data-set split.  [default: test]", show_default=False)
    ] = None,
    offset: Annotated[
        int | None, typer.Option(help="First data-set image.  [default: 0]", show_default=False)
    ] = None,
    data_dir: DataDirOption = None,
    output_format: Annotated[
        Literal["table", "jsonl", "csv"], typer.Option("--format", "-f", help="Output format.")
    ] = "table",
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", "-k", help="Also give the K most likely classes."),
    ] = None,
) -> None:
    """Predict the digits of images or arrays.

    Image files or arrays given as INPUT, or else data-set images beside their labels.
    """
    from rnncls.data import find_data
    from rnncls.predict import (
        describe_model,
        load_classifier,
        read_inputs,
        run_config,
        split_inputs,
    )
    from rnncls.predict import predict as predict_digits
    from rnncls.runs import resolve_run

    failures: list[str] = []
    with errors():
        at_least("--top-k", top_k, 1)
        if inputs and (n is not None or split is not None or offset is not None):
            raise ConfigError("--n, --split and --offset choose data-set images; not with INPUT")
        run_path = resolve_run(run)
        classifier = load_classifier(run_path)
        if inputs:
            data = read_inputs(inputs, failures=failures)
        else:
            cfg = run_config(run_path)
            source = find_data(data_dir, cfg.data.dir)
            count = 10 if n is None else n
            data = split_inputs(
                source, split or "test", offset or 0, count, cfg.data.validation_size
            )
        if len(data):
            predictions = predict_digits(classifier, data, top_k)
            log(describe_model(classifier))
            show_predictions(predictions, output_format)
    # As Unix tools do: every readable input answered, then a line per unreadable one.
    for failure in failures:
        print(f"error: {' '.join(failure.split())}", file=sys.stderr, flush=True)
    if failures:
        raise typer.Exit(code=1)


def show_predictions(predictions: list[Any], output_format: str) -> None:
    if output_format == "jsonl":
        for prediction in predictions:
            emit_json(prediction.to_json())
    elif output_format == "csv":
        write_predictions_csv(predictions)
    else:
        show_predictions_table(predictions)


def write_predictions_csv(predictions: list[Any]) -> None:
    import csv

    top_k = len(predictions[0].top_k or ())
    labelled = any(p.label is not None for p in predictions)  # files have none
    header = ["source", "prediction", "probability"] + (["label"] if labelled else [])
    for rank in range(1, top_k + 1):
        header += [f"class_{rank}", f"probability_{rank}"]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    for p in predictions:
        ranked = [value for pair in (p.top_k or ()) for value in pair]
        label = [p.label] if labelled else []
        writer.writerow([p.source, p.prediction, p.probability, *label, *ranked])
    sys.stdout.flush()


def show_predictions_table(predictions: list[Any]) -> None:
    """A table, and for data-set images the seed's two lines: predictions, real labels.
    rich draws it on a terminal; piped, it is plain aligned text (and rich not imported)."""
    labelled = all(p.label is not None for p in predictions)
    header = ["source", "prediction", "probability"] + (["label"] if labelled else [])
    if predictions[0].top_k is not None:
        header.append("top k")
    rows = []
    for p in predictions:
        row = [p.source, str(p.prediction), f"{p.probability:.4f}"]
        if labelled:
            row.append(str(p.label))
        if p.top_k is not None:
            row.append("  ".join(f"{c}:{q:.3f}" for c, q in p.top_k))
        rows.append(row)
    if sys.stdout.isatty():
        wrong = [labelled and p.prediction != p.label for p in predictions]
        print_rich_table(header, rows, wrong)
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            print("  ".join(cells).rstrip())
    if labelled:
        print(f"[{' '.join(str(p.prediction) for p in predictions)}] prediction number")
        print(f"[{' '.join(str(p.label) for p in predictions)}] real number", flush=True)


def print_rich_table(header: list[str], rows: list[list[str]], wrong: list[bool]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(*header, box=box.SIMPLE_HEAD)
    for row, is_wrong in zip(rows, wrong, strict=True):
        table.add_row(*row, style="red" if is_wrong else None)
    stdout_console().print(table)


@app.command("show-sample")
def show_sample(
    split: Annotated[Split, typer.Option(help="Data-set split.")] = "train",
    index: Annotated[int, typer.Option(help="Index of the (first) image.")] = 0,
    n: Annotated[int, typer.Option("--n", "-n", help="Images in the grid.")] = 1,
    out: Annotated[Path, typer.Option(help="Picture to write (PNG).")] = Path("sample.png"),
    run: Annotated[
        Path | None,
        typer.Option(
            help="Show this run's (or model file's) predictions; default: the newest "
            "finished run, where there is one."
        ),
    ] = None,
    no_run: Annotated[
        bool, typer.Option("--no-run", help="Only the images and labels, no predictions.")
    ] = False,
    data_dir: DataDirOption = None,
    show: Annotated[
        bool, typer.Option("--show", help="Open a window (where a display exists).")
    ] = False,
) -> None:
    """Draw data-set images into a PNG.

    One image or a grid, with labels (and predictions, given --run).
    """
    import shutil

    from rnncls.data import find_data
    from rnncls.images import render_text
    from rnncls.plots import sample_grid, show_window
    from rnncls.predict import describe_model, load_classifier, run_config, split_inputs
    from rnncls.predict import predict as predict_digits
    from rnncls.runs import ONNX_FILE, latest_run, resolve_run

    with errors():
        if run is not None and no_run:
            raise ConfigError("--run and --no-run: give one")
        run_path = None if no_run else resolve_run(run) if run is not None else latest_run()
        if run is None and run_path is not None and not (run_path / ONNX_FILE).is_file():
            log(f"the newest run, {run_path}, has no {ONNX_FILE}: showing no predictions")
            run_path = None  # its Keras model would cost show-sample a TensorFlow start-up
        classifier = load_classifier(run_path) if run_path is not None else None
        cfg = run_config(run_path) if run_path is not None else load_config()
        source = find_data(data_dir, cfg.data.dir)
        data = split_inputs(source, split, index, n, cfg.data.validation_size, "--index")
        predictions = predict_digits(classifier, data) if classifier is not None else None
        if classifier is not None:
            newest = " (the newest finished run; --no-run for none)" if run is None else ""
            log(f"predictions of {describe_model(classifier)}{newest}")
        captions = sample_captions(data, predictions)
        wrong = [
            p.label is not None and p.prediction != p.label for p in (predictions or [])
        ] or None
        title = f"{split} images, predictions of {run_path}" if run_path else f"{split} images"
        path = sample_grid(data.images, captions, out, title=title, wrong=wrong)
        print(path, flush=True)
        shown = TERMINAL_SAMPLES
        width = shutil.get_terminal_size().columns
        one_line = [caption.replace("\n", " ") for caption in captions[:shown]]
        log(render_text(data.images[:shown], one_line, width))
        if len(data) > shown:
            log(f"(the first {shown} of {len(data)} images; all of them are in {path})")
        if show and not show_window(path):
            log(f"warning: no display to show a window on; the picture is in {path}")


TERMINAL_SAMPLES = 8


def sample_captions(data: Any, predictions: list[Any] | None) -> list[str]:
    captions = []
    for index, source in enumerate(data.sources):
        caption = f"{source}\nlabel {data.label(index)}"
        if predictions is not None:
            guess = predictions[index].prediction
            caption = f"{source}\npred {guess}, label {data.label(index)}"
        captions.append(caption)
    return captions


@app.command()
def export(
    file_format: Annotated[
        Literal["onnx", "saved_model"],
        typer.Option("--format", "-f", help="onnx (a file) or saved_model (a folder)."),
    ],
    run: RunOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write it (default: model.onnx or saved_model/ in the run)."),
    ] = None,
) -> None:
    """Export the model as ONNX or a SavedModel.

    Through Keras's own export; prints the path written.
    """
    from rnncls.export import export_model
    from rnncls.runs import resolve_run

    with errors():
        print(export_model(resolve_run(run), file_format, out), flush=True)


# ---------------------------------------------------------------------- comparing runs


class RunsGroup(typer.core.TyperGroup):
    """`rnncls runs [DIR]` is `rnncls runs list [DIR]`: whatever is not a subcommand's name
    (a folder, an option, nothing) goes to `list`. An argument of the group itself would
    take `diff` for a folder, so the group has none."""

    default_command = "list"

    def __init__(self, **attrs: Any) -> None:
        attrs["subcommand_metavar"] = "[DIR] | diff A B"
        super().__init__(**attrs)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first not in self.commands and first not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


runs_app = typer.Typer(
    cls=RunsGroup,
    help="List the runs under a folder (rnncls runs [DIR], the same as rnncls runs list "
    "[DIR]), or compare two (rnncls runs diff A B).",
    rich_markup_mode=None,
)
app.add_typer(runs_app, name="runs")

RunsFormat = Literal["table", "jsonl", "csv"]


@runs_app.command("list")
def runs_list(
    folder: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]",
            help="Folder to search, trials included.  [default: runs/, or $RNNCLS_RUNS_DIR]",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object a line, the config whole.")
    ] = False,
    output_format: Annotated[
        RunsFormat | None,
        typer.Option("--format", "-f", help="Output format (--json is jsonl).  [default: table]"),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            help="Sort by a column (name, state, steps, validation_accuracy, test_accuracy, "
            "test_loss, train_seconds) or a config key (model.hidden_units); runs without "
            "a value last.  [default: name]",
        ),
    ] = None,
    reverse: Annotated[
        bool, typer.Option("--reverse", "-r", help="Reverse the order: largest first.")
    ] = False,
) -> None:
    """List the run directories under DIR, search trials included, in one table.

    State (finished, interrupted at step N, pruned at step N, running, failed), steps,
    validation and test accuracy, seconds of training, and the config keys whose values
    differ between the runs listed. `rnncls runs DIR` is the same command.
    """
    from rnncls import runlist, runs

    with errors():
        if json_output and output_format not in (None, "jsonl"):
            raise ConfigError(f"--json and --format {output_format}: give one")
        shown_format = "jsonl" if json_output else output_format or "table"
        root = folder if folder is not None else runs.RUNS_ROOT
        missing = folder is None and not root.exists()  # nothing trained here yet: no failure
        listed = [] if missing else runlist.list_runs(root)
        if sort is not None or reverse:
            listed = runlist.sort_runs(listed, sort or "name", reverse)
        if not listed:
            log(f"no runs in {root}" + (" (it does not exist yet)" if missing else ""))
        show_runs(listed, runlist.differing_keys(listed), shown_format)


def show_runs(listed: list[Any], keys: list[str], output_format: str) -> None:
    from rnncls.runlist import COLUMNS

    if output_format == "jsonl":
        for run in listed:
            emit_json(run.to_json())
        return
    if output_format == "csv":
        write_runs_csv(listed, keys)
        return
    if not listed:
        return
    rows = [
        [
            run.name,
            run.state_text,
            shown(run.steps),
            shown(run.validation_accuracy, ".4f"),
            shown(run.test_accuracy, ".4f"),
            shown(run.train_seconds, ".1f"),
            *(shown_setting(run.config.get(key)) for key in keys),
        ]
        for run in listed
    ]
    print_table([*COLUMNS, *keys], rows)


def shown_setting(value: Any) -> str:
    """A config value in the table: a search's floats (0.006812345678901234) to six
    significant digits, enough to tell trials apart, and still written as floats (0.0,
    as `runs diff` and config.toml have it); --json and csv keep every digit."""
    if isinstance(value, float) and math.isfinite(value):
        return repr(float(format(value, ".6g")))
    return shown(value)


CSV_FIELDS = (
    "name",
    "state",
    "stopped_at",
    "steps",
    "validation_accuracy",
    "test_accuracy",
    "test_loss",
    "train_seconds",
)


def write_runs_csv(listed: list[Any], keys: list[str]) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([*CSV_FIELDS, *keys])
    for run in listed:
        values = [getattr(run, name) for name in CSV_FIELDS]
        writer.writerow([shown(value) for value in [*values, *map(run.config.get, keys)]])
    sys.stdout.flush()


def shown(value: Any, number_format: str = "") -> str:
    """A cell: empty for a value not known, true/false as in TOML."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return format(value, number_format) if number_format else str(value)


def on_terminal() -> bool:
    return sys.stdout.isatty()


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """rich's table on a terminal; piped, plain aligned columns (and rich not imported)."""
    if on_terminal():
        from rich import box
        from rich.table import Table

        table = Table(*header, box=box.SIMPLE_HEAD)
        for row in rows:
            table.add_row(*row)
        stdout_console().print(table)
        return
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    sys.stdout.flush()


@runs_app.command("diff")
def runs_diff(
    a: Annotated[Path, typer.Argument(metavar="A", help="A run directory.")],
    b: Annotated[Path, typer.Argument(metavar="B", help="Another run directory.")],
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Compare two runs: the config keys that differ, and B's metrics minus A's.

    Steps, validation and test accuracy, test loss and seconds of training.
    """
    from rnncls.runlist import diff_runs

    with errors():
        difference = diff_runs(a, b)
        if json_output:
            emit_json(difference.to_json())
            return
        if difference.config:
            rows = [[key, shown(va), shown(vb)] for key, va, vb in difference.config]
            print_table(["config", str(a), str(b)], rows)
        else:
            print("config: the same")
        print()
        formats = {"validation_accuracy": "+.4f", "test_accuracy": "+.4f", "test_loss": "+.4f"}
        formats |= {"steps": "+d", "train_seconds": "+.1f"}
        rows = [
            [
                metric,
                shown(va, formats[metric].lstrip("+")),
                shown(vb, formats[metric].lstrip("+")),
                shown(change, formats[metric]),
            ]
            for metric, va, vb, change in difference.metrics
        ]
        rows.insert(0, ["state", difference.a.state_text, difference.b.state_text, ""])
        print_table(["metric", str(a), str(b), "B - A"], rows)


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
