"""rnncls.rundir without training: atomic writes, run directories and their locks,
runs/latest, a run's state and metrics, on small files made here."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from rnncls import rundir
from rnncls.errors import RunError

# ---------------------------------------------------------------------- atomic writes


def test_write_text_and_json_replace_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    rundir.write_json(path, {"steps": 3, "name": "é"})
    assert path.read_text(encoding="utf-8") == '{\n  "steps": 3,\n  "name": "\\u00e9"\n}\n'
    rundir.write_text(path, "ü\n")
    assert path.read_bytes() == "ü\n".encode()
    assert os.listdir(tmp_path) == ["summary.json"]


def test_atomic_files_get_the_usual_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        rundir.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_a_failed_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_text("good")
    seen: list[Path] = []

    def writer(temporary: Path) -> None:
        seen.append(temporary)
        temporary.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(RunError, match=f"^cannot write {path}: No space left on device$"):
        rundir.write_with(path, writer)
    assert path.read_text() == "good"
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".model.")
    assert seen[0].name.endswith(".tmp.keras")  # Keras insists on the suffix
    assert os.listdir(tmp_path) == ["model.keras"]


def test_an_unwritable_folder_is_a_run_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="^cannot write .*nowhere/a.txt: "):
        rundir.write_text(tmp_path / "nowhere" / "a.txt", "x")


# ---------------------------------------------------------------------- run folders


def test_new_run_dir_is_the_start_time_with_a_suffix_when_taken(tmp_path, monkeypatch) -> None:
    formats: list[str] = []

    def strftime(form: str) -> str:
        formats.append(form)
        return "20240605-120000"

    monkeypatch.setattr(rundir.time, "strftime", strftime)
    root = tmp_path / "deep" / "runs"  # made with its parents
    made = [rundir.new_run_dir(root, create=True) for _ in range(3)]
    assert [p.name for p in made] == ["20240605-120000", "20240605-120000-2", "20240605-120000-3"]
    assert all(p.is_dir() for p in made) and formats[0] == "%Y%m%d-%H%M%S"
    assert rundir.new_run_dir(root) == root / "20240605-120000-4"
    assert not (root / "20240605-120000-4").exists()


def test_a_run_dir_that_cannot_be_made_is_named(tmp_path, monkeypatch) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    make = Path.mkdir

    def read_only(path: Path, *args, **kwargs) -> None:
        if path.parent == root:
            raise OSError(30, "Read-only file system")
        make(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(RunError) as caught:
        rundir.new_run_dir(root, create=True)
    assert str(caught.value).startswith(f"cannot create run directory {root}/")
    assert str(caught.value).endswith(": Read-only file system")


def test_new_run_dir_without_create_makes_nothing(tmp_path: Path) -> None:
    proposed = rundir.new_run_dir(tmp_path / "runs")
    assert proposed.parent == tmp_path / "runs" and not (tmp_path / "runs").exists()


def test_new_run_dir_in_a_file_is_a_run_error(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("")
    with pytest.raises(RunError, match="^cannot create .*runs: "):
        rundir.new_run_dir(tmp_path / "runs", create=True)


def make_run(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / rundir.CONFIG_FILE).write_text("[train]\n")
    return path


@pytest.mark.parametrize(
    ("layout", "resume", "force", "expected"),
    [
        ("missing", False, False, False),
        ("empty", False, False, False),
        ("run", False, True, False),
        ("run", True, False, True),
        ("run", True, True, True),
    ],
)
def test_check_run_dir_allows(tmp_path, layout, resume, force, expected) -> None:
    path = tmp_path / "r"
    if layout == "empty":
        path.mkdir()
    elif layout == "run":
        make_run(path)
    assert rundir.check_run_dir(path, resume=resume, force=force) is expected


@pytest.mark.parametrize(
    ("layout", "resume", "force", "message"),
    [
        (
            "run",
            False,
            False,
            "run directory {p} already holds a run; use --resume to continue it "
            "or --force to start it over",
        ),
        ("file", False, True, "run directory {p} exists and is not a directory"),
        ("other", False, True, "{p} is not empty and is not a run directory; choose another"),
        ("other", True, False, "nothing to resume: {p} is not a run directory (no config.toml)"),
        ("missing", True, False, "nothing to resume: {p} is not a run directory"),
    ],
)
def test_check_run_dir_refuses(tmp_path, layout, resume, force, message) -> None:
    path = tmp_path / "r"
    if layout == "run":
        make_run(path)
    elif layout == "file":
        path.write_text("")
    elif layout == "other":
        path.mkdir()
        (path / "notes.txt").write_text("mine")
    with pytest.raises(RunError) as caught:
        rundir.check_run_dir(path, resume=resume, force=force)
    assert str(caught.value).startswith(message.format(p=path))


def test_check_run_dir_of_a_new_run() -> None:
    assert rundir.check_run_dir(None, resume=False, force=False) is False
    with pytest.raises(RunError, match="^nothing to resume: no run directory given$"):
        rundir.check_run_dir(None, resume=True, force=False)


def test_check_writable_looks_at_the_nearest_existing_folder(tmp_path, monkeypatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    asked: list[Path] = []

    def access(path: Path, mode: int) -> bool:  # as if `locked` were read-only (root is not)
        asked.append(Path(path))
        return mode != os.W_OK or Path(path) != locked

    monkeypatch.setattr(rundir.os, "access", access)
    rundir.check_writable(tmp_path / "a" / "b")
    assert asked == [tmp_path]
    with pytest.raises(RunError, match=f"^cannot write in {locked}: permission denied"):
        rundir.check_writable(locked / "new" / "run")
    (tmp_path / "file").write_text("")
    rundir.check_writable(tmp_path / "file")  # not a folder: left to the next step
    monkeypatch.chdir(locked)
    with pytest.raises(RunError, match=f"^cannot write in {locked}: "):
        rundir.check_writable(None)  # runs/ under the working folder


def test_claim_run_dir_locks_and_cleans(tmp_path: Path) -> None:
    path = make_run(tmp_path / "r")
    for name in rundir.RUN_FILES:
        (path / name).write_text("old")
    (path / ".checkpoint.x1.tmp.npz").write_text("half")
    (path / "notes.txt").write_text("the user's")
    try:
        assert rundir.claim_run_dir(path, fresh=True) == path
        assert sorted(os.listdir(path)) == ["notes.txt"]
        assert rundir.claim_run_dir(path, fresh=False) == path  # this process holds it already
    finally:
        rundir.release_run_dir(path)


def test_only_a_fresh_start_removes_the_old_runs_tensorboard_logs(tmp_path: Path) -> None:
    path = make_run(tmp_path / "r")
    events = path / rundir.TENSORBOARD_DIR / "train" / "events.out"
    events.parent.mkdir(parents=True)
    events.write_text("old")
    try:
        rundir.claim_run_dir(path, fresh=False)  # a resume adds to them
        assert events.read_text() == "old"
        rundir.claim_run_dir(path, fresh=True)
        assert not (path / rundir.TENSORBOARD_DIR).exists()
    finally:
        rundir.release_run_dir(path)


def test_claim_run_dir_keeps_a_resumed_run(tmp_path: Path) -> None:
    path = make_run(tmp_path / "r")
    (path / ".metrics.y.tmp.jsonl").write_text("half")
    try:
        rundir.claim_run_dir(path, fresh=False)
        assert os.listdir(path) == [rundir.CONFIG_FILE]
    finally:
        rundir.release_run_dir(path)


def test_claim_run_dir_makes_a_new_one(tmp_path: Path) -> None:
    path = rundir.claim_run_dir(None, fresh=True, root=tmp_path / "runs")
    try:
        assert path.parent == tmp_path / "runs" and path.is_dir()
    finally:
        rundir.release_run_dir(path)


def test_claim_run_dir_makes_missing_parents(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "run"
    try:
        assert rundir.claim_run_dir(path, fresh=True) == path and path.is_dir()
    finally:
        rundir.release_run_dir(path)


def test_claim_run_dir_that_is_not_writable(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(rundir.os, "access", lambda path, mode: False)
    with pytest.raises(RunError) as caught:
        rundir.claim_run_dir(tmp_path, fresh=False)
    assert str(caught.value) == f"run directory {tmp_path} is not writable"


def locked_elsewhere(path: Path) -> bool:
    """Whether another open file holds the run directory's lock."""
    import fcntl

    probe = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(probe)
    return False


