"""`rnncls serve`: a run's ONNX model over HTTP (a JSON API) and the drawing page."""

from __future__ import annotations

from typing import Annotated

import typer

from rnncls.cli.errors import errors
from rnncls.cli.options import RunOption
from rnncls.cli.output import log
from rnncls.errors import ConfigError


def serve(
    run: RunOption = None,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; 0.0.0.0 answers other machines too."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8000,
) -> None:
    """Serve predictions over HTTP, and a page to draw digits on.

    POST /predict takes PNG or JPEG bodies, multipart uploads or JSON arrays of grey
    levels; GET /model tells which run answers; GET / is the drawing page. Answers from
    the run's model.onnx (ONNX Runtime, no TensorFlow). Ctrl-C or SIGTERM stops it.
    """
    from rnncls.rundir import resolve_run
    from rnncls.server import listen, load_served_model, serve_forever, url_of

    with errors():
        if not 0 <= port <= 65535:
            raise ConfigError(f"--port {port}: must be from 0 to 65535")
        model = load_served_model(resolve_run(run))
        sock = listen(host, port)
        log(f"serving {model.description}")
        log(f"listening on {url_of(sock)} (the drawing page; POST /predict for the API)")
        stopped_by = serve_forever(model, sock)
    log(f"stopped ({stopped_by or 'server shut down'})")
