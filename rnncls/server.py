"""``rnncls serve``: a run's ONNX model over HTTP, and the page where you draw a digit.

Starlette, a small ASGI toolkit, under uvicorn: routing, request streams and multipart
parsing without a validation layer that would cost start-up time (FastAPI imports
pydantic) or a documentation page that loads its scripts from a CDN (these machines are
offline). The OpenAPI description is written out below and served as JSON.

The answers are :func:`rnncls.predict.predict`'s, from the same preprocessing
(:mod:`rnncls.images`), so ``POST /predict`` says what ``rnncls predict --format jsonl``
says, to the last digit. ONNX Runtime and numpy only: TensorFlow is never imported.

Requests never name files on the server. Whatever a request holds (an empty or oversized
body, a text file, a truncated PNG, a decompression bomb, an array of the wrong shape or
with NaN) is a 4xx with ``{"error": "one line"}``, and the next request is answered.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from rnncls import rundir
from rnncls.datasets.description import DataSet
from rnncls.errors import ConfigError, InputError, RunError
from rnncls.predict import (
    NPY_MAGIC,
    OnnxClassifier,
    Pictures,
    describe_model,
    predict,
    softmax,
)
from rnncls.rundir import RunTarget

MAX_BODY_BYTES = 8 * 1024 * 1024  # 10,000 digits as .npy, a phone photo as JPEG
MAX_PIXELS = 4096 * 4096  # a picture's size, read from its header before decoding
# The pixels of all the pictures of one request: 1,000 uploads of 4096x4096 would be
# minutes of work and gigabytes of memory for one request of 2.5 MB.
MAX_REQUEST_PIXELS = 2 * MAX_PIXELS
# Requests decoded at once in worker threads; the others wait their turn. A picture near
# MAX_PIXELS takes about 0.4 GB while it is made MNIST-like, so this bounds the memory.
HEAVY_AT_ONCE = 2
MAX_FILES = 1000  # files in one multipart upload
# A request this small is answered on the event loop itself (a PNG the page sends: 0.6 ms
# of work); a larger one in a worker thread, so that the loop answers others meanwhile.
# Measured with bench/serve_load.py (AMD EPYC, 8 clients): 527 requests/s all in threads,
# 745 with the small ones on the loop.
INLINE_BYTES = 64 * 1024
INLINE_PIXELS = 512 * 512  # a few milliseconds of decoding at most
WEB_DIR = Path(__file__).parent / "web"
PAGE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "draw.js": "text/javascript; charset=utf-8",
    "draw.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "openapi.json": "application/json",  # the API's description, written by hand
}
MEDIA_TYPES = ("image/png", "image/jpeg", "multipart/form-data", "application/json")
NPY_TYPES = ("application/x-npy", "application/octet-stream")
log = logging.getLogger("rnncls.server")


class RequestError(Exception):
    """A request the server will not answer: an HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ServedModel:
    """The classifier that answers, and what ``GET /model`` says of it."""

    classifier: OnnxClassifier
    description: str  # for the log: ``run runs/x (model.onnx, 1200 steps, ...)``
    info: dict[str, Any]


def load_served_model(target: RunTarget | Path) -> ServedModel:
    """The ONNX model of a run directory (or an ``.onnx`` file), with its run's facts."""
    if not isinstance(target, RunTarget):
        target = rundir.resolve_run(target)
    path = target.model
    if path.suffix != ".onnx":
        raise RunError(
            f"{path}: rnncls serve answers from an ONNX model; "
            f"`rnncls export --run {target.path}` writes one"
        )
    classifier = OnnxClassifier(path, threads=1)
    return ServedModel(classifier, describe_model(classifier), model_info(target, classifier))


