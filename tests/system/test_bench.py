"""The benchmark itself works: `bench/run.py --smoke` on tiny synthetic data.

Only that it runs and reports sane fields; the numbers of a smoke run mean nothing, and
timings are never asserted here (bench/NOTES.md and the README hold the real ones).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from conftest import write_mnist

ROOT = Path(__file__).resolve().parents[2]
HAS_TORCH = importlib.util.find_spec("torch") is not None


def bench_module() -> ModuleType:
    """bench/run.py, imported from its path (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_fresh_process_timing_of_a_command_and_of_a_missing_one(tmp_path):
    bench = bench_module()
    env = dict(os.environ)
    shown = bench.time_command("config", ["config", "show"], 2, env, tmp_path, warm_up=False)
    assert shown.error is None and shown.command == "rnncls config show"
    assert len(shown.wall_seconds_all) == 2 and shown.wall_seconds_median > 0
    missing = bench.time_command("nope", ["no-such-command"], 2, env, tmp_path, warm_up=False)
    assert missing.wall_seconds_median is None and "no-such-command" in missing.error


def test_bench_smoke_run_reports_every_field(tmp_path):
    data = write_mnist(tmp_path / "mnist")
    out = tmp_path / "bench.json"
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--json"]
    command += ["--data-dir", str(data), "--out", str(out)]
    if not HAS_TORCH:  # CI installs only the dev extra; `make bench` adds torch
        command.append("--no-torch")
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert json.loads(out.read_text()) == report

    rnncls = report["training"]["rnncls"]
    assert rnncls["errors"] == []
    assert rnncls["ms_per_step_median"] > 0
    assert 0.0 <= rnncls["test_accuracy_median"] <= 1.0
    assert 50 < rnncls["peak_mb_median"] < 20_000
    if HAS_TORCH:
        assert report["reference"] == "pytorch-1t"
        torch_run = report["training"]["pytorch-1t"]
        assert torch_run["errors"] == [] and torch_run["ms_per_step_median"] > 0
        assert 0.0 <= torch_run["test_accuracy_median"] <= 1.0
        assert report["ratio"] > 0

    startup = {timing["name"]: timing for timing in report["startup"]}
    assert set(startup) == {"help", "predict", "eval"}
    assert startup["help"]["error"] is None and startup["help"]["wall_seconds_median"] > 0
    for timing in startup.values():  # a command this branch lacks is reported, not fatal
        assert (timing["error"] is None) != (timing["wall_seconds_median"] is None)

    assert report["experiment"]["steps"] == 4
    assert report["flop_floor"]["gflop_per_step"] > 0
    assert report["matmul_gflops"]["small_64x64x256"] > 0
    assert report["machine"]["cores"] >= 1
    assert set(report["checks"]) == {
        "train_ratio",
        "test_accuracy",
        "train_peak_mb",
        "predict_s",
        "help_s",
        "eval_s",
    }
    assert "| rnncls |" in report["table"] and "FLOP floor" in report["table"]
    # The row task's best network and the pixel tasks' (784 and 196 steps a sequence).
    steps = {"configs/best.toml": 4, "configs/psmnist-quick.toml": 1, "configs/psmnist.toml": 1}
    assert {name: network["steps"] for name, network in report["networks"].items()} == steps
    for name, network in report["networks"].items():
        assert network["training"]["rnncls"]["errors"] == [], name
        assert network["training"]["rnncls"]["ms_per_step_median"] > 0
        for contender, torch_run in network["training"].items():
            if contender != "rnncls":
                assert torch_run["errors"] == [] and torch_run["ms_per_step_median"] > 0
        assert f"Network of `{name}`" in report["table"]

    # The cells at psMNIST's shape (in a smoke run: 49 steps of 16 pixels, 8 units).
    cells = report["cells"]
    assert list(cells["cells"]) == ["lstm", "lem", "cornn", "indrnn"]
    assert cells["config"] == "configs/psmnist.toml" and cells["steps"] == 2
    assert "train.clip='global'" in cells["settings"]
    assert "Cells at 784 steps" in report["table"]
    for cell, result in cells["cells"].items():
        rnncls_run = result["training"]["rnncls"]
        assert rnncls_run["errors"] == [] and rnncls_run["ms_per_step_median"] > 0, cell
        assert "training through" not in rnncls_run["path"] and "(49 steps)" in rnncls_run["path"]
        assert result["lstm_ratio"] > 0
        if HAS_TORCH:
            torch_run = result["training"]["pytorch-1t"]
            assert torch_run["errors"] == [] and torch_run["ms_per_step_median"] > 0, cell
            assert result["reference"] == "pytorch-1t" and result["torch_ratio"] > 0
        assert f"| {cell} | " in report["table"]
    assert cells["cells"]["lstm"]["lstm_ratio"] == 1.0
    assert "fused LSTM loop" in cells["cells"]["lstm"]["training"]["rnncls"]["path"]
    assert cells["cells"]["lem"]["training"]["rnncls"]["path"] == (
        "the lem cell's own pass, compiled by XLA (49 steps)"
    )
    assert cells["cells"]["indrnn"]["training"]["rnncls"]["path"] == (
        "the indrnn cell's own pass, compiled by XLA (49 steps)"
    )


def test_only_the_cells_report_leaves_the_seed_experiment_out():
    """`--only cells` on hand-made runs: the cells' table and its verdicts, and none of
    the seed experiment's fields."""
    bench = bench_module()
    args = bench.parse_arguments(["--only", "cells", "--cells", "lem", "--cell-steps", "7"])
    assert args.only == ["cells"] and args.cells == ["lstm", "lem"]

    def summaries(rnncls_ms, torch_ms):
        made = bench.new_summaries([1, 2])
        for name, ms in (("rnncls", rnncls_ms), ("pytorch-1t", torch_ms[0])):
            made[name].runs.append(bench.TrainRun(name, ms, 0.1, 900.0, 30.0))
        made["pytorch-2t"].runs.append(bench.TrainRun("pytorch-2t", None, None, 1.0, 1.0, "x"))
        made["pytorch-2t"].runs.append(bench.TrainRun("pytorch-2t", torch_ms[1], 0.1, 1.0, 1.0))
        return made

    cells = {"lstm": summaries(200.0, (600.0, 400.0)), "lem": summaries(400.0, (1000.0, 450.0))}
    machine = {"cpu": "x", "cores": 2, "memory_gb": 1, "python": "3", "load_average": [0.5]}
    machine["versions"] = {"tensorflow": "t", "keras": "k", "torch": "p"}
    report = bench.build_report(args, bench.Experiment(), machine, None, {}, [], {}, cells)
    assert report["training"] == {} and report["checks"] == {} and report["startup"] == []
    lem = report["cells"]["cells"]["lem"]
    assert lem["reference"] == "pytorch-2t" and lem["torch_ratio"] == round(400 / 450, 3)
    assert lem["lstm_ratio"] == 2.0
    assert (
        lem["checks"]["torch_ratio"]["ok"] is False and lem["checks"]["lstm_ratio"]["ok"] is False
    )
    assert report["cells"]["steps"] == 7
    table = bench.format_table(report)
    assert "| lstm | 200.0 | 600.0 | 400.0 | 0.500 yes | 1.000 yes |" in table
    assert "| lem | 400.0 | 1000.0 | 450.0 | 0.889 NO | 2.000 NO |" in table
    assert "Failed runs: lstm pytorch-2t: x; lem pytorch-2t: x" in table
    assert "FLOP floor" not in table and "| training |" not in table


def test_the_cells_read_a_copy_of_the_data_with_a_short_test_split(tmp_path):
    """The training files are the originals, linked; the test split is its first
    pictures, read back by rnncls as an IDX data set."""
    from rnncls.config_keys import DataConfig
    from rnncls.datasets.idx import open as open_idx

    bench = bench_module()
    data = write_mnist(tmp_path / "mnist", train=30, test=12)
    short = bench.with_short_test_split(data, tmp_path / "short", pictures=5)
    assert (short / "train-images-idx3-ubyte.gz").resolve() == (
        data / "train-images-idx3-ubyte.gz"
    ).resolve()
    whole = open_idx(data, DataConfig(), print)
    part = open_idx(short, DataConfig(), print)
    assert len(part.labels["test"]) == 5 and len(part.labels["train"]) == 30
    assert (part.labels["test"] == whole.labels["test"][:5]).all()
    assert (part.read_images("test") == whole.read_images("test")[:5]).all()
    assert bench.with_short_test_split(tmp_path / "short", tmp_path / "none", 5) is not None
    assert bench.with_short_test_split(tmp_path, tmp_path / "nothing", 5) is None


def test_serve_load_smoke_run_reports_every_level_and_the_memory(tmp_path, band_run):
    """bench/serve_load.py against a real `rnncls serve` process, a few requests a level."""
    out = tmp_path / "serve.json"
    command = [sys.executable, str(ROOT / "bench" / "serve_load.py"), "--smoke", "--json"]
    command += ["--run", str(band_run.run), "--data-dir", str(band_run.data), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert json.loads(out.read_text()) == report
    assert [level["clients"] for level in report["levels"]] == [1, 8, 32]
    for level in report["levels"]:
        assert level["requests"] == 40 and level["errors"] == 0
        assert 0 < level["p50_ms"] <= level["p99_ms"]
    assert report["errors"] == 0 and report["in_process_calls_per_second"] > 0
    assert 0 < report["startup_seconds"] < 120
    assert list(report["memory_mb"]) == ["after warm-up", "after the levels", "after 100 more"]
    assert all(20 < mb < 5_000 for mb in report["memory_mb"].values())


def test_serve_load_says_which_goals_a_run_met():
    """Hand-made results: 8 clients at 600 requests/s with p99 60 ms, memory up 3 MB."""
    spec = importlib.util.spec_from_file_location("serve_load", ROOT / "bench" / "serve_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    results = {
        "errors": 0,
        "levels": [{"clients": 8, "requests_per_second": 600.0, "p99_ms": 60.0}],
        "memory_mb": {"after warm-up": 90.0, "after the levels": 95.0, "after 10,000 more": 98.0},
    }
    assert module.goal_lines(results) == [
        "goal: no errors 0: 0 met",
        "goal: requests/s, 8 clients (at least) 500.0: 600.0 met",
        "goal: p99 ms, 8 clients (under) 50.0: 60.0 NOT MET",
        "goal: memory growth MB over the last requests (at most) 10.0: 3.0 met",
    ]


def test_folders_smoke_run_trains_on_png_files_and_idx_files(tmp_path):
    """bench/folders.py --smoke: writes the tiny data set as PNG files, trains on both
    and reports the ratio and the extra memory (not asserted: a smoke run's timings mean
    nothing)."""
    data = write_mnist(tmp_path / "mnist", train=300, test=100)
    out = tmp_path / "folders.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "folders.py"),
            "--smoke",
            "--data-dir",
            str(data),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["pictures"] == 400  # 300 training and 100 test pictures as PNG files
    for name in ("idx", "folder"):
        (run,) = report["runs"][name]
        assert run["ms_per_step"] > 0 and run["peak_mb"] > 0
    assert set(report["checks"]) == {"step_ratio", "extra_peak_mb"}
    assert "Picture folder against IDX files" in result.stdout


def write_tiny_ts(folder: Path, name: str = "Tiny", train: int = 24, test: int = 12) -> Path:
    """A two-class, two-channel .ts set of 16 steps in ``folder/name``: rising against
    falling ramps, plus a little noise."""
    import numpy as np

    target = folder / name
    target.mkdir(parents=True)
    random = np.random.default_rng(0)
    header = (
        f"@problemName {name}\n@timeStamps false\n@missing false\n@univariate false\n"
        "@dimensions 2\n@equalLength true\n@seriesLength 16\n@classLabel true up down\n@data\n"
    )
    for part, count in (("TRAIN", train), ("TEST", test)):
        lines = []
        for index in range(count):
            label = ("up", "down")[index % 2]
            ramp = np.linspace(-1, 1, 16) * (1 if label == "up" else -1)
            channels = [ramp + random.normal(0, 0.1, 16) for _ in range(2)]
            values = ":".join(",".join(f"{v:.4f}" for v in channel) for channel in channels)
            lines.append(f"{values}:{label}")
        (target / f"{name}_{part}.ts").write_text(header + "\n".join(lines) + "\n")
    return target


def ucr_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_ucr", ROOT / "bench" / "ucr.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_ucr_smoke_run_trains_rnncls_on_a_ts_set_and_reports_it(tmp_path):
    """bench/ucr.py --smoke --no-minirocket on a tiny .ts set: MiniRocket needs aeon's own
    environment (make bench-ucr), which CI does not make."""
    write_tiny_ts(tmp_path / "ucr")
    out = tmp_path / "ucr.json"
    command = [sys.executable, str(ROOT / "bench" / "ucr.py"), "--smoke", "--no-minirocket"]
    command += ["--data-root", str(tmp_path / "ucr"), "--out", str(out), "--json"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert json.loads(out.read_text()) == report
    (row,) = report["sets"]
    assert (row["set"], row["channels"]) == ("Tiny", 2)
    assert (row["length_min"], row["length_max"]) == (16, 16)
    assert (row["train"], row["test"]) == (24, 12)
    assert row["rnncls"]["error"] is None and 0.0 <= row["rnncls"]["accuracy"] <= 1.0
    assert row["rnncls"]["seconds"] > 0 and row["rnncls"]["peak_mb"] > 0
    assert row["minirocket"] is None and row["difference_points"] is None
    assert row["published"] == {"lstm_fcn": None, "inception_time": None}
    assert "train.epochs=2" in report["settings"] and report["minirocket"] is False
    assert report["checks"]["mean_difference_points"]["met"] is None  # no MiniRocket
    assert report["checks"]["train_seconds"]["met"] is True
    assert report["machine"]["cpu"] and report["machine"]["cores"] >= 1
    assert "| Tiny | 2 | 16 |" in report["table"]


def test_ucr_report_says_which_goals_a_run_met():
    """Hand-made runs: one set 3 points below MiniRocket, the mean above it."""
    ucr = ucr_module()

    def row(name, ours, theirs, seconds):
        return {
            "set": name,
            "channels": 1,
            "length_min": 24,
            "length_max": 24,
            "rnncls": {"accuracy": ours, "seconds": seconds, "error": None},
            "minirocket": {"accuracy": theirs, "seconds": 1.0, "error": None},
        }

    rows = [row("GunPoint", 0.95, 0.98, 10.0), row("Other", 0.99, 0.90, 70.0)]
    args = ucr.parse_arguments(["--no-minirocket"])
    report = ucr.build_report(rows, args, [], {"cpu": "x", "cores": 2, "load_average": [0]})
    assert [r["difference_points"] for r in report["sets"]] == [-3.0, 9.0]
    assert report["means"]["difference_points"] == 3.0
    checks = report["checks"]
    assert checks["mean_difference_points"]["met"] is True
    assert checks["worst_difference_points"]["met"] is False
    assert checks["train_seconds"]["value"] == 70.0 and checks["train_seconds"]["met"] is False
    assert report["sets"][0]["published"]["lstm_fcn"]["accuracy"] == 1.0
    table = ucr.format_table(report)
    assert "| GunPoint | 1 | 24 | 0.9500 | 0.9800 | -3.00 |" in table
    assert "worst set, rnncls minus MiniRocket (points): -3.00 (target at least -2): MISSED" in (
        table
    )
