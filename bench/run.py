"""rnncls against a PyTorch reference, side by side on this machine: ``make bench``.

Training: ``rnncls train`` and ``bench/torch_reference.py`` (same model, optimizer, batch,
data and data order) each run in a fresh process, alternately, several rounds; each
reports the milliseconds per training step of its timed steps only. The PyTorch
reference runs at each thread count of ``--torch-threads`` and the faster median is the
reference to beat (on a busy 2-core machine OpenMP's spinning threads make 2 threads
slower than 1). Peak memory is each process's own maximum resident set size, read from
``os.wait4`` when it ends, in MB of 10**6 bytes (the target is 1.0 GB). Start-up:
``rnncls --help``, ``rnncls predict --n 10`` and ``rnncls eval`` (the full test set)
each timed as the wall time of a fresh process.

Networks: the networks of a few shipped configs, rnncls against the same network in
``nn.LSTM``. Cells (issue 27): each cell of ``rnncls/cells/`` (LSTM, LEM, coRNN, IndRNN)
at psMNIST's shape, 784 steps of 1 pixel, 128 units, batch 128, ``rnncls train`` against
the PyTorch code of the cell's authors (``bench/torch_cells.py``; the LSTM: ``nn.LSTM``)
and against rnncls's LSTM. The cells alternate within each round, so a busy spell of the
machine falls on all of them.

Everything is printed as a table, and written as JSON to ``bench/results/latest.json``
(``--json`` prints the JSON on stdout instead). Nothing here imports TensorFlow or torch:
this process stays small and out of the way of what it measures.

    python bench/run.py                  # everything (about 20 min on 2 cores)
    python bench/run.py --only seed      # the default experiment, 5 rounds (about 5 min)
    python bench/run.py --only cells     # the cells at 784 steps (about 10 min)
    python bench/run.py --rounds 9 --repeats 9   # tighter medians
    python bench/run.py --smoke --data-dir DIR   # seconds: checks that the benchmark works
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
# The shipped configs whose own networks are timed against the same network in PyTorch,
# each with its share of --network-steps: a step of the pixel tasks (LSTM 128, batch 128,
# 196 or 784 steps a sequence) costs 10 to 40 times one of the row task.
NETWORK_CONFIGS = {
    BENCH_DIR.parent / "configs" / "best.toml": 1.0,
    BENCH_DIR.parent / "configs" / "psmnist-quick.toml": 0.2,
    BENCH_DIR.parent / "configs" / "psmnist.toml": 0.1,
}
# A smoke run keeps their kind of network but makes it tiny.
SMOKE_NETWORK_SETTINGS = [
    "model.hidden_units=8",
    "train.batch_size=16",
    "train.eval_every=2",
    "data.validation_size=20",
]
TORCH_REFERENCE = BENCH_DIR / "torch_reference.py"

# The cells of rnncls/cells/ timed at psMNIST's shape (784 steps of 1 pixel, LSTM 128,
# batch 128), with global gradient-norm clipping as the reference recipes clip; the LSTM
# is the yardstick of the others. A 784-step evaluation is slow and not timed, so the
# processes hold out few validation pictures and read a copy of the data whose test
# split is its first CELL_TEST_PICTURES pictures.
CELL_CONFIG = BENCH_DIR.parent / "configs" / "psmnist.toml"
CELLS = ("lstm", "lem", "cornn", "indrnn")
CELL_SETTINGS = ["train.clip='global'", "data.validation_size=100"]
CELL_TEST_PICTURES = 1000
# A smoke run reads 49 steps of 16 pixels: the same loop, compiled in a moment.
SMOKE_CELL_SETTINGS = [*SMOKE_NETWORK_SETTINGS, "sequence.pixels_per_step=16"]
SECTIONS = ("seed", "networks", "cells")

# Targets of issue 4, checked in the table (medians on the benchmark machine).
TARGETS = {
    "train_ratio": 1.0,  # rnncls ms/step over PyTorch's
    "test_accuracy": 0.965,  # after 1200 steps
    "train_peak_mb": 1000.0,
    "predict_s": 0.5,
    "help_s": 0.25,
    "eval_s": 3.0,
}
# Targets of issue 27 for each cell at 784 steps.
CELL_TARGETS = {
    "torch_ratio": 0.8,  # rnncls ms/step over the fastest PyTorch of the same cell
    "lstm_ratio": 1.5,  # rnncls ms/step over rnncls's LSTM
}


# ---------------------------------------------------------------------- processes


@dataclass
class ProcessResult:
    """One fresh process: its exit status, wall time, peak memory and output."""

    returncode: int
    wall_seconds: float
    peak_mb: float
    stdout: str
    stderr: str

    def last_json(self) -> dict[str, Any] | None:
        for line in reversed(self.stdout.splitlines()):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                return record
        return None

    def error_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1][:200] if lines else f"exit {self.returncode}"


def run_process(command: list[str], env: dict[str, str], cwd: Path) -> ProcessResult:
    """Run ``command`` to its end; its peak RSS comes from the kernel (``wait4``), exact
    for this one process and not polled."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ProcessResult(
            returncode=process.returncode,
            wall_seconds=wall,
            peak_mb=usage.ru_maxrss * 1024 / 1e6,  # ru_maxrss is in KiB on Linux; MB = 10**6 B
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def rnncls_command() -> list[str]:
    """The console script beside this Python (what a user types), else ``-m rnncls``."""
    script = Path(sys.executable).parent / "rnncls"
    if script.exists():
        return [str(script)]
    found = shutil.which("rnncls")
    return [found] if found else [sys.executable, "-m", "rnncls"]