def test_each_claimed_run_keeps_its_own_lock_until_released(tmp_path: Path) -> None:
    first, second = make_run(tmp_path / "a"), make_run(tmp_path / "b")
    rundir.claim_run_dir(first, fresh=False)
    rundir.claim_run_dir(second, fresh=False)
    try:
        assert locked_elsewhere(first) and locked_elsewhere(second)
        rundir.release_run_dir(first)
        assert not locked_elsewhere(first) and locked_elsewhere(second)
    finally:
        rundir.release_run_dir(first)
        rundir.release_run_dir(second)
    assert not locked_elsewhere(second)


def test_is_locked_while_a_training_holds_the_lock(tmp_path: Path) -> None:
    import fcntl

    path = make_run(tmp_path / "r")
    assert not rundir.is_locked(path)
    rundir.claim_run_dir(path, fresh=False)  # this process's own training counts
    try:
        assert rundir.is_locked(path)
    finally:
        rundir.release_run_dir(path)
    assert not rundir.is_locked(path)
    other = os.open(path, os.O_RDONLY)  # another open file: another process, as far as
    try:  # flock can tell
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert rundir.is_locked(path)
    finally:
        os.close(other)
    assert not rundir.is_locked(path) and not rundir.is_locked(tmp_path / "nowhere")