def model_info(target: RunTarget, classifier: OnnxClassifier) -> dict[str, Any]:
    """Which run and file answer, the data set it reads (shape, classes), its steps and
    accuracies, its config and the order in which it reads a picture (None where the
    model file is outside a run)."""
    from rnncls.config import load_config, written
    from rnncls.sequence import describe, reading_indices, sequence_shape

    dataset = classifier.dataset
    classes = [dataset.class_value(i) for i in range(dataset.num_classes)]
    if dataset.is_series:  # a series' steps and channels, and the range its page draws in
        described = {
            "kind": dataset.kind,
            "steps": dataset.steps,
            "lengths": list(dataset.lengths),
            "channels": dataset.channels,
            "mean": list(dataset.mean),
            "std": list(dataset.std),
            "classes": classes,
        }
    else:
        height, width, channels = dataset.shape
        described = {
            "kind": dataset.kind,
            "height": height,
            "width": width,
            "channels": channels,
            "pixel_max": dataset.pixel_max,
            "preparation": dataset.preparation,
            "classes": classes,
        }
    info: dict[str, Any] = {
        "model": str(target.model),
        "backend": "onnx",
        "run": None,
        "dataset": described,
    }
    folder = target.folder
    if folder is None or not (folder / rundir.CONFIG_FILE).is_file():
        return {**info, "steps": None, "test_accuracy": None, "config": None, "sequence": None}
    try:
        summary = rundir.read_summary(folder) or {}
    except RunError:
        summary = {}
    config = load_config(folder / rundir.CONFIG_FILE)
    steps, features = sequence_shape(config.sequence, dataset.shape)
    return {
        **info,
        "run": str(folder),
        "steps": summary.get("steps"),
        "validation_accuracy": summary.get("validation_accuracy"),
        "test_accuracy": summary.get("test_accuracy"),
        "config": written(config),
        "sequence": {
            "order": config.sequence.order,
            "steps": steps,
            "features": features,
            "description": describe(config.sequence, dataset.shape),
            # the index into the row-major (height, width, channels) picture that each
            # (step, feature) reads, step after step
            "indices": None
            if dataset.is_series
            else reading_indices(config.sequence, dataset.shape).reshape(-1).tolist(),
        },
    }


# ---------------------------------------------------------------------- requests


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def images_from_json(
    body: bytes, dataset: DataSet, name: str = "body"
) -> tuple[np.ndarray, list[str]]:
    """A JSON array of pixels in the run's shape (for MNIST 28x28, N x 28x28 or N x 784;
    integers 0..255, or floats 0..1 or 0..255) as the run's pictures, read as
    ``rnncls predict`` reads a .npy array."""
    from rnncls.predict import array_images

    if dataset.is_series:  # a series, or several: a list of arrays to pad
        from rnncls.series import json_series

        found = json_series(body.decode("utf-8", errors="replace"), name, dataset.channels)
        return found, [name] if len(found) == 1 else [f"{name}[{i}]" for i in range(len(found))]
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise InputError(f"{name}: not valid JSON") from None
    if not isinstance(value, list):
        raise InputError(
            f"{name}: expected a JSON array of grey levels, got a {type(value).__name__}"
        )
    try:
        array = np.array(value)
    except (ValueError, OverflowError, TypeError):
        raise InputError(f"{name}: not a rectangular array of numbers") from None
    return array_images(array, name, dataset)


def images_from_bytes(content: bytes, name: str, dataset: DataSet) -> tuple[np.ndarray, list[str]]:
    """A picture (PNG, JPEG, ...) or a ``.npy`` array, told apart by their first bytes."""
    from rnncls.images import read_picture
    from rnncls.predict import npy_images

    if not content:
        raise InputError(f"{name}: empty; expected a picture or a .npy array")
    if dataset.is_series:
        from rnncls.predict import load_npy
        from rnncls.series import array_to_series

        if not content.startswith(NPY_MAGIC):
            raise InputError(f"{name}: a series run reads JSON arrays or .npy arrays")
        found = array_to_series(load_npy(content, name), name, dataset.channels)
        return found, [name] if len(found) == 1 else [f"{name}[{i}]" for i in range(len(found))]
    if content.startswith(NPY_MAGIC):
        return npy_images(content, name, dataset)
    return read_picture(content, name, dataset, MAX_PIXELS)[np.newaxis], [name]