# ---------------------------------------------------------------------- training


@dataclass
class Experiment:
    steps: int = 1200
    batch_size: int = 64
    hidden_units: int = 64
    learning_rate: float = 0.01
    seed: int = 1
    validation_size: int = 5000
    eval_every: int = 50
    # A config file whose network and training both sides run instead of the seed's
    # (the step count above still applies), and --set overrides for both.
    config: str | None = None
    overrides: list[str] = field(default_factory=list)

    def rnncls_settings(self) -> list[str]:
        if self.config:
            sets = [arg for setting in self.overrides for arg in ("--set", setting)]
            return ["--config", self.config, *sets, "--steps", str(self.steps)]
        values = {
            "train.steps": self.steps,
            "train.batch_size": self.batch_size,
            "model.hidden_units": self.hidden_units,
            "train.learning_rate": self.learning_rate,
            "train.seed": self.seed,
            "data.validation_size": self.validation_size,
            "train.eval_every": self.eval_every,
        }
        return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]

    def torch_arguments(self) -> list[str]:
        if self.config:
            sets = [f"--set={setting}" for setting in self.overrides]
            return [f"--config={self.config}", *sets, f"--steps={self.steps}"]
        return [
            f"--steps={self.steps}",
            f"--batch-size={self.batch_size}",
            f"--hidden-units={self.hidden_units}",
            f"--lr={self.learning_rate}",
            f"--seed={self.seed}",
            f"--validation-size={self.validation_size}",
        ]

    def flops_per_step(self, image_size: int = 28, classes: int = 10) -> float:
        """Multiply-adds (x2) of one training step: forward through the LSTM's 28 time
        steps of a (batch x (inputs + units)) by ((inputs + units) x 4 units) product and
        the dense layer, and twice that backward (input and weight gradients)."""
        gates = 4 * self.hidden_units
        lstm = image_size * 2 * self.batch_size * (image_size + self.hidden_units) * gates
        dense = 2 * self.batch_size * self.hidden_units * classes
        return 3 * (lstm + dense)


@dataclass
class TrainRun:
    name: str
    ms_per_step: float | None
    test_accuracy: float | None
    peak_mb: float
    wall_seconds: float
    error: str | None = None
    # rnncls's line that says which code trained the network ("training through ...")
    path: str | None = None


def train_rnncls(experiment: Experiment, env: dict[str, str], workdir: Path, tag: str) -> TrainRun:
    run_dir = workdir / f"rnncls-{tag}"
    command = [
        *rnncls_command(),
        "train",
        *experiment.rnncls_settings(),
        "--json",
        "--force",
        "--run-dir",
        str(run_dir),
    ]
    return _train_run("rnncls", command, env, workdir)


def train_torch(
    experiment: Experiment, env: dict[str, str], workdir: Path, threads: int
) -> TrainRun:
    command = [
        sys.executable,
        str(TORCH_REFERENCE),
        *experiment.torch_arguments(),
        f"--threads={threads}",
    ]
    return _train_run(f"pytorch-{threads}t", command, env, workdir)


def _train_run(name: str, command: list[str], env: dict[str, str], workdir: Path) -> TrainRun:
    result = run_process(command, env, workdir)
    done = result.last_json()
    if result.returncode != 0 or not done or done.get("event") != "done":
        return TrainRun(name, None, None, result.peak_mb, result.wall_seconds, result.error_line())
    return TrainRun(
        name,
        done["ms_per_step"],
        done["test_accuracy"],
        result.peak_mb,
        result.wall_seconds,
        path=training_path(result.stderr),
    )


