"""A picture folder against the IDX files, side by side: ``make bench`` (after run.py).

MNIST is written out as 70,000 PNG files (``train/<digit>/<index>.png``, then ``test/``),
and ``rnncls train`` runs on the IDX files and on the folder alternately, several rounds,
each a fresh process with the same config: its milliseconds per training step (the timed
steps alone) and its peak memory (the kernel's maximum resident set, from ``wait4``, in MB
of 10**6 bytes). The folder's first run decodes the 70,000 pictures into the cache
(``$XDG_CACHE_HOME/rnncls/pictures``, a temporary one here): its extra wall time is the
one-time cost, reported apart. Targets (issue 25): the folder's step at most 1.3 times the
IDX files', its peak memory at most theirs + 300 MB.

    python bench/folders.py                   # 3 rounds of 600 steps (about 4 min)
    python bench/folders.py --smoke           # a few hundred pictures, seconds
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

RESULTS_FILE = BENCH_DIR / "results" / "folders.json"
TARGETS = {"step_ratio": 1.3, "extra_peak_mb": 300.0}
SMOKE_SETTINGS = ["model.hidden_units=8", "train.batch_size=16", "data.validation_size=20"]


def write_png_folder(data_dir: str | None, folder: Path, most: int | None = None) -> int:
    """MNIST's IDX files as PNG files, one subfolder a digit under train/ and test/; the
    number of files written."""
    from PIL import Image

    from rnncls.config_keys import DataConfig
    from rnncls.datasets import find_data
    from rnncls.datasets.idx import open as open_idx

    parts = open_idx(find_data(data_dir, "").path, DataConfig(), lambda message: None)
    written = 0
    for part, name in (("train", "train"), ("test", "test")):
        images, labels = parts.read_images(part)[..., 0], parts.labels[part]
        count = len(labels) if most is None else min(most, len(labels))
        for index in range(count):
            target = folder / name / str(labels[index])
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[index]).save(target / f"{index:05d}.png")
        written += count
    return written


def train(
    data: Path, settings: list[str], steps: int, env: dict[str, str], workdir: Path, tag: str
) -> dict[str, Any]:
    """One ``rnncls train --json`` on ``data``: its done event, wall time and peak MB."""
    command = [
        *rnncls_command(),
        "train",
        "--json",
        "--data-dir",
        str(data),
        "--steps",
        str(steps),
        "--run-dir",
        str(workdir / tag),
        *[arg for setting in settings for arg in ("--set", setting)],
    ]
    result = run_process(command, env, workdir)
    done = result.last_json()
    if result.returncode != 0 or done is None:
        raise RuntimeError(f"{tag}: {result.error_line()}")
    return {
        "ms_per_step": done["ms_per_step"],
        "test_accuracy": done["test_accuracy"],
        "wall_seconds": round(result.wall_seconds, 2),
        "peak_mb": round(result.peak_mb, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--data-dir", default=os.environ.get("RNNCLS_DATA_DIR"))
    parser.add_argument("--smoke", action="store_true", help="a few hundred pictures")
    parser.add_argument("--out", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)
    settings = SMOKE_SETTINGS if args.smoke else []
    if args.smoke:
        args.rounds, args.steps = 1, 4

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="rnncls-folders-") as folder:
        workdir = Path(folder)
        pictures = workdir / "mnist-png"
        written = write_png_folder(args.data_dir, pictures, 300 if args.smoke else None)
        log(f"wrote {written:,} PNG files into {pictures}")
        env = dict(os.environ, XDG_CACHE_HOME=str(workdir / "cache"), MPLBACKEND="Agg")
        env.pop("RNNCLS_DATA_DIR", None)
        idx = Path(args.data_dir or ".").resolve()
        runs: dict[str, list[dict[str, Any]]] = {"idx": [], "folder": []}
        first_folder = train(pictures, settings, args.steps, env, workdir, "folder-first")
        log(f"folder, first run (decodes into the cache): {first_folder}")
        for round_ in range(args.rounds):
            for name, data in (("idx", idx), ("folder", pictures)):
                runs[name].append(
                    train(data, settings, args.steps, env, workdir, f"{name}-{round_}")
                )
                log(f"{name} round {round_ + 1}: {runs[name][-1]}")
    report = build_report(runs, first_folder, written, args, machine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    return 0


def build_report(
    runs: dict[str, list[dict[str, Any]]],
    first_folder: dict[str, Any],
    written: int,
    args: argparse.Namespace,
    machine: dict[str, Any],
) -> dict[str, Any]:
    median = {
        name: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for name, rounds in runs.items()
    }
    ratio = median["folder"]["ms_per_step"] / median["idx"]["ms_per_step"]
    extra = median["folder"]["peak_mb"] - median["idx"]["peak_mb"]
    decode = first_folder["wall_seconds"] - median["folder"]["wall_seconds"]
    return {
        "machine": {**machine, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "pictures": written,
        "steps": args.steps,
        "rounds": args.rounds,
        "runs": runs,
        "first_folder_run": first_folder,
        "median": median,
        "step_ratio": round(ratio, 3),
        "extra_peak_mb": round(extra, 1),
        "decode_seconds": round(decode, 1),
        "checks": {
            "step_ratio": {
                "value": round(ratio, 3),
                "target": TARGETS["step_ratio"],
                "met": ratio <= TARGETS["step_ratio"],
            },
            "extra_peak_mb": {
                "value": round(extra, 1),
                "target": TARGETS["extra_peak_mb"],
                "met": extra <= TARGETS["extra_peak_mb"],
            },
        },
    }


def format_table(report: dict[str, Any]) -> str:
    median, checks = report["median"], report["checks"]
    machine = report["machine"]
    rows = [
        f"Picture folder against IDX files: MNIST as {report['pictures']:,} PNG files, "
        f"{report['steps']} steps, {report['rounds']} rounds (medians)",
        f"{machine['cpu']}, {machine['cores']} cores, load {machine['load_average']}",
        "",
        f"{'data':<8} {'ms/step':>9} {'peak MB':>9} {'wall s':>8} {'test acc':>9}",
    ]
    for name in ("idx", "folder"):
        m = median[name]
        rows.append(
            f"{name:<8} {m['ms_per_step']:>9.3f} {m['peak_mb']:>9.1f} "
            f"{m['wall_seconds']:>8.1f} {m['test_accuracy']:>9.4f}"
        )
    for key, label in (("step_ratio", "step, folder / idx"), ("extra_peak_mb", "peak MB, + idx")):
        check = checks[key]
        verdict = "met" if check["met"] else "MISSED"
        rows.append(
            f"{label:<20} {check['value']:>8}  (target at most {check['target']}: {verdict})"
        )
    rows.append(
        f"the first folder run decoded the pictures into the cache: "
        f"{report['decode_seconds']:.1f} s more wall time, once"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