def declared_pixels(content: bytes) -> int:
    """The pixels a picture's header declares (0 for anything that is not a picture)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(content)) as picture:
            return picture.width * picture.height
    except Exception:  # noqa: BLE001 - not a picture: its own error comes when it is read
        return 0


def check_request_pixels(contents: list[bytes]) -> None:
    """Refuse (413) a request whose pictures declare more than MAX_REQUEST_PIXELS in all,
    from their headers, before any is decoded."""
    total = sum(declared_pixels(content) for content in contents)
    if total > MAX_REQUEST_PIXELS:
        raise RequestError(
            413, f"pictures of {total:,} pixels in all; at most {MAX_REQUEST_PIXELS:,} a request"
        )


def is_small(body: bytes) -> bool:
    """Whether answering ``body`` costs little: a few kilobytes, and where it is a picture,
    one that declares at most INLINE_PIXELS (read from its header: a small PNG may
    declare millions)."""
    if len(body) > INLINE_BYTES:
        return False
    if body.startswith(NPY_MAGIC) or body[:1] in (b"[", b" ", b"\n", b"\r", b"\t"):
        return True  # an array of at most INLINE_BYTES
    return declared_pixels(body) <= INLINE_PIXELS


def upload_name(filename: str | None, index: int) -> str:
    """An uploaded file's name as the client gave it, without folders (never a path on
    this machine), or ``file[i]``."""
    name = PurePath((filename or "").replace("\\", "/")).name
    return name or f"file[{index}]"


def join(found: list[tuple[Any, list[str]]], dataset: DataSet) -> Pictures:
    """The examples of a request in one batch: pictures side by side, series padded."""
    if dataset.is_series:
        from rnncls.series import pad

        examples = pad([one for series, _ in found for one in series], dataset.channels)
    else:
        examples = np.concatenate([images for images, _ in found])
    return Pictures(examples, sources=[source for _, sources in found for source in sources])


def query_top_k(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        top_k = int(value)
    except ValueError:
        raise InputError(f"top_k={value}: not a whole number") from None
    if top_k < 1:
        raise InputError(f"top_k={top_k}: must be at least 1")
    return top_k


def query_flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes", ""):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise InputError(f"{name}={value}: expected true or false")


def answer(model: ServedModel, inputs: Pictures, top_k: int | None, image: bool) -> dict:
    """The JSON of ``POST /predict``: one record a picture, as ``rnncls predict --format
    jsonl`` writes it (the same function makes it), with every class's probability and,
    asked for, the picture the model read (height x width, or height x width x channels
    for colour)."""
    logits = model.classifier.logits(inputs.images)
    probabilities = softmax(logits)
    records = []
    computed = _Computed(logits, model.classifier.dataset)
    for index, prediction in enumerate(predict(computed, inputs, top_k)):
        record = prediction.to_json()
        record["probabilities"] = [round(float(p), 6) for p in probabilities[index]]
        if image:
            record["image"] = read_as(inputs.images[index], model.classifier.dataset)
        records.append(record)
    return {"predictions": records}


def read_as(example: np.ndarray, dataset: DataSet) -> list[Any]:
    """What the model read, for ``?image=true``: a grey picture's rows, a colour one's
    rows of pixels, a series' steps (its padding left out, a missing value null)."""
    if dataset.is_series:
        from rnncls.series import trimmed

        steps = trimmed(example, "series")
        return [[None if np.isnan(v) else float(v) for v in step] for step in steps]
    return (example[..., 0] if example.shape[-1] == 1 else example).tolist()


class _Computed:
    """Logits already computed, as a classifier for :func:`predict`: the model runs once
    for the prediction and the ten probabilities."""

    def __init__(self, logits: np.ndarray, dataset: DataSet) -> None:
        self._logits, self.dataset = logits, dataset

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._logits


# ---------------------------------------------------------------------- the application


async def read_body(request: Any) -> bytes:
    """The whole body, refused (413) as soon as it is longer than MAX_BODY_BYTES: a
    declared length is checked before reading, a chunked body while it arrives."""
    limit = MAX_BODY_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"request body of {int(declared):,} bytes; at most {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"request body over {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_uploads(request: Any, body: bytes) -> list[tuple[bytes, str]]:
    """Every file of a multipart upload (its content and name), each to be a picture or a
    .npy array."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream() -> Any:
        yield body

    parser = MultiPartParser(
        request.headers, stream(), max_files=MAX_FILES, max_fields=100, max_part_size=MAX_BODY_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InputError(f"multipart body: {exc.message}") from None
    found = []
    try:
        for index, (field, value) in enumerate(form.multi_items()):
            if isinstance(value, str):
                raise InputError(f"multipart field {field!r} is not a file upload")
            found.append((await value.read(), upload_name(value.filename, index)))
    finally:
        await form.close()
    if not found:
        raise InputError("multipart body: no files")
    return found


async def predict_endpoint(request: Any) -> Any:
    """``POST /predict``: pictures or arrays in, digits and probabilities out."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    model: ServedModel = request.app.state.model
    top_k = query_top_k(request.query_params.get("top_k"))
    image = query_flag("image", request.query_params.get("image"))
    kind = media_type(request.headers.get("content-type"))
    if kind not in (*MEDIA_TYPES, *NPY_TYPES) and not kind.startswith("image/"):
        shown = kind or "none"
        raise RequestError(
            415, f"content type {shown}; send {', '.join(MEDIA_TYPES)} or application/x-npy"
        )
    body = await read_body(request)
    if not body:
        raise InputError("empty request body; send a picture or a JSON array of grey levels")
    files = await read_uploads(request, body) if kind == "multipart/form-data" else None

    dataset = model.classifier.dataset

    def work() -> dict:  # decoding and the model
        if files is not None:
            found = [images_from_bytes(content, name, dataset) for content, name in files]
        elif kind == "application/json":
            found = [images_from_json(body, dataset)]
        else:
            found = [images_from_bytes(body, "body", dataset)]
        return answer(model, join(found, dataset), top_k, image)

    if files is None and is_small(body):
        return JSONResponse(work())
    check_request_pixels([content for content, _ in files] if files is not None else [body])
    heavy: Any = request.app.state.heavy
    async with heavy:  # the answer is rendered in the thread too: 10,000 images are 30 MB
        return await run_in_threadpool(lambda: JSONResponse(work()))


async def model_endpoint(request: Any) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(request.app.state.model.info)


async def health_endpoint(request: Any) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"status": "ok"})