def training_path(log: str) -> str | None:
    """What rnncls's log says trained the network: "Keras's loop (784 steps) (...)"."""
    for line in log.splitlines():
        if "training through " in line:
            return line.split("training through ", 1)[1].strip()
    return None


@dataclass
class Summary:
    """Medians over the rounds of one contender."""

    name: str
    runs: list[TrainRun] = field(default_factory=list)

    def good(self) -> list[TrainRun]:
        return [r for r in self.runs if r.error is None]

    def median(self, attribute: str) -> float | None:
        values = [getattr(r, attribute) for r in self.good()]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "ms_per_step_median": self.median("ms_per_step"),
            "ms_per_step_all": [r.ms_per_step for r in self.runs],
            "test_accuracy_median": self.median("test_accuracy"),
            "test_accuracy_all": [r.test_accuracy for r in self.runs],
            "peak_mb_median": self.median("peak_mb"),
            "peak_mb_max": max((r.peak_mb for r in self.good()), default=None),
            "wall_seconds_median": self.median("wall_seconds"),
            "errors": [r.error for r in self.runs if r.error],
            "path": next((r.path for r in self.runs if r.path), None),
        }


def new_summaries(torch_threads: list[int]) -> dict[str, Summary]:
    """An empty summary for rnncls and for PyTorch at each thread count."""
    names = ["rnncls", *(f"pytorch-{threads}t" for threads in torch_threads)]
    return {name: Summary(name) for name in names}


def benchmark_training(
    experiment: Experiment,
    rounds: int,
    torch_threads: list[int],
    env: dict[str, str],
    workdir: Path,
    log: Any,
) -> dict[str, Summary]:
    """Alternate rnncls and PyTorch, reversing the order every other round, so a slow
    spell of a shared machine falls on both."""
    summaries = new_summaries(torch_threads)
    for round_index in range(rounds):
        train_round(experiment, round_index, rounds, summaries, env, workdir, log)
    return summaries


def train_round(
    experiment: Experiment,
    round_index: int,
    rounds: int,
    summaries: dict[str, Summary],
    env: dict[str, str],
    workdir: Path,
    log: Any,
    label: str = "",
) -> None:
    """One run of each contender of ``summaries``, in reverse order every other round,
    each added to its summary. ``label`` names the experiment in the log and in the
    rnncls run's folder."""
    contenders: list[tuple[str, Any, tuple[Any, ...]]] = []
    for name in summaries:
        if name == "rnncls":
            tag = f"{label}-{round_index}" if label else str(round_index)
            contenders.append((name, train_rnncls, (experiment, env, workdir, tag)))
        else:
            threads = int(name.removeprefix("pytorch-").removesuffix("t"))
            contenders.append((name, train_torch, (experiment, env, workdir, threads)))
    if round_index % 2:
        contenders.reverse()
    prefix = f"{label:7} " if label else ""
    for name, contender, arguments in contenders:
        run = contender(*arguments)
        summaries[name].runs.append(run)
        shown = f"{run.ms_per_step:.3f} ms/step" if run.error is None else run.error
        log(
            f"round {round_index + 1}/{rounds}  {prefix}{name:12} {shown}  "
            f"peak {run.peak_mb:.0f} MB"
        )


def benchmark_networks(
    args: argparse.Namespace,
    torch_threads: list[int],
    env: dict[str, str],
    workdir: Path,
    log: Any,
) -> dict[str, tuple[dict[str, Summary], int]]:
    """The network of each of NETWORK_CONFIGS, its share of ``--network-steps``."""
    networks = {}
    for config, share in NETWORK_CONFIGS.items():
        network = Experiment(
            steps=max(1, round(share * args.network_steps)),
            config=str(config),
            overrides=SMOKE_NETWORK_SETTINGS if args.smoke else [],
        )
        log(f"network of {config.name}: {network.steps} steps")
        summaries = benchmark_training(
            network, args.network_rounds, torch_threads, env, workdir, log
        )
        networks[f"configs/{config.name}"] = (summaries, network.steps)
    return networks


# ---------------------------------------------------------------------- cells


IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_file(folder: Path, name: str) -> Path | None:
    """The IDX file ``name`` in ``folder``, as it is or gzipped."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def with_short_test_split(source: Path, target: Path, pictures: int) -> Path | None:
    """A data folder in ``target`` that holds ``source``'s training files (linked) and
    the first ``pictures`` of its test split, or None when ``source`` is not a folder of
    the four MNIST files. An IDX file is a big-endian header (a magic number, the count,
    the sizes of a picture) and then the values: the copy rewrites the count."""
    found = {name: idx_file(source, name) for pair in IDX_FILES.values() for name in pair}
    if None in found.values():
        return None
    target.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES["train"]:
        (target / found[name].name).symlink_to(found[name].resolve())
    for name in IDX_FILES["test"]:
        path = found[name]
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        dimensions = raw[3]  # the magic number's last byte: 3 for pictures, 1 for labels
        header = 4 + 4 * dimensions
        sizes = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions)]
        kept = min(pictures, sizes[0])
        value_bytes = (len(raw) - header) // sizes[0] if sizes[0] else 0
        body = raw[header : header + kept * value_bytes]
        (target / name).write_bytes(raw[:4] + kept.to_bytes(4, "big") + raw[8:header] + body)
    return target


def cell_experiments(args: argparse.Namespace) -> dict[str, Experiment]:
    """The config of each cell to time: configs/psmnist.toml with ``model.cell``."""
    settings = [*CELL_SETTINGS, *(SMOKE_CELL_SETTINGS if args.smoke else [])]
    return {
        cell: Experiment(
            steps=args.cell_steps,
            config=str(CELL_CONFIG),
            overrides=[f"model.cell='{cell}'", *settings],
        )
        for cell in args.cells
    }


def benchmark_cells(
    args: argparse.Namespace,
    torch_threads: list[int],
    env: dict[str, str],
    workdir: Path,
    log: Any,
) -> dict[str, dict[str, Summary]]:
    """Each cell through rnncls and through PyTorch, every round; the cells alternate
    within a round (in reverse order every other round), as do each cell's contenders."""
    data = env.get("RNNCLS_DATA_DIR")
    short = (
        with_short_test_split(Path(data), workdir / "cells-data", CELL_TEST_PICTURES)
        if data
        else None
    )
    if short is not None:
        env = {**env, "RNNCLS_DATA_DIR": str(short)}
    experiments = cell_experiments(args)
    log(
        f"cells at {CELL_CONFIG.name}'s shape: {', '.join(experiments)}; "
        f"{args.cell_steps} steps a process"
    )
    summaries = {cell: new_summaries(torch_threads) for cell in experiments}
    for round_index in range(args.cell_rounds):
        order = list(experiments)
        if round_index % 2:
            order.reverse()
        for cell in order:
            train_round(
                experiments[cell],
                round_index,
                args.cell_rounds,
                summaries[cell],
                env,
                workdir,
                log,
                label=cell,
            )
    return summaries


# ---------------------------------------------------------------------- start-up


@dataclass
class CommandTiming:
    name: str
    command: str
    wall_seconds_median: float | None
    wall_seconds_all: list[float]
    peak_mb_median: float | None
    error: str | None = None


def time_command(
    name: str,
    arguments: list[str],
    repeats: int,
    env: dict[str, str],
    workdir: Path,
    warm_up: bool = True,
) -> CommandTiming:
    """Median wall time of ``rnncls ARGUMENTS`` in fresh processes; not available when
    the command fails (the first failure stops the repeats). One untimed run first, so
    every timed one finds the files in the page cache and the byte code compiled."""
    command = [*rnncls_command(), *arguments]
    shown = " ".join(["rnncls", *("RUN" if Path(a).is_absolute() else a for a in arguments)])
    if warm_up:
        run_process(command, env, workdir)
    walls, peaks = [], []
    for _ in range(repeats):
        result = run_process(command, env, workdir)
        if result.returncode != 0:
            return CommandTiming(name, shown, None, walls, None, result.error_line())
        walls.append(round(result.wall_seconds, 4))
        peaks.append(result.peak_mb)
    return CommandTiming(
        name, shown, statistics.median(walls), walls, statistics.median(peaks) if peaks else None
    )


def benchmark_startup(
    run_dir: Path | None,
    repeats: int,
    env: dict[str, str],
    workdir: Path,
    log: Any,
    warm_up: bool = True,
) -> list[CommandTiming]:
    run = ["--run", str(run_dir)] if run_dir else []
    commands = [
        ("help", ["--help"]),
        ("predict", ["predict", "--n", "10", *run]),
        ("eval", ["eval", *run, "--json"]),
    ]
    timings = []
    for name, arguments in commands:
        timing = time_command(name, arguments, repeats, env, workdir, warm_up)
        shown = (
            f"{timing.wall_seconds_median:.3f} s"
            if timing.error is None
            else f"not available ({timing.error})"
        )
        log(f"{timing.command:40} {shown}")
        timings.append(timing)
    return timings


