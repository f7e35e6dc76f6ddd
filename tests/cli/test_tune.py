"""`rnncls tune`: searches on tiny synthetic data, in this process (what one worker
writes and reports, pruning, continuing a study) and in real worker processes on one
SQLite file or a real PostgreSQL server (concurrency, SIGKILL, Ctrl-C)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke, write_run
from typer.testing import CliRunner

from rnncls.config import load_config, to_dict

pytestmark = pytest.mark.tensorflow
runner = CliRunner()

TINY_BASE = """
[data]
validation_size = 20

[model]
hidden_units = 8

[train]
steps = {steps}
eval_every = {eval_every}
batch_size = 16
"""


def write_space(
    folder: Path,
    *,
    steps: int = 6,
    eval_every: int = 3,
    pruner: str = "none",
    space: str = '"train.learning_rate" = { low = 1e-3, high = 3e-2, log = true }',
) -> Path:
    path = folder / "space.toml"
    base = TINY_BASE.format(steps=steps, eval_every=eval_every)
    path.write_text(f'{base}\n[space]\n{space}\n\n[tune]\npruner = "{pruner}"\n')
    return path


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def study_trials(storage: str, study: str) -> list:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


def states(trials: list) -> dict[str, int]:
    found: dict[str, int] = {}
    for trial in trials:
        found[trial.state.name] = found.get(trial.state.name, 0) + 1
    return found


# ---------------------------------------------------------------------- one worker


def test_a_search_reports_each_trial_writes_best_toml_and_continues(in_tmp, tiny_mnist):
    space = write_space(in_tmp)
    result = invoke("tune", space, "--trials", 3, "--json", "--data-dir", tiny_mnist)
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert [line["event"] for line in lines] == ["trial", "trial", "trial", "summary"]
    trials, summary = lines[:3], lines[3]
    assert [t["number"] for t in trials] == [0, 1, 2]
    for trial in trials:
        run_dir = Path(trial["run_dir"])
        assert run_dir == Path("runs/space") / f"trial-{trial['number']}"
        assert trial["state"] == "complete" and trial["step"] == 6
        # the objective is the validation accuracy of the last evaluation, never test
        metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert trial["value"] == metrics[-1]["eval_accuracy"]
        assert 1e-3 <= trial["params"]["train.learning_rate"] <= 3e-2
        config = load_config(run_dir / "config.toml")
        assert config.train.learning_rate == trial["params"]["train.learning_rate"]
        recorded = json.loads((run_dir / "trial.json").read_text())
        assert (recorded["state"], recorded["study"]) == ("complete", "space")
    best = max(trials, key=lambda t: (t["value"], -t["number"]))
    assert (summary["best_trial"], summary["best_value"]) == (best["number"], best["value"])
    assert (summary["complete"], summary["pruned"], summary["failed"]) == (3, 0, 0)
    assert summary["best_params"] == best["params"]
    # best.toml is the best trial's resolved config; rnncls train --config takes it
    best_toml = Path(summary["best_config"])
    assert best_toml == Path("runs/space/best.toml")
    assert to_dict(load_config(best_toml)) == to_dict(
        load_config(Path(best["run_dir"]) / "config.toml")
    )
    assert Path("runs/latest").resolve() == Path(best["run_dir"]).resolve()
    for picture in ("history.png", "importances.png"):
        assert (Path("runs/space") / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same command with more trials continues the study: one trial more
    again = invoke("tune", space, "--trials", 4, "--json", "--data-dir", tiny_mnist)
    assert again.exit_code == 0, again.output
    more = json_lines(again.stdout)
    assert [(x["event"], x.get("number")) for x in more] == [("trial", 3), ("summary", None)]
    assert more[-1]["complete"] == 4
    # a study with all its trials runs none: runs/latest stays on the newest run made since
    newer = write_run(Path("runs/newer"))
    os.unlink("runs/latest")
    os.symlink("newer", "runs/latest")
    done = invoke("tune", space, "--trials", 4, "--json", "--data-dir", tiny_mnist)
    assert done.exit_code == 0, done.output
    assert [x["event"] for x in json_lines(done.stdout)] == ["summary"]
    assert Path("runs/latest").resolve() == newer.resolve()


def script_validation_accuracies(monkeypatch, scores: list[float]) -> None:
    """Each evaluation of the validation split scores the next of ``scores``."""
    import rnncls.train

    real = rnncls.train._evaluate
    coming = iter(scores)

    def scripted(model, split):
        loss, accuracy = real(model, split)
        return loss, next(coming) if split.name == "validation" else accuracy

    monkeypatch.setattr(rnncls.train, "_evaluate", scripted)


def test_a_trial_below_the_median_is_pruned_and_says_where(in_tmp, tiny_mnist, monkeypatch):
    """Scripted validation accuracies: trials 0 and 1 score 0.9 at each evaluation,
    trial 2 scores 0.1 at its first, below their median, so the pruner stops it there."""
    script_validation_accuracies(monkeypatch, [0.9, 0.9, 0.9, 0.9, 0.1])
    space = write_space(in_tmp, pruner="median")
    result = invoke("tune", space, "--trials", 3, "--json", "--data-dir", tiny_mnist)
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert [(t["number"], t["state"], t["step"]) for t in lines[:3]] == [
        (0, "complete", 6),
        (1, "complete", 6),
        (2, "pruned", 3),
    ]
    assert lines[2]["value"] is None
    assert (lines[3]["complete"], lines[3]["pruned"]) == (2, 1)
    pruned = Path("runs/space/trial-2")
    assert json.loads((pruned / "trial.json").read_text())["state"] == "pruned"
    assert (pruned / "checkpoint.npz").exists() and not (pruned / "summary.json").exists()


def test_the_warmup_keeps_a_trials_first_evaluations_from_the_pruner(
    in_tmp, tiny_mnist, monkeypatch
):
    """The same scripted scores as above, with [tune] warmup = 1: trial 2's first
    evaluation (0.1) is not pruned; its second (0.1 again, still below) is."""
    script_validation_accuracies(monkeypatch, [0.9, 0.9, 0.9, 0.9, 0.1, 0.1])
    space = write_space(in_tmp, pruner="median")
    space.write_text(space.read_text() + "warmup = 1\n")
    result = invoke("tune", space, "--trials", 3, "--json", "--data-dir", tiny_mnist)
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert [(t["number"], t["state"], t["step"]) for t in lines[:3]] == [
        (0, "complete", 6),
        (1, "complete", 6),
        (2, "pruned", 6),
    ]


def test_a_study_refuses_another_space_under_its_name(in_tmp, tiny_mnist):
    first = invoke("tune", write_space(in_tmp), "--trials", 1, "--data-dir", tiny_mnist)
    assert first.exit_code == 0, first.output
    # without --json and a terminal: a line a trial, then the summary
    trial_line, summary_line = first.stdout.splitlines()
    value = json.loads(Path("runs/space/trial-0/summary.json").read_text())["validation_accuracy"]
    lr = load_config(Path("runs/space/trial-0/config.toml")).train.learning_rate
    assert re.fullmatch(
        rf"trial=0  state=complete  value={value:.4f}  train.learning_rate={lr:.4g}  seconds=\d+",
        trial_line,
    ), trial_line
    assert summary_line.startswith(
        f"study space: 1 complete, 0 pruned, 0 failed; best trial 0, validation accuracy "
        f"{value:.4f} (train.learning_rate={lr:.4g}); its config: runs/space/best.toml"
    ), summary_line
    changed = write_space(in_tmp, space='"model.hidden_units" = { choices = [4, 8] }')
    result = invoke("tune", changed, "--trials", 2, "--data-dir", tiny_mnist)
    assert_one_line_error(result, 2, "study space was started with another space")
    # under a new name it is a new study beside the first
    other = invoke("tune", changed, "--trials", 1, "--study", "other", "--data-dir", tiny_mnist)
    assert other.exit_code == 0, other.output
    assert sorted(p.name for p in Path("runs").iterdir() if p.is_dir() and not p.is_symlink()) == [
        "other",
        "space",
    ]


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--pruner", "wait"], 2, "--pruner 'wait': expected one of median, hyperband, none"),
        (["--trials", "0"], 2, "--trials 0: must be at least 1"),
        (["--heartbeat", "0"], 2, "--heartbeat 0: must be at least 1"),
        (["--study", "a/b"], 2, "--study 'a/b': a study name is one folder name"),
        (["--study", "latest"], 2, "--study 'latest'"),
        (
            ["--storage", "nosuchdb://x"],
            2,
            "--storage nosuchdb://x: not a database URL (sqlite:///FILE, "
            "postgresql://USER:PASSWORD@HOST/DATABASE or mysql+pymysql://...)",
        ),
        (["--storage", "not a url"], 2, "--storage not a url: not a database URL"),
        (
            ["--storage", "postgresql://me:secret@127.0.0.1:9/db"],  # nothing listens there
            1,
            "cannot open storage postgresql://me:***@127.0.0.1:9/db: ",
        ),
        (
            ["--storage", "mysql+pymysql://me:secret@127.0.0.1/db"],
            2,
            "--storage mysql+pymysql://me:***@127.0.0.1/db: no database driver for "
            "mysql+pymysql is installed (pip install PyMySQL)",
        ),
    ],
)
def test_bad_options_are_one_line_before_any_trial(in_tmp, tiny_mnist, args, code, fragment):
    result = invoke("tune", write_space(in_tmp), "--data-dir", tiny_mnist, *args)
    assert_one_line_error(result, code, fragment)
    assert not Path("runs").exists()  # not even an empty study folder


# ---------------------------------------------------------------------- worker processes


def start_worker(cwd: Path, space: Path, data: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, MPLBACKEND="Agg", RNNCLS_DATA_DIR=str(data))
    worker = subprocess.Popen(
        [sys.executable, "-m", "rnncls", "tune", str(space), "--json", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as at a terminal, even where the tests run in a background job (which
        # starts its children with SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.set_blocking(worker.stderr.fileno(), False)  # polled by wait_for_running_trial
    return worker


def finish(worker: subprocess.Popen, timeout: float = 600) -> tuple[int, list[dict], str]:
    os.set_blocking(worker.stderr.fileno(), True)
    out, err = worker.communicate(timeout=timeout)
    return worker.returncode, json_lines(out), err


def wait_for_running_trial(worker: subprocess.Popen, study_dir: Path) -> int:
    """The number of the trial ``worker`` runs, once that trial has a checkpoint (it is
    mid-training). Its stderr says which trial it trains ("trial N: data: ...")."""
    seen = ""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            seen += os.read(worker.stderr.fileno(), 65536).decode()
        except BlockingIOError:  # nothing new on stderr
            pass
        started = re.findall(r"^trial (\d+): data:", seen, re.MULTILINE)
        if started and (study_dir / f"trial-{started[-1]}" / "checkpoint.npz").exists():
            return int(started[-1])
        assert worker.poll() is None, seen
        time.sleep(0.05)
    raise AssertionError(f"no trial started: {seen}")


def assert_study_holds(trials: list, requested: int) -> None:
    """Exactly ``requested`` completed or pruned trials, none running or waiting."""
    counted = states(trials)
    assert counted.get("COMPLETE", 0) + counted.get("PRUNED", 0) == requested, counted
    assert "RUNNING" not in counted and "WAITING" not in counted, counted


@pytest.mark.slow
def test_two_workers_on_one_sqlite_study_share_its_trials(tmp_path, tiny_mnist):
    space = write_space(tmp_path, steps=12, eval_every=3)
    workers = [start_worker(tmp_path, space, tiny_mnist, "--trials", 4) for _ in range(2)]
    results = [finish(worker) for worker in workers]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    reported = [line for _, lines, _ in results for line in lines if line["event"] == "trial"]
    numbers = sorted(line["number"] for line in reported)
    assert numbers == sorted(set(numbers)) and len(numbers) == 4  # each trial run once
    assert all(results[i][1][-1]["event"] == "summary" for i in (0, 1))
    storage = f"sqlite:///{tmp_path / 'runs' / 'space' / 'study.db'}"
    assert_study_holds(study_trials(storage, "space"), 4)
    # each worker did some of the work (they ran side by side, not one after the other)
    assert all(any(x["event"] == "trial" for x in lines) for _, lines, _ in results)


def sigkill_one_of_two_workers(tmp_path: Path, data: Path, storage: str | None = None) -> None:
    """Two workers; one killed mid-trial with SIGKILL. The other runs its trial again
    (same parameters) once its heartbeat stops, from the dead trial's last checkpoint,
    and finishes the study."""
    space = write_space(tmp_path, steps=80, eval_every=4)
    extra = ["--trials", 3, "--heartbeat", 1] + (["--storage", storage] if storage else [])
    storage = storage or f"sqlite:///{tmp_path / 'runs' / 'space' / 'study.db'}"  # the default
    doomed = start_worker(tmp_path, space, data, *extra)
    killed = wait_for_running_trial(doomed, tmp_path / "runs" / "space")
    survivor = start_worker(tmp_path, space, data, *extra)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert not (tmp_path / "runs" / "space" / f"trial-{killed}" / "summary.json").exists()
    code, lines, err = finish(survivor)
    assert code == 0, err
    trials = study_trials(storage, "space")
    assert_study_holds(trials, 3)
    by_number = {t.number: t for t in trials}
    assert by_number[killed].state.name == "FAIL"
    retried = [x for x in lines if x["event"] == "trial" and x["retry_of"] == killed]
    assert len(retried) == 1, lines
    assert retried[0]["state"] in ("complete", "pruned")
    assert retried[0]["params"] == by_number[killed].params
    # the retry went on from the dead trial's checkpoint, with its evaluations before it
    study_dir = tmp_path / "runs" / "space"
    step = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, sys; from pathlib import Path; "
                "from rnncls.rundir import checkpoint_step; "
                "print(json.dumps(checkpoint_step(Path(sys.argv[1]))))",
                str(study_dir / f"trial-{killed}"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert step is not None and step > 0
    number = retried[0]["number"]
    assert f"trial {number}: trial {killed} again from its checkpoint at step {step} " in err
    assert f"trial {number}: resuming runs/space/trial-{number} from step {step}" in err
    dead_curve = [
        json.loads(line)
        for line in (study_dir / f"trial-{killed}" / "metrics.jsonl").read_text().splitlines()
    ]
    curve = [
        json.loads(line)
        for line in (study_dir / f"trial-{number}" / "metrics.jsonl").read_text().splitlines()
    ]
    kept = [record for record in dead_curve if record["step"] <= step]
    assert curve[: len(kept)] == kept and curve[len(kept)]["step"] > step
    values = by_number[number].intermediate_values
    assert [values[record["step"]] for record in kept] == [r["eval_accuracy"] for r in kept]
    # the survivor records the dead worker's trial in its folder, for `rnncls runs`
    recorded = json.loads(
        (tmp_path / "runs" / "space" / f"trial-{killed}" / "trial.json").read_text()
    )
    assert (recorded["study"], recorded["number"], recorded["state"]) == ("space", killed, "failed")
    assert recorded["error"] == "its worker ended without recording it (killed, or a crash)"
    assert recorded["params"] == by_number[killed].params


@pytest.mark.slow
def test_ctrl_c_ends_a_worker_with_its_trial_failed_not_running(tmp_path, tiny_mnist):
    space = write_space(tmp_path, steps=80, eval_every=4)
    worker = start_worker(tmp_path, space, tiny_mnist, "--trials", 2, "--study", "named")
    number = wait_for_running_trial(worker, tmp_path / "runs" / "named")
    worker.send_signal(signal.SIGINT)
    code, lines, err = finish(worker)
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "stopped (SIGINT); the trial is recorded as failed and the study kept; "
        f"`rnncls tune {space} --study named --trials 2` goes on with it"
    ), err
    assert "Traceback" not in err
    assert [(x["number"], x["state"]) for x in lines] == [(number, "failed")]
    storage = f"sqlite:///{tmp_path / 'runs' / 'named' / 'study.db'}"
    assert states(study_trials(storage, "named")) == {"FAIL": 1}
    recorded = json.loads(
        (tmp_path / "runs" / "named" / f"trial-{number}" / "trial.json").read_text()
    )
    assert recorded["state"] == "failed"


@pytest.mark.parametrize(
    ("study", "storage", "extra", "expected"),
    [
        ("space", None, {}, "rnncls tune configs/space.toml"),
        ("lr", None, {}, "rnncls tune configs/space.toml --study lr"),
        (
            "space",
            "postgresql://me:secret@db:5432/optuna",
            {},
            "rnncls tune configs/space.toml --storage 'postgresql://me:***@db:5432/optuna'",
        ),
        (
            "space",
            None,
            {"trials": 4, "overrides": ("train.steps=20", "data.dir=my data")},
            "rnncls tune configs/space.toml --trials 4 --set train.steps=20 "
            "--set 'data.dir=my data'",
        ),
        (
            "space",
            None,
            {"overrides": ("train.seed=2",), "configs": ("a.toml", "my b.toml")},
            "rnncls tune configs/space.toml --config a.toml --config 'my b.toml' "
            "--set train.seed=2",
        ),
    ],
)
def test_the_command_that_continues_a_study(in_tmp, study, storage, extra, expected):
    from rnncls import rundir, tune

    url = storage or tune.default_storage(rundir.RUNS_ROOT / study)
    assert tune.command_to_continue("configs/space.toml", study, url, **extra) == expected


def test_dead_workers_trials_get_a_trial_json_where_their_folders_are_here(tmp_path):
    """Only a failed trial's folder that is a run directory, has no trial.json yet and
    that no training holds."""
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from rnncls import rundir
    from rnncls import trials as trial_records

    def a_trial(number, folder, state=TrialState.FAIL):
        started = datetime(2026, 11, 27, 12, 0, 0)
        return SimpleNamespace(
            number=number, state=state, params={"train.learning_rate": 0.01},
            user_attrs={"run_dir": str(folder)} if folder else {},
            datetime_start=started, datetime_complete=started + timedelta(seconds=90),
        )  # fmt: skip

    dead = write_run(tmp_path / "trial-0", checkpoint=40)
    recorded = write_run(tmp_path / "trial-1", trial={"state": "pruned"})
    held = write_run(tmp_path / "trial-2")
    running = write_run(tmp_path / "trial-3")
    trials = [
        a_trial(0, dead),
        a_trial(1, recorded),
        a_trial(2, held),
        a_trial(3, running, TrialState.RUNNING),
        a_trial(4, tmp_path / "trial-4"),  # on another machine
        a_trial(5, None),  # a surplus trial, which had no folder
    ]
    rundir.claim_run_dir(held, fresh=False)
    try:
        trial_records.record_dead_trials(trials, "s")
    finally:
        rundir.release_run_dir(held)
    assert json.loads((dead / "trial.json").read_text()) == {
        "study": "s",
        "number": 0,
        "state": "failed",
        "value": None,
        "step": 40,
        "params": {"train.learning_rate": 0.01},
        "seconds": 90.0,
        "run_dir": str(dead),
        "retry_of": None,
        "error": "its worker ended without recording it (killed, or a crash)",
    }
    assert json.loads((recorded / "trial.json").read_text()) == {"state": "pruned"}
    assert not (held / "trial.json").exists() and not (running / "trial.json").exists()
    assert not (tmp_path / "trial-4").exists()


# ---------------------------------------------------------------------- PostgreSQL


def postgres_binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1, stopped after the test; its URL."""
    binaries = postgres_binaries()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail(
                "PostgreSQL is not installed; .ci/run installs it (apt-get install postgresql)"
            )
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="rnncls-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    try:
        subprocess.run(
            [*as_user, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *as_user,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(folder / "log"),
                "start",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_workers_share_a_postgresql_study_and_survive_a_sigkill(tmp_path, tiny_mnist, postgres):
    sigkill_one_of_two_workers(tmp_path, tiny_mnist, postgres)


@pytest.mark.slow
def test_workers_share_a_sqlite_study_and_survive_a_sigkill(tmp_path, tiny_mnist):
    sigkill_one_of_two_workers(tmp_path, tiny_mnist)  # the study's own SQLite file


# ---------------------------------------------------------------------- optuna-dashboard


def test_a_study_opens_in_optuna_dashboard(in_tmp, tiny_mnist):
    """A real optuna-dashboard on the study's SQLite file, on a free loopback port: its
    API lists the trials with their parameters and values, the validation accuracies the
    pruner saw (metrics.jsonl's), and each trial's run directory."""
    import urllib.request

    pytest.importorskip("optuna_dashboard")
    space = write_space(in_tmp, steps=6, eval_every=3)
    result = invoke("tune", space, "--trials", 2, "--json", "--data-dir", tiny_mnist)
    assert result.exit_code == 0, result.output
    trials = json_lines(result.stdout)[:2]
    storage = json_lines(result.stdout)[-1]["storage"]
    assert f"optuna-dashboard {storage}\n" in result.stderr  # the line the summary gives
    port = free_port()
    # the console script beside this Python (a venv's bin/ need not be on PATH)
    script = Path(sys.executable).with_name("optuna-dashboard")
    command = [str(script), storage, "--host", "127.0.0.1", "--port", str(port)]
    dashboard = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path: str) -> dict:
        deadline = time.monotonic() + 120  # a hang guard, not a speed target
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                    return json.loads(r.read())
            except OSError:
                if dashboard.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    try:
        (listed,) = get("/api/studies")["study_summaries"]
        assert listed["study_name"] == "space" and listed["directions"] == ["maximize"]
        study = get(f"/api/studies/{listed['study_id']}")
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)
    assert study["has_intermediate_values"] is True
    shown = {trial["number"]: trial for trial in study["trials"]}
    for trial in trials:
        seen = shown[trial["number"]]
        assert seen["state"] == "Complete" and seen["values"] == [trial["value"]]
        (param,) = seen["params"]
        assert param["name"] == "train.learning_rate"
        assert param["param_internal_value"] == trial["params"]["train.learning_rate"]
        records = [
            json.loads(line)
            for line in (Path(trial["run_dir"]) / "metrics.jsonl").read_text().splitlines()
        ]
        assert seen["intermediate_values"] == [
            {"step": r["step"], "value": r["eval_accuracy"]} for r in records
        ]
        assert {"key": "run_dir", "value": trial["run_dir"]} in seen["user_attrs"]


