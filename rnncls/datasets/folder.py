"""A folder of pictures, one subfolder a class, optionally under ``train/``, ``test/``
and ``validation/``; PNG, JPEG, BMP, TIFF, WebP (GIF's first frame); grey or colour, 8
or 16 bits; pictures of mixed sizes resized to one (``data.image_size``, by default the
most common size).

The pictures are decoded once, on both cores, into a cache file of pixels
(``$XDG_CACHE_HOME/rnncls/pictures/<key>/``, a memory map), named after the folder's
index (every picture's path, size and modification time) and the settings that shape
the pixels; a later run on the same folder opens it at once. Training reads it a batch at
a time, so a folder larger than memory trains; decoding in the step loop itself would
cost several times a step (bench/NOTES.md).

Like Keras's ``image_dataset_from_directory``: class names are the subfolders' names,
sorted (numerically when all of them are numbers), pictures may lie in nested folders of
a class, hidden files are left out. Files that are not pictures are skipped with a
warning; more than :data:`MOST_BAD` of them is an error, as is an empty folder, a class
without pictures, a single class, a symbolic link loop and a split whose classes differ
from the training split's.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncls.config_keys import DataConfig, parse_image_size
from rnncls.datasets import Check, Parts, Warn, fingerprint
from rnncls.datasets.description import sort_classes
from rnncls.errors import DataError, InputError

FORMAT = "folder"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
PART_FOLDERS = {
    "train": ("train", "training"),
    "test": ("test", "testing"),
    "validation": ("validation", "val", "valid"),
}
# Files that are not pictures, as a share of a folder's pictures: more is an error (a
# wrong folder, or a copy gone wrong), fewer are skipped with a warning.
MOST_BAD = 0.1
# Pictures decoded in one task of the process pool, and in-process below this many.
CHUNK = 512
CACHE_VERSION = 1
SHOWN = 3  # files a warning names


def find(path: Path) -> Path | None:
    """Any folder: its own errors say what it lacks (the MNIST files and arrays are
    tried first)."""
    return path if path.is_dir() else None


@dataclass(frozen=True)
class Entry:
    """One file of the folder: its path relative to the folder, part and class."""

    path: str
    part: str
    label: int
    size: int
    mtime: int


def open(  # noqa: A001 - the interface's name
    path: Path, settings: DataConfig, warn: Warn, check: Check | None = None
) -> Parts:
    entries, classes, others = index_folder(path)
    if others:
        warn(
            f"warning: skipped {counted(len(others), 'file')} without a picture's suffix "
            f"({shown(others)}): {', '.join(EXTENSIONS)} are read"
        )
    index = [(e.path, e.size, str(e.mtime)) for e in entries]
    if check is not None:
        check(index)  # before any picture is decoded
    cache = Cache(path, index, settings)
    if not cache.complete():
        cache.build(path, entries, settings, warn)
    info = cache.info()
    bad = set(info["bad"])
    if bad:
        reasons = info["reasons"]
        warn(
            f"warning: skipped {len(bad)} of {counted(len(entries), 'file')} that are not readable "
            f"pictures: " + "; ".join(reasons[:SHOWN]) + ("; ..." if len(bad) > SHOWN else "")
        )
    kept = [entry for entry in entries if entry.path not in bad]
    labels = {
        part: np.array([e.label for e in kept if e.part == part], dtype=np.int32)
        for part in PART_FOLDERS
        if any(e.part == part for e in kept)
    }
    offsets, start = {}, 0
    for part in PART_FOLDERS:
        if part in labels:
            offsets[part] = (start, start + len(labels[part]))
            start += len(labels[part])
    shape = tuple(info["shape"])
    notes = list(info["notes"])
    pixels = cache.pixels(len(kept))
    return Parts(
        classes=classes,
        shape=shape,  # type: ignore[arg-type]
        labels=labels,
        read_images=lambda part: pixels[offsets[part][0] : offsets[part][1]],
        index=index,
        pixel_max=info["pixel_max"],
        notes=notes,
    )


# ---------------------------------------------------------------------------- the index


def index_folder(root: Path) -> tuple[list[Entry], tuple[str, ...], list[str]]:
    """Every picture of the folder (by part, class, then path), the class names, and the
    files skipped for their names."""
    parts = part_folders(root)
    layout = parts or {"train": root}
    class_folders = {part: visible_folders(folder) for part, folder in layout.items()}
    train_classes = [f.name for f in class_folders.get("train", [])]
    if "train" not in layout:
        raise DataError(f"{root}: a test or validation folder but no train/ folder beside it")
    if not any(True for _ in root.iterdir()):
        raise DataError(
            f"{root}: an empty folder; put each class's pictures in a subfolder named after "
            "the class"
        )
    if not train_classes:
        loose = [p for p in visible_files(layout["train"]) if p.suffix.lower() in EXTENSIONS]
        what = (
            f"pictures but no class subfolders ({shown([p.name for p in loose])})"
            if loose
            else "no class subfolders"
        )
        raise DataError(
            f"{layout['train']}: {what}; put each class's pictures in a subfolder named "
            "after the class"
        )
    classes = sort_classes(train_classes)
    for part, folders in class_folders.items():
        names = {f.name for f in folders}
        if part != "train" and names != set(classes):
            missing, extra = sorted(set(classes) - names), sorted(names - set(classes))
            said = "; ".join(
                text
                for text in (
                    f"no {', '.join(map(repr, missing))}" if missing else "",
                    f"{', '.join(map(repr, extra))} not in train" if extra else "",
                )
                if text
            )
            raise DataError(
                f"{layout[part]}: its classes differ from the training split's ({said})"
            )
    entries, others = [], []
    for part in PART_FOLDERS:
        if part not in layout:
            continue
        for folder in sorted(class_folders[part], key=lambda f: classes.index(f.name)):
            files = pictures_under(folder, root, others)
            if not files:
                raise DataError(
                    f"{folder}: a class folder without pictures ({', '.join(EXTENSIONS)})"
                )
            label = classes.index(folder.name)
            for file, stat in files:
                relative = file.relative_to(root).as_posix()
                entries.append(Entry(relative, part, label, stat.st_size, stat.st_mtime_ns))
    if len(classes) < 2:
        raise DataError(
            f"{layout['train']}: one class only ({classes[0]!r}); a classifier needs at "
            "least two class subfolders"
        )
    return entries, classes, others


def part_folders(root: Path) -> dict[str, Path]:
    """``train/``, ``test/``, ``validation/`` (or their usual other names) under ``root``."""
    found = {}
    for folder in visible_folders(root):
        for part, names in PART_FOLDERS.items():
            if folder.name.lower() in names and part not in found:
                found[part] = folder
    return found


def visible_folders(folder: Path) -> list[Path]:
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        raise DataError(f"cannot read {folder}: {exc.strerror or exc}") from None
    return [c for c in children if not c.name.startswith(".") and c.is_dir()]


def visible_files(folder: Path) -> list[Path]:
    return [c for c in sorted(folder.iterdir()) if not c.name.startswith(".") and c.is_file()]


def pictures_under(
    folder: Path, root: Path, others: list[str]
) -> list[tuple[Path, os.stat_result]]:
    """The picture files in ``folder`` and its subfolders (links followed, hidden names
    left out), sorted; a folder that leads back to one above it is an error."""
    found: list[tuple[Path, os.stat_result]] = []
    seen: dict[tuple[int, int], Path] = {}

    def walk(current: Path) -> None:
        stat = current.stat()
        key = (stat.st_dev, stat.st_ino)
        if key in seen:
            raise DataError(f"{current}: a symbolic link loop (it leads back to {seen[key]})")
        seen[key] = current
        try:
            children = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            raise DataError(f"cannot read {current}: {exc.strerror or exc}") from None
        for child in children:
            if child.name.startswith("."):
                continue
            path = Path(child.path)
            try:
                if child.is_dir():
                    walk(path)
                elif child.is_file():
                    if path.suffix.lower() in EXTENSIONS:
                        found.append((path, child.stat()))
                    else:
                        others.append(path.relative_to(root).as_posix())
            except OSError as exc:  # a dangling link, a file removed meanwhile
                raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
        del seen[key]

    walk(folder)
    return found


def counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def shown(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")


# ---------------------------------------------------------------------------- decoding


class Cache:
    """The decoded pixels of a folder: ``pixels`` (raw, row after row in the index's
    order, bad files left out) and ``info.json``, written last, in a folder named after
    the index and the settings that shape the pixels."""

    def __init__(self, root: Path, index: list[tuple[str, int, str]], settings: DataConfig):
        key = fingerprint(
            [
                (str(root.resolve()), CACHE_VERSION, settings.image_size),
                (str(settings.channels), 0, ""),
                *index,
            ]
        )
        self.folder = cache_root() / key[:32]

    def complete(self) -> bool:
        return (self.folder / "info.json").is_file() and (self.folder / "pixels").is_file()

    def info(self) -> dict[str, Any]:
        return json.loads((self.folder / "info.json").read_text(encoding="utf-8"))

    def pixels(self, count: int) -> np.ndarray:
        info = self.info()
        shape = (count, *info["shape"])
        if count == 0:
            return np.zeros(shape, info["dtype"])
        return np.memmap(self.folder / "pixels", dtype=info["dtype"], mode="r", shape=shape)

    def build(self, root: Path, entries: list[Entry], settings: DataConfig, warn: Warn) -> None:
        """Read every picture's header, choose the data set's shape and depth, decode the
        pictures into a staging folder and move it into place. A picture whose header
        reads but whose pixels do not is left out, and the shape chosen again without it
        (a damaged colour JPEG must not make a grey folder colour)."""
        warn(
            f"reading {counted(len(entries), 'picture')} of {root} (once: their pixels are "
            f"kept in {self.folder.parent})"
        )
        files = [str(root / entry.path) for entry in entries]
        kinds = run_chunks(headers, files)
        bad = {index: reason for index, (kind, reason) in enumerate(kinds) if kind is None}
        check_bad(bad, len(entries), root)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", dir=self.folder.parent))
        try:
            while True:
                good = [index for index in range(len(entries)) if index not in bad]
                shape, pixel_max, notes = choose_shape([kinds[i][0] for i in good], settings)
                failed = decode(files, good, shape, pixel_max, staging / "pixels")
                bad.update(failed)
                check_bad(bad, len(entries), root)
                if not failed:
                    break
                kept = [index for index in good if index not in failed]
                if choose_shape([kinds[i][0] for i in kept], settings)[:2] != (shape, pixel_max):
                    continue  # decode the pictures left again, in the shape they have
                dtype = "uint8" if pixel_max <= 255 else "uint16"
                row = {index: position for position, index in enumerate(good)}
                compact(staging / "pixels", [row[index] for index in kept], shape, dtype)
                break
            info = {
                "shape": list(shape),
                "dtype": "uint8" if pixel_max <= 255 else "uint16",
                "pixel_max": pixel_max,
                "bad": [entries[i].path for i in sorted(bad)],
                "reasons": [bad[i] for i in sorted(bad)],
                "notes": notes,
            }
            (staging / "info.json").write_text(json.dumps(info), encoding="utf-8")
            try:
                staging.rename(self.folder)
            except OSError:  # another process made it meanwhile: theirs is the same
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def choose_shape(
    kinds: list[tuple[int, int, int, int]], settings: DataConfig
) -> tuple[tuple[int, int, int], int, list[str]]:
    """The (height, width, channels) and pixel_max of a folder's pictures, from their
    headers' (height, width, channels, pixel_max), and what to say about it."""
    sizes = Counter((height, width) for height, width, _, _ in kinds)
    notes = []
    if settings.image_size:
        height, width = parse_image_size(settings.image_size)
        if any(size != (height, width) for size in sizes):
            notes.append(f"pictures resized to {width}x{height} (data.image_size)")
    else:
        (height, width), count = max(sizes.items(), key=lambda item: (item[1], item[0]))
        if len(sizes) > 1:
            notes.append(
                f"{counted(len(kinds) - count, 'picture')} of other sizes resized to "
                f"{width}x{height}, the most common size (data.image_size chooses another)"
            )
    channels = settings.channels or max(kind[2] for kind in kinds)
    pixel_max = max(kind[3] for kind in kinds)
    return (height, width, channels), pixel_max, notes


