"""`rnncls export`: a run's model as ONNX or a SavedModel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from rnncls.cli.errors import errors
from rnncls.cli.options import RunOption


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
    from rnncls.cli.output import log
    from rnncls.export import export_model
    from rnncls.rundir import resolve_run

    with errors():
        target = resolve_run(run)
        written = export_model(target, file_format, out)
        log(f"exported {target.keras_model()} as {file_format}")
        print(written, flush=True)
