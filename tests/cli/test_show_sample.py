"""rnncls show-sample: a PNG (path on stdout), a text rendering, predictions given a run,
and never a window (or a wait) without a display."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import TinyRun, assert_one_line_error, make_digits
from PIL import Image
from typer.testing import CliRunner

from rnncls.cli import app

runner = CliRunner()
_, TRAIN_LABELS = make_digits(120, seed=0)
_, TEST_LABELS = make_digits(40, seed=1)


def show(tiny_run: TinyRun, *args: str) -> object:
    return runner.invoke(app, ["show-sample", "--data-dir", str(tiny_run.data), *args])


def test_one_image_into_sample_png(tiny_run: TinyRun, in_tmp: Path) -> None:
    result = show(tiny_run, "--split", "test")
    assert result.exit_code == 0, result.output
    assert result.stdout == "sample.png\n"
    with Image.open(in_tmp / "sample.png") as picture:
        assert picture.format == "PNG" and picture.width > 50
    assert f"test[0] label {TEST_LABELS[0]}" in result.stderr
    assert "@" in result.stderr  # the rendering: the synthetic digits have bright bars


def test_the_training_split_follows_the_runs_config(tiny_run: TinyRun, in_tmp: Path) -> None:
    result = show(tiny_run, "--run", str(tiny_run.run), "--index", "99")
    assert result.exit_code == 0, result.output
    assert re.search(rf"train\[99\] pred \d, label {TRAIN_LABELS[99]}\n", result.stderr)
    too_far = show(tiny_run, "--run", str(tiny_run.run), "--index", "100")
    assert_one_line_error(too_far, 2, "--index 100: the train split has only 100 images")


def test_a_grid_with_predictions(tiny_run: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    result = show(
        tiny_run, "--split", "test", "--index", "3", "--n", "12", "--run", str(tiny_run.run),
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert re.search(rf"test\[3\] pred \d, label {TEST_LABELS[3]} ", result.stderr)
    assert "(the first 8 of 12 images" in result.stderr


def test_show_without_a_display_warns_and_returns(
    tiny_run: TinyRun, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = show(tiny_run, "--split", "test", "--show")
    assert result.exit_code == 0, result.output
    assert "warning: no display" in result.stderr
    assert (in_tmp / "sample.png").is_file()


def test_other_picture_types_follow_the_suffix(tiny_run: TinyRun, tmp_path: Path) -> None:
    result = show(tiny_run, "--split", "test", "--out", str(tmp_path / "sample.svg"))
    assert result.exit_code == 0, result.output
    assert "<svg" in (tmp_path / "sample.svg").read_text()


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--split", "test", "--index", "40"], 2, "the test split has only 40 images"),
        (["--n", "0"], 2, "--n 0"),
        (["--out", "sample.nope"], 2, "cannot draw a .nope file"),
        (["--run", "missing-run"], 1, "run not found"),
    ],
)
def test_bad_options(
    tiny_run: TinyRun, in_tmp: Path, args: list[str], code: int, fragment: str
) -> None:
    assert_one_line_error(show(tiny_run, "--split", "test", *args), code, fragment)


def test_missing_data_is_one_line(in_tmp: Path) -> None:
    result = runner.invoke(app, ["show-sample", "--data-dir", str(in_tmp / "nothing")])
    assert_one_line_error(result, 1, "data folder not found")


def test_the_picture_shows_the_images(band_run: TinyRun, tmp_path: Path) -> None:
    """The digit's own grey levels are in the picture: the band rows of make_digits are
    250, a level that neither the white figure nor its black caption has."""
    out = tmp_path / "one.png"
    assert show(band_run, "--split", "test", "--out", str(out)).exit_code == 0
    pixels = np.asarray(Image.open(out).convert("L"))
    band = np.flatnonzero((pixels == 250).any(axis=1))
    assert band.size >= 2 * 3  # three image rows, drawn at least twice their size
    assert (pixels == 250).sum() >= 4 * 3 * 20  # twenty pixels wide


def test_the_newest_finished_run_answers_by_default_and_wrong_guesses_are_marked(
    tiny_run: TinyRun, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    import rnncls.plots

    drawn: list[dict] = []
    real = rnncls.plots.sample_grid

    def spy(images, captions, path, title="", wrong=None, pixel_max=255):
        drawn.append({"captions": list(captions), "title": title, "wrong": wrong})
        return real(images, captions, path, title=title, wrong=wrong, pixel_max=pixel_max)

    monkeypatch.setattr(rnncls.plots, "sample_grid", spy)
    monkeypatch.chdir(tiny_run.root)  # holds runs/latest -> the tiny run
    out = tmp_path / "grid.png"
    result = show(tiny_run, "--split", "test", "--n", "12", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0].startswith(f"predictions of run {tiny_run.run}")
    assert "(the newest finished run; --no-run for none)" in result.stderr
    answers = runner.invoke(
        app, ["predict", "--data-dir", str(tiny_run.data), "--n", "12", "-f", "jsonl"]
    )
    expected_wrong = [
        r["prediction"] != r["label"] for r in map(json.loads, answers.stdout.splitlines())
    ]
    assert drawn[0]["wrong"] == expected_wrong
    assert any(expected_wrong) and not all(expected_wrong)  # the tiny model errs sometimes
    assert drawn[0]["title"] == f"test images, predictions of {tiny_run.run}"
    assert drawn[0]["captions"][0].startswith("test[0]\npred ")
    plain = show(tiny_run, "--split", "test", "--no-run", "--out", str(out))
    assert plain.exit_code == 0, plain.output
    assert drawn[1]["wrong"] is None and drawn[1]["title"] == "test images"
    assert "pred" not in drawn[1]["captions"][0]