def page_endpoint(name: str) -> Any:
    """The drawing page's files, read once: they ship in the package (no CDN, no build)."""
    from starlette.responses import Response

    content = (WEB_DIR / name).read_bytes()
    media = PAGE_FILES[name]

    async def endpoint(request: Any) -> Any:
        return Response(content, media_type=media, headers={"Cache-Control": "no-cache"})

    return endpoint


async def request_error(request: Any, exc: Exception) -> Any:
    """Every refusal as JSON with one line: ours, the inputs', and Starlette's own (404,
    405)."""
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse

    if isinstance(exc, RequestError):
        status = exc.status
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        exc = Exception(exc.detail)
    else:  # InputError, ConfigError: what the request held
        status = 400
    return JSONResponse({"error": " ".join(str(exc).split())}, status_code=status)


async def server_error(request: Any, exc: Exception) -> Any:
    from starlette.responses import JSONResponse

    log.exception("error answering %s %s", request.method, request.url.path)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)


def create_app(model: ServedModel) -> Any:
    """The ASGI application answering from ``model``."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    routes = [
        Route("/", page_endpoint("index.html")),
        Route("/draw.js", page_endpoint("draw.js")),
        Route("/draw.css", page_endpoint("draw.css")),
        Route("/favicon.ico", page_endpoint("favicon.svg")),
        Route("/favicon.svg", page_endpoint("favicon.svg")),
        Route("/predict", predict_endpoint, methods=["POST"]),
        Route("/model", model_endpoint),
        Route("/healthz", health_endpoint),
        Route("/openapi.json", page_endpoint("openapi.json")),
    ]
    handlers = {
        RequestError: request_error,
        InputError: request_error,
        ConfigError: request_error,
        HTTPException: request_error,
        Exception: server_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
    app.state.model = model
    app.state.heavy = asyncio.Semaphore(HEAVY_AT_ONCE)  # bound to a loop at first use
    return app


# ---------------------------------------------------------------------- running it


def listen(host: str, port: int) -> Any:
    """A listening socket, bound here so that a port in use is one line, and ``--port 0``
    (any free port) can be told."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say
        # they are TCP, and without it Nagle's algorithm holds each answer's body back
        # until the client's delayed ACK: 40 ms a request on a kept-alive connection.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        raise RunError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def url_of(sock: Any) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve_forever(model: ServedModel, sock: Any) -> str | None:
    """Answer on ``sock`` until SIGINT or SIGTERM; the name of the signal that stopped it.

    uvicorn finishes the requests under way, then (since 0.29) raises the signal again
    so that the process dies of it; a server told to stop has stopped cleanly, so that
    last step is left out and the command exits 0.
    """
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        stopped_by: int | None = None

        def handle_exit(self, sig: int, frame: Any) -> None:
            Server.stopped_by = sig
            super().handle_exit(sig, frame)
            getattr(self, "_captured_signals", []).clear()

    config = uvicorn.Config(
        create_app(model),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    Server(config).run(sockets=[sock])
    return None if Server.stopped_by is None else signal.Signals(Server.stopped_by).name
