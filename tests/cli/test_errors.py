"""Bad input, as a user meets it on the command line: each case is one line on stderr
(``error: ...`` naming what is wrong), the right exit code, no traceback, and nothing
written or overwritten anywhere."""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SETTINGS, idx_labels, make_digits, sets, write_mnist
from typer.testing import CliRunner

from rnncls import checkpoints, rundir
from rnncls.cli import app

runner = CliRunner()


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every path under ``folder`` with its kind, size, mode, time and content digest.

    ``home/`` and ``cache/`` (the fixture's HOME and XDG_CACHE_HOME) are left out: they
    are the libraries' (onnxruntime writes a device id there), not rnncls's output.
    """
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.relative_to(folder).parts[0] in ("home", "cache"):
            continue
        info = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        found[str(path.relative_to(folder))] = (
            info.st_mode,
            info.st_size,
            info.st_mtime_ns,
            hash(content),
        )
    return found


def run_cli(args: list[str | Path]) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def assert_one_error_line(code: int, expected_code: int, out: str, err: str, fragments) -> None:
    assert code == expected_code, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def workspace(in_tmp: Path) -> Path:
    """An empty working folder with a good tiny data set in ``mnist/`` (plain IDX files)."""
    write_mnist(in_tmp / "mnist", gz=False)
    return in_tmp


# ---------------------------------------------------------------------- configuration


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``; return the path relative to the working folder, as a
    user would type it (and as the messages then name it)."""
    path.write_text(text, encoding="utf-8")
    return Path(os.path.relpath(path))


CONFIG_CASES: dict[str, tuple[Callable[[Path], list], list[str]]] = {
    "malformed TOML": (
        lambda w: ["--config", write(w / "c.toml", "[train\nsteps = 3\n")],
        ["malformed TOML in c.toml", "line 1"],
    ),
    "missing config file": (
        lambda w: ["--config", "absent.toml"],
        ["config file not found", "absent.toml"],
    ),
    "config file is a folder": (lambda w: ["--config", w], ["is a directory"]),
    "unknown section": (
        lambda w: ["--config", write(w / "c.toml", "[trainer]\nsteps = 3\n")],
        ["unknown section [trainer]", "c.toml"],
    ),
    "unknown key": (
        lambda w: ["--config", write(w / "c.toml", "[train]\nstepz = 3\n")],
        ["unknown key train.stepz", "c.toml"],
    ),
    "section that is not a table": (
        lambda w: ["--config", write(w / "c.toml", "train = 3\n")],
        ["train in c.toml must be a table"],
    ),
    "string for an integer": (
        lambda w: ["--config", write(w / "c.toml", '[train]\nsteps = "ten"\n')],
        ["train.steps = 'ten' (in c.toml)", "expected an integer, got a string"],
    ),
    "bool for an integer": (
        lambda w: ["--config", write(w / "c.toml", "[train]\nbatch_size = true\n")],
        ["train.batch_size = True (in c.toml)", "expected an integer, got a boolean"],
    ),
    "float for an integer": (
        lambda w: ["--config", write(w / "c.toml", "[model]\nhidden_units = 64.5\n")],
        ["model.hidden_units = 64.5 (in c.toml)", "expected an integer, got a number"],
    ),
    "string for a number": (
        lambda w: ["--config", write(w / "c.toml", "[train]\nlearning_rate = 'fast'\n")],
        ["train.learning_rate = 'fast'", "expected a number"],
    ),
    "integer for a boolean": (
        lambda w: ["--set", "model.unroll=1"],
        ["model.unroll = 1 (in --set model.unroll=1)", "expected true or false"],
    ),
    "zero steps": (
        lambda w: ["--config", write(w / "c.toml", "[train]\nsteps = 0\n")],
        ["train.steps = 0 (in c.toml)", "must be at least 1"],
    ),
    "negative batch size": (
        lambda w: ["--set", "train.batch_size=-5"],
        ["train.batch_size = -5 (in --set train.batch_size=-5)", "must be at least 1"],
    ),
    "negative learning rate": (
        lambda w: ["--lr", "-0.1"],
        ["train.learning_rate = -0.1 (in --lr)", "greater than 0"],
    ),
    "zero learning rate": (
        lambda w: ["--config", write(w / "c.toml", "[train]\nlearning_rate = 0.0\n")],
        ["train.learning_rate = 0.0 (in c.toml)", "greater than 0"],
    ),
    "NaN learning rate": (
        lambda w: ["--config", write(w / "c.toml", "[train]\nlearning_rate = nan\n")],
        ["train.learning_rate = nan (in c.toml)", "finite"],
    ),
    "infinite learning rate": (
        lambda w: ["--set", "train.learning_rate=inf"],
        ["train.learning_rate = inf", "finite"],
    ),
    "minus infinite learning rate": (
        lambda w: ["--set", "train.learning_rate=-inf"],
        ["train.learning_rate = -inf", "finite"],
    ),
    "infinite steps": (
        lambda w: ["--config", write(w / "c.toml", "[train]\nsteps = inf\n")],
        ["train.steps = inf (in c.toml)", "expected an integer"],
    ),
    "NaN validation size": (
        lambda w: ["--set", "data.validation_size=nan"],
        ["data.validation_size = nan", "expected an integer"],
    ),
    "huge step count": (
        lambda w: ["--set", "train.steps=99999999999999999999"],
        ["train.steps = 99999999999999999999", "must be at most 2147483647"],
    ),
    "seed too large for numpy": (
        lambda w: ["--seed", str(2**32)],
        ["train.seed = 4294967296 (in --seed)", "must be at most 4294967295"],
    ),
    "--set without =": (
        lambda w: ["--set", "train.steps"],
        ["--set 'train.steps'", "expected SECTION.KEY=VALUE"],
    ),
    "--set without a section": (lambda w: ["--set", "steps=5"], ["expected SECTION.KEY=VALUE"]),
    "--set of an unknown key": (
        lambda w: ["--set", "train.stepz=5"],
        ["unknown key train.stepz in --set train.stepz=5"],
    ),
    "more classes in the data than the model has": (
        lambda w: ["--set", "model.num_classes=5"],
        ["model.num_classes = 5", "has 10 classes", "set 0 to take the data set's"],
    ),
    "batch larger than the training set": (
        lambda w: ["--batch-size", "500"],
        ["train.batch_size = 500", "larger than the 100 training images"],
    ),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_configuration_errors_exit_2(workspace: Path, case: str) -> None:
    make_args, fragments = CONFIG_CASES[case]
    args = make_args(workspace)
    before = snapshot(workspace)
    code, out, err = run_cli(
        ["train", "--data-dir", workspace / "mnist", *sets(TINY_SETTINGS), *args]
    )
    assert_one_error_line(code, 2, out, err, fragments)
    assert snapshot(workspace) == before


def test_config_show_reports_the_same_errors(workspace: Path) -> None:
    bad = write(workspace / "c.toml", "[train]\nsteps = -1\n")
    code, out, err = run_cli(["config", "show", "--config", bad])
    assert_one_error_line(code, 2, out, err, ["train.steps = -1 (in c.toml)"])


# ---------------------------------------------------------------------- data


def damage(name: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(change(path.read_bytes()))

    return apply


def gzip_all(folder: Path) -> None:
    for path in list(folder.iterdir()):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()


def labels_of(count: int, bad_index: int | None = None, value: int = 0) -> bytes:
    _, labels = make_digits(count, 0)
    if bad_index is not None:
        labels[bad_index] = value
    return idx_labels(labels)


TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

DATA_CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "missing file": (
        lambda f: (f / TEST_LABELS).unlink(),
        ["missing file", f"mnist/{TEST_LABELS}"],
    ),
    "empty file": (damage(TRAIN_IMAGES, lambda b: b""), [TRAIN_IMAGES, "file is empty"]),
    "file shorter than its header": (
        damage(TRAIN_LABELS, lambda b: b[:6]),
        [TRAIN_LABELS, "truncated inside its 8-byte header"],
    ),
    "truncated file": (
        damage(TRAIN_IMAGES, lambda b: b[:5000]),
        [TRAIN_IMAGES, "truncated: 5000 bytes, header says 94096 (120 images)"],
    ),
    "file longer than its header says": (
        damage(TRAIN_IMAGES, lambda b: b + b"xx"),
        [TRAIN_IMAGES, "longer than its header says"],
    ),
    "wrong magic number": (
        damage(TRAIN_IMAGES, lambda b: struct.pack(">I", 0x804) + b[4:]),
        [TRAIN_IMAGES, "wrong magic number 0x00000804", "expected 0x00000803"],
    ),
    "labels file where images belong": (
        lambda f: shutil.copy(f / TRAIN_LABELS, f / TRAIN_IMAGES),
        [TRAIN_IMAGES, "wrong magic number 0x00000801"],
    ),
    "images that are not 28x28": (
        damage(TRAIN_IMAGES, lambda b: b[:8] + struct.pack(">II", 14, 56) + b[16:]),
        ["the train pictures 56x14 and the test pictures 28x28", "of one size"],
    ),
    "image and label counts that disagree": (
        lambda f: (f / TRAIN_LABELS).write_bytes(labels_of(119)),
        ["120 images but 119 labels"],
    ),
    "a test label that no training label has": (
        lambda f: (f / TEST_LABELS).write_bytes(labels_of(40, 0, 255)),
        ["the test pictures have class '255', which no training picture has"],
    ),
    "no images at all": (
        lambda f: (
            (f / TRAIN_IMAGES).write_bytes(struct.pack(">IIII", 0x803, 0, 28, 28)),
            (f / TRAIN_LABELS).write_bytes(struct.pack(">II", 0x801, 0)),
        ),
        ["(train): no images"],
    ),
    "truncated gzip file": (
        lambda f: (gzip_all(f), damage(TRAIN_IMAGES + ".gz", lambda b: b[: len(b) // 2])(f)),
        [TRAIN_IMAGES + ".gz", "cannot read", "end-of-stream"],
    ),
    "corrupt gzip stream": (
        lambda f: (
            gzip_all(f),
            damage(TRAIN_IMAGES + ".gz", lambda b: b[:20] + bytes(200) + b[220:])(f),
        ),
        [TRAIN_IMAGES + ".gz", "cannot read"],
    ),
    "gzip name on a plain file": (
        lambda f: (f / TRAIN_IMAGES).rename(f / (TRAIN_IMAGES + ".gz")),
        [TRAIN_IMAGES + ".gz", "cannot read", "Not a gzipped file"],
    ),
    "validation split as large as the training set": (
        lambda f: None,
        ["data.validation_size = 200 leaves no training pictures (120 in"],
    ),
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_data_errors_exit_1(workspace: Path, case: str) -> None:
    change, fragments = DATA_CASES[case]
    change(workspace / "mnist")
    before = snapshot(workspace)
    extra = ["--set", "data.validation_size=200"] if "validation" in case else []
    code, out, err = run_cli(
        ["train", "--data-dir", workspace / "mnist", *sets(TINY_SETTINGS), *extra]
    )
    assert_one_error_line(code, 1, out, err, fragments)
    assert snapshot(workspace) == before


@pytest.mark.parametrize(
    ("where", "fragments"),
    [
        ("--data-dir", ["data folder not found: nowhere (from --data-dir)", "RNNCLS_DATA_DIR"]),
        ("RNNCLS_DATA_DIR", ["data folder not found: nowhere (from RNNCLS_DATA_DIR)"]),
        ("[data] dir", ["data folder not found: nowhere (from [data] dir)"]),
    ],
)
def test_missing_data_folder_is_named(workspace, monkeypatch, where, fragments) -> None:
    args: list[str] = []
    if where == "--data-dir":
        args = ["--data-dir", "nowhere"]
    elif where == "RNNCLS_DATA_DIR":
        monkeypatch.setenv("RNNCLS_DATA_DIR", "nowhere")
    else:
        args = ["--set", "data.dir=nowhere"]
    before = snapshot(workspace)
    code, out, err = run_cli(["train", *sets(TINY_SETTINGS), *args])
    assert_one_error_line(code, 1, out, err, fragments)
    assert snapshot(workspace) == before


def test_folder_without_mnist_files_and_damaged_npz(workspace: Path) -> None:
    empty = workspace / "empty"
    empty.mkdir()
    before = snapshot(workspace)
    code, out, err = run_cli(["train", "--data-dir", empty])
    assert_one_error_line(code, 1, out, err, ["empty: an empty folder; put each class's"])
    (empty / "mnist.npz").write_bytes(b"not a zip archive")
    before = snapshot(workspace)
    code, out, err = run_cli(["train", "--data-dir", empty, *sets(TINY_SETTINGS)])
    assert_one_error_line(code, 1, out, err, ["mnist.npz: not an npz archive"])
    assert snapshot(workspace) == before


# ---------------------------------------------------------------------- run directories


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny runs to copy and damage: "partial" stopped at step 3 of 6 (a checkpoint,
    no summary), and "finished" at step 6."""
    from rnncls.config import load_config, to_toml, with_values
    from rnncls.datasets import find_data
    from rnncls.train import train

    folder = tmp_path_factory.mktemp("trained")
    source = find_data(write_mnist(folder / "mnist", gz=False))
    config = load_config(overrides=TINY_SETTINGS)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # runs/latest goes here, not into the checkout
        train(with_values(config, train={"steps": 3}), source, folder / "partial")
        # what a run of 6 steps killed after its checkpoint at step 3 looks like
        rundir.write_text(folder / "partial" / "config.toml", to_toml(config))
        for name in ("summary.json", "model.keras", "model.onnx"):
            (folder / "partial" / name).unlink(missing_ok=True)
        train(config, source, folder / "finished")
    return {"partial": folder / "partial", "finished": folder / "finished"}


def copy_run(trained: dict[str, Path], which: str, into: Path) -> Path:
    target = into / "run"
    shutil.copytree(trained[which], target)
    return target


def rewrite_checkpoint(run_dir: Path, change: Callable[[dict, dict], None]) -> None:
    state, arrays = checkpoints.load_checkpoint(run_dir)
    change(state, arrays)
    checkpoints.save_checkpoint(run_dir, state, arrays)


def raw_checkpoint(run_dir: Path, state_text: str) -> None:
    with open(run_dir / "checkpoint.npz", "wb") as handle:
        np.savez(handle, state=np.array(state_text))


RUN_CASES: dict[str, tuple[str, Callable[[Path], None], list[str], int, list[str]]] = {
    # name: (which run, damage, extra arguments, exit code, fragments)
    "empty checkpoint": (
        "partial",
        lambda r: (r / "checkpoint.npz").write_bytes(b""),
        [],
        1,
        ["checkpoint run/checkpoint.npz is damaged", "not an npz archive"],
    ),
    "truncated checkpoint": (
        "partial",
        damage("checkpoint.npz", lambda b: b[: len(b) // 2]),
        [],
        1,
        ["checkpoint run/checkpoint.npz is damaged"],
    ),
    "checkpoint of random bytes": (
        "partial",
        lambda r: (r / "checkpoint.npz").write_bytes(os.urandom(3000)),
        [],
        1,
        ["checkpoint run/checkpoint.npz is damaged"],
    ),
    "checkpoint with one byte changed": (
        "partial",
        damage("checkpoint.npz", lambda b: b[:200] + bytes([b[200] ^ 0xFF]) + b[201:]),
        [],
        1,
        ["checkpoint run/checkpoint.npz is damaged"],
    ),
    "checkpoint state that is not an object": (
        "partial",
        lambda r: raw_checkpoint(r, "[1, 2]"),
        [],
        1,
        ["is damaged: its state is not a JSON object"],
    ),
    "checkpoint with a negative step": (
        "partial",
        lambda r: rewrite_checkpoint(r, lambda s, a: s.update(step=-3)),
        [],
        1,
        ["is damaged: its step is -3"],
    ),
    "checkpoint of a newer rnncls": (
        "partial",
        lambda r: rewrite_checkpoint(r, lambda s, a: s.update(version=99)),
        [],
        1,
        ["has version 99", "reads versions 1, 2"],
    ),
    "checkpoint of another model size": (
        "partial",
        lambda r: rewrite_checkpoint(
            r, lambda s, a: a["model"].__setitem__("lstm/lstm_cell/kernel", np.zeros((28, 4)))
        ),
        [],
        1,
        [
            "checkpoint in run does not fit this model: model variable lstm/lstm_cell/kernel "
            "is float64[28, 4], the model's float32[28, 32]"
        ],
    ),
    "checkpoint with a missing optimizer variable": (
        "partial",
        lambda r: rewrite_checkpoint(r, lambda s, a: a["optimizer"].pop("iteration")),
        [],
        1,
        ["does not fit this model: optimizer variable iteration is only in this model"],
    ),
    "checkpoint in float64": (
        "partial",
        lambda r: rewrite_checkpoint(
            r,
            lambda s, a: a.update(model={k: v.astype(np.float64) for k, v in a["model"].items()}),
        ),
        [],
        1,
        ["does not fit this model"],
    ),
    "fewer steps than the checkpoint": (
        "partial",
        lambda r: None,
        ["--steps", "2"],
        2,
        ["train.steps = 2: the run in run is already at step 3"],
    ),
    "finished run without its checkpoint": (
        "finished",
        lambda r: (r / "checkpoint.npz").unlink(),
        ["--steps", "9"],
        1,
        ["holds a finished run but no checkpoint.npz", "--force"],
    ),
    "damaged summary": (
        "finished",
        damage("summary.json", lambda b: b[:10]),
        [],
        1,
        ["run/summary.json is damaged"],
    ),
    "damaged run config": (
        "partial",
        damage("config.toml", lambda b: b + b"\n[train\n"),
        [],
        2,
        ["malformed TOML in run/config.toml"],
    ),
    "run config with an unknown key": (
        "partial",
        damage("config.toml", lambda b: b.replace(b"[train]", b"[train]\nturbo = true")),
        [],
        2,
        ["unknown key train.turbo in run/config.toml"],
    ),
}


@pytest.mark.parametrize("case", RUN_CASES)
def test_damaged_runs_on_resume(workspace: Path, trained, case: str) -> None:
    which, change, extra, expected_code, fragments = RUN_CASES[case]
    run_dir = copy_run(trained, which, workspace)
    change(run_dir)
    before = snapshot(workspace)
    code, out, err = run_cli(
        ["train", "--resume", "--run-dir", "run", "--data-dir", workspace / "mnist", *extra]
    )
    assert_one_error_line(code, expected_code, out, err, fragments)
    assert snapshot(workspace) == before


@pytest.mark.parametrize(
    ("make", "args", "fragments"),
    [
        (lambda w: None, ["--resume", "--run-dir", "absent"], ["nothing to resume: absent"]),
        (
            lambda w: (w / "empty").mkdir(),
            ["--resume", "--run-dir", "empty"],
            ["nothing to resume: empty is not a run directory"],
        ),
        (
            lambda w: write(w / "afile", "x"),
            ["--resume", "--run-dir", "afile"],
            ["nothing to resume: afile is not a run directory"],
        ),
        (
            lambda w: write(w / "afile", "x"),
            ["--run-dir", "afile"],
            ["run directory afile exists and is not a directory"],
        ),
        (
            lambda w: ((w / "stuff").mkdir(), write(w / "stuff" / "notes.txt", "mine")),
            ["--run-dir", "stuff"],
            ["stuff is not empty and is not a run directory"],
        ),
        (lambda w: None, ["--resume"], ["no interrupted run to resume in runs/", "--run-dir"]),
    ],
    ids=[
        "resume absent",
        "resume empty folder",
        "resume a file",
        "run dir is a file",
        "folder of other files",
        "resume with no runs",
    ],
)
def test_not_a_run_directory(workspace: Path, make, args, fragments) -> None:
    make(workspace)
    before = snapshot(workspace)
    code, out, err = run_cli(["train", "--data-dir", workspace / "mnist", *args])
    assert_one_error_line(code, 1, out, err, fragments)
    assert snapshot(workspace) == before


def test_finished_run_is_not_overwritten_without_force(workspace: Path, trained) -> None:
    copy_run(trained, "finished", workspace)
    before = snapshot(workspace)
    code, out, err = run_cli(
        ["train", "--run-dir", "run", "--data-dir", workspace / "mnist", *sets(TINY_SETTINGS)]
    )
    assert_one_error_line(code, 1, out, err, ["run directory run already holds a run", "--force"])
    assert snapshot(workspace) == before


# ---------------------------------------------------------------------- a full disk


@contextmanager
def full_disk(monkeypatch: pytest.MonkeyPatch, target: str) -> Iterator[list[Path]]:
    """Make every atomic write of a file named ``target`` fail with ENOSPC half-way, after
    some bytes reached its temporary file, as a full disk does. Yields the temporary
    paths that were used, to check they are gone."""
    real = rundir.atomic_path
    used: list[Path] = []

    @contextmanager
    def failing(path: Path) -> Iterator[Path]:
        with real(path) as temporary:
            yield temporary
            if Path(path).name == target:
                used.append(temporary)
                with open(temporary, "ab") as handle:
                    handle.write(b"\0" * 100)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rundir, "atomic_path", failing)
    yield used
    monkeypatch.setattr(rundir, "atomic_path", real)


@pytest.mark.parametrize(
    "target", ["checkpoint.npz", "model.keras", "summary.json", "config.toml", "metrics.jsonl"]
)
def test_full_disk_keeps_the_last_good_version(workspace, trained, monkeypatch, target) -> None:
    """A finished 6-step run continued to 9 steps on a full disk: the write that fails
    leaves the previous file as it was and no temporary file; the run resumes later."""
    run_dir = copy_run(trained, "finished", workspace)
    original = (run_dir / target).read_bytes()
    resume = ["train", "--resume", "--steps", "9", "--run-dir", "run", "--quiet"]
    resume += ["--data-dir", workspace / "mnist"]
    with full_disk(monkeypatch, target) as used:
        code, out, err = run_cli(resume)
    assert used, f"{target} was never written"
    assert_one_error_line(code, 1, out, err, [f"cannot write run/{target}", "No space left"])
    assert (run_dir / target).read_bytes() == original
    assert rundir.temporary_files(run_dir) == []
    assert all(not path.exists() for path in used)
    assert json.loads((run_dir / "summary.json").read_text())["steps"] in (6, 9)
    # once there is room again, the same command finishes the run
    code, out, err = run_cli([*resume[:-3], "--json", *resume[-2:]])
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["steps"] == 9
    assert checkpoints.load_checkpoint(run_dir)[0]["step"] == 9


@pytest.mark.tensorflow
def test_full_disk_on_a_fresh_run_keeps_the_first_checkpoint(workspace, monkeypatch) -> None:
    """The second checkpoint of a fresh run fails: the first stays readable."""
    real_savez, calls = np.savez, []

    def savez_on_a_full_disk(handle, **arrays):
        calls.append(arrays)
        if len(calls) == 2:
            handle.write(b"PK\x03\x04 half a zip")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_savez(handle, **arrays)

    monkeypatch.setattr(np, "savez", savez_on_a_full_disk)
    args = ["train", "--run-dir", "run", "--quiet", "--data-dir", workspace / "mnist"]
    code, out, err = run_cli([*args, *sets(TINY_SETTINGS)])
    assert_one_error_line(code, 1, out, err, ["cannot write run/checkpoint.npz", "No space"])
    assert checkpoints.load_checkpoint(workspace / "run")[0]["step"] == 3
    assert rundir.temporary_files(workspace / "run") == []
    assert not (workspace / "run" / "summary.json").exists()


@pytest.mark.tensorflow
def test_a_training_that_diverges_is_one_line_and_exit_1(workspace: Path) -> None:
    """Plain SGD at 1e38 overflows in its first steps: one line naming the steps, what was
    kept and what to change; no model, no summary, no checkpoint of the lost weights."""
    args = ["train", "--run-dir", "run", "--quiet", "--data-dir", workspace / "mnist"]
    settings = [*TINY_SETTINGS, "train.optimizer='sgd'", "train.learning_rate=1e38"]
    code, out, err = run_cli([*args, *sets(settings)])
    assert_one_error_line(
        code,
        1,
        out,
        err,
        [
            "error: training diverged: the loss became inf in steps 1 to 3; no checkpoint yet; "
            "start it again (--force) with a lower train.learning_rate (now 1e+38) or "
            "train.clipnorm = 1"
        ],
    )
    assert sorted(path.name for path in (workspace / "run").iterdir()) == [
        "config.toml",
        "data-index.json.gz",
        "dataset.json",
        "metrics.jsonl",
    ]
    assert (workspace / "run" / "metrics.jsonl").read_text() == ""


# ---------------------------------------------------------------------- read-only


def unprivileged_prefix() -> list[str]:
    """A command prefix under which this process's user cannot write a 0o555 folder.

    Root writes anywhere, so as root the child drops the capabilities that let it
    (``setpriv``, util-linux); where that is impossible the test is skipped.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and no setpriv to drop CAP_DAC_OVERRIDE")
    prefix = [
        setpriv,
        "--bounding-set=-dac_override,-dac_read_search",
        "--inh-caps=-dac_override,-dac_read_search",
        "--",
    ]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root, and setpriv cannot drop capabilities here: {probe.stderr}")
    return prefix


def rnncls_process(args: list, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("RNNCLS_DATA_DIR", None)
    return subprocess.run(
        [*unprivileged_prefix(), sys.executable, "-m", "rnncls", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def read_only(workspace: Path, trained) -> Iterator[Path]:
    """A read-only folder holding a finished run; made writable again afterwards."""
    folder = workspace / "locked"
    folder.mkdir()
    copy_run(trained, "finished", folder)
    for path in (folder / "run", folder):
        path.chmod(0o555)
    yield folder
    for path in (folder, folder / "run"):
        path.chmod(0o755)


def test_read_only_run_directories(workspace: Path, read_only: Path) -> None:
    data = ["--data-dir", workspace / "mnist"]
    before = snapshot(workspace)
    # a new run in a read-only folder
    result = rnncls_process(
        ["train", "--run-dir", "locked/new", *data, *sets(TINY_SETTINGS)], workspace
    )
    assert_one_error_line(
        result.returncode, 1, result.stdout, result.stderr, ["cannot write in", "locked"]
    )
    # a new run under runs/ when the working folder is read-only
    result = rnncls_process(["train", *data, *sets(TINY_SETTINGS)], read_only)
    assert_one_error_line(result.returncode, 1, result.stdout, result.stderr, ["cannot write in"])
    # continuing a read-only run to more steps
    result = rnncls_process(
        ["train", "--resume", "--run-dir", "locked/run", "--steps", "9", *data], workspace
    )
    assert_one_error_line(
        result.returncode, 1, result.stdout, result.stderr, ["cannot write in", "locked/run"]
    )
    assert snapshot(workspace) == before
    # but reporting the finished read-only run needs no writing, and works
    result = rnncls_process(
        ["train", "--resume", "--run-dir", "locked/run", "--json", *data], workspace
    )
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout.splitlines()[-1])
    assert done == json.loads((read_only / "run" / "summary.json").read_text())
    assert snapshot(workspace) == before


@pytest.mark.tensorflow
def test_unwritable_runs_latest_is_a_warning(workspace: Path) -> None:
    """A run written elsewhere completes even where runs/latest cannot be made."""
    (workspace / "runs").write_text("a file where the runs folder belongs")
    args = ["train", "--run-dir", "elsewhere", "--json", "--data-dir", workspace / "mnist"]
    result = runner.invoke(app, [str(a) for a in [*args, *sets(TINY_SETTINGS)]])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["steps"] == 6
    assert "warning: cannot create runs" in result.stderr
    assert (workspace / "elsewhere" / "summary.json").is_file()


# ---------------------------------------------------------------------- model files


def flat_onnx_model(path: Path) -> None:
    """A valid ONNX model that reads (n, 784), not the (n, 28, 28) images rnncls gives."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.zeros((784, 10), np.float32), "weights")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["images", "weights"], ["logits"])],
        "flat",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 10])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def flat_keras_model(path: Path) -> None:
    import keras

    inputs = keras.Input(shape=(784,))
    keras.Model(inputs, keras.layers.Dense(10)(inputs)).save(path)


def without_onnx(change: Callable[[Path], None]) -> Callable[[Path], None]:
    """Damage a run that has only model.keras, so the Keras model is what is read."""

    def apply(run: Path) -> None:
        (run / "model.onnx").unlink()
        change(run)

    return apply


MODEL_CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "no model file": (
        lambda r: ((r / "model.onnx").unlink(), (r / "model.keras").unlink()),
        ["run is not a finished run: it has no model.keras or model.onnx"],
    ),
    "empty model.onnx": (
        damage("model.onnx", lambda b: b""),
        ["cannot load model run/model.onnx"],
    ),
    "truncated model.onnx": (
        damage("model.onnx", lambda b: b[: len(b) // 2]),
        ["cannot load model run/model.onnx"],
    ),
    "model.onnx that reads other shapes": (
        lambda r: flat_onnx_model(r / "model.onnx"),
        ["run/model.onnx: the model reads inputs of shape (?, 784)", "(n, 28, 28)"],
    ),
    "empty model.keras": (
        without_onnx(damage("model.keras", lambda b: b"")),
        ["cannot load model run/model.keras"],
    ),
    "truncated model.keras": (
        without_onnx(damage("model.keras", lambda b: b[: len(b) // 2])),
        ["cannot load model run/model.keras"],
    ),
    "model.keras that reads other shapes": (
        without_onnx(lambda r: flat_keras_model(r / "model.keras")),
        ["run/model.keras: the model reads inputs of shape (?, 784)"],
    ),
}
MODEL_COMMANDS = {
    "eval": ["eval", "--run", "run", "--confusion", "confusion.png"],
    "predict": ["predict", "--run", "run", "--n", "3"],
    "show-sample": ["show-sample", "--run", "run", "--out", "sample.png"],
}


@pytest.mark.parametrize("command", MODEL_COMMANDS)
@pytest.mark.parametrize("case", MODEL_CASES)
def test_damaged_or_unfit_models(workspace: Path, tiny_run, command: str, case: str) -> None:
    change, fragments = MODEL_CASES[case]
    change(tiny_run.copy(workspace / "run"))
    before = snapshot(workspace)
    code, out, err = run_cli([*MODEL_COMMANDS[command], "--data-dir", workspace / "mnist"])
    assert_one_error_line(code, 1, out, err, fragments)
    assert snapshot(workspace) == before  # no confusion.png, no sample.png


@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_run_that_is_not_one(workspace: Path, command: str) -> None:
    (workspace / "run").mkdir()
    write(workspace / "run" / "notes.txt", "not a run")
    before = snapshot(workspace)
    args = [*MODEL_COMMANDS[command], "--data-dir", workspace / "mnist"]
    code, out, err = run_cli(args)
    assert_one_error_line(code, 1, out, err, ["run is not a finished run"])
    args[args.index("run")] = "run/notes.txt"
    code, out, err = run_cli(args)
    assert_one_error_line(code, 1, out, err, ["run/notes.txt: not a model file"])
    assert snapshot(workspace) == before


def test_export_of_a_damaged_keras_model(workspace: Path, tiny_run) -> None:
    run = tiny_run.copy(workspace / "run")
    damage("model.keras", lambda b: b[: len(b) // 3])(run)
    before = snapshot(workspace)
    args = ["export", "--run", "run", "--format", "onnx", "--out", "exported.onnx"]
    code, out, err = run_cli(args)
    assert_one_error_line(code, 1, out, err, ["cannot load model run/model.keras"])
    assert snapshot(workspace) == before


def test_every_failure_maps_to_one_line_and_an_exit_code() -> None:
    """The table of rnncls/cli/errors.py: a stop the user asked for is its message alone
    (any subclass of Stopped, found by type, not by name), a usage error exits 2."""
    from rnncls.cli.errors import error_line
    from rnncls.errors import ConfigError, DataError, RunError, Stopped

    class SomeStop(Stopped):
        pass

    assert error_line(SomeStop("stopped at step 5;\n  --resume continues")) == (
        "stopped at step 5; --resume continues",
        1,
    )
    assert error_line(ConfigError("train.steps = -1")) == ("error: train.steps = -1", 2)
    assert error_line(DataError("no MNIST")) == ("error: no MNIST", 1)
    assert error_line(RunError("busy")) == ("error: busy", 1)
    assert error_line(ZeroDivisionError("x")) == ("error: ZeroDivisionError: x", 1)


def test_training_and_tune_stops_are_stops_not_errors() -> None:
    """The real classes, not only the table: both subclass Stopped."""
    from rnncls.cli.errors import error_line
    from rnncls.errors import TrainingInterrupted, TuneStopped

    line, code = error_line(TrainingInterrupted(Path("runs/r"), 8, "SIGTERM"))
    assert (line.split(";")[0], code) == ("stopped at step 8 (SIGTERM) with a checkpoint saved", 1)
    assert error_line(TuneStopped("stopped (SIGINT)")) == ("stopped (SIGINT)", 1)


def test_a_divergence_names_its_step_or_steps_and_exits_1() -> None:
    from rnncls.cli.errors import error_line
    from rnncls.errors import Diverged

    assert str(Diverged(7, 7, float("nan"))) == "training diverged: the loss became nan in step 7"
    assert error_line(Diverged(4, 6, float("inf"), "; no checkpoint yet")) == (
        "error: training diverged: the loss became inf in steps 4 to 6; no checkpoint yet",
        1,
    )