def decode(
    files: list[str], good: list[int], shape: tuple[int, int, int], pixel_max: int, target: Path
) -> dict[int, str]:
    """Decode ``files[good[row]]`` into row ``row`` of a new pixels file; the files that
    failed, by index, with why."""
    dtype = "uint8" if pixel_max <= 255 else "uint16"
    row_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with builtins.open(target, "wb") as handle:
        handle.truncate(row_bytes * max(len(good), 1))
    jobs = [(files[i], row, shape, pixel_max, str(target), dtype) for row, i in enumerate(good)]
    failures = [failure for failure in run_chunks(decode_into, jobs) if failure]
    return {good[row]: reason for row, reason in failures}


def cache_root() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "rnncls" / "pictures"


def check_bad(bad: dict[int, str], total: int, root: Path) -> None:
    if len(bad) > MOST_BAD * total:
        first = bad[min(bad)]  # the first in the folder's order
        raise DataError(
            f"{root}: {len(bad)} of {total} files are not readable pictures (more than "
            f"{MOST_BAD:.0%}), the first: {first}"
        )


def run_chunks(function: Any, items: list[Any]) -> list[Any]:
    """``function`` over chunks of ``items``, on every core for many items."""
    chunks = [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]
    workers = min(os.cpu_count() or 1, len(chunks))
    if workers <= 1:
        return [result for chunk in chunks for result in function(chunk)]
    import multiprocessing

    # spawn, not fork: a process that has started TensorFlow's threads must not fork
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [result for part in pool.map(function, chunks) for result in part]


