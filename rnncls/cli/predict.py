"""`rnncls predict`: the digits of image files, arrays or data-set images, as a table,
JSON lines or CSV."""

from __future__ import annotations

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
from rnncls.cli.output import emit_json, log, print_table, write_csv
from rnncls.errors import ConfigError


def predict(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="INPUT...",
            help="PNG or JPEG files, .npy arrays, folders of them, or - for standard "
            "input (a .npy stream or one path a line). None: images of the data set.",
            show_default=False,
        ),
    ] = None,
    run: RunOption = None,
    n: Annotated[
        int | None, typer.Option("--n", "-n", help="Data-set images to predict.  [default: 10]")
    ] = None,
    split: Annotated[
        Split | None, typer.Option(help="Data-set split.  [default: test]", show_default=False)
    ] = None,
    offset: Annotated[
        int | None, typer.Option(help="First data-set image.  [default: 0]", show_default=False)
    ] = None,
    data_dir: DataDirOption = None,
    output_format: Annotated[
        Literal["table", "jsonl", "csv"] | None,
        format_option("table, jsonl (one object a line), csv", "table"),
    ] = None,
    json_output: JsonOption = False,
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", "-k", help="Also give the K most likely classes."),
    ] = None,
) -> None:
    """Predict the digits of images or arrays.

    Image files or arrays given as INPUT, or else data-set images beside their labels.
    """
    from rnncls.datasets import recorded
    from rnncls.predict import (
        describe_model,
        load_classifier,
        read_inputs,
        run_config,
        split_inputs,
    )
    from rnncls.predict import predict as predict_digits
    from rnncls.rundir import resolve_run

    failures: list[str] = []
    with errors():
        at_least("--top-k", top_k, 1)
        output_format = chosen_format(json_output, output_format, "table", "jsonl")
        if inputs and (n is not None or split is not None or offset is not None):
            raise ConfigError("--n, --split and --offset choose data-set images; not with INPUT")
        target = resolve_run(run)
        classifier = load_classifier(target)
        if inputs:
            data = read_inputs(inputs, failures=failures, dataset=classifier.dataset)
        else:
            cfg = run_config(target)
            opened = recorded.open_for_run(
                target.folder, data_dir, cfg.data, classifier.dataset, log
            )
            count = 10 if n is None else n
            data = split_inputs(opened, split or "test", offset or 0, count)
        if len(data):
            predictions = predict_digits(classifier, data, top_k)
            log(describe_model(classifier))
            show_predictions(predictions, output_format)
            if inputs and data.labels:
                log(accuracy_line(predictions))
    # As Unix tools do: every readable input answered, then a line per unreadable one.
    for failure in failures:
        log(f"error: {' '.join(failure.split())}")
    if failures:
        raise typer.Exit(code=1)


def accuracy_line(predictions: list[Any]) -> str:
    """How many of the labelled inputs (a folder's class subfolders) were right."""
    labelled = [p for p in predictions if p.label is not None]
    right = sum(p.prediction == p.label for p in labelled)
    return (
        f"accuracy {right / len(labelled):.4f} ({right} of {len(labelled)} inputs whose class "
        "their file or folder names)"
    )


def show_predictions(predictions: list[Any], output_format: str) -> None:
    if output_format == "jsonl":
        for prediction in predictions:
            emit_json(prediction.to_json())
    elif output_format == "csv":
        write_predictions_csv(predictions)
    else:
        show_predictions_table(predictions)


def write_predictions_csv(predictions: list[Any]) -> None:
    top_k = len(predictions[0].top_k or ())
    labelled = any(p.label is not None for p in predictions)  # files have none
    header = ["source", "prediction", "probability"] + (["label"] if labelled else [])
    for rank in range(1, top_k + 1):
        header += [f"class_{rank}", f"probability_{rank}"]
    rows = []
    for p in predictions:
        ranked = [value for pair in (p.top_k or ()) for value in pair]
        label = [p.label] if labelled else []
        rows.append([p.source, p.prediction, p.probability, *label, *ranked])
    write_csv(header, rows)


def show_predictions_table(predictions: list[Any]) -> None:
    """A table, and for data-set images the seed's two lines: predictions, real labels.
    rich draws it on a terminal; piped, it is plain aligned text (and rich not imported)."""
    labelled = all(p.label is not None for p in predictions)
    header = ["source", "prediction", "probability"] + (["label"] if labelled else [])
    if predictions[0].top_k is not None:
        header.append("top k")
    rows = []
    for p in predictions:
        row = [p.source, str(p.prediction), f"{p.probability:.4f}"]
        if labelled:
            row.append(str(p.label))
        if p.top_k is not None:
            row.append("  ".join(f"{c}:{q:.3f}" for c, q in p.top_k))
        rows.append(row)
    print_table(header, rows, wrong=[labelled and p.prediction != p.label for p in predictions])
    if labelled:
        print(f"[{' '.join(str(p.prediction) for p in predictions)}] prediction number")
        print(f"[{' '.join(str(p.label) for p in predictions)}] real number", flush=True)