# ---------------------------------------------------------------------- the machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory_gb = None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1) if memory_gb else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: version_of(name)
            for name in ("rnncls", "tensorflow", "keras", "torch", "onnxruntime", "numpy")
        },
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def matmul_rates(env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """GFLOP/s of float32 products on this machine (bench/matmul_rates.py)."""
    result = run_process([sys.executable, str(BENCH_DIR / "matmul_rates.py")], env, workdir)
    rates = result.last_json()
    if result.returncode != 0 or rates is None:
        raise RuntimeError(f"bench/matmul_rates.py failed: {result.error_line()}")
    return rates


# ---------------------------------------------------------------------- report


def build_report(
    args: argparse.Namespace,
    experiment: Experiment,
    machine: dict[str, Any],
    rates: dict[str, float] | None,
    summaries: dict[str, Summary],
    startup: list[CommandTiming],
    networks: dict[str, tuple[dict[str, Summary], int]] | None = None,
    cells: dict[str, dict[str, Summary]] | None = None,
) -> dict[str, Any]:
    """The JSON report of the sections that ran (``args.only``); the seed experiment's
    fields are empty when it did not run."""
    return {
        "benchmark": "rnncls vs PyTorch, side by side",
        "smoke": args.smoke,
        "sections": list(args.only),
        "rounds": args.rounds,
        "experiment": asdict(experiment),
        "machine": machine,
        **_seed_report(experiment, rates, summaries, startup),
        "networks": {
            name: _network_report(s, steps) for name, (s, steps) in (networks or {}).items()
        },
        "cells": _cells_report(cells, args) if cells else None,
        "targets": TARGETS,
        "cell_targets": CELL_TARGETS,
        "note": None if not args.smoke else "smoke run: tiny settings, numbers mean nothing",
    }


def _seed_report(
    experiment: Experiment,
    rates: dict[str, float] | None,
    summaries: dict[str, Summary],
    startup: list[CommandTiming],
) -> dict[str, Any]:
    """The seed's experiment: rnncls against the fastest PyTorch, the FLOP floor, the
    start-up timings and the checks of issue 4's targets."""
    if "rnncls" not in summaries or rates is None:
        return {
            "matmul_gflops": None,
            "flop_floor": None,
            "training": {},
            "reference": None,
            "ratio": None,
            "startup": [],
            "checks": {},
        }
    rnncls = summaries["rnncls"]
    reference = _fastest_torch(summaries)
    rnncls_ms = rnncls.median("ms_per_step")
    reference_ms = reference.median("ms_per_step") if reference else None
    flops = experiment.flops_per_step()
    floor = {
        "gflop_per_step": round(flops / 1e9, 4),
        "ms_at_large_matmul_rate": round(flops / (rates["large_1024"] * 1e9) * 1e3, 3),
        "ms_at_small_matmul_rate": round(flops / (rates["small_64x64x256"] * 1e9) * 1e3, 3),
    }
    by_name = {t.name: t for t in startup}
    checks = {
        "train_ratio": _at_most(_ratio(rnncls_ms, reference_ms), TARGETS["train_ratio"]),
        "test_accuracy": _at_least(rnncls.median("test_accuracy"), TARGETS["test_accuracy"]),
        "train_peak_mb": _at_most(rnncls.to_json()["peak_mb_max"], TARGETS["train_peak_mb"]),
    }
    for name in ("help", "predict", "eval"):
        timing = by_name.get(name)
        checks[f"{name}_s"] = _at_most(
            timing.wall_seconds_median if timing else None, TARGETS[f"{name}_s"]
        )
    return {
        "matmul_gflops": rates,
        "flop_floor": floor,
        "training": {name: s.to_json() for name, s in summaries.items()},
        "reference": reference.name if reference else None,
        "ratio": _ratio(rnncls_ms, reference_ms),
        "startup": [asdict(t) for t in startup],
        "checks": checks,
    }


def _fastest_torch(summaries: dict[str, Summary]) -> Summary | None:
    """The PyTorch thread count with the fastest median, the reference to beat."""
    timed = [s for name, s in summaries.items() if name != "rnncls" and s.median("ms_per_step")]
    return min(timed, key=lambda s: s.median("ms_per_step")) if timed else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator and denominator else None


def _cells_report(cells: dict[str, dict[str, Summary]], args: argparse.Namespace) -> dict[str, Any]:
    """Each cell: rnncls's median against the fastest PyTorch of the same cell and
    against rnncls's LSTM, with the checks of issue 27's targets."""
    lstm_ms = cells["lstm"]["rnncls"].median("ms_per_step") if "lstm" in cells else None
    report = {}
    for cell, summaries in cells.items():
        rnncls_ms = summaries["rnncls"].median("ms_per_step")
        reference = _fastest_torch(summaries)
        reference_ms = reference.median("ms_per_step") if reference else None
        torch_ratio, lstm_ratio = _ratio(rnncls_ms, reference_ms), _ratio(rnncls_ms, lstm_ms)
        report[cell] = {
            "training": {name: s.to_json() for name, s in summaries.items()},
            "rnncls_ms_per_step": rnncls_ms,
            "reference": reference.name if reference else None,
            "reference_ms_per_step": reference_ms,
            "torch_ratio": torch_ratio,
            "lstm_ratio": lstm_ratio,
            "checks": {
                "torch_ratio": _at_most(torch_ratio, CELL_TARGETS["torch_ratio"]),
                "lstm_ratio": _at_most(lstm_ratio, CELL_TARGETS["lstm_ratio"]),
            },
        }
    some_cell = next(iter(cell_experiments(args).values()))
    return {
        "config": f"configs/{CELL_CONFIG.name}",
        "settings": [s for s in some_cell.overrides if not s.startswith("model.cell=")],
        "steps": args.cell_steps,
        "rounds": args.cell_rounds,
        "test_pictures": CELL_TEST_PICTURES,
        "cells": report,
    }


def _network_report(summaries: dict[str, Summary], steps: int) -> dict[str, Any]:
    """One shipped config's network: rnncls against the fastest PyTorch thread count."""
    rnncls_ms = summaries["rnncls"].median("ms_per_step")
    reference = _fastest_torch(summaries)
    reference_ms = reference.median("ms_per_step") if reference else None
    return {
        "training": {name: s.to_json() for name, s in summaries.items()},
        "reference": reference.name if reference else None,
        "ratio": _ratio(rnncls_ms, reference_ms),
        "steps": steps,
    }


def _at_most(value: float | None, limit: float) -> dict[str, Any]:
    return {"value": value, "limit": limit, "ok": None if value is None else value <= limit}


def _at_least(value: float | None, limit: float) -> dict[str, Any]:
    return {"value": value, "limit": limit, "ok": None if value is None else value >= limit}


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _verdict(check: dict[str, Any]) -> str:
    return {True: "yes", False: "NO", None: "n/a"}[check["ok"]]


def format_table(report: dict[str, Any]) -> str:
    """Markdown tables of the sections that ran (the README quotes them as printed)."""
    machine = report["machine"]
    rows = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GiB; "
        f"Python {machine['python']}, TensorFlow {machine['versions']['tensorflow']}, "
        f"Keras {machine['versions']['keras']}, PyTorch {machine['versions']['torch']}; "
        f"load average at start {machine['load_average'][0]}",
    ]
    if report["training"]:
        rows += _seed_table(report)
    for name, network in report["networks"].items():
        rows += [
            "",
            f"Network of `{name}` ({network['steps']} steps; all rounds in the JSON):",
            "",
            "| training | ms/step (median) | ratio to the fastest PyTorch |",
            "| --- | ---: | ---: |",
        ]
        for contender, summary in network["training"].items():
            ratio = _number(network["ratio"]) if contender == "rnncls" else ""
            rows.append(f"| {contender} | {_number(summary['ms_per_step_median'])} | {ratio} |")
    if report["cells"]:
        rows += _cells_table(report["cells"])
    if report["note"]:
        rows += ["", f"Note: {report['note']}"]
    return "\n".join(rows)


