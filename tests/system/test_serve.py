"""`rnncls serve` as a process: it starts, names its run and address, answers over a real
socket, stops cleanly on SIGTERM and Ctrl-C, and its page works in a real browser
(Debian's Chromium driven by Playwright: no browser download)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import make_digits, write_band_model, write_run
from PIL import Image

STARTUP_GUARD_SECONDS = 60  # a hang guard, not a speed target
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class Served:
    def __init__(self, process: subprocess.Popen, url: str, log: list[str]) -> None:
        self.process, self.url, self.log = process, url, log
        self.later: list[str] = []  # what it says after it listens
        self.reader: threading.Thread | None = None

    def read_log(self) -> None:
        for line in self.process.stderr:
            self.later.append(line)

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path: str) -> tuple[int, dict]:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return answer.status, json.loads(answer.read())


def start_server(run: Path) -> Served:
    """`rnncls serve --port 0` in its own process; its stderr lines until it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rnncls", "serve", "--run", str(run), "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log: list[str] = []
    while True:
        line = process.stderr.readline()
        if not line:
            process.wait(timeout=STARTUP_GUARD_SECONDS)
            pytest.fail(f"rnncls serve ended before it listened: {''.join(log)}")
        log.append(line)
        found = re.match(r"listening on (http://127\.0\.0\.1:\d+/) ", line)
        if found:
            served = Served(process, found.group(1), log)
            # Go on reading its stderr: a full pipe would stop the server mid-test.
            served.reader = threading.Thread(target=served.read_log, daemon=True)
            served.reader.start()
            return served


def stop(served: Served, how: int) -> tuple[int, str]:
    served.process.send_signal(how)
    code = served.process.wait(timeout=STARTUP_GUARD_SECONDS)
    served.reader.join(timeout=STARTUP_GUARD_SECONDS)
    return code, "".join(served.later)


@pytest.fixture
def served(band_run) -> Iterator[Served]:
    running = start_server(band_run.run)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serve_answers_over_a_socket_and_stops_cleanly(served, band_run, how) -> None:
    assert served.log[0] == f"serving model {band_run.run / 'model.onnx'}\n"
    assert served.get("healthz") == (200, {"status": "ok"})
    images, labels = make_digits(3, seed=2)
    status, answer = served.post("predict", png(images[0]), "image/png")
    assert status == 200 and answer["predictions"][0]["prediction"] == labels[0]
    status, answer = served.post("predict", b"not a picture", "image/png")
    assert status == 400 and answer["error"].startswith("body: not an image")
    status, answer = served.post(
        "predict", json.dumps(images.tolist()).encode(), "application/json"
    )
    assert status == 200 and [p["prediction"] for p in answer["predictions"]] == list(labels)
    code, rest = stop(served, how)
    assert (code, rest) == (0, f"stopped ({signal.Signals(how).name})\n")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed; .ci/run installs it")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return found


def draw(page, points: list[tuple[float, float]], button: str = "left") -> None:
    """One stroke through ``points`` (fractions of the pad), with the mouse."""
    box = page.locator("#pad").bounding_box()

    def at(point: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]

    page.mouse.move(*at(points[0]))
    page.mouse.down(button=button)
    for point in points[1:]:
        page.mouse.move(*at(point), steps=10)
    page.mouse.up(button=button)


def test_the_drawing_page_in_a_real_browser(tmp_path) -> None:
    """Draw a digit with mouse moves: the page shows a prediction, the 28x28 picture the
    model read (lit where the stroke went) and ten bars, the best in bold; for a run
    that reads columns, the reading-order view too (the picture transposed). Clear
    empties it all.

    The README's picture is this test's screenshot, of a real run:
    ``RNNCLS_SCREENSHOT=docs/serve-page.png RNNCLS_SCREENSHOT_RUN=RUN pytest -k browser``.
    """
    playwright = pytest.importorskip("playwright.sync_api")
    browser_path = chromium()
    run = Path(os.environ.get("RNNCLS_SCREENSHOT_RUN") or tmp_path / "run")
    if not run.exists():
        write_run(run, {"sequence.order": "columns"}, summary={"steps": 40})
        write_band_model(run / "model.onnx")
    order = reading_order(run)
    served = start_server(run)
    try:
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 900, "height": 620})
            page.goto(served.url)
            page.wait_for_function("document.querySelector('#model').textContent.includes('steps')")
            # the right mouse button does not draw
            draw(page, [(0.2, 0.5), (0.8, 0.5)], button="right")
            assert page.locator("body").get_attribute("data-state") == "empty"
            # a 7: a bar along the top, then down to the lower left
            draw(page, [(0.25, 0.22), (0.75, 0.22), (0.42, 0.82)])
            page.wait_for_selector("body[data-state=answered]")  # the last picture's answer
            shown = int(page.locator("#prediction").text_content())
            assert page.locator("#bars li").count() == 10
            assert page.locator("#bars li.best").count() == 1
            assert page.locator("#bars li.best .digit").text_content() == str(shown)
            weight = page.locator("#bars li.best").evaluate("e => getComputedStyle(e).fontWeight")
            assert int(weight) >= 700
            view = pixels(page, "view")
            assert view.shape == (28, 28) and view.max() > 200
            assert view[:, :2].max() == 0 and view[:, -2:].max() == 0  # fitted in 20x20
            assert view[:10].sum() > view[18:].sum()  # the 7's bar is at the top
            assert page.locator("#reading-figure").is_visible()
            reading = pixels(page, "reading")
            assert np.array_equal(reading.reshape(-1), view.reshape(-1)[order])
            page.screenshot(path=str(tmp_path / "serve.png"))
            if os.environ.get("RNNCLS_SCREENSHOT"):
                page.screenshot(path=os.environ["RNNCLS_SCREENSHOT"])
            page.click("#clear")
            assert page.locator("body").get_attribute("data-state") == "empty"
            assert page.locator("#prediction").text_content() == "\u2013"
            assert pixels(page, "view").max() == 0
            browser.close()
    finally:
        stop(served, signal.SIGTERM)
    assert (tmp_path / "serve.png").stat().st_size > 10_000


