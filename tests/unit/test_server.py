"""rnncls.server in this process (Starlette's TestClient): predictions checked against the
band model's answers computed with numpy alone and against `rnncls predict`; every bad
request a 4xx with one line, and the next request answered."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import band_logits, invoke, make_digits, write_band_model, write_run
from PIL import Image

from rnncls import server
from rnncls.config_keys import Config


@pytest.fixture(scope="module")
def client(band_run):
    from starlette.testclient import TestClient

    app = server.create_app(server.load_served_model(band_run.run))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def expected_probabilities(images: np.ndarray) -> np.ndarray:
    """Softmax of the band model's logits, written out here."""
    logits = band_logits(images)
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def assert_answers(records: list[dict], images: np.ndarray) -> None:
    expected = expected_probabilities(images)
    assert len(records) == len(images)
    for record, row in zip(records, expected, strict=True):
        assert record["prediction"] == int(np.argmax(row))
        assert record["probability"] == pytest.approx(row.max(), abs=1e-6)
        assert record["probabilities"] == pytest.approx(row.tolist(), abs=1e-6)


def assert_good_request_answered(client) -> None:
    images, labels = make_digits(1, seed=7)
    answer = client.post("/predict", content=png(images[0]), headers=IMAGE_PNG)
    assert answer.status_code == 200
    assert answer.json()["predictions"][0]["prediction"] == labels[0]


IMAGE_PNG = {"Content-Type": "image/png"}


# ---------------------------------------------------------------------- answers


def test_a_png_body_is_answered_as_rnncls_predict_answers_it(client, band_run, tmp_path):
    images, labels = make_digits(1, seed=3)
    path = tmp_path / "digit.png"
    path.write_bytes(png(images[0]))
    answer = client.post("/predict?top_k=3", content=path.read_bytes(), headers=IMAGE_PNG)
    assert answer.status_code == 200
    record = answer.json()["predictions"][0]
    assert_answers([record], images)
    assert record["prediction"] == labels[0]
    printed = invoke("predict", path, "--run", band_run.run, "--format", "jsonl", "--top-k", 3)
    assert printed.exit_code == 0, printed.output
    from_cli = json.loads(printed.stdout)
    assert record["source"] == "body" and from_cli["source"] == str(path)
    for key in ("prediction", "probability", "top_k"):
        assert record[key] == from_cli[key]  # to the last digit printed
    assert [entry["class"] for entry in record["top_k"]] == list(
        np.argsort(-expected_probabilities(images)[0], kind="stable")[:3]
    )


