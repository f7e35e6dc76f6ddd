"""rnncls.plots: what the figures show, read back from the files they write (pixels of a
PNG whose cells have known brightness) and from the figure that was drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rnncls import plots
from rnncls.errors import ConfigError, RunError

# Grey levels no figure draws on its own (white paper, black text, anti-aliased edges
# are rarely exactly these), each filling a whole digit.
LEVELS = (40, 120, 200)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures the plots module saves, kept for the test to look at."""
    figures: list[Any] = []
    save = plots.save_figure

    def keep(figure: Any, path: Path) -> Path:
        figures.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figures


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("L"))


def columns_of(grey: np.ndarray, level: int) -> np.ndarray:
    return np.flatnonzero((grey == level).any(axis=0))


# ---------------------------------------------------------------------- sample grid


def test_sample_grid_draws_each_digit_in_its_cell_at_its_brightness(tmp_path: Path) -> None:
    images = np.stack([np.full((28, 28), level, np.uint8) for level in LEVELS])
    path = plots.sample_grid(images, ["a", "b", "c"], tmp_path / "grid.png")
    assert path == tmp_path / "grid.png"
    grey = pixels(path)
    spans = []
    for level in LEVELS:
        rows = np.flatnonzero((grey == level).any(axis=1))
        cols = columns_of(grey, level)
        assert cols.size, f"no cell of grey level {level}: the digit was not drawn"
        # a square block: a digit fills its cell, it is not a stray pixel of a caption
        assert (grey == level).sum() >= 0.8 * cols.size * rows.size
        assert abs(cols.size - rows.size) <= 2
        spans.append((cols.min(), cols.max()))
    # left to right in the order given, side by side in one row
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0]


def test_sample_grid_bright_stroke_sits_where_the_digit_has_it(tmp_path: Path) -> None:
    digit = np.zeros((28, 28), np.uint8)
    digit[:, 21:] = 230  # the right quarter lit, from top to bottom
    grey = pixels(plots.sample_grid(digit[np.newaxis], ["x"], tmp_path / "one.png"))
    dark, lit = columns_of(grey, 0), columns_of(grey, 230)
    assert dark.size > 100 and lit.size, "a single digit is drawn large (2.8 inches)"
    assert lit.min() > dark.max()  # the stroke is right of the dark field
    assert abs(lit.size * 3 - dark.size) <= 6  # 7 columns to 21
    lit_rows = np.flatnonzero((grey == 230).any(axis=1))
    assert abs(lit_rows.size - (dark.size + lit.size)) <= 3  # as tall as the digit is wide


def test_sample_grid_layout_and_captions(drawn: list[Any], tmp_path: Path) -> None:
    images = np.zeros((12, 28, 28), np.uint8)
    images[:, 3, 4] = np.arange(12) * 20
    captions = [f"digit {index}" for index in range(12)]
    plots.sample_grid(images, captions, tmp_path / "grid.png")
    axes = drawn[0].axes
    assert len(axes) == 20  # two rows of ten
    shown = [a for a in axes if a.images]
    assert len(shown) == 12
    for index, a in enumerate(shown):
        assert a.get_title() == captions[index]
        assert a.images[0].get_array()[3, 4] == index * 20
        assert a.images[0].get_clim() == (0, 255)
        assert a.images[0].get_cmap().name == "gray"
        assert not a.axison
    assert all(not a.axison and not a.get_title() for a in axes if not a.images)


def test_sample_grid_marks_wrong_guesses_in_red(drawn: list[Any], tmp_path: Path) -> None:
    images = np.zeros((3, 28, 28), np.uint8)
    plots.sample_grid(
        images, ["a", "b", "c"], tmp_path / "g.png", title="guesses", wrong=[False, True, False]
    )
    figure = drawn[0]
    colours = [a.title.get_color() for a in figure.axes]
    assert colours == ["black", "tab:red", "black"]
    assert {a.title.get_fontsize() for a in figure.axes} == {8}
    assert figure.get_suptitle() == "guesses"
    assert figure._suptitle.get_fontsize() == 9
    assert all(a.images[0].get_interpolation() == "nearest" for a in figure.axes)