def headers(files: list[str]) -> list[tuple[tuple[int, int, int, int] | None, str]]:
    """Each file's (height, width, channels, pixel_max) from its header, or None and why
    it is not a picture (a damaged one whose header reads is found when decoded)."""
    from rnncls.images import picture_header

    found: list[tuple[tuple[int, int, int, int] | None, str]] = []
    for file in files:
        try:
            found.append((picture_header(Path(file)), ""))
        except InputError as exc:
            found.append((None, str(exc)))
    return found


def decode_into(jobs: list[tuple[str, int, tuple, int, str, str]]) -> list[tuple[int, str] | None]:
    """Decode each file into its row of the pixels file; a failure is (row, why)."""
    from rnncls.images import open_picture, plain_picture

    if not jobs:
        return []
    _, _, shape, _, target, dtype = jobs[0]
    rows = np.memmap(target, dtype=dtype, mode="r+")
    rows = rows.reshape(-1, *shape)
    failures: list[tuple[int, str] | None] = []
    for file, row, shape, pixel_max, _, _ in jobs:
        try:
            rows[row] = plain_picture(open_picture(Path(file), file), shape, pixel_max, file)
        except InputError as exc:
            failures.append((row, str(exc)))
    rows.flush()
    return failures


def compact(target: Path, keep: list[int], shape: tuple[int, ...], dtype: str) -> None:
    """Move the kept rows of the pixels file to its front, in order."""
    rows = np.memmap(target, dtype=dtype, mode="r+").reshape(-1, *shape)
    for destination, source in enumerate(keep):
        if destination != source:
            rows[destination] = rows[source]
    rows.flush()
    del rows
    row_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with builtins.open(target, "r+b") as handle:
        handle.truncate(row_bytes * max(len(keep), 1))
