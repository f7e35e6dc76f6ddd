"""rnncls against aeon's MiniRocket on the UCR/UEA archive sets: ``make bench-ucr``.

For each set folder under ``--data-root`` (``NAME/NAME_TRAIN.ts`` and ``NAME_TEST.ts``;
default ``$RNNCLS_UCR_DIR``, else ``../shared/data/ucr`` beside the checkout), one fresh
``rnncls train --config configs/series.toml --json`` on the archive's own train/test split,
then ``bench/minirocket.py`` on the same files in aeon's environment (``.venv-aeon``, made
by ``make bench-ucr``: aeon pins a numpy below rnncls's). Each process runs alone, one
after the other, so the two never share the cores.

Accuracy is each one's test accuracy on the archive's test file; the seconds are the
training alone: the ``done`` event's ``train_seconds`` for rnncls (its training loop,
without start-up, the data read or the model export), MiniRocket's ``fit`` for MiniRocket
(after a first fit that compiles its numba kernels). The goals of issue 26 are checked:
rnncls's mean accuracy at least MiniRocket's, no set more than 2 points below it, each
rnncls training within 60 s. Published figures of LSTM-FCN (MLSTM-FCN on the multivariate
sets) and InceptionTime stand beside them where the papers or their authors' result files
give them (``PUBLISHED`` below, each with its source); they come from other machines,
other training budgets and, for the bake-off, means over resamples: context, not a check.

The table goes to stdout, and the report as JSON to ``bench/results/ucr.json``.

    python bench/ucr.py                          # every set, about 5 minutes
    python bench/ucr.py --sets GunPoint,BasicMotions
    python bench/ucr.py --smoke --no-minirocket  # one set, a tiny network, 2 epochs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from run import machine_info, rnncls_command, run_process  # noqa: E402 - beside this file

ROOT = BENCH_DIR.parent
RESULTS_FILE = BENCH_DIR / "results" / "ucr.json"
DEFAULT_CONFIG = ROOT / "configs" / "series.toml"
DEFAULT_DATA_ROOT = ROOT.parent / "shared" / "data" / "ucr"
DEFAULT_AEON_PYTHON = ROOT / ".venv-aeon" / "bin" / "python"
MINIROCKET = BENCH_DIR / "minirocket.py"

# Goals of issue 26 (point 4), checked in the table.
GOALS = {
    "mean_difference_points": 0.0,  # rnncls's mean accuracy minus MiniRocket's, at least
    "worst_difference_points": -2.0,  # no set more than 2 points below MiniRocket
    "train_seconds": 60.0,  # each rnncls training, at most
}
# A smoke run: a tiny network, 2 passes over the training series, one set.
SMOKE_SETTINGS = [
    "train.epochs=2",
    "train.eval_every=2",
    "model.hidden_units=8",
    "model.conv_filters=8",
]

# ---------------------------------------------------------------------- published figures
#
# Test accuracy on the archive's default train/test split, as the papers or their
# authors' own result files give it; None where no source gives one. Each figure was read
# from the source named beside it; none is estimated.
#
# LSTM-FCN: Karim, Majumdar, Darabi, Chen, "LSTM Fully Convolutional Networks for Time
#   Series Classification", IEEE Access 6:1662-1669 (2018), Table 1, column "LSTM-FCN"
#   (not "Refined LSTM-FCN"), as the authors reproduce it in github.com/titu1994/LSTM-FCN,
#   images/LSTM-FCN-scores.png (commit 0f258c740c4371c7ab50dea2bb5ce0d30c8576f2):
#   Gun_Point 1.0000, ItPwDmd 0.9631. These runs kept the checkpoint of best *test*
#   accuracy; the authors' later re-run keeping the checkpoint of least training loss
#   (same repository, Results/train_loss_old_datasets.csv) gives Gun_Point 1 and
#   ItalyPowerDemand 0.9621.
# MLSTM-FCN: Karim, Majumdar, Darabi, Harford, "Multivariate LSTM-FCNs for time series
#   classification", Neural Networks (2019), arXiv:1801.04503; the results table of
#   github.com/titu1994/MLSTM-FCN, images/MLSTM-FCN-scores2.png (commit
#   85100ccfec7ee08106b3a25906a0c9c707e1b7ab; the arXiv:1801.04503 table), column
#   "MLSTM-FCN": JapaneseVowels 1.00 (two decimals; the same 270/370 split as the UEA
#   archive's). BasicMotions is not among the paper's data sets.
# InceptionTime (univariate): Ismail Fawaz et al., "InceptionTime: Finding AlexNet for
#   Time Series Classification", DMKD (2020), doi:10.1007/s10618-020-00710-y. It prints no
#   per-set table; its raw results are the authors' github.com/hfawaz/InceptionTime,
#   results-InceptionTime-85.csv (commit 952d115e83fb3a66d75c5858c702f8dd5eeb18b7;
#   the paper's 85 UCR 2015 sets), rows "InceptionTime": Gun_Point 1.0,
#   ItalyPowerDemand 0.967930029154519. (The same repository's results on the 128 sets
#   of the 2018 archive, results-InceptionTime-128.csv: GunPoint 1.0, ItalyPowerDemand
#   0.9650145772594751.)
# InceptionTime (multivariate): Ruiz, Flynn, Large, Middlehurst, Bagnall, "The great
#   multivariate time series classification bake off", DMKD 35:401-449 (2021), whose
#   results the authors' group keeps in github.com/time-series-machine-learning/tsml-eval,
#   results/classification/ByClassifier/Multivariate/InceptionTime_TESTFOLDS.csv (commit
#   9195f55363ffa5a1b05eda7fa16e3106bc1c0c0e; the same figures at commit
#   b71665415853fae7a6a109a4245487608dbf88a0 as
#   results/classification/Multivariate/InceptionT_accuracy.csv): BasicMotions 1.0 on
#   fold 0 (the default split) and on all 30 resamples. JapaneseVowels has unequal
#   lengths: the bake-off ran on the 26 equal-length sets only, and no file of it has
#   JapaneseVowels, so there is no bake-off figure for it.
PUBLISHED: dict[str, dict[str, dict[str, Any] | None]] = {
    "GunPoint": {
        "lstm_fcn": {"accuracy": 1.0, "method": "LSTM-FCN", "source": "Karim 2018, Table 1"},
        "inception_time": {
            "accuracy": 1.0,
            "method": "InceptionTime",
            "source": "hfawaz/InceptionTime results-InceptionTime-85.csv",
        },
    },
    "ItalyPowerDemand": {
        "lstm_fcn": {
            "accuracy": 0.9631,
            "method": "LSTM-FCN",
            "source": "Karim 2018, Table 1",
        },
        "inception_time": {
            "accuracy": 0.967930029154519,
            "method": "InceptionTime",
            "source": "hfawaz/InceptionTime results-InceptionTime-85.csv",
        },
    },
    "BasicMotions": {
        "lstm_fcn": None,
        "inception_time": {
            "accuracy": 1.0,
            "method": "InceptionTime",
            "source": "Ruiz 2021 bake-off, tsml-eval InceptionTime_TESTFOLDS.csv, fold 0",
        },
    },
    "JapaneseVowels": {
        "lstm_fcn": {
            "accuracy": 1.0,
            "method": "MLSTM-FCN",
            "source": "Karim 2019 (arXiv:1801.04503 table), two decimals",
        },
        "inception_time": None,
    },
}


# ---------------------------------------------------------------------- the sets


def find_sets(root: Path, names: list[str] | None) -> list[Path]:
    """The folders under ``root`` holding ``NAME_TRAIN.ts``, by name; only ``names``
    when given (each must be there)."""
    if not root.is_dir():
        raise SystemExit(
            f"no data folder {root}: give --data-root or RNNCLS_UCR_DIR (a folder of "
            "NAME/NAME_TRAIN.ts and NAME_TEST.ts)"
        )
    found = {
        folder.name: folder
        for folder in sorted(root.iterdir())
        if (folder / f"{folder.name}_TRAIN.ts").is_file()
    }
    if names is None:
        if not found:
            raise SystemExit(f"{root}: no set folder (NAME/NAME_TRAIN.ts) in it")
        return list(found.values())
    missing = [name for name in names if name not in found]
    if missing:
        raise SystemExit(f"{root}: no set {', '.join(missing)} (found: {', '.join(found)})")
    return [found[name] for name in names]


def describe_set(folder: Path) -> dict[str, Any]:
    """Channels, lengths (shortest and longest) and series counts of a set's .ts files,
    from their data lines: a series is its channels separated by ``:``, the label last."""
    channels: set[int] = set()
    lengths: list[int] = []
    counts = {}
    for part in ("TRAIN", "TEST"):
        file = folder / f"{folder.name}_{part}.ts"
        count = 0
        if file.is_file():
            in_data = False
            for raw in file.read_text(encoding="utf-8", errors="replace").splitlines():
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if not in_data:
                    in_data = line.lower().startswith("@data")
                    continue
                fields = line.split(":")
                channels.add(len(fields) - 1)
                lengths.append(len(fields[0].split(",")))
                count += 1
        counts[part.lower()] = count
    return {
        "channels": max(channels) if channels else None,
        "length_min": min(lengths) if lengths else None,
        "length_max": max(lengths) if lengths else None,
        "train": counts["train"],
        "test": counts["test"],
    }


# ---------------------------------------------------------------------- the contenders


def train_rnncls(
    folder: Path, config: Path, settings: list[str], env: dict[str, str], workdir: Path
) -> dict[str, Any]:
    """One fresh ``rnncls train --json`` on the set: its done event's test accuracy and
    training seconds, the process's wall time and peak memory; or its error."""
    command = [
        *rnncls_command(),
        "train",
        "--config",
        str(config),
        "--data-dir",
        str(folder),
        "--json",
        "--force",
        "--run-dir",
        str(workdir / folder.name),
        *[arg for setting in settings for arg in ("--set", setting)],
    ]
    result = run_process(command, env, workdir)
    done = result.last_json()
    record: dict[str, Any] = {
        "wall_seconds": round(result.wall_seconds, 2),
        "peak_mb": round(result.peak_mb, 1),
    }
    if result.returncode != 0 or not done or done.get("event") != "done":
        return {**record, "error": result.error_line()}
    return {
        **record,
        "accuracy": done["test_accuracy"],
        "seconds": done["train_seconds"],
        "steps": done.get("steps"),
        "error": None,
    }