def test_a_single_sample_has_larger_captions(drawn: list[Any], tmp_path: Path) -> None:
    plots.sample_grid(np.zeros((1, 28, 28), np.uint8), ["7"], tmp_path / "g.png", title="one")
    (axes,) = drawn[0].axes
    assert (axes.get_title(), axes.title.get_fontsize()) == ("7", 11)
    assert axes.title.get_color() == "black"  # nothing said wrong: none is red
    assert drawn[0]._suptitle.get_fontsize() == 10


def test_two_samples_are_a_grid_with_small_captions(drawn: list[Any], tmp_path: Path) -> None:
    plots.sample_grid(np.zeros((2, 28, 28), np.uint8), ["a", "b"], tmp_path / "g.png", title="t")
    assert {a.title.get_fontsize() for a in drawn[0].axes} == {8}
    assert drawn[0]._suptitle.get_fontsize() == 9


@pytest.mark.parametrize(
    ("count", "size"),
    [(1, (320, 320)), (2, (300, 170)), (10, (1340, 170)), (12, (1340, 320))],
)
def test_sample_grid_picture_size(tmp_path: Path, count: int, size: tuple[int, int]) -> None:
    """1.3 inches a cell (2.8 for one digit) and 0.2 for its caption, at 100 dots an inch."""
    path = plots.sample_grid(np.zeros((count, 28, 28), np.uint8), ["c"] * count, tmp_path / "g.png")
    with Image.open(path) as picture:
        assert picture.size == size


def test_one_digit_gets_a_larger_picture_than_a_grid_cell(drawn: list[Any], tmp_path: Path) -> None:
    plots.sample_grid(np.zeros((1, 28, 28), np.uint8), ["one"], tmp_path / "a.png")
    plots.sample_grid(np.zeros((2, 28, 28), np.uint8), ["a", "b"], tmp_path / "b.png")
    single, pair = (figure.get_size_inches() for figure in drawn)
    assert single[0] > pair[0] / 2 * 1.5 and single[1] > pair[1] * 1.5


# ---------------------------------------------------------------------- error grid


def test_error_grid_layout_and_captions(drawn: list[Any], tmp_path: Path) -> None:
    """12 wrong guesses: two rows of ten cells, each digit with its own caption in red."""
    images = np.zeros((12, 28, 28), np.uint8)
    images[:, 5, 6] = np.arange(12) * 20
    predictions = [(i + 1) % 10 for i in range(12)]
    labels = [i % 10 for i in range(12)]
    probabilities = [0.5 + i / 40 for i in range(12)]
    sources = [f"test #{i}" for i in range(12)]
    path = plots.error_grid(
        images, predictions, labels, probabilities, sources, tmp_path / "e.png", "errors"
    )
    assert path == tmp_path / "e.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = drawn[0]
    assert tuple(figure.get_size_inches()) == pytest.approx((14.4, 3.8))  # 1.4 a column
    assert figure.get_suptitle() == "errors"
    assert figure._suptitle.get_fontsize() == 10  # above the 7-point captions
    axes = figure.axes
    assert len(axes) == 20
    shown = [a for a in axes if a.images]
    assert len(shown) == 12
    for i, a in enumerate(shown):
        percent = round(100 * probabilities[i])
        expected = f"test #{i}\npred {(i + 1) % 10} ({percent}%)\nlabel {i % 10}"
        assert a.get_title() == expected
        assert a.title.get_color() == "tab:red"
        assert a.title.get_fontsize() == 7
        assert a.images[0].get_array()[5, 6] == i * 20
        assert a.images[0].get_clim() == (0, 255)
        assert a.images[0].get_cmap().name == "gray"
        assert a.images[0].get_interpolation() == "nearest"
        assert not a.axison
    assert all(not a.axison and not a.get_title() for a in axes if not a.images)


