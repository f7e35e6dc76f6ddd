"""What a run records of its data set and how a later command finds it again
(rnncls/datasets/recorded.py), on a folder of tiny pictures made here: the record read
back, the data set gone, moved, of other classes or changed since training."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rnncls.config_keys import DataConfig
from rnncls.datasets import data_at, open_data
from rnncls.datasets import recorded as recorded_module
from rnncls.datasets.description import DataSet
from rnncls.errors import DataError, RunError

SETTINGS = DataConfig(validation_size=2)


def picture_folder(root: Path, classes=("cat", "dog"), count: int = 4) -> Path:
    """``count`` flat 4x4 grey pictures in each class's subfolder of ``root``."""
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for number in range(count):
            level = 40 * index + number
            Image.fromarray(np.full((4, 4), level, np.uint8)).save(root / name / f"{number}.png")
    return root


@pytest.fixture
def trained(in_tmp: Path) -> tuple[Path, Path]:
    """A run directory that recorded the folder it trained on: (run, folder)."""
    folder = picture_folder(in_tmp / "pictures")
    run = in_tmp / "run"
    run.mkdir()
    recorded_module.write(run, open_data(data_at(folder, "test"), SETTINGS))
    return run, folder


def test_the_record_reads_back(trained) -> None:
    run, folder = trained
    data = open_data(data_at(folder, "test"), SETTINGS)
    described = recorded_module.read(run)
    assert described == data.dataset
    assert (described.format, described.classes, described.shape) == (
        "folder",
        ("cat", "dog"),
        (4, 4, 1),
    )
    assert described.path == str(folder.resolve())
    index = recorded_module.read_index(run)
    assert index == [tuple(entry) for entry in data.parts.index]
    assert sorted(name for name, _, _ in index) == [
        f"{name}/{number}.png" for name in ("cat", "dog") for number in range(4)
    ]
    # the index file does not depend on when it was written (gzip's time stamp is 0)
    assert (run / "data-index.json.gz").read_bytes()[4:8] == bytes(4)  # gzip's MTIME field


def test_runs_without_a_record(in_tmp: Path) -> None:
    assert recorded_module.read(None) is None
    assert recorded_module.read(in_tmp) is None
    assert recorded_module.read_index(in_tmp) == []
    assert recorded_module.unchanged(in_tmp, "here") is None


def test_a_damaged_record_is_named(trained) -> None:
    run, _ = trained
    (run / "dataset.json").write_text('{"kind": "pictures"}')
    with pytest.raises(RunError) as caught:
        recorded_module.read(run)
    path = run / "dataset.json"
    assert str(caught.value) == (f"{path} is damaged: {path}: not a data set description ('shape')")
    (run / "data-index.json.gz").write_bytes(b"not gzip")
    assert recorded_module.read_index(run) == []
    (run / "data-index.json.gz").write_bytes(gzip.compress(b"[not json"))
    assert recorded_module.read_index(run) == []


def test_which_data_set_a_command_on_a_run_uses(trained, in_tmp: Path) -> None:
    run, folder = trained
    other = picture_folder(in_tmp / "other")
    assert recorded_module.source_for(run, other, SETTINGS).path == other
    assert recorded_module.source_for(run, None, SETTINGS).path == folder.resolve()
    assert recorded_module.source_for(run, "", SETTINGS).path == folder.resolve()
    # no record, or one without a place (a model file's): the usual search, here [data] dir
    plain = DataConfig(dir=str(other))
    assert recorded_module.source_for(None, None, plain).path == other
    placeless = in_tmp / "placeless"
    placeless.mkdir()
    (placeless / "dataset.json").write_text(recorded_module.read(run).without_location().dumps())
    assert recorded_module.source_for(placeless, None, plain).path == other
    folder.rename(in_tmp / "moved")
    with pytest.raises(DataError) as caught:
        recorded_module.source_for(run, None, SETTINGS)
    assert str(caught.value) == (
        f"the data set that {run} trained on is gone: {folder.resolve()} does not exist; "
        "give --data-dir to use another"
    )
    assert recorded_module.source_for(run, in_tmp / "moved", SETTINGS).path == in_tmp / "moved"


def test_the_runs_own_data_set_changed_since_training_is_a_warning(trained) -> None:
    run, folder = trained
    model = recorded_module.read(run)
    said: list[str] = []
    recorded_module.open_for_run(run, None, SETTINGS, model, said.append)
    assert [line for line in said if line.startswith("warning")] == []
    Image.fromarray(np.full((4, 4), 9, np.uint8)).save(folder / "cat" / "9.png")
    said.clear()
    data = recorded_module.open_for_run(run, None, SETTINGS, model, said.append)
    assert [line for line in said if line.startswith("warning")] == [
        f"warning: {folder.resolve()} changed since {run} trained on it: 1 file added (cat/9.png)"
    ]
    assert sum(data.dataset.sizes.values()) == 9  # the added picture is read
    # a folder named with --data-dir is the user's choice: no warning
    said.clear()
    recorded_module.open_for_run(run, folder, SETTINGS, model, said.append)
    assert [line for line in said if line.startswith("warning")] == []


def test_a_data_set_of_other_pictures_or_classes_is_an_error(trained, in_tmp: Path) -> None:
    run, _ = trained
    model = recorded_module.read(run)
    three = picture_folder(in_tmp / "three", classes=("cat", "dog", "eel"))
    with pytest.raises(DataError) as caught:
        recorded_module.open_for_run(run, three, SETTINGS, model, print)
    assert str(caught.value) == (
        f"{three.resolve()} holds 4x4x1 pictures of 3 classes, "
        "but the model reads 4x4x1 pictures of 2 classes"
    )
    wider = DataSet("pictures", "folder", (4, 6, 1), ("cat", "dog"))
    with pytest.raises(DataError) as caught:
        recorded_module.open_for_run(run, None, SETTINGS, wider, print)
    assert str(caught.value).endswith(
        "holds 4x4x1 pictures of 2 classes, but the model reads 6x4x1 pictures of 2 classes"
    )
    renamed = DataSet("pictures", "folder", (4, 4, 1), ("cat", "cow"))
    with pytest.raises(DataError):
        recorded_module.open_for_run(run, None, SETTINGS, renamed, print)


def test_resume_refuses_changed_files(trained) -> None:
    run, folder = trained
    check = recorded_module.unchanged(run, "the folder")
    index = recorded_module.read_index(run)
    assert check(index) is None  # the same files: nothing to say
    changed_index = [entry for entry in index if entry[0] != "dog/3.png"]
    with pytest.raises(DataError) as caught:
        check(changed_index)
    assert str(caught.value) == (
        f"the data set of {run} changed since it trained (the folder: 1 file removed "
        "(dog/3.png)); a resumed run must read the same pictures: put them back, or "
        "train a new run"
    )
    # the index lost: what differs is said against nothing
    (run / "data-index.json.gz").unlink()
    with pytest.raises(DataError) as caught:
        check(changed_index)
    assert "(the folder: 7 files added (cat/0.png, cat/1.png, cat/2.png, ...))" in str(caught.value)
    # the same names, sizes and stamps under another fingerprint: said in fewer words
    recorded_module.write(run, open_data(data_at(folder, "test"), SETTINGS))
    record = recorded_module.read(run).to_json() | {"fingerprint": "0" * 64}
    (run / "dataset.json").write_text(json.dumps(record))
    with pytest.raises(DataError) as caught:
        recorded_module.unchanged(run, "the folder")(index)
    assert "(the folder: its files differ)" in str(caught.value)