@pytest.mark.parametrize(
    "shape",
    [(28, 28), (1, 28, 28), (3, 28, 28), (3, 784), (784,)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_json_arrays_of_grey_levels(client, shape) -> None:
    count = int(np.prod(shape)) // 784
    images, _ = make_digits(count, seed=5)
    body = json.dumps(images.reshape(shape).tolist())
    answer = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    records = answer.json()["predictions"]
    assert_answers(records, images)
    single = shape in ((28, 28), (784,))
    names = ["body"] if single else [f"body[{i}]" for i in range(count)]
    assert [record["source"] for record in records] == names


def test_json_floats_from_0_to_1_are_the_models_own_scale(client) -> None:
    images, _ = make_digits(2, seed=6)
    body = json.dumps((images / 255.0).tolist())
    answer = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    assert_answers(answer.json()["predictions"], images)


def test_a_multipart_upload_of_pictures_and_arrays_in_order(client) -> None:
    images, _ = make_digits(4, seed=8)
    npy = io.BytesIO()
    np.save(npy, images[2:])
    files = [
        ("a", ("../../etc/first.png", png(images[0]), "image/png")),
        ("b", ("C:\\Users\\me\\second.png", png(images[1]), "image/png")),
        ("c", ("more.npy", npy.getvalue(), "application/octet-stream")),
    ]
    answer = client.post("/predict", files=files)
    assert answer.status_code == 200, answer.text
    records = answer.json()["predictions"]
    assert_answers(records, images)
    # the client's names without their folders: no path of any machine comes back
    assert [r["source"] for r in records] == [
        "first.png",
        "second.png",
        "more.npy[0]",
        "more.npy[1]",
    ]


def test_a_npy_body(client) -> None:
    images, _ = make_digits(2, seed=9)
    buffer = io.BytesIO()
    np.save(buffer, images)
    headers = {"Content-Type": "application/x-npy"}
    answer = client.post("/predict", content=buffer.getvalue(), headers=headers)
    assert answer.status_code == 200
    assert_answers(answer.json()["predictions"], images)


def test_image_gives_the_28x28_picture_the_model_read(client) -> None:
    """A 28x28 digit is read as it is; a large dark-on-white picture of it is turned
    light-on-dark and fitted into MNIST's 20x20 box (the same as rnncls predict)."""
    from rnncls.images import to_mnist

    images, _ = make_digits(1, seed=10)
    answer = client.post("/predict?image=true", content=png(images[0]), headers=IMAGE_PNG)
    assert np.array_equal(np.array(answer.json()["predictions"][0]["image"]), images[0])
    big = np.kron(255 - images[0], np.ones((4, 4), np.uint8))  # 112x112, dark on white
    answer = client.post("/predict?image=1", content=png(big), headers=IMAGE_PNG)
    seen = np.array(answer.json()["predictions"][0]["image"])
    assert seen.shape == (28, 28) and seen.dtype.kind == "i"
    assert np.array_equal(seen, to_mnist(big.astype(np.float64)))
    assert seen[0].max() == 0 and seen.max() == 255  # light on dark, margins empty
    without = client.post("/predict", content=png(images[0]), headers=IMAGE_PNG)
    assert "image" not in without.json()["predictions"][0]


# ---------------------------------------------------------------------- bad requests


def bomb(width: int, height: int) -> bytes:
    """A PNG of a few kilobytes that declares width x height pixels."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def float_tiff(value: float) -> bytes:
    """A 30x30 float TIFF with one pixel ``value`` (NaN or infinity)."""
    pixels = np.zeros((30, 30), np.float32)
    pixels[10, 10] = value
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="F").save(buffer, format="TIFF")
    return buffer.getvalue()


def huge_npy_header() -> bytes:
    """A .npy header that declares 10**13 x 28 x 28 bytes, and 100 bytes of data."""
    buffer = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**13, 28, 28)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + bytes(100)


def nan_array() -> str:
    return json.dumps([[0.5] * 28] * 27 + [[0.5] * 27 + [float("nan")]])


JSON = {"Content-Type": "application/json"}
BAD_REQUESTS = {
    "empty-body": (b"", IMAGE_PNG, 400, "empty request body"),
    "text-file": (b"just some text\n", IMAGE_PNG, 400, "body: not an image (PNG or JPEG)"),
    "truncated-png": (None, IMAGE_PNG, 400, "body: cannot read the image (image file is truncated"),
    "bomb-20000": (bomb(20000, 20000), IMAGE_PNG, 400, "body: "),
    "bomb-5000": (
        bomb(5000, 5000),
        IMAGE_PNG,
        400,
        "body: a picture of 5000 x 5000 pixels; at most 16,777,216",
    ),
    "wrong-shape": (
        json.dumps([[1, 2, 3]]),
        JSON,
        400,
        "body: array of shape (1, 3); expected (28, 28)",
    ),
    "ragged": (json.dumps([[1, 2], [3]]), JSON, 400, "body: not a rectangular array of numbers"),
    "strings": (
        json.dumps([["a"] * 28] * 28),
        JSON,
        400,
        "body: array of <U1; expected integer or float pixels",  # as predict says of .npy
    ),
    "nan": (nan_array(), JSON, 400, "body: the array holds NaN or infinite values"),
    "not-json": (b"[1, 2", JSON, 400, "body: not valid JSON"),
    "json-object": (
        json.dumps({"images": []}),
        JSON,
        400,
        "body: expected a JSON array of grey levels, got a dict",
    ),
    "out-of-range": (
        json.dumps([[300] * 28] * 28),
        JSON,
        400,
        "body: pixel values from 300 to 300; expected 0..255",
    ),
    "text-plain": (
        b"1 2 3",
        {"Content-Type": "text/plain"},
        415,
        "content type text/plain; send image/png",
    ),
    "no-type": (b"1 2 3", {}, 415, "content type none; send"),
    "npy-damaged": (
        b"\x93NUMPY garbage",
        {"Content-Type": "application/x-npy"},
        400,
        "body: not a readable .npy array",
    ),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_every_bad_request_is_a_4xx_with_one_line_and_the_next_is_answered(client, name):
    body, headers, status, fragment = BAD_REQUESTS[name]
    if body is None:  # a PNG cut in half
        body = png(make_digits(1)[0][0])[:80]
    elif callable(body):  # made when used: a 20,000 x 20,000 picture takes a while
        body = body()
    answer = client.post("/predict", content=body, headers=headers)
    assert answer.status_code == status
    error = answer.json()
    assert list(error) == ["error"] and "\n" not in error["error"]
    assert error["error"].startswith(fragment), error["error"]
    assert_good_request_answered(client)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("top_k=0", "top_k=0: must be at least 1"),
        ("top_k=x", "top_k=x: not a whole number"),
        ("image=maybe", "image=maybe: expected true or false"),
    ],
)
def test_bad_query_parameters(client, query, message) -> None:
    images, _ = make_digits(1)
    answer = client.post(f"/predict?{query}", content=png(images[0]), headers=IMAGE_PNG)
    assert (answer.status_code, answer.json()) == (400, {"error": message})


def test_a_body_over_the_limit_is_413_whether_its_length_is_declared_or_not(client, monkeypatch):
    monkeypatch.setattr(server, "MAX_BODY_BYTES", 1000)
    images, _ = make_digits(1)
    big = json.dumps(images.tolist()).encode()  # 28x28 numbers: over 1,000 bytes
    answer = client.post("/predict", content=big, headers=JSON)
    assert answer.status_code == 413
    assert answer.json() == {"error": f"request body of {len(big):,} bytes; at most 1,000"}

    def chunks():  # no Content-Length: the body is refused while it arrives
        for start in range(0, len(big), 100):
            yield big[start : start + 100]

    answer = client.post("/predict", content=chunks(), headers=JSON)
    assert (answer.status_code, answer.json()) == (413, {"error": "request body over 1,000 bytes"})
    monkeypatch.undo()
    assert_good_request_answered(client)


def test_a_request_whose_pictures_declare_too_many_pixels_in_all_is_413(client) -> None:
    """Each 4096 x 4096 picture is allowed alone; three in one upload are not, refused
    from their headers before any is decoded."""
    big = bomb(4096, 4096)
    files = [(f"f{i}", (f"{i}.png", big, "image/png")) for i in range(3)]
    answer = client.post("/predict", files=files)
    assert answer.status_code == 413
    assert answer.json() == {
        "error": f"pictures of {3 * 4096 * 4096:,} pixels in all; at most {2 * 4096 * 4096:,} "
        "a request"
    }
    assert_good_request_answered(client)


def test_multipart_fields_that_are_not_files_and_uploads_without_files(client) -> None:
    answer = client.post("/predict", data={"path": "/etc/passwd"}, files={"f": ("a.png", b"x")})
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "multipart field 'path' is not a file upload"},
    )
    empty = client.post(
        "/predict",
        content=b"--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert (empty.status_code, empty.json()) == (400, {"error": "multipart body: no files"})
    assert_good_request_answered(client)


def test_routes_the_server_does_not_have(client) -> None:
    assert (client.get("/predict").status_code, client.get("/predict").json()) == (
        405,
        {"error": "Method Not Allowed"},
    )
    assert (client.get("/etc/passwd").status_code, client.get("/x").json()) == (
        404,
        {"error": "Not Found"},
    )


# ---------------------------------------------------------------------- the rest of the API


def test_healthz_and_the_page_files(client) -> None:
    assert (client.get("/healthz").status_code, client.get("/healthz").json()) == (
        200,
        {"status": "ok"},
    )
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<canvas id="pad"' in page.text and 'src="draw.js"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from other hosts
    pieces = [("/draw.js", "text/javascript"), ("/draw.css", "text/css")]
    pieces += [("/favicon.ico", "image/svg+xml"), ("/favicon.svg", "image/svg+xml")]
    for path, kind in pieces:
        answer = client.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind)
        text = answer.text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name only
        assert "http://" not in text and "https://" not in text


def test_the_openapi_description_lists_the_routes_the_app_has(client) -> None:
    spec = client.get("/openapi.json").json()
    app_paths = {route.path for route in client.app.routes}
    page = {"/draw.js", "/draw.css", "/favicon.ico", "/favicon.svg", "/openapi.json"}
    assert set(spec["paths"]) == app_paths - page
    assert set(spec["paths"]["/predict"]["post"]["requestBody"]["content"]) == {
        *server.MEDIA_TYPES,
        "application/x-npy",
    }


def test_model_of_a_model_file_outside_a_run(client, band_run) -> None:
    info = client.get("/model").json()
    assert info == {
        "model": str(band_run.run / "model.onnx"),
        "backend": "onnx",
        "run": None,
        "dataset": {  # a model from before descriptions: MNIST's digits
            "kind": "pictures",
            "height": 28,
            "width": 28,
            "channels": 1,
            "pixel_max": 255,
            "preparation": "digits",
            "classes": list(range(10)),
        },
        "steps": None,
        "test_accuracy": None,
        "config": None,
        "sequence": None,
    }


def test_model_of_a_run_tells_its_steps_accuracy_config_and_reading(tmp_path) -> None:
    """A run that reads columns: pixel (r, c) is read at step c, feature r, so position
    i of the reading takes pixel (i % 28) * 28 + i // 28."""
    from starlette.testclient import TestClient

    run = write_run(
        tmp_path / "run",
        {"sequence.order": "columns"},
        summary={"steps": 1200, "test_accuracy": 0.97, "validation_accuracy": 0.98},
    )
    write_band_model(run / "model.onnx")
    with TestClient(server.create_app(server.load_served_model(run))) as test_client:
        info = test_client.get("/model").json()
    assert (info["run"], info["steps"], info["test_accuracy"]) == (str(run), 1200, 0.97)
    assert info["config"]["sequence"]["order"] == "columns"
    assert info["config"]["model"]["hidden_units"] == Config().model.hidden_units
    sequence = info["sequence"]
    assert (sequence["order"], sequence["steps"], sequence["features"]) == ("columns", 28, 28)
    assert sequence["indices"] == [(i % 28) * 28 + i // 28 for i in range(784)]
    assert sequence["description"] == "28 columns of 28 pixels"


def test_serve_answers_only_from_onnx(tmp_path) -> None:
    (tmp_path / "model.keras").write_bytes(b"")
    result = invoke("serve", "--run", tmp_path / "model.keras", "--port", 0)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path / 'model.keras'}: rnncls serve answers from an ONNX model; "
        f"`rnncls export --run {tmp_path / 'model.keras'}` writes one\n"
    )


def test_serve_refuses_a_port_out_of_range_and_a_port_in_use(band_run) -> None:
    import socket

    result = invoke("serve", "--run", band_run.run, "--port", 70000)
    assert (result.exit_code, result.stderr) == (
        2,
        "error: --port 70000: must be from 0 to 65535\n",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", "--run", band_run.run, "--port", port)
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


def test_the_server_never_imports_tensorflow(band_run) -> None:
    code = f"""
import sys
from pathlib import Path
from starlette.testclient import TestClient
from rnncls import server
from conftest import make_digits
import io
from PIL import Image
app = server.create_app(server.load_served_model(Path({str(band_run.run)!r})))
buffer = io.BytesIO()
Image.fromarray(make_digits(1)[0][0]).save(buffer, format="PNG")
with TestClient(app) as client:
    headers = {{"Content-Type": "image/png"}}
    assert client.post("/predict", content=buffer.getvalue(), headers=headers).status_code == 200
    assert client.get("/model").status_code == 200
print(sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras")))
"""
    tests = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tests, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_which_requests_are_answered_on_the_event_loop() -> None:
    """Small ones: a page's PNG, a small array; a picture that declares more than 512 x 512
    pixels (whatever its bytes) or any body over 64 KiB goes to a worker thread."""
    images, _ = make_digits(2)
    assert server.is_small(png(np.kron(images[0], np.ones((10, 10), np.uint8))))  # 280x280
    assert server.is_small(json.dumps(images.tolist()).encode())
    assert not server.is_small(bomb(513, 512))  # a few hundred bytes, over 512x512 pixels
    assert server.is_small(bomb(512, 512))
    assert not server.is_small(b"[" + b"0," * 40_000 + b"0]")  # 80 KB of JSON
    assert server.is_small(b"not a picture")  # its error is quick to make


def test_a_picture_of_exactly_the_pixel_limit_is_read() -> None:
    from rnncls.errors import InputError
    from rnncls.images import decode_image

    with pytest.raises(InputError, match=r"^p: no digit found"):  # read, and blank
        decode_image(bomb(4, 4), "p", max_pixels=16)
    with pytest.raises(InputError, match=r"^p: a picture of 5 x 4 pixels; at most 16 pixels"):
        decode_image(bomb(5, 4), "p", max_pixels=16)


def test_the_server_runs_each_onnx_call_on_one_thread(band_run) -> None:
    """Many small requests at once: one ONNX Runtime thread a call, not one a core."""
    served = server.load_served_model(band_run.run)
    assert served.classifier.session.get_session_options().intra_op_num_threads == 1


# ---------------------------------------------------------------------- a colour run


@pytest.fixture
def colour_client(tmp_path):
    from conftest import write_colour_model
    from starlette.testclient import TestClient

    model = server.load_served_model(write_colour_model(tmp_path / "colours.onnx"))
    with TestClient(server.create_app(model)) as client:
        yield client


def test_a_colour_run_answers_with_its_class_names(colour_client) -> None:
    """A 6 x 4 colour run named red, green, blue: a picture of any size is resized to 6 x 4
    (a flat one stays flat), its three channels kept; JSON arrays take its shape."""
    from conftest import COLOUR_CLASSES

    info = colour_client.get("/model").json()
    assert info["dataset"] == {
        "kind": "pictures",
        "height": 6,
        "width": 4,
        "channels": 3,
        "pixel_max": 255,
        "preparation": "plain",
        "classes": list(COLOUR_CLASSES),
    }
    buffer = io.BytesIO()
    Image.fromarray(np.full((30, 50, 3), (10, 200, 30), np.uint8)).save(buffer, "PNG")
    answer = colour_client.post(
        "/predict?image=true&top_k=2", content=buffer.getvalue(), headers=IMAGE_PNG
    ).json()
    (record,) = answer["predictions"]
    assert record["prediction"] == "green" and record["top_k"][1]["class"] == "blue"  # 30 > 10
    assert np.array(record["image"]).shape == (6, 4, 3)
    assert np.array(record["image"])[0, 0].tolist() == [10, 200, 30]
    blue = np.zeros((2, 6, 4, 3), np.uint8)
    blue[..., 2] = 255
    answer = colour_client.post("/predict", json=blue.tolist()).json()
    assert [r["prediction"] for r in answer["predictions"]] == ["blue", "blue"]
    grey = colour_client.post("/predict", json=np.zeros((6, 4)).tolist())
    assert grey.status_code == 400
    assert grey.json() == {
        "error": "body: array of shape (6, 4); expected (6, 4, 3), (N, 6, 4, 3) or (N, 72)"
    }