def test_error_grid_of_one_keeps_the_full_grey_scale(drawn: list[Any], tmp_path: Path) -> None:
    """One error, a mid-grey digit: a single cell, black still 0 and white 255."""
    image = np.full((1, 28, 28), 100, np.uint8)
    plots.error_grid(image, [3], [8], [0.7], ["x.png"], tmp_path / "e.png", "one")
    (axes,) = drawn[0].axes
    assert axes.images[0].get_clim() == (0, 255)
    assert axes.get_title() == "x.png\npred 3 (70%)\nlabel 8"


def test_error_grid_of_three_is_one_row_of_three(drawn: list[Any], tmp_path: Path) -> None:
    images = np.zeros((3, 28, 28), np.uint8)
    plots.error_grid(
        images, [1, 2, 3], [0, 0, 0], [0.9] * 3, ["a", "b", "c"], tmp_path / "e.png", "t"
    )
    assert tuple(drawn[0].get_size_inches()) == pytest.approx((4.6, 2.2))
    assert len(drawn[0].axes) == 3


def test_error_grid_without_errors_says_so(drawn: list[Any], tmp_path: Path) -> None:
    empty = np.zeros((0, 28, 28), np.uint8)
    path = plots.error_grid(empty, [], [], [], [], tmp_path / "none.png", "test split")
    assert path.exists()
    figure = drawn[0]
    assert tuple(figure.get_size_inches()) == pytest.approx((5.0, 1.2))
    (text,) = figure.texts
    assert text.get_text() == "test split\nno misclassified images"
    assert text.get_position() == (0.5, 0.5)
    assert (text.get_ha(), text.get_va()) == ("center", "center")
    assert not figure.axes


# ---------------------------------------------------------------------- confusion matrix


def test_confusion_matrix_writes_each_count_in_its_cell(drawn: list[Any], tmp_path: Path) -> None:
    confusion = np.array([[5, 1, 0], [2, 9, 0], [0, 0, 3]])
    path = plots.confusion_matrix(confusion, tmp_path / "c.png", title="test split")
    assert pixels(path).shape[0] > 100
    axes = drawn[0].axes[0]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in axes.texts}
    assert {cell: t.get_text() for cell, t in texts.items()} == {
        (row, col): str(confusion[row, col]) for row in range(3) for col in range(3)
    }
    # counts above half the largest are white on the dark cells, the rest black
    assert texts[(1, 1)].get_color() == "white" and texts[(0, 0)].get_color() == "white"
    assert texts[(0, 1)].get_color() == "black" and texts[(2, 2)].get_color() == "black"
    assert axes.get_xlabel() == "predicted" and axes.get_ylabel() == "true"
    assert axes.get_title() == "test split"
    assert list(axes.get_xticks()) == [0, 1, 2] and list(axes.get_yticks()) == [0, 1, 2]
    assert np.array_equal(axes.images[0].get_array(), confusion)
    assert len(drawn[0].axes) == 2  # the matrix and its colour bar
    assert all(t.get_ha() == "center" and t.get_va() == "center" for t in axes.texts)
    assert axes.images[0].get_cmap().name == "Blues"
    with Image.open(path) as picture:
        assert picture.size == (640, 560)


def test_confusion_matrix_is_on_a_log_scale_with_zeros_left_blank(
    drawn: list[Any], tmp_path: Path
) -> None:
    """A log colour scale from 1 to the largest count, zero cells masked (white), the
    colour bar saying so, and the errors (off the diagonal, not 0) in bold."""
    from matplotlib.colors import LogNorm

    confusion = np.array([[50, 1, 0], [2, 90, 0], [0, 0, 30]])
    plots.confusion_matrix(confusion, tmp_path / "c.png")
    figure = drawn[0]
    axes, colour_bar = figure.axes
    image = axes.images[0]
    assert isinstance(image.norm, LogNorm)
    assert (image.norm.vmin, image.norm.vmax) == (1, 90)
    shown = image.get_array()
    assert np.array_equal(np.ma.getmaskarray(shown), confusion == 0)
    assert colour_bar.get_ylabel() == "images (log scale)"
    weights = {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_fontweight()
        for t in axes.texts
    }
    assert {cell for cell, weight in weights.items() if weight == "bold"} == {(0, 1), (1, 0)}
    assert set(weights.values()) == {"bold", "normal"}
    assert {t.get_fontsize() for t in axes.texts} == {9}


