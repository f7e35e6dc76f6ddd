"""Everything the commands show goes through here: results on stdout, progress and logs
on stderr. rich is imported only where a table or a console is drawn, never at import.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from typing import Any


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


def shown(
    value: Any,
    number_format: str = "",
    *,
    float_format: str = "",
    significant: int = 0,
    python_bools: bool = False,
) -> str:
    """A cell: empty for a value not known, true/false as in TOML.

    ``number_format`` formats any number (``.4f``, ``+d``); ``float_format`` floats only,
    so that a whole number stays whole (tune's ``.4g`` would write 123456 as 1.235e+05).
    ``significant`` rounds a float and still writes it as a float: a search's learning
    rates (0.006812345678901234) to six digits are enough to tell trials apart, and 0.0
    stays 0.0, as `runs diff` and config.toml have it; --json and csv keep every digit.
    ``python_bools`` writes True/False, as tune's trials have always shown them.
    """
    if value is None:
        return ""
    if isinstance(value, bool) and not python_bools:
        return "true" if value else "false"
    if isinstance(value, float) and significant and math.isfinite(value):
        value = float(format(value, f".{significant}g"))
    if isinstance(value, float) and float_format:
        return format(value, float_format)
    return format(value, number_format) if number_format else str(value)


def on_terminal() -> bool:
    return sys.stdout.isatty()


def rich_table(
    header: list[str],
    rows: list[list[str]],
    *,
    row_styles: list[str | None] | None = None,
    title: str | None = None,
) -> Any:
    """rich's table as every command draws it: a rule under the header, no borders."""
    from rich import box
    from rich.table import Table

    table = Table(*header, box=box.SIMPLE_HEAD, title=title)
    for row, style in zip(rows, row_styles or [None] * len(rows), strict=True):
        table.add_row(*row, style=style)
    return table


def print_columns(rows: list[list[str]]) -> None:
    """Plain columns, aligned, two spaces apart, no blanks at the ends of lines."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    sys.stdout.flush()


def print_table(
    header: list[str], rows: list[list[str]], *, wrong: list[bool] | None = None
) -> None:
    """rich's table on a terminal, the rows ``wrong`` marks (a wrong prediction) in red;
    piped, plain aligned columns (and rich not imported)."""
    if on_terminal():
        styles = [("red" if is_wrong else None) for is_wrong in wrong] if wrong else None
        stdout_console().print(rich_table(header, rows, row_styles=styles))
        return
    print_columns([header, *rows])


def write_csv(header: list[str], rows: Iterable[list[Any]]) -> None:
    """CSV on stdout, a row a line, each ended by a newline alone (not the csv module's
    carriage return and newline)."""
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    sys.stdout.flush()
