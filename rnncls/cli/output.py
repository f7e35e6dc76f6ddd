"""Everything the commands show goes through here: results on stdout, progress and logs
on stderr. rich is imported only where a table or a console is drawn, never at import.
"""

from __future__ import annotations

import json
import sys
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