def test_confusion_scale_starts_at_one_whatever_the_smallest_count(
    drawn: list[Any], tmp_path: Path
) -> None:
    plots.confusion_matrix(np.array([[5, 3], [0, 7]]), tmp_path / "c.png")
    norm = drawn[0].axes[0].images[0].norm
    assert (norm.vmin, norm.vmax) == (1, 7)


def test_confusion_matrix_of_one_count_still_has_a_scale(drawn: list[Any], tmp_path: Path) -> None:
    """All counts 0 or 1: the scale still spans 1 to 2 (LogNorm needs vmax above vmin)."""
    plots.confusion_matrix(np.array([[1, 0], [0, 1]]), tmp_path / "c.png")
    norm = drawn[0].axes[0].images[0].norm
    assert (norm.vmin, norm.vmax) == (1, 2)


def test_confusion_counts_of_exactly_half_the_largest_are_black(
    drawn: list[Any], tmp_path: Path
) -> None:
    plots.confusion_matrix(np.array([[2, 1], [0, 4]]), tmp_path / "c.png")
    colours = {t.get_text(): t.get_color() for t in drawn[0].axes[0].texts}
    assert colours == {"2": "black", "1": "black", "0": "black", "4": "white"}


def test_confusion_matrix_without_a_title(drawn: list[Any], tmp_path: Path) -> None:
    plots.confusion_matrix(np.eye(2, dtype=int), tmp_path / "c.png")
    assert drawn[0].axes[0].get_title() == ""


# ---------------------------------------------------------------------- training curves

RECORDS = [
    {"event": "eval", "step": 50, "train_loss": 2.0, "eval_loss": 1.5, "eval_accuracy": 0.5},
    {"event": "done", "steps": 100},
    {"step": 100, "train_loss": 1.0, "eval_loss": 0.75, "eval_accuracy": 0.81234},
]


def test_training_curves_plot_the_evaluations(drawn: list[Any], tmp_path: Path) -> None:
    plots.training_curves(RECORDS, tmp_path / "curves.png")
    loss_axes, accuracy_axes = drawn[0].axes
    lines = {line.get_label(): line for line in loss_axes.get_lines()}
    assert set(lines) == {"training", "validation"}
    assert list(lines["training"].get_xdata()) == [50, 100]
    assert list(lines["training"].get_ydata()) == [2.0, 1.0]
    assert list(lines["validation"].get_ydata()) == [1.5, 0.75]
    assert list(lines["validation"].get_xdata()) == [50, 100]
    (accuracy,) = accuracy_axes.get_lines()
    assert list(accuracy.get_xdata()) == [50, 100]
    assert list(accuracy.get_ydata()) == [0.5, 0.81234]
    # each evaluation is a marked point; the two plots side by side
    assert {line.get_marker() for line in [*lines.values(), accuracy]} == {"."}
    assert loss_axes.get_position().x1 < accuracy_axes.get_position().x0
    with Image.open(tmp_path / "curves.png") as picture:
        assert picture.size == (900, 380)  # records without learning rates: two panels
    assert accuracy_axes.get_title() == "validation accuracy (last 0.8123, best 0.8123)"
    assert loss_axes.get_xlabel() == accuracy_axes.get_xlabel() == "step"
    assert loss_axes.get_title() == "loss" and loss_axes.get_ylabel() == "cross-entropy"
    assert accuracy_axes.get_ylabel() == "accuracy"
    assert [t.get_text() for t in loss_axes.get_legend().get_texts()] == ["training", "validation"]