def test_a_colour_runs_page_takes_an_uploaded_picture(tmp_path) -> None:
    """A run of colour pictures has no drawing pad: the page offers an upload box, shows
    the picture the model read in colour at the run's size (6 x 4), and a bar a class,
    named as the run names them."""
    from conftest import COLOUR_CLASSES, write_colour_model

    playwright = pytest.importorskip("playwright.sync_api")
    browser_path = chromium()
    run = tmp_path / "colours"
    write_colour_model(run / "model.onnx")
    Image.fromarray(np.full((40, 30, 3), (30, 40, 220), np.uint8)).save(tmp_path / "sky.png")
    served = start_server(run)
    try:
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 900, "height": 620})
            page.goto(served.url)
            page.wait_for_function("document.querySelector('#model').textContent.includes('model')")
            assert not page.locator("#pad").is_visible()
            assert page.locator("#upload-box").is_visible()
            assert page.locator("#heading").text_content() == "Classify a picture"
            names = page.locator("#bars li .digit").all_text_contents()
            assert names == list(COLOUR_CLASSES)
            page.set_input_files("#upload", str(tmp_path / "sky.png"))
            page.wait_for_selector("body[data-state=answered]")
            assert page.locator("#prediction").text_content() == "blue"
            assert page.locator("#bars li.best .digit").text_content() == "blue"
            size = page.evaluate(
                "() => [document.getElementById('view').width, "
                "document.getElementById('view').height]"
            )
            assert size == [4, 6]
            colour = page.evaluate(
                "() => Array.from(document.getElementById('view').getContext('2d')"
                ".getImageData(1, 1, 1, 1).data)"
            )
            assert colour == [30, 40, 220, 255]
            browser.close()
    finally:
        stop(served, signal.SIGTERM)


def test_a_univariate_series_runs_page_draws_a_curve(tmp_path) -> None:
    """A series run's pad takes a curve drawn left to right: high on the pad is high in
    value (the pad spans the mean +- 3 deviations), the view plots what the model read,
    a bar a class."""
    from conftest import SERIES_CLASSES, write_series_model

    playwright = pytest.importorskip("playwright.sync_api")
    browser_path = chromium()
    run = tmp_path / "sums"
    write_series_model(run / "model.onnx", steps=50)
    served = start_server(run)
    try:
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 900, "height": 620})
            page.goto(served.url)
            page.wait_for_function("document.querySelector('#model').textContent.includes('model')")
            assert page.locator("#heading").text_content() == "Draw a series, left to right"
            assert page.locator("#bars li .digit").all_text_contents() == list(SERIES_CLASSES)
            draw(page, [(0.05, 0.2), (0.5, 0.1), (0.95, 0.25)])  # in the upper half: high
            page.wait_for_selector("body[data-state=answered]")
            assert page.locator("#prediction").text_content() == "high"
            page.click("#clear")
            draw(page, [(0.05, 0.8), (0.95, 0.9)])  # the lower half: low
            page.wait_for_selector("body[data-state=answered]")
            assert page.locator("#prediction").text_content() == "low"
            lit = page.evaluate(
                "() => Array.from(document.getElementById('view').getContext('2d')"
                ".getImageData(0, 0, 280, 140).data).filter((v, i) => i % 4 === 2 && v > 100)"
                ".length"
            )
            assert lit > 100  # the curve the model read, plotted
            browser.close()
    finally:
        stop(served, signal.SIGTERM)


def reading_order(run: Path) -> list[int]:
    """The pixel each position of the run's reading takes: for columns, written out here
    (position i is step i // 28, feature i % 28: pixel (i % 28, i // 28)); for another
    order, rnncls.sequence's."""
    from rnncls.config import load_config
    from rnncls.sequence import reading_indices

    sequence = load_config(run / "config.toml").sequence
    if sequence.order == "columns":
        return [(i % 28) * 28 + i // 28 for i in range(784)]
    return reading_indices(sequence).reshape(-1).tolist()


def pixels(page, canvas_id: str) -> np.ndarray:
    """The grey levels of a 28x28 canvas of the page (its red channel)."""
    values = page.evaluate(
        f"""() => Array.from(document.getElementById('{canvas_id}').getContext('2d')
            .getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))"""
    )
    return np.array(values, dtype=np.uint8).reshape(28, 28)