def test_is_locked_leaves_no_lock_and_does_not_see_another_probe(tmp_path: Path) -> None:
    import fcntl

    path = make_run(tmp_path / "r")
    probe = os.open(path, os.O_RDONLY)  # a listing probing at this moment
    try:
        fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        assert not rundir.is_locked(path)
    finally:
        os.close(probe)
    assert not rundir.is_locked(path)
    assert not locked_elsewhere(path)  # the probe's lock went with its descriptor
    rundir.claim_run_dir(path, fresh=False)  # so a training can start
    rundir.release_run_dir(path)


def test_without_flock_no_run_counts_as_running(tmp_path: Path, monkeypatch) -> None:
    """Where the system has no flock (fcntl is None), nothing can tell a running run."""
    path = rundir.claim_run_dir(tmp_path / "r", fresh=True)
    try:
        assert rundir.is_locked(path) is True
        monkeypatch.setattr(rundir, "fcntl", None)
        assert rundir.is_locked(path) is False
    finally:
        rundir.release_run_dir(path)


def test_claim_run_dir_in_a_file_is_a_run_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(RunError, match="^cannot create run directory .*f/r: "):
        rundir.claim_run_dir(tmp_path / "f" / "r", fresh=True)


def test_a_locked_run_dir_is_refused(tmp_path: Path) -> None:
    import fcntl

    path = make_run(tmp_path / "r")
    other = os.open(path, os.O_RDONLY)  # another training holds the lock
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunError) as caught:
            rundir.claim_run_dir(path, fresh=False)
        assert str(caught.value) == (
            f"run directory {path} is in use by another training; wait for it to end "
            "or choose another --run-dir"
        )
    finally:
        os.close(other)
    try:
        rundir.claim_run_dir(path, fresh=False)  # free again
    finally:
        rundir.release_run_dir(path)


def test_a_run_dir_replaced_under_the_same_name_is_locked_again(tmp_path: Path) -> None:
    import fcntl

    path = make_run(tmp_path / "r")
    rundir.claim_run_dir(path, fresh=False)
    os.rename(path, tmp_path / "old")
    make_run(path)
    try:
        rundir.claim_run_dir(path, fresh=False)
        probe = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
    finally:
        rundir.release_run_dir(path)
        rundir.release_run_dir(tmp_path / "old")


