"""`rnncls tune`: a hyperparameter search with Optuna, each trial a run; on a terminal a
table of the finished trials that grows, piped a line a trial, or JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from rnncls.cli.errors import errors
from rnncls.cli.options import (
    DataDirOption,
    SetOption,
    SpaceConfigOption,
    at_least,
    chosen_format,
    format_option,
)
from rnncls.cli.output import emit_json, log, rich_table, shown, stdout_console
from rnncls.errors import ConfigError
from rnncls.reporters import SearchReporter


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
    config: SpaceConfigOption = None,
    set_: SetOption = None,
    data_dir: DataDirOption = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="JSON lines on stdout: each finished trial, then a summary."),
    ] = False,
    output_format: Annotated[
        Literal["text", "jsonl"] | None, format_option("text, jsonl (as --json)", "text")
    ] = None,
) -> None:
    """Search hyperparameters with Optuna: each trial is a run in runs/<study>/trial-N.

    Run the same command again, or on other machines with one --storage, to add workers
    to the same study.
    """
    from rnncls.datasets import find_data
    from rnncls.space import load_space

    with errors():
        json_output = chosen_format(json_output, output_format, "text", "jsonl") == "jsonl"
        check_options(trials, heartbeat, pruner)
        space = load_space(space_file, set_ or (), config or ())
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
                reporter=reporter,
            )
        reporter.summary(summary)


def check_options(trials: int | None, heartbeat: int, pruner: str | None) -> None:
    """What the parser cannot check: counts of at least one, a pruner tune knows."""
    from rnncls.space import PRUNERS

    at_least("--trials", trials, 1)
    at_least("--heartbeat", heartbeat, 1)
    if pruner is not None and pruner not in PRUNERS:
        raise ConfigError(f"--pruner {pruner!r}: expected one of {', '.join(PRUNERS)}")


class TuneReporter(SearchReporter):
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
        from rich.console import Group

        table = rich_table(self.header, self.rows)
        return Group(table, self.running) if self.running else table

    def refresh(self) -> None:
        if self.display is not None:
            self.display.update(self.render())

    def status(self, message: str) -> None:
        log(message)

    def progress(self, number: int, done: Any) -> None:
        self.running = f"trial {number}: step {done.step}/{done.total_steps}"
        self.refresh()

    def evaluation(self, number: int, event: Any) -> None:
        self.running = (
            f"trial {number}: step {event.step}/{event.total_steps}, "
            f"validation accuracy {event.eval_accuracy:.4f}"
        )
        self.refresh()

    def trial(self, record: Any) -> None:
        from rnncls.trials import value_text

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
        from rnncls.trials import value_text

        # The storage as shown (a password left out): the line to type, where there was none.
        log(f"every trial, its curve and run directory: optuna-dashboard {summary.storage}")
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
    """A trial's value of a dimension: floats to four significant digits."""
    return shown(value, float_format=".4g", python_bools=True)
