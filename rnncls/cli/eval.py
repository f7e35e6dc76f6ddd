"""`rnncls eval`: a trained model on a data-set split; loss, accuracy, calibration
(ECE, NLL, Brier), per-class precision, recall and support, and the confusion matrix, as
tables or one JSON object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from rnncls.cli.errors import errors
from rnncls.cli.options import (
    DataDirOption,
    JsonOption,
    RunOption,
    Split,
    at_least,
    chosen_format,
    format_option,
)
from rnncls.cli.output import emit_json, log, rich_table, stdout_console


def eval_command(
    run: RunOption = None,
    split: Annotated[Split, typer.Option(help="Data-set split to evaluate on.")] = "test",
    limit: Annotated[
        int | None, typer.Option(help="Only the first N images of the split.", show_default=False)
    ] = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
    output_format: Annotated[
        Literal["table", "json"] | None, format_option("table, json (one object)", "table")
    ] = None,
    confusion: Annotated[
        Path | None,
        typer.Option("--confusion", metavar="PNG", help="Also draw the confusion matrix here."),
    ] = None,
    errors_png: Annotated[
        Path | None,
        typer.Option(
            "--errors",
            metavar="PNG",
            help=f"Also draw the first {ERROR_GRID_SIZE} misclassified images here.",
        ),
    ] = None,
    reliability: Annotated[
        Path | None,
        typer.Option(
            "--reliability",
            metavar="PNG",
            help="Also draw the reliability diagram (accuracy against confidence) here.",
        ),
    ] = None,
) -> None:
    """Evaluate a trained model on a data-set split.

    Loss, accuracy, calibration (ECE over 15 confidence bins, NLL, Brier score),
    per-class precision/recall/support and the confusion matrix.
    """
    from rnncls.datasets import recorded
    from rnncls.evaluate import evaluate
    from rnncls.predict import describe_model, load_classifier, run_config
    from rnncls.rundir import resolve_run

    with errors():
        at_least("--limit", limit, 1)
        shown_format = chosen_format(json_output, output_format, "table", "json")
        target = resolve_run(run)
        run_path = target.path
        cfg = run_config(target)
        classifier = load_classifier(target)
        dataset = classifier.dataset
        opened = recorded.open_for_run(target.folder, data_dir, cfg.data, dataset, log)
        data = opened.split(split)
        metrics = evaluate(classifier, data, limit, dataset)
        if confusion is not None:
            from rnncls.plots import confusion_matrix

            name = title_name(run_path)
            title = f"{name}: {split} accuracy {metrics.accuracy:.4f} on {metrics.n} images"
            drawn = confusion_matrix(metrics.confusion, confusion, title, dataset.classes)
            log(f"confusion matrix: {drawn}")
        if errors_png is not None:
            drawn = draw_errors(metrics, data, run_path, errors_png, dataset)
            log(f"misclassified images: {drawn}")
        if reliability is not None:
            from rnncls.plots import reliability_diagram

            title = f"{title_name(run_path)}: {split}, {metrics.n} images"
            drawn = reliability_diagram(metrics.calibration, reliability, title)
            log(f"reliability diagram: {drawn}")
        log(describe_model(classifier))
        if shown_format == "json":
            classes = [dataset.class_value(i) for i in range(dataset.num_classes)]
            emit_json({**metrics.to_json(), "classes": classes, "model": str(classifier.path)})
        else:
            show_metrics(metrics, classifier.path, dataset)


ERROR_GRID_SIZE = 50


# Characters of a run's name in a picture's title, which must fit the figure's width.
TITLE_NAME_CHARS = 32


def title_name(run_path: Path) -> str:
    """A run as a picture's title names it: relative to the working folder when it lies
    under it (``runs/latest`` resolves to an absolute path), and only its last parts when
    that is still long."""
    try:
        path = run_path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        path = run_path
    parts = path.parts
    name = str(path)
    while len(name) > TITLE_NAME_CHARS and len(parts) > 1:
        parts = parts[1:]
        name = str(Path("…", *parts))
    return name


def draw_errors(metrics: Any, data: Any, run_path: Path, path: Path, dataset: Any) -> Path:
    from rnncls.evaluate import misclassified
    from rnncls.plots import error_grid

    wrong = misclassified(metrics, data.labels, ERROR_GRID_SIZE)
    total = int(metrics.n - round(metrics.accuracy * metrics.n))
    shown = f"the first {len(wrong)} of {total}" if total > len(wrong) else f"all {total}"
    title = f"{title_name(run_path)}: {shown} misclassified {data.name} images of {metrics.n}"
    return error_grid(
        data.images[wrong],
        [dataset.class_value(int(metrics.predicted[i])) for i in wrong],
        [dataset.class_value(int(data.labels[i])) for i in wrong],
        [float(metrics.confidence[i]) for i in wrong],
        [f"{data.name}[{i}]" for i in wrong],
        path,
        title,
        dataset.pixel_max,
    )


def show_metrics(metrics: Any, model_path: Path, dataset: Any) -> None:
    console = stdout_console()
    console.print(
        f"{metrics.split}: {metrics.n} images   accuracy {metrics.accuracy:.4f}   "
        f"loss {metrics.loss:.4f}   model {model_path}",
        soft_wrap=True,
    )
    calibrated = metrics.calibration
    console.print(
        f"calibration: ECE {calibrated.ece:.4f} ({calibrated.bins} bins)   "
        f"NLL {calibrated.nll:.4f}   Brier {calibrated.brier:.4f}",
        soft_wrap=True,
    )
    # rich draws these piped too (without colours); --json is the form for programs.
    per_class = [
        [str(row.label), f"{row.precision:.4f}", f"{row.recall:.4f}", str(row.support)]
        for row in metrics.per_class
    ]
    console.print(rich_table(["class", "precision", "recall", "support"], per_class))
    classes = list(dataset.classes)
    matrix = []
    for true_class, counts in enumerate(metrics.confusion):
        cells = [confusion_cell(count, col == true_class) for col, count in enumerate(counts)]
        matrix.append([classes[true_class], *cells])
    title = "confusion matrix (rows: true class, columns: predicted)"
    console.print(rich_table(["true", *classes], matrix, title=title))


def confusion_cell(count: int, correct: bool) -> str:
    if correct:
        return f"[bold green]{count}[/]"
    return f"[red]{count}[/]" if count else "0"
