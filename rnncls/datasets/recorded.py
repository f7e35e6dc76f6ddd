"""What a run records of its data set, and finding that data set again.

A run directory holds ``dataset.json`` (the :class:`DataSet`: kind, shape, classes,
where it was read, a fingerprint of its files) and ``data-index.json.gz`` (each file's
name, size and stamp). ``eval``, ``predict``, ``show-sample`` and ``train --resume`` use
the run's own data set unless ``--data-dir`` names another, and say so when it is gone
or changed; ``--resume`` refuses a data set whose files changed, naming what changed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from rnncls import rundir
from rnncls.config_keys import DataConfig
from rnncls.datasets import (
    Check,
    DataSource,
    Index,
    OpenedData,
    Warn,
    changed,
    data_at,
    find_data,
    fingerprint,
    open_data,
)
from rnncls.datasets.description import DataSet
from rnncls.errors import DataError, RunError


def write(run_dir: Path, data: OpenedData) -> None:
    """The description and the index of ``data`` into ``run_dir``."""
    rundir.write_json(run_dir / rundir.DATASET_FILE, data.dataset.to_json())
    index = json.dumps([list(entry) for entry in data.parts.index]).encode()
    rundir.write_with(
        run_dir / rundir.DATA_INDEX_FILE,
        lambda temporary: temporary.write_bytes(gzip.compress(index, mtime=0)),
    )


def read(run_dir: Path | None) -> DataSet | None:
    """The data set a run recorded, None for a run from before runs recorded it."""
    if run_dir is None:
        return None
    path = run_dir / rundir.DATASET_FILE
    if not path.is_file():
        return None
    try:
        return DataSet.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, ValueError) as exc:
        raise RunError(f"{path} is damaged: {exc}") from None


def read_index(run_dir: Path) -> list[tuple[str, int, str]]:
    path = run_dir / rundir.DATA_INDEX_FILE
    try:
        return [tuple(entry) for entry in json.loads(gzip.decompress(path.read_bytes()))]
    except (OSError, ValueError, EOFError):
        return []


def source_for(
    run_dir: Path | None, data_dir: str | Path | None, settings: DataConfig
) -> DataSource:
    """The data set a command on ``run_dir`` uses: ``--data-dir``, else the one the run
    trained on, else the usual search (``[data] dir``, ``RNNCLS_DATA_DIR``, the caches)."""
    if data_dir:
        return data_at(Path(data_dir).expanduser(), "--data-dir")
    recorded = read(run_dir)
    if recorded is not None and recorded.path:
        path = Path(recorded.path)
        if path.exists():
            return data_at(path, f"{run_dir}/{rundir.DATASET_FILE}")
        raise DataError(
            f"the data set that {run_dir} trained on is gone: {path} does not exist; "
            "give --data-dir to use another"
        )
    return find_data(None, settings.dir)


def open_for_run(
    run_dir: Path | None,
    data_dir: str | Path | None,
    settings: DataConfig,
    model_dataset: DataSet,
    warn: Warn,
) -> OpenedData:
    """The data set of a command on a trained run, opened and checked against what the
    model reads: a data set of other pictures or classes is an error; the run's own data
    set changed since training is a warning."""
    data = open_data(source_for(run_dir, data_dir, settings), settings, warn)
    found = data.dataset
    if found.shape != model_dataset.shape or found.classes != model_dataset.classes:
        raise DataError(
            f"{found.path} holds {shape_words(found)}, but the model reads "
            f"{shape_words(model_dataset)}"
        )
    recorded = read(run_dir)
    if recorded is not None and not data_dir and recorded.fingerprint != found.fingerprint:
        what = changed(read_index(run_dir), data.parts.index) or "its files differ"
        warn(f"warning: {found.path} changed since {run_dir} trained on it: {what}")
    return data


def unchanged(run_dir: Path, where: str) -> Check | None:
    """``--resume``'s check of the files of the run's data set (at ``where``), called by
    the source before it reads them: they must be the ones the run trained on."""
    recorded = read(run_dir)
    if recorded is None:  # a run from before runs recorded their data
        return None

    def check(index: Index) -> None:
        if fingerprint(index) == recorded.fingerprint:
            return
        what = changed(read_index(run_dir), index) or "its files differ"
        raise DataError(
            f"the data set of {run_dir} changed since it trained ({where}: {what}); "
            "a resumed run must read the same pictures: put them back, or train a new run"
        )

    return check


def shape_words(dataset: DataSet) -> str:
    height, width, channels = dataset.shape
    return f"{width}x{height}x{channels} pictures of {dataset.num_classes} classes"