def test_a_trial_that_diverges_is_pruned_and_the_search_goes_on(in_tmp, tiny_mnist):
    """A learning rate at which plain SGD overflows is a result of the search, not the
    end of it: the trial is pruned (it counts, and is no failure of the search) with the
    divergence as its reason, and the search goes on."""
    rates = '"train.learning_rate" = { choices = [1e38, 0.01] }'
    space = write_space(in_tmp, space=f'{rates}\n"train.optimizer" = {{ choices = ["sgd"] }}')
    result = invoke("tune", space, "--trials", 3, "--json", "--data-dir", tiny_mnist)
    assert result.exit_code == 0, result.output
    trials = [line for line in json_lines(result.stdout) if line["event"] == "trial"]
    assert len(trials) == 3
    for trial in trials:
        if trial["params"]["train.learning_rate"] == 1e38:
            assert trial["state"] == "pruned" and trial["value"] is None
            diverged_at = "training diverged: the loss became inf in steps 1 to 3;"
            assert trial["error"].startswith(diverged_at)
        else:
            assert trial["state"] == "complete" and trial["step"] == 6
    summary = json_lines(result.stdout)[-1]
    diverged = sum(trial["params"]["train.learning_rate"] == 1e38 for trial in trials)
    counts = (summary["complete"], summary["pruned"], summary["failed"])
    assert counts == (3 - diverged, diverged, 0)
    rates = {trial["params"]["train.learning_rate"] for trial in trials}
    assert rates == {1e38, 0.01}, "the draw no longer tries both rates: change the seed"
