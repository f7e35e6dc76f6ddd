"""Figures: sample grids, the confusion matrix and the training curves.

Figures are drawn on matplotlib's object-oriented ``Figure`` (the Agg canvas), never
through pyplot, so drawing works on a headless machine and picks no GUI backend; only
:func:`show_window` asks pyplot for a window. matplotlib is imported inside the
functions: importing this module costs nothing.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnncls import rundir
from rnncls.datasets.idx import MNIST
from rnncls.errors import ConfigError, RunError

DPI = 100
HEADLESS_BACKENDS = ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template")


def save_figure(figure: Any, path: Path) -> Path:
    """Write ``figure`` atomically; the file type follows the suffix (PNG without one)."""
    path = Path(path)
    file_type = path.suffix.lower().lstrip(".") or "png"
    supported = figure.canvas.get_supported_filetypes()
    if file_type not in supported:
        raise ConfigError(
            f"{path}: cannot draw a .{file_type} file; use one of "
            + ", ".join(f".{name}" for name in sorted(supported))
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    try:
        rundir.write_with(path, lambda temporary: figure.savefig(temporary, format=file_type))
    except OSError as exc:
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


# Classes whose confusion matrix fits the figure's size; more enlarge it.
FITTING_CLASSES = 12


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def draw_picture(axes: Any, picture: np.ndarray, pixel_max: int) -> None:
    """One picture (height, width, channels): grey on a grey scale from 0 to
    ``pixel_max``, colour in colour."""
    picture = np.asarray(picture)
    if picture.ndim == 3 and picture.shape[2] == 1:
        picture = picture[..., 0]
    if picture.ndim == 2:
        axes.imshow(picture, cmap="gray", vmin=0, vmax=pixel_max, interpolation="nearest")
    else:
        axes.imshow(picture.astype(np.float64) / pixel_max, interpolation="nearest")


def sample_grid(
    images: np.ndarray,
    captions: Sequence[str],
    path: Path,
    title: str = "",
    wrong: Sequence[bool] | None = None,
    pixel_max: int = MNIST.pixel_max,
) -> Path:
    """Pictures in a grid (up to 10 a row), each with its caption above it; the captions
    of ``wrong`` predictions in red, and ``title`` above all."""
    count = len(images)
    columns = min(count, 10)
    rows = math.ceil(count / columns)
    cell = 1.3 if count > 1 else 2.8  # a single digit gets a picture of readable size
    figure = _figure(cell * columns + 0.4, (cell + 0.2) * rows + 0.2)
    for index, axes in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
        axes.set_axis_off()
        if index < count:
            draw_picture(axes, images[index], pixel_max)
            colour = "tab:red" if wrong and wrong[index] else "black"
            axes.set_title(captions[index], fontsize=8 if columns > 1 else 11, color=colour)
    if title:
        figure.suptitle(title, fontsize=9 if columns > 1 else 10)
    return save_figure(figure, path)


def series_grid(
    series: np.ndarray,
    captions: Sequence[str],
    path: Path,
    title: str = "",
    wrong: Sequence[bool] | None = None,
    channel_names: Sequence[str] | None = None,
) -> Path:
    """Series (n, steps, channels), NaN where there is no value, as line plots in a grid
    (up to 5 a row): one panel a series, a colour a channel, each captioned above (in
    red where ``wrong`` says the prediction is)."""
    count = len(series)
    columns = min(count, 5)
    rows = math.ceil(count / columns)
    figure = _figure(2.6 * columns + 0.4, 1.9 * rows + 0.6)
    for index, axes in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
        if index >= count:
            axes.set_axis_off()
            continue
        one = np.asarray(series[index], dtype=np.float64)
        for channel in range(one.shape[1]):
            label = channel_names[channel] if channel_names else f"channel {channel + 1}"
            axes.plot(one[:, channel], linewidth=0.9, label=label)
        axes.tick_params(labelsize=6)
        axes.grid(alpha=0.3)
        colour = "tab:red" if wrong and wrong[index] else "black"
        axes.set_title(captions[index], fontsize=7, color=colour)
    if series.shape[-1] > 1:
        handles, labels = figure.axes[0].get_legend_handles_labels()
        figure.legend(
            handles, labels, loc="outside lower center", ncol=min(6, len(labels)), fontsize=7
        )
    if title:
        figure.suptitle(title, fontsize=9)
    return save_figure(figure, path)


def confusion_matrix(
    confusion: np.ndarray, path: Path, title: str = "", names: Sequence[str] | None = None
) -> Path:
    """The confusion matrix (rows: true class, columns: predicted), counts in each cell,
    the classes by their ``names``."""
    classes = len(confusion)
    size = max(1.0, classes / FITTING_CLASSES)
    figure = _figure(6.4 * size, 5.6 * size)
    axes = figure.add_subplot()
    from matplotlib.colors import LogNorm

    # A log scale, so that 20 errors stand out beside 1,000 right answers; 0 stays white.
    counts = np.ma.masked_equal(confusion, 0)
    top = max(int(confusion.max()), 2)
    shown = axes.imshow(counts, cmap="Blues", norm=LogNorm(vmin=1, vmax=top))
    figure.colorbar(shown, ax=axes, shrink=0.8, label="images (log scale)")
    labels = list(names) if names is not None else [str(c) for c in range(classes)]
    axes.set_xticks(range(classes), labels, rotation=90 if max(map(len, labels)) > 2 else 0)
    axes.set_yticks(range(classes), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if title:
        axes.set_title(title)
    threshold = math.sqrt(top)  # the middle of the log scale
    for (row, col), count in np.ndenumerate(confusion):
        colour = "white" if count > threshold else "black"
        weight = "bold" if row != col and count else "normal"
        axes.text(
            col,
            row,
            str(count),
            ha="center",
            va="center",
            fontsize=9,
            color=colour,
            fontweight=weight,
        )
    return save_figure(figure, path)


def reliability_diagram(calibration: Any, path: Path, title: str = "") -> Path:
    """Accuracy against confidence in each bin of :class:`rnncls.evaluate.Calibration`,
    beside the diagonal a calibrated model would follow, and the images in each bin (log
    scale: most of a good model's images are in its last bin)."""
    bins = calibration.bins
    edges = np.arange(bins) / bins
    width = 1.0 / bins
    filled = [i for i, count in enumerate(calibration.counts) if count]
    figure = _figure(5.6, 6.4)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    top.bar(
        edges[filled],
        [calibration.accuracy[i] for i in filled],
        width=width,
        align="edge",
        color="#4c72b0",
        edgecolor="white",
        label="accuracy",
    )
    top.scatter(
        [calibration.confidence[i] for i in filled],
        [calibration.accuracy[i] for i in filled],
        color="#dd8452",
        zorder=3,
        s=14,
        label="mean confidence",
    )
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left")
    summary = f"ECE {calibration.ece:.4f} ({bins} bins)   NLL {calibration.nll:.4f}   "
    summary += f"Brier {calibration.brier:.4f}"
    top.set_title(f"{title}\n{summary}" if title else summary, fontsize=10)
    bottom.bar(edges[filled], [calibration.counts[i] for i in filled], width=width, align="edge")
    bottom.set_yscale("log")
    for i in filled:
        bottom.text(
            edges[i] + width / 2,
            calibration.counts[i],
            str(calibration.counts[i]),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    bottom.set_xlabel("confidence of the predicted class")
    bottom.set_ylabel("images")
    return save_figure(figure, path)


def training_curves(records: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Training and validation loss, validation accuracy and (where recorded) the
    learning rate, against the step."""
    records = [r for r in records if r.get("event", "eval") == "eval" and "step" in r]
    if not records:
        raise ValueError("no evaluations recorded yet")
    steps = [r["step"] for r in records]
    with_rate = all("learning_rate" in r for r in records)
    figure = _figure(13.0 if with_rate else 9.0, 3.8)
    panels = figure.subplots(1, 3 if with_rate else 2)
    loss_axes, accuracy_axes = panels[0], panels[1]
    loss_axes.plot(steps, [r["train_loss"] for r in records], marker=".", label="training")
    if all("eval_loss" in r for r in records):
        validation = [r["eval_loss"] for r in records]
        loss_axes.plot(steps, validation, marker=".", label="validation")
    loss_axes.set_title("loss")
    loss_axes.set_ylabel("cross-entropy")
    loss_axes.legend()
    accuracy = [r["eval_accuracy"] for r in records]
    accuracy_axes.plot(steps, accuracy, marker=".", color="tab:green")
    accuracy_axes.set_title(
        f"validation accuracy (last {accuracy[-1]:.4f}, best {max(accuracy):.4f})"
    )
    accuracy_axes.set_ylabel("accuracy")
    if with_rate:
        rate_axes = panels[2]
        # a marker where a run has a single evaluation, else its line has no length
        marker = "." if len(steps) == 1 else None
        rate = [r["learning_rate"] for r in records]
        rate_axes.plot(steps, rate, color="tab:purple", marker=marker)
        rate_axes.set_title("learning rate")
        rate_axes.set_ylabel("learning rate")
        rate_axes.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    for axes in panels:
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def error_grid(
    images: np.ndarray,
    predictions: Sequence[int | str],
    labels: Sequence[int | str],
    probabilities: Sequence[float],
    sources: Sequence[str],
    path: Path,
    title: str,
    pixel_max: int = MNIST.pixel_max,
) -> Path:
    """Misclassified digits in a grid, each captioned with the guess, its confidence and
    the real label (in red, as a wrong answer)."""
    count = len(images)
    if count == 0:
        figure = _figure(5.0, 1.2)
        figure.text(0.5, 0.5, f"{title}\nno misclassified images", ha="center", va="center")
        return save_figure(figure, path)
    columns = min(count, 10)
    rows = math.ceil(count / columns)
    figure = _figure(1.4 * columns + 0.4, 1.6 * rows + 0.6)
    for index, axes in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
        axes.set_axis_off()
        if index < count:
            draw_picture(axes, images[index], pixel_max)
            caption = (
                f"{sources[index]}\npred {predictions[index]} "
                f"({probabilities[index]:.0%})\nlabel {labels[index]}"
            )
            axes.set_title(caption, fontsize=7, color="tab:red")
    figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)


def has_display() -> bool:
    """Whether a window can open: always on macOS and Windows, with X11 or Wayland else."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show_window(path: Path, title: str = "rnncls") -> bool:
    """Show a picture in a window until it is closed; False (and no wait) where there
    is no display or matplotlib has no interactive backend."""
    if not has_display():
        return False
    import matplotlib
    import matplotlib.pyplot as pyplot

    if matplotlib.get_backend().lower() in HEADLESS_BACKENDS:
        return False
    try:
        picture = pyplot.imread(path)
    except (OSError, ValueError, SyntaxError):
        return False  # a file type that only an editor shows (PDF, SVG)
    height, width = picture.shape[:2]
    figure = pyplot.figure(title, figsize=(width / DPI, height / DPI), dpi=DPI)
    figure.figimage(picture)
    pyplot.show()
    return True