def fit_minirocket(
    folder: Path, aeon_python: Path, env: dict[str, str], workdir: Path
) -> dict[str, Any]:
    """bench/minirocket.py on the set in aeon's environment: its test accuracy and fit
    seconds; or its error."""
    result = run_process([str(aeon_python), str(MINIROCKET), str(folder)], env, workdir)
    found = result.last_json()
    record: dict[str, Any] = {
        "wall_seconds": round(result.wall_seconds, 2),
        "peak_mb": round(result.peak_mb, 1),
    }
    if result.returncode != 0 or not found or "accuracy" not in found:
        return {**record, "error": result.error_line()}
    return {
        **record,
        "accuracy": found["accuracy"],
        "seconds": found["seconds"],
        "padded": found.get("padded", False),
        "error": None,
    }


# ---------------------------------------------------------------------- report


def difference_points(row: dict[str, Any]) -> float | None:
    """rnncls's accuracy minus MiniRocket's, in percentage points."""
    ours, theirs = row["rnncls"].get("accuracy"), (row.get("minirocket") or {}).get("accuracy")
    if ours is None or theirs is None:
        return None
    return round(100 * (ours - theirs), 2)


def build_report(
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
    settings: list[str],
    machine: dict[str, Any],
) -> dict[str, Any]:
    for row in rows:
        row["difference_points"] = difference_points(row)
        row["published"] = PUBLISHED.get(row["set"], {"lstm_fcn": None, "inception_time": None})

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(statistics.fmean(known), 4) if known and len(known) == len(values) else None

    means = {
        "rnncls_accuracy": mean([row["rnncls"].get("accuracy") for row in rows]),
        "minirocket_accuracy": mean([(row["minirocket"] or {}).get("accuracy") for row in rows]),
        "difference_points": mean([row["difference_points"] for row in rows]),
        "rnncls_seconds": mean([row["rnncls"].get("seconds") for row in rows]),
        "minirocket_seconds": mean([(row["minirocket"] or {}).get("seconds") for row in rows]),
    }
    differences = [row["difference_points"] for row in rows]
    seconds = [row["rnncls"].get("seconds") for row in rows]
    worst = min(differences) if None not in differences else None
    slowest = max(seconds) if None not in seconds else None
    checks = {
        "mean_difference_points": _check(
            means["difference_points"], GOALS["mean_difference_points"], at_least=True
        ),
        "worst_difference_points": _check(worst, GOALS["worst_difference_points"], at_least=True),
        "train_seconds": _check(slowest, GOALS["train_seconds"], at_least=False),
    }
    return {
        "machine": {**machine, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "config": str(args.config),
        "settings": settings,
        "data_root": str(args.data_root),
        "minirocket": not args.no_minirocket,
        "sets": rows,
        "means": means,
        "checks": checks,
        "errors": [
            f"{row['set']} {name}: {row[name]['error']}"
            for row in rows
            for name in ("rnncls", "minirocket")
            if row.get(name) and row[name].get("error")
        ],
    }


def _check(value: float | None, target: float, at_least: bool) -> dict[str, Any]:
    """``met`` is None when the value is unknown (a failed run, or no MiniRocket)."""
    if value is None:
        return {"value": None, "target": target, "at_least": at_least, "met": None}
    met = value >= target - 1e-9 if at_least else value <= target + 1e-9
    return {"value": value, "target": target, "at_least": at_least, "met": met}


def _accuracy(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _published(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "not found"
    shown = f"{entry['accuracy']:.4f}"
    return f"{shown} (MLSTM-FCN)" if entry["method"] == "MLSTM-FCN" else shown


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _length(row: dict[str, Any]) -> str:
    low, high = row["length_min"], row["length_max"]
    return str(low) if low == high else f"{low}–{high}"


def format_table(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "rnncls against MiniRocket on the UCR/UEA archive's own train/test splits "
        f"(config {Path(report['config']).name}"
        + (f", with {' '.join(report['settings'])}" if report["settings"] else "")
        + ")",
        f"CPU: {machine['cpu']}, {machine['cores']} cores; load average "
        f"{machine['load_average']} at the start, {machine['load_average_at_end']} at the end",
        "",
        "| set | channels | length | rnncls accuracy | MiniRocket accuracy | difference "
        "(points) | rnncls s | MiniRocket s | LSTM-FCN (published) | InceptionTime "
        "(published) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["sets"]:
        ours, theirs = row["rnncls"], row["minirocket"] or {}
        difference = row["difference_points"]
        lines.append(
            f"| {row['set']} | {row['channels']} | {_length(row)} "
            f"| {_accuracy(ours.get('accuracy'))} | {_accuracy(theirs.get('accuracy'))} "
            f"| {'—' if difference is None else f'{difference:+.2f}'} "
            f"| {_seconds(ours.get('seconds'))} | {_seconds(theirs.get('seconds'))} "
            f"| {_published(row['published']['lstm_fcn'])} "
            f"| {_published(row['published']['inception_time'])} |"
        )
    means = report["means"]
    difference = means["difference_points"]
    lines.append(
        f"| **mean** | | | {_accuracy(means['rnncls_accuracy'])} "
        f"| {_accuracy(means['minirocket_accuracy'])} "
        f"| {'—' if difference is None else f'{difference:+.2f}'} "
        f"| {_seconds(means['rnncls_seconds'])} | {_seconds(means['minirocket_seconds'])} | | |"
    )
    lines.append("")
    labels = {
        "mean_difference_points": "mean accuracy, rnncls minus MiniRocket (points)",
        "worst_difference_points": "worst set, rnncls minus MiniRocket (points)",
        "train_seconds": "slowest rnncls training (s)",
    }
    for key, label in labels.items():
        check = report["checks"][key]
        bound = "at least" if check["at_least"] else "at most"
        verdict = {True: "met", False: "MISSED", None: "not measured"}[check["met"]]
        shown = "—" if check["value"] is None else f"{check['value']:+.2f}"
        if key == "train_seconds" and check["value"] is not None:
            shown = f"{check['value']:.1f}"
        lines.append(f"goal: {label}: {shown} (target {bound} {check['target']:g}): {verdict}")
    for error in report["errors"]:
        lines.append(f"error: {error}")
    lines.append(
        "Seconds: training alone (rnncls's train_seconds; MiniRocket's fit after a warm-up "
        "fit). Published: other machines and budgets; MLSTM-FCN on the multivariate sets; "
        "sources in bench/ucr.py."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------- main


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("RNNCLS_UCR_DIR") or DEFAULT_DATA_ROOT),
        help="a folder of set folders (RNNCLS_UCR_DIR, else ../shared/data/ucr)",
    )
    parser.add_argument("--sets", help="comma-separated set names (default: every set)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="rnncls's config")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for rnncls, as rnncls train --set (repeatable)",
    )
    parser.add_argument(
        "--aeon-python",
        type=Path,
        default=DEFAULT_AEON_PYTHON,
        help="the Python of the environment with aeon 1.6 (default: .venv-aeon/bin/python)",
    )
    parser.add_argument("--no-minirocket", action="store_true", help="rnncls alone")
    parser.add_argument(
        "--smoke", action="store_true", help="the first set, a tiny network, 2 epochs"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_FILE)
    parser.add_argument("--json", action="store_true", help="print the JSON, not the table")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if not args.config.is_file():
        raise SystemExit(f"no config file {args.config} (give --config)")
    if not args.no_minirocket and not args.aeon_python.exists():
        raise SystemExit(
            f"no aeon environment at {args.aeon_python}: run `make bench-ucr`, which "
            "creates .venv-aeon (aeon 1.6.0), give --aeon-python, or --no-minirocket"
        )
    names = [name.strip() for name in args.sets.split(",") if name.strip()] if args.sets else None
    sets = find_sets(args.data_root, names)
    settings = list(args.overrides)
    if args.smoke:
        sets = sets[:1]
        settings = [*SMOKE_SETTINGS, *settings]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    machine = machine_info()
    log(f"{machine['cpu']}, {machine['cores']} cores, load {machine['load_average']}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnncls-ucr-") as folder:
        workdir = Path(folder)
        env = dict(os.environ, MPLBACKEND="Agg")
        env.pop("RNNCLS_DATA_DIR", None)
        for set_folder in sets:
            row: dict[str, Any] = {"set": set_folder.name, **describe_set(set_folder)}
            row["rnncls"] = train_rnncls(set_folder, args.config, settings, env, workdir)
            log(f"{set_folder.name:18} rnncls     {_summary(row['rnncls'])}")
            row["minirocket"] = None
            if not args.no_minirocket:
                row["minirocket"] = fit_minirocket(set_folder, args.aeon_python, env, workdir)
                log(f"{set_folder.name:18} MiniRocket {_summary(row['minirocket'])}")
            rows.append(row)
    report = build_report(rows, args, settings, machine)
    report["table"] = format_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2) if args.json else report["table"])
    return 1 if report["errors"] else 0


def _summary(run: dict[str, Any]) -> str:
    if run.get("error"):
        return f"failed: {run['error']}"
    return f"accuracy {run['accuracy']:.4f}, {run['seconds']:.1f} s (wall {run['wall_seconds']} s)"


if __name__ == "__main__":
    sys.exit(main())