def test_training_curves_show_the_learning_rate_where_recorded(
    drawn: list[Any], tmp_path: Path
) -> None:
    records = [
        {
            "step": 10,
            "train_loss": 2.0,
            "eval_loss": 1.0,
            "eval_accuracy": 0.4,
            "learning_rate": 0.01,
        },
        {
            "step": 20,
            "train_loss": 1.0,
            "eval_loss": 0.5,
            "eval_accuracy": 0.7,
            "learning_rate": 0.005,
        },
    ]
    plots.training_curves(records, tmp_path / "curves.png", title="run runs/x")
    loss_axes, accuracy_axes, rate_axes = drawn[0].axes[:3]
    (rate,) = rate_axes.get_lines()
    assert list(rate.get_xdata()) == [10, 20] and list(rate.get_ydata()) == [0.01, 0.005]
    assert rate_axes.get_title() == "learning rate"
    assert accuracy_axes.get_title() == "validation accuracy (last 0.7000, best 0.7000)"
    assert drawn[0].get_suptitle() == "run runs/x"
    # a third panel makes the figure wider: 13 inches against 9 without it
    assert len(drawn[0].axes) == 3
    assert tuple(drawn[0].get_size_inches()) == pytest.approx((13.0, 3.8))
    assert rate_axes.get_ylabel() == "learning rate"
    assert rate.get_color() == "tab:purple"
    assert accuracy_axes.get_lines()[0].get_color() == "tab:green"


def test_training_curves_without_eval_loss(drawn: list[Any], tmp_path: Path) -> None:
    old = [{"step": 5, "train_loss": 1.0, "eval_accuracy": 0.1}]
    plots.training_curves(old, tmp_path / "curves.png")
    assert [line.get_label() for line in drawn[0].axes[0].get_lines()] == ["training"]


def test_training_curves_need_an_evaluation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^no evaluations recorded yet$"):
        plots.training_curves([{"event": "done", "step": 3}, {"event": "eval"}], tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


# ---------------------------------------------------------------------- saving


@pytest.mark.parametrize(
    ("name", "start"),
    [("f.png", b"\x89PNG"), ("f.PNG", b"\x89PNG"), ("f", b"\x89PNG"), ("f.svg", b"<?xml")],
)
def test_save_figure_follows_the_suffix(tmp_path: Path, name: str, start: bytes) -> None:
    path = plots.training_curves(RECORDS, tmp_path / "deep" / "er" / name)
    assert path == tmp_path / "deep" / "er" / name
    assert path.read_bytes().startswith(start)
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no temporary left


def test_save_figure_refuses_an_unknown_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        plots.training_curves(RECORDS, tmp_path / "f.xyz")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'f.xyz'}: cannot draw a .xyz file; use one of .")
    assert ".png" in message and ".svg" in message and ", ." in message
    assert not list(tmp_path.iterdir())


def test_save_figure_where_the_folder_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(RunError) as caught:
        plots.training_curves(RECORDS, tmp_path / "file" / "c.png")
    assert str(caught.value) == f"cannot create {tmp_path / 'file'}: File exists"


def test_save_figure_where_the_file_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "c.png").mkdir()
    with pytest.raises(RunError) as caught:
        plots.training_curves(RECORDS, tmp_path / "c.png")
    assert str(caught.value) == f"cannot write {tmp_path / 'c.png'}: Is a directory"