def _seed_table(report: dict[str, Any]) -> list[str]:
    """The seed experiment's training, its FLOP floor, the start-up and issue 4's targets."""
    experiment = report["experiment"]
    training = report["training"]
    checks = report["checks"]
    rows = [
        f"Experiment: LSTM {experiment['hidden_units']}, batch {experiment['batch_size']}, "
        f"Adam {experiment['learning_rate']}, {experiment['steps']} steps; "
        f"{report['rounds']} alternating rounds, medians",
        "",
        "| training | ms/step (median) | all rounds | test accuracy | peak memory (MB, max) "
        "| process wall s |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for name, summary in training.items():
        all_rounds = ", ".join(_number(x, 2) for x in summary["ms_per_step_all"])
        rows.append(
            f"| {name} | {_number(summary['ms_per_step_median'])} | {all_rounds} | "
            f"{_number(summary['test_accuracy_median'], 4)} | "
            f"{_number(summary['peak_mb_max'], 0)} | "
            f"{_number(summary['wall_seconds_median'], 1)} |"
        )
    floor = report["flop_floor"]
    rates = report["matmul_gflops"]
    rows += [
        "",
        f"FLOP floor: {floor['gflop_per_step']} GFLOP/step; "
        f"{floor['ms_at_large_matmul_rate']} ms/step at the large-matmul rate "
        f"({rates['large_1024']} GFLOP/s), {floor['ms_at_small_matmul_rate']} ms/step at the "
        f"64x64x256 rate ({rates['small_64x64x256']} GFLOP/s); best rates of {rates['library']}",
        "",
        "| fresh process | wall s (median) | peak memory (MB) |",
        "| --- | ---: | ---: |",
    ]
    for timing in report["startup"]:
        shown = (
            _number(timing["wall_seconds_median"])
            if timing["error"] is None
            else f"not available: {timing['error']}"
        )
        rows.append(f"| `{timing['command']}` | {shown} | {_number(timing['peak_mb_median'], 0)} |")
    rows += [
        "",
        "| target | value | limit | met |",
        "| --- | ---: | ---: | --- |",
        f"| rnncls ms/step over {report['reference']} | "
        f"{_number(checks['train_ratio']['value'])} | <= 1.0 | "
        f"{_verdict(checks['train_ratio'])} |",
    ]
    labels = {
        "test_accuracy": ("rnncls test accuracy", ">=", 4),
        "train_peak_mb": ("rnncls train peak memory (MB)", "<=", 0),
        "predict_s": ("`rnncls predict --n 10` (s)", "<=", 3),
        "help_s": ("`rnncls --help` (s)", "<=", 3),
        "eval_s": ("`rnncls eval`, 10,000 images (s)", "<=", 3),
    }
    for key, (label, sign, digits) in labels.items():
        check = checks[key]
        rows.append(
            f"| {label} | {_number(check['value'], digits)} | {sign} {check['limit']} | "
            f"{_verdict(check)} |"
        )
    return rows


def _torch_label(name: str) -> str:
    """``pytorch-2t`` as a column's title: "PyTorch, 2 threads"."""
    threads = int(name.removeprefix("pytorch-").removesuffix("t"))
    return f"PyTorch, {threads} thread{'s' if threads > 1 else ''}"


def _cells_table(cells: dict[str, Any]) -> list[str]:
    """One row a cell: rnncls's ms/step beside PyTorch's and beside rnncls's LSTM."""
    threads = [name for name in next(iter(cells["cells"].values()))["training"] if name != "rnncls"]
    rows = [
        "",
        f"Cells at 784 steps: `{cells['config']}` (784 steps of 1 pixel, 128 units, batch 128) "
        f"with {', '.join(cells['settings'])}; {cells['steps']} steps a process, "
        f"{cells['rounds']} alternating rounds, medians of ms/step. PyTorch: the authors' "
        "code (bench/torch_cells.py), nn.LSTM for the LSTM.",
        "",
        "| cell | rnncls | "
        + "".join(f"{_torch_label(name)} | " for name in threads)
        + f"rnncls / PyTorch (<= {CELL_TARGETS['torch_ratio']}) | "
        f"rnncls / rnncls's LSTM (<= {CELL_TARGETS['lstm_ratio']}) |",
        "| --- | ---: | " + "---: | " * len(threads) + "---: | ---: |",
    ]
    for cell, result in cells["cells"].items():
        training, checks = result["training"], result["checks"]
        theirs = "".join(
            f"{_number(training[name]['ms_per_step_median'], 1)} | " for name in threads
        )
        rows.append(
            f"| {cell} | {_number(result['rnncls_ms_per_step'], 1)} | {theirs}"
            f"{_number(result['torch_ratio'])} {_verdict(checks['torch_ratio'])} | "
            f"{_number(result['lstm_ratio'])} {_verdict(checks['lstm_ratio'])} |"
        )
    paths = [
        f"{cell}: {result['training']['rnncls']['path']}"
        for cell, result in cells["cells"].items()
        if result["training"]["rnncls"]["path"]
    ]
    if paths:
        rows += ["", "rnncls trained " + "; ".join(paths) + "."]
    errors = [
        f"{cell} {name}: {error}"
        for cell, result in cells["cells"].items()
        for name, summary in result["training"].items()
        for error in summary["errors"]
    ]
    if errors:
        rows += ["", "Failed runs: " + "; ".join(errors)]
    return rows


# ---------------------------------------------------------------------- main


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating training rounds")
    parser.add_argument("--steps", type=int, default=None, help="training steps (1200)")
    parser.add_argument(
        "--torch-threads",
        default=None,
        help="comma-separated PyTorch thread counts to try (default: 1 and the core count)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="fresh-process timings each")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (RNNCLS_DATA_DIR)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    parser.add_argument("--smoke", action="store_true", help="tiny settings: check it works")
    parser.add_argument(
        "--network-steps",
        type=int,
        default=300,
        help="steps of configs/best.toml's network side by side (the pixel tasks: a share)",
    )
    parser.add_argument("--network-rounds", type=int, default=3, help="their rounds")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help="comma-separated sections to run: seed (the seed's experiment, start-up), "
        "networks (the shipped configs' networks), cells (the cells at 784 steps)",
    )
    parser.add_argument(
        "--cells",
        default=",".join(CELLS),
        help=f"comma-separated cells to time at 784 steps (the LSTM always); {', '.join(CELLS)}",
    )
    parser.add_argument(
        "--cell-steps", type=int, default=20, help="training steps of each cell's processes"
    )
    parser.add_argument("--cell-rounds", type=int, default=2, help="the cells' rounds")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument("--json", action="store_true", help="print the JSON, not the table")
    args = parser.parse_args(argv)
    args.only = _choices(parser, "--only", args.only, SECTIONS)
    args.cells = [
        "lstm",
        *(c for c in _choices(parser, "--cells", args.cells, CELLS) if c != "lstm"),
    ]
    if args.smoke:
        args.rounds = 1
        args.repeats = 1
        args.network_rounds = 1
        args.network_steps = 4
        args.cell_rounds = 1
        args.cell_steps = 2
    return args


def _choices(
    parser: argparse.ArgumentParser, flag: str, value: str, allowed: tuple[str, ...]
) -> list[str]:
    """The comma-separated names of ``value``, each one of ``allowed``, in that order."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        parser.error(f"{flag} {value!r}: choose among {', '.join(allowed)}")
    return [name for name in allowed if name in names]


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    experiment = Experiment()
    if args.smoke:
        experiment = Experiment(
            steps=4, batch_size=16, hidden_units=8, validation_size=20, eval_every=2
        )
    if args.steps:
        experiment.steps = args.steps
    if args.torch_threads:
        torch_threads = [int(x) for x in args.torch_threads.split(",")]
    elif args.smoke:
        torch_threads = [1]
    else:
        torch_threads = sorted({1, os.cpu_count() or 1})
    if args.no_torch:
        torch_threads = []

    env = dict(os.environ)
    if args.data_dir:
        env["RNNCLS_DATA_DIR"] = str(Path(args.data_dir).resolve())
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(BENCH_DIR.parent), env.get("PYTHONPATH")) if p
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    machine = machine_info()
    summaries: dict[str, Summary] = {}
    startup: list[CommandTiming] = []
    rates = None
    networks = {}
    cells = {}
    with tempfile.TemporaryDirectory(prefix="rnncls-bench-") as folder:
        workdir = Path(folder)
        if "seed" in args.only:
            summaries = benchmark_training(
                experiment, args.rounds, torch_threads, env, workdir, log
            )
            last_run = workdir / f"rnncls-{args.rounds - 1}"
            run_dir = last_run if (last_run / "summary.json").exists() else None
            startup = benchmark_startup(
                run_dir, args.repeats, env, workdir, log, warm_up=not args.smoke
            )
            rates = matmul_rates(env, workdir)
        if "networks" in args.only:
            networks = benchmark_networks(args, torch_threads, env, workdir, log)
        if "cells" in args.only:
            cells = benchmark_cells(args, torch_threads, env, workdir, log)
    report = build_report(args, experiment, machine, rates, summaries, startup, networks, cells)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["table"] = format_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(report["table"])
        print(f"\nJSON: {args.out}")
    every = [
        *summaries.values(),
        *(s for network, _ in networks.values() for s in network.values()),
        *(s for cell in cells.values() for s in cell.values()),
    ]
    return 1 if any(s.runs and not s.good() for s in every) else 0


if __name__ == "__main__":
    sys.exit(main())
