"""`rnncls runs [DIR]` (the same as `rnncls runs list [DIR]`) and `rnncls runs diff A B`:
the runs under a folder in one table, and two runs compared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from rnncls.cli import output
from rnncls.cli.errors import errors
from rnncls.cli.options import chosen_format
from rnncls.cli.output import (
    emit_json,
    log,
    print_table,
    rich_table,
    shown,
    stdout_console,
    write_csv,
)


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

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """`rnncls runs --help` shows the listing's own options too (--sort, --format,
        --json ...): `rnncls runs [DIR]` is the listing, so its options are the group's."""
        super().format_options(ctx, formatter)
        listing = self.commands[self.default_command]
        records = [
            record
            for param in listing.get_params(ctx)
            if (record := param.get_help_record(ctx)) and param.name != "help"
        ]
        with formatter.section(f"Options of rnncls runs [DIR] (rnncls runs {listing.name})"):
            formatter.write_dl(records)


runs_app = typer.Typer(
    cls=RunsGroup,
    help="List the runs under a folder (rnncls runs [DIR], the same as rnncls runs list "
    "[DIR]), or compare two (rnncls runs diff A B).",
    rich_markup_mode=None,
)
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
    from rnncls import rundir, runlist

    with errors():
        shown_format = chosen_format(json_output, output_format, "table", "jsonl")
        root = folder if folder is not None else rundir.RUNS_ROOT
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
        write_csv([*CSV_FIELDS, *keys], runs_csv_rows(listed, keys))
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
            *(shown(run.config.get(key), significant=6) for key in keys),
        ]
        for run in listed
    ]
    if output.on_terminal():  # looked up here, so that a test can stand in a terminal
        print_runs_on_terminal([*COLUMNS, *keys], rows, len(COLUMNS))
        return
    print_table([*COLUMNS, *keys], rows)


# The listing's own columns as a narrow terminal heads them (the full names, the sort keys,
# head the piped table and a terminal wide enough for them).
SHORT_COLUMNS = ["name", "state", "steps", "val. acc.", "test acc.", "seconds"]


def print_runs_on_terminal(header: list[str], rows: list[list[str]], fixed: int) -> None:
    """The listing on a terminal, fitted to its width: one table where everything fits;
    else the runs' own columns first (name, state, accuracies, seconds: never cut, under
    short headers if need be), then the config keys that differ, beside each run's name,
    in as many tables as it takes for each to fit."""
    from rich.measure import Measurement

    console = stdout_console()
    width = console.width

    def table(columns: list[str], body: list[list[str]]) -> Any:
        made = rich_table(columns, body)
        for index, column in enumerate(made.columns):
            column.no_wrap = index != 1  # only a long state may wrap, at its spaces
        return made

    def fits(made: Any) -> bool:
        # measured without the console's limit, which would clamp the answer to the width
        unlimited = console.options.update_width(10 * width)
        return Measurement.get(console, unlimited, made).maximum <= width

    whole = table(header, rows)
    if fits(whole):
        console.print(whole)
        return
    own = table(header[:fixed], [row[:fixed] for row in rows])
    if not fits(own):
        own = table(SHORT_COLUMNS, [row[:fixed] for row in rows])
    console.print(own)
    chosen: list[int] = []
    for index in range(fixed, len(header)):
        trial = chosen + [index]
        if chosen and not fits(table(_pick(header, [0, *trial]), _pick_rows(rows, [0, *trial]))):
            console.print(table(_pick(header, [0, *chosen]), _pick_rows(rows, [0, *chosen])))
            trial = [index]
        chosen = trial
    if chosen:
        console.print(table(_pick(header, [0, *chosen]), _pick_rows(rows, [0, *chosen])))


def _pick(values: list[str], indices: list[int]) -> list[str]:
    return [values[i] for i in indices]


def _pick_rows(rows: list[list[str]], indices: list[int]) -> list[list[str]]:
    return [_pick(row, indices) for row in rows]


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


def runs_csv_rows(listed: list[Any], keys: list[str]) -> Iterator[list[str]]:
    for run in listed:
        values = [getattr(run, name) for name in CSV_FIELDS]
        yield [shown(value) for value in [*values, *map(run.config.get, keys)]]


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