# ---------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("platform", "display", "wayland", "expected"),
    [
        ("linux", None, None, False),
        ("linux", ":0", None, True),
        ("linux", None, "wayland-0", True),
        ("linux", "", "", False),
        ("darwin", None, None, True),
        ("win32", None, None, True),
    ],
)
def test_has_display(monkeypatch, platform, display, wayland, expected) -> None:
    monkeypatch.setattr(plots.sys, "platform", platform)
    for name, value in (("DISPLAY", display), ("WAYLAND_DISPLAY", wayland)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert plots.has_display() is expected


def test_show_window_without_a_display_returns_at_once(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(plots, "has_display", lambda: False)
    assert plots.show_window(tmp_path / "missing.png") is False


@pytest.mark.parametrize("backend", ["agg", "Agg", "svg", "pdf"])
def test_show_window_with_a_headless_backend_returns(monkeypatch, tmp_path, backend) -> None:
    import matplotlib
    import matplotlib.pyplot as pyplot

    monkeypatch.setattr(plots, "has_display", lambda: True)
    monkeypatch.setattr(matplotlib, "get_backend", lambda: backend)
    monkeypatch.setattr(pyplot, "show", lambda: pytest.fail("a window on a headless backend"))
    Image.fromarray(np.full((5, 5), 90, np.uint8)).save(tmp_path / "p.png")
    assert plots.show_window(tmp_path / "p.png") is False


def test_show_window_shows_the_picture_at_its_size(monkeypatch, tmp_path: Path) -> None:
    import matplotlib
    import matplotlib.pyplot as pyplot

    shown: list[Any] = []
    monkeypatch.setattr(plots, "has_display", lambda: True)
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "TkAgg")
    monkeypatch.setattr(pyplot, "show", lambda: shown.append(pyplot.gcf()))
    Image.fromarray(np.full((50, 200, 3), 90, np.uint8)).save(tmp_path / "p.png")
    assert plots.show_window(tmp_path / "p.png", title="digits") is True
    assert plots.show_window(tmp_path / "p.png") is True
    figure, untitled = shown
    assert figure.get_label() == "digits" and untitled.get_label() == "rnncls"
    assert tuple(figure.get_size_inches() * figure.dpi) == (200, 50)
    assert figure.images[0].get_array().shape[:2] == (50, 200)
    pyplot.close("all")
    (tmp_path / "v.svg").write_text("<svg/>")
    assert plots.show_window(tmp_path / "v.svg") is False  # only an editor shows it
    assert shown == [figure, untitled]


# ---------------------------------------------------------------------- reliability diagram


def test_reliability_diagram_draws_each_bins_accuracy_confidence_and_count(
    drawn: list[Any], tmp_path: Path
) -> None:
    """A hand-made calibration of 4 bins, two of them empty: bars where images are, at
    each bin's left edge and width; dots at (mean confidence, accuracy); the diagonal;
    the counts below on a log scale, written on their bars; the figures in the title."""
    from rnncls.evaluate import Calibration

    calibration = Calibration(
        bins=4,
        ece=0.0125,
        nll=0.25,
        brier=0.125,
        counts=[0, 3, 0, 40],
        accuracy=[None, 0.5, None, 0.95],
        confidence=[None, 0.4, None, 0.9],
    )
    path = plots.reliability_diagram(calibration, tmp_path / "r.png", "run x: test")
    assert path == tmp_path / "r.png" and path.read_bytes()[:4] == b"\x89PNG"
    (figure,) = drawn
    top, bottom = figure.axes
    bars = top.patches
    assert [(b.get_x(), b.get_width(), b.get_height()) for b in bars] == [
        (0.25, 0.25, 0.5),
        (0.75, 0.25, 0.95),
    ]
    (dots,) = top.collections
    assert dots.get_offsets().tolist() == [[0.4, 0.5], [0.9, 0.95]]
    (diagonal,) = top.lines
    assert diagonal.get_xydata().tolist() == [[0, 0], [1, 1]]
    assert top.get_xlim() == (0, 1) and top.get_ylim() == (0, 1)
    assert top.get_ylabel() == "accuracy"
    assert top.get_title() == "run x: test\nECE 0.0125 (4 bins)   NLL 0.2500   Brier 0.1250"
    # matplotlib lists lines, then scatter collections, then bars
    assert [text.get_text() for text in top.get_legend().get_texts()] == [
        "calibrated",
        "mean confidence",
        "accuracy",
    ]
    counts = bottom.patches
    assert [(b.get_x(), b.get_width(), b.get_height()) for b in counts] == [
        (0.25, 0.25, 3),
        (0.75, 0.25, 40),
    ]
    assert bottom.get_yscale() == "log"
    labels = [(t.get_text(), t.get_position()) for t in bottom.texts]
    assert labels == [("3", (0.375, 3)), ("40", (0.875, 40))]
    assert bottom.get_xlabel() == "confidence of the predicted class"
    assert bottom.get_ylabel() == "images"


def test_reliability_diagram_without_a_title_has_the_figures_alone(
    drawn: list[Any], tmp_path: Path
) -> None:
    from rnncls.evaluate import Calibration

    calibration = Calibration(1, 0.0, 0.0, 0.0, [2], [1.0], [1.0])
    plots.reliability_diagram(calibration, tmp_path / "r.png")
    assert drawn[0].axes[0].get_title() == "ECE 0.0000 (1 bins)   NLL 0.0000   Brier 0.0000"
