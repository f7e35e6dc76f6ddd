"""`rnncls show-sample`: data-set images drawn into a PNG (and on the terminal), with
their labels and a run's predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rnncls.cli.errors import errors
from rnncls.cli.options import DataDirOption, Split
from rnncls.cli.output import log
from rnncls.config import load_config
from rnncls.errors import ConfigError


def show_sample(
    split: Annotated[Split, typer.Option(help="Data-set split.")] = "train",
    index: Annotated[int, typer.Option(help="Index of the (first) image.")] = 0,
    n: Annotated[int, typer.Option("--n", "-n", help="Images in the grid.")] = 1,
    out: Annotated[Path, typer.Option(help="Picture to write (PNG).")] = Path("sample.png"),
    run: Annotated[
        Path | None,
        typer.Option(
            help="Show this run's (or model file's) predictions; default: the newest "
            "finished run, where there is one."
        ),
    ] = None,
    no_run: Annotated[
        bool, typer.Option("--no-run", help="Only the images and labels, no predictions.")
    ] = False,
    data_dir: DataDirOption = None,
    show: Annotated[
        bool, typer.Option("--show", help="Open a window (where a display exists).")
    ] = False,
) -> None:
    """Draw data-set images into a PNG.

    One image or a grid, with labels (and predictions, given --run).
    """
    import shutil

    from rnncls.datasets import find_data, open_data, recorded
    from rnncls.images import render_text
    from rnncls.plots import sample_grid, show_window
    from rnncls.predict import describe_model, load_classifier, run_config, split_inputs
    from rnncls.predict import predict as predict_digits
    from rnncls.rundir import ONNX_FILE, latest_run, resolve_run

    with errors():
        if run is not None and no_run:
            raise ConfigError("--run and --no-run: give one")
        target = None
        if not no_run:
            newest = latest_run() if run is None else None
            if newest is not None and not (newest / ONNX_FILE).is_file():
                log(f"the newest run, {newest}, has no {ONNX_FILE}: showing no predictions")
            elif run is not None or newest is not None:
                # its Keras model would cost show-sample a TensorFlow start-up
                target = resolve_run(run if run is not None else newest)
        classifier = load_classifier(target) if target is not None else None
        if classifier is not None:
            cfg = run_config(target)
            opened = recorded.open_for_run(
                target.folder, data_dir, cfg.data, classifier.dataset, log
            )
        else:
            cfg = load_config()
            opened = open_data(find_data(data_dir, cfg.data.dir), cfg.data, log)
        dataset = opened.dataset
        data = split_inputs(opened, split, index, n, "--index")
        predictions = predict_digits(classifier, data) if classifier is not None else None
        if classifier is not None:
            newest_note = " (the newest finished run; --no-run for none)" if run is None else ""
            log(f"predictions of {describe_model(classifier)}{newest_note}")
        captions = sample_captions(data, predictions, dataset)
        wrong = [
            p.label is not None and p.prediction != p.label for p in (predictions or [])
        ] or None
        shown_run = target.path if target is not None else None
        what = "series" if dataset.is_series else "images"
        title = f"{split} {what}, predictions of {shown_run}" if shown_run else f"{split} {what}"
        if dataset.is_series:
            from rnncls.plots import series_grid
            from rnncls.series import render_text as render_series

            path = series_grid(data.images, captions, out, title=title, wrong=wrong)
        else:
            path = sample_grid(
                data.images, captions, out, title=title, wrong=wrong, pixel_max=dataset.pixel_max
            )
        print(path, flush=True)
        shown = TERMINAL_SAMPLES
        width = shutil.get_terminal_size().columns
        one_line = [caption.replace("\n", " ") for caption in captions[:shown]]
        if dataset.is_series:
            log(render_series(data.images[:shown], one_line, width))
        else:
            log(render_text(data.images[:shown], one_line, width, dataset.pixel_max))
        if len(data) > shown:
            log(f"(the first {shown} of {len(data)} {what}; all of them are in {path})")
        if show and not show_window(path):
            log(f"warning: no display to show a window on; the picture is in {path}")


TERMINAL_SAMPLES = 8


def sample_captions(data: Any, predictions: list[Any] | None, dataset: Any) -> list[str]:
    captions = []
    for index, source in enumerate(data.sources):
        label = dataset.class_value(data.label(index))
        caption = f"{source}\nlabel {label}"
        if predictions is not None:
            guess = predictions[index].prediction
            caption = f"{source}\npred {guess}, label {label}"
        captions.append(caption)
    return captions