def test_temporary_files_are_those_of_atomic_writes_only(tmp_path: Path) -> None:
    names = [".checkpoint.abc.tmp.npz", ".model.x.tmp.onnx", ".config.1.tmp.toml"]
    for name in [*names, "checkpoint.npz", ".other.abc.tmp.npz", ".checkpoint.abc.npz"]:
        (tmp_path / name).write_text("")
    assert rundir.temporary_files(tmp_path) == sorted(tmp_path / name for name in names)
    rundir.remove_temporary_files(tmp_path)
    assert rundir.temporary_files(tmp_path) == []
    assert len(os.listdir(tmp_path)) == 3


# ---------------------------------------------------------------------- latest and --run


def test_update_latest_points_at_the_run(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    first, second = make_run(root / "a"), make_run(tmp_path / "elsewhere" / "b")
    rundir.update_latest(first, root)
    assert os.readlink(root / "latest") == "a"  # relative inside runs/
    rundir.update_latest(second, root)
    assert os.readlink(root / "latest") == str(second.resolve())  # absolute outside it
    assert sorted(os.listdir(root)) == ["a", "latest"]


def test_latest_run_is_the_run_the_link_names(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    assert rundir.latest_run(root) is None  # no runs folder yet
    run = make_run(root / "a")
    assert rundir.latest_run(root) is None  # no finished run yet
    rundir.update_latest(run, root)
    assert rundir.latest_run(root) == run.resolve()
    shutil.rmtree(run)
    assert rundir.latest_run(root) is None  # the run it named was deleted


def test_update_latest_makes_the_runs_folder(tmp_path: Path) -> None:
    root = tmp_path / "a" / "runs"
    rundir.update_latest(make_run(tmp_path / "r"), root)
    assert (root / "latest").resolve() == (tmp_path / "r").resolve()


def test_update_latest_where_no_link_can_be_made(tmp_path, monkeypatch) -> None:
    def refuse(target: str, link: Path) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(rundir.os, "symlink", refuse)
    with pytest.raises(RunError) as caught:
        rundir.update_latest(make_run(tmp_path / "r"), tmp_path / "runs")
    assert str(caught.value) == (
        f"cannot update {tmp_path / 'runs' / 'latest'}: Operation not permitted"
    )


def test_update_latest_where_it_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("")
    with pytest.raises(RunError, match="^cannot create .*runs: "):
        rundir.update_latest(tmp_path / "a", tmp_path / "runs")
    root = tmp_path / "root"
    (root / "latest").mkdir(parents=True)
    (root / "latest" / "x").write_text("")  # a folder in the way cannot be replaced
    with pytest.raises(RunError, match=f"^cannot update {root / 'latest'}: "):
        rundir.update_latest(tmp_path / "a", root)
    assert [p.name for p in root.iterdir()] == ["latest"]


def test_resolve_run(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root / "a")
    (run / rundir.ONNX_FILE).write_text("")
    with pytest.raises(RunError) as caught:
        rundir.resolve_run(None, root)
    assert str(caught.value) == (
        f"no finished run found ({root / 'latest'} does not exist); train one with "
        "`rnncls train` or pass --run PATH"
    )
    rundir.update_latest(run, root)
    onnx = run / rundir.ONNX_FILE
    latest = rundir.resolve_run(None, root)
    assert latest == rundir.RunTarget(run.resolve(), run.resolve(), run.resolve() / "model.onnx")
    assert rundir.resolve_run(str(run), root) == rundir.RunTarget(run, run, onnx)
    assert rundir.resolve_run(onnx, root) == rundir.RunTarget(onnx, run, onnx)  # in its run
    keras_only = make_run(tmp_path / "k")
    keras = keras_only / rundir.MODEL_FILE
    keras.write_text("")
    assert rundir.resolve_run(keras_only) == rundir.RunTarget(keras_only, keras_only, keras)
    assert rundir.resolve_run(keras_only).keras_model() == keras
    loose = tmp_path / "loose.onnx"
    loose.write_text("")
    assert rundir.resolve_run(loose) == rundir.RunTarget(loose, None, loose)  # in no run
    with pytest.raises(RunError) as caught:
        rundir.resolve_run(loose).keras_model()
    assert str(caught.value) == f"{loose}: export reads a Keras model (.keras); pass its run"
    # a run that answers through ONNX exports from its model.keras, which must be there
    with pytest.raises(RunError) as caught:
        rundir.resolve_run(run, root).keras_model()
    assert str(caught.value) == f"{run} has no model.keras to export"
    (run / rundir.MODEL_FILE).write_text("")
    assert rundir.resolve_run(run, root).keras_model() == run / "model.keras"
    assert rundir.resolve_run(onnx, root).keras_model() == run / "model.keras"
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(RunError) as caught:
        rundir.resolve_run(tmp_path / "notes.txt")
    assert str(caught.value) == (
        f"{tmp_path / 'notes.txt'}: not a model file; expected a run directory, .onnx or .keras"
    )
    with pytest.raises(RunError, match=f"^run not found: {tmp_path / 'x'}$"):
        rundir.resolve_run(tmp_path / "x")
    unfinished = make_run(tmp_path / "u")
    with pytest.raises(RunError, match=f"^{unfinished} is not a finished run: it has no"):
        rundir.resolve_run(unfinished)


def test_resolve_run_expands_the_home_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (make_run(tmp_path / "r") / rundir.MODEL_FILE).write_text("")
    assert rundir.resolve_run("~/r").path == tmp_path / "r"


# ---------------------------------------------------------------------- checkpoints


def checkpoint_with_state(path: Path, state: object) -> None:
    np.savez(path / rundir.CHECKPOINT_FILE, state=np.array(json.dumps(state)))


@pytest.mark.parametrize("state", [{"step": "5"}, {"step": 5.0}, {"step": None}, {}, []])
def test_checkpoint_step_of_a_state_without_a_count_is_none(tmp_path, state) -> None:
    checkpoint_with_state(tmp_path, state)
    assert rundir.checkpoint_step(tmp_path) is None


def test_checkpoint_step_never_unpickles(tmp_path: Path) -> None:
    checkpoint_with_state(tmp_path, {"step": 5})
    assert rundir.checkpoint_step(tmp_path) == 5
    state = np.array(json.dumps({"step": 5}), dtype=object)  # the same text, pickled
    np.savez(tmp_path / rundir.CHECKPOINT_FILE, state=state)
    assert rundir.checkpoint_step(tmp_path) is None


def test_a_run_whose_summary_is_damaged_counts_as_interrupted(tmp_path: Path) -> None:
    checkpoint_with_state(tmp_path, {"step": 5})
    (tmp_path / rundir.SUMMARY_FILE).write_text('{"steps": 5}')
    assert rundir.is_interrupted(tmp_path) is False
    (tmp_path / rundir.SUMMARY_FILE).write_text('{"steps": ')
    assert rundir.is_interrupted(tmp_path) is True


def test_newest_interrupted_run(tmp_path: Path) -> None:
    """The newest run without a summary; finished runs, folders that are no runs and a
    link (runs/latest) do not count, however new."""
    for name, age in [("old", 30), ("new", 20), ("finished", 10), ("notes", 0)]:
        (tmp_path / name).mkdir()
        if name != "notes":
            (tmp_path / name / rundir.CONFIG_FILE).write_text("")
        if name == "finished":
            (tmp_path / name / rundir.SUMMARY_FILE).write_text('{"steps": 5}')
        os.utime(tmp_path / name, (1e9 - age, 1e9 - age))
    (tmp_path / "latest").symlink_to("new")  # as newly modified as its run
    assert rundir.newest_interrupted_run(tmp_path) == tmp_path / "new"
    shutil.rmtree(tmp_path / "new")
    shutil.rmtree(tmp_path / "old")
    with pytest.raises(RunError, match=f"no interrupted run to resume in {tmp_path}/; pass"):
        rundir.newest_interrupted_run(tmp_path)


# ---------------------------------------------------------------------- metrics


def test_metrics_append_read_and_truncate(tmp_path: Path) -> None:
    records = [{"step": 10, "loss": 1.0}, {"step": 20}, {"note": "no step"}, {"step": 30}]
    for record in records:
        rundir.append_metrics(tmp_path, record)
    assert rundir.read_metrics(tmp_path) == records
    assert rundir.truncate_metrics(tmp_path, 20) == records[:3]  # no step counts as 0
    assert rundir.read_metrics(tmp_path) == records[:3]
    lines = (tmp_path / rundir.METRICS_FILE).read_text().splitlines()
    assert lines == [json.dumps(r) for r in records[:3]]


def test_truncate_to_step_0_keeps_records_without_a_step(tmp_path: Path) -> None:
    for record in ({"note": "start"}, {"step": 1}):
        rundir.append_metrics(tmp_path, record)
    assert rundir.truncate_metrics(tmp_path, 0) == [{"note": "start"}]


def test_a_line_cut_short_ends_the_metrics(tmp_path: Path) -> None:
    (tmp_path / rundir.METRICS_FILE).write_text('{"step": 1}\n{"step": 2}\n{"ste\n{"step": 3}\n')
    assert rundir.read_metrics(tmp_path) == [{"step": 1}, {"step": 2}]
    assert rundir.read_metrics(tmp_path / "none") == []


def test_append_metrics_where_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=f"^cannot write {tmp_path / 'x' / rundir.METRICS_FILE}: "):
        rundir.append_metrics(tmp_path / "x", {"step": 1})


def test_read_summary(tmp_path: Path) -> None:
    assert rundir.read_summary(tmp_path) is None
    (tmp_path / rundir.SUMMARY_FILE).write_text('{"steps": 6}')
    assert rundir.read_summary(tmp_path) == {"steps": 6}
    (tmp_path / rundir.SUMMARY_FILE).write_text('{"steps": ')
    with pytest.raises(RunError, match=f"^{tmp_path / rundir.SUMMARY_FILE} is damaged: "):
        rundir.read_summary(tmp_path)


# ---------------------------------------------------------------------- a run's state


@pytest.mark.parametrize(
    ("summary_steps", "checkpoint", "trial", "expected"),
    [
        (None, None, None, ("failed", None)),
        (None, 40, None, ("interrupted", 40)),
        (100, 100, None, ("finished", None)),
        (100, None, None, ("finished", None)),
        (100, 150, None, ("interrupted", 150)),
        (None, 40, {"state": "pruned", "step": 30}, ("pruned", 30)),
        (None, 40, {"state": "pruned", "step": True}, ("pruned", 40)),
        (None, None, {"state": "pruned"}, ("pruned", None)),
        (None, 40, {"state": "running"}, ("failed", None)),
        (None, 40, {"state": "failed"}, ("failed", None)),
        (None, None, {"state": "complete"}, ("finished", None)),
        (100, 100, {"state": "running"}, ("finished", None)),
        (None, 40, {"state": "other"}, ("interrupted", 40)),
    ],
)
def test_the_one_rule_for_a_runs_state(tmp_path, summary_steps, checkpoint, trial, expected):
    """Hand-made run directories against the rule in run_state's docstring; resume's
    choice (is_interrupted) is every state but finished."""
    (tmp_path / rundir.CONFIG_FILE).write_text("")
    if checkpoint is not None:
        np.savez(
            tmp_path / rundir.CHECKPOINT_FILE, state=np.array(json.dumps({"step": checkpoint}))
        )
    if summary_steps is not None:
        (tmp_path / rundir.SUMMARY_FILE).write_text(json.dumps({"steps": summary_steps}))
    if trial is not None:
        (tmp_path / rundir.TRIAL_FILE).write_text(json.dumps(trial))
    found = rundir.run_state(tmp_path)
    assert (found.state, found.step) == expected
    assert found.checkpoint == checkpoint
    assert (found.summary is not None) == (expected[0] == "finished" and summary_steps is not None)
    assert rundir.is_interrupted(tmp_path) is (expected[0] != "finished")


def test_a_run_a_training_holds_is_running_and_not_finished(tmp_path: Path) -> None:
    (tmp_path / rundir.CONFIG_FILE).write_text("")
    (tmp_path / rundir.SUMMARY_FILE).write_text('{"steps": 5}')
    rundir.claim_run_dir(tmp_path, fresh=False)
    try:
        assert rundir.run_state(tmp_path) == rundir.RunState("running")
        assert rundir.is_interrupted(tmp_path) is True
    finally:
        rundir.release_run_dir(tmp_path)
    assert rundir.run_state(tmp_path).state == "finished"
