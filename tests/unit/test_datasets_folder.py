"""rnncls.datasets.folder through the datasets interface: a folder of tiny pictures made
here (one subfolder a class), its layouts, carved splits, pixels, bad files and its cache
of decoded pixels (under each test's own XDG_CACHE_HOME, which ``in_tmp`` sets).

Most pictures are flat grey squares whose grey level names the file, so that every
split's labels can be checked against the folder the picture was written to.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rnncls import datasets
from rnncls.config import with_values
from rnncls.config_keys import Config, DataConfig
from rnncls.datasets import SPLITS, OpenedData, changed, find_data, open_data
from rnncls.datasets import folder as folder_module
from rnncls.errors import DataError

SUFFIXES = ".png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .gif"
NOT_A_PICTURE = "not a picture (PNG, JPEG, BMP, TIFF, WebP)"
NO_CLASSES = "put each class's pictures in a subfolder named after the class"


@pytest.fixture
def root(in_tmp: Path) -> Path:
    """Where the folder of pictures goes; ``in_tmp`` gives the test its own cache."""
    return in_tmp / "pictures"


def cache_home(in_tmp: Path) -> Path:
    return in_tmp / "cache" / "rnncls" / "pictures"


def save(path: Path, picture: np.ndarray | Image.Image, **options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    picture.save(path, **options)
    return path


def flat(level: int, size: tuple[int, int] = (4, 4)) -> np.ndarray:
    """A grey picture (height, width) of one grey level."""
    return np.full(size, level, np.uint8)


def write_classes(folder: Path, counts: dict[str, int], first: int = 1) -> dict[int, str]:
    """``counts[name]`` flat pictures 00.png, 01.png, ... in ``folder/name``, of the grey
    levels first, first + 1, ... (the order of ``counts``); each level's class name."""
    owner, level = {}, first
    for name, count in counts.items():
        for number in range(count):
            save(folder / name / f"{number:02}.png", flat(level))
            owner[level] = name
            level += 1
    return owner


def build(root: Path, files: dict[str, int | bytes | None]) -> None:
    """A folder from a table: a flat 4x4 PNG of a grey level, raw bytes, or (None) an
    empty folder at each relative path."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        path = root / relative
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        elif isinstance(content, bytes):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        else:
            save(path, flat(content))


def open_folder(root: Path, warn: Any = None, **settings: Any) -> OpenedData:
    return open_data(find_data(root), DataConfig(**settings), warn)


def decoded(opened: OpenedData) -> np.ndarray:
    """Every picture of the training part, in the folder's order (class, then path)."""
    return np.asarray(opened.parts.read_images("train"))


def levels(images: Any) -> list[int]:
    """The grey level of each picture (its top left pixel)."""
    return [int(level) for level in np.asarray(images)[:, 0, 0, 0]]


def check_labels(opened: OpenedData, owner: dict[int, str]) -> None:
    """Each split's labels name the class folder its pictures were written to."""
    classes = opened.dataset.classes
    for name in SPLITS:
        split = opened.split(name)
        assert [classes[label] for label in split.labels] == [
            owner[level] for level in levels(split.images)
        ], name


def reading(root: Path, count: int, in_tmp: Path) -> str:
    """The line a first open says while it decodes the folder."""
    return (
        f"reading {count} pictures of {root} (once: their pixels are kept in {cache_home(in_tmp)})"
    )


def jpeg_bytes(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "JPEG", quality=100)
    return buffer.getvalue()


def truncated(data: bytes) -> bytes:
    """A JPEG whose header reads, cut a few bytes into its pixel data."""
    return data[: data.index(b"\xff\xda") + 14]


def pillow_failure(path: Path) -> str:
    """What Pillow itself says when it decodes a damaged file."""
    with pytest.raises(OSError) as caught, Image.open(path) as picture:
        picture.load()
    return str(caught.value)


# ---------------------------------------------------------------------- layouts


def test_class_folders_under_the_root_carve_test_and_validation(root: Path) -> None:
    owner = write_classes(root, {"a": 10, "b": 20})
    opened = open_folder(root)
    dataset = opened.dataset
    assert dataset.format == "folder"
    assert dataset.classes == ("a", "b")
    assert dataset.shape == (4, 4, 1)
    assert dataset.pixel_max == 255
    assert dataset.path == str(root.resolve())
    # test: a fifth of 30; validation: a tenth of the 24 left
    assert dataset.sizes == {"train": 22, "validation": 2, "test": 6}
    assert dataset.carved == ("validation", "test")
    check_labels(opened, owner)
    every = [level for name in SPLITS for level in levels(opened.split(name).images)]
    assert sorted(every) == list(range(1, 31))  # each picture in one split, once
    # each class in its share: 10 and 20 of 30 pictures
    assert Counter(opened.split("test").labels.tolist()) == {0: 2, 1: 4}
    assert Counter(opened.split("validation").labels.tolist()) == {0: 1, 1: 1}


@pytest.mark.parametrize(
    ("train", "test"), [("train", "test"), ("training", "testing"), ("Train", "TEST")]
)
def test_train_and_test_folders_carve_only_validation(root: Path, train: str, test: str) -> None:
    owner = write_classes(root / train, {"a": 6, "b": 6})
    owner |= write_classes(root / test, {"a": 2, "b": 3}, first=101)
    opened = open_folder(root)
    assert opened.dataset.classes == ("a", "b")
    assert opened.dataset.sizes == {"train": 11, "validation": 1, "test": 5}
    assert opened.dataset.carved == ("validation",)
    test_split = opened.split("test")
    assert levels(test_split.images) == [101, 102, 103, 104, 105]
    assert test_split.labels.tolist() == [0, 0, 1, 1, 1]
    check_labels(opened, owner)


@pytest.mark.parametrize("validation", ["validation", "val", "valid"])
def test_train_test_and_validation_folders_carve_nothing(root: Path, validation: str) -> None:
    owner = write_classes(root / "train", {"a": 6, "b": 6})
    owner |= write_classes(root / "test", {"a": 2, "b": 3}, first=101)
    owner |= write_classes(root / validation, {"a": 1, "b": 2}, first=201)
    opened = open_folder(root)
    assert opened.dataset.sizes == {"train": 12, "validation": 3, "test": 5}
    assert opened.dataset.carved == ()
    assert levels(opened.split("train").images) == list(range(1, 13))
    assert opened.split("train").labels.tolist() == [0] * 6 + [1] * 6
    assert levels(opened.split("validation").images) == [201, 202, 203]
    assert opened.split("validation").labels.tolist() == [0, 1, 1]
    check_labels(opened, owner)


CLASS_ORDERS = [
    (["10", "2", "1"], ("1", "2", "10")),  # every name an integer: numerically
    (["2", "010"], ("010", "2")),  # "010" is not an integer's name: as text
    (["10", "2", "x"], ("10", "2", "x")),  # not all integers: as text
    (["b", "a", "C"], ("C", "a", "b")),  # by code point: capitals first
    (["ünïcode", "é t", "a b"], ("a b", "é t", "ünïcode")),  # names kept exactly
]


@pytest.mark.parametrize(("names", "classes"), CLASS_ORDERS)
def test_class_names_are_sorted_and_kept(
    root: Path, names: list[str], classes: tuple[str, ...]
) -> None:
    owner = write_classes(root, dict.fromkeys(names, 3))
    opened = open_folder(root)
    assert opened.dataset.classes == classes
    check_labels(opened, owner)
    assert {name for name, _, _ in opened.parts.index} == {
        f"{name}/{number:02}.png" for name in names for number in range(3)
    }


# ---------------------------------------------------------------------- carving


def test_carving_is_stratified_and_the_same_whatever_the_run_seed(
    root: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_classes(root, {"a": 10, "b": 20})
    carved = []
    for seed in (1, 2):
        monkeypatch.setenv("XDG_CACHE_HOME", str(in_tmp / f"cache-{seed}"))  # decoded afresh
        np.random.seed(seed)  # the global generator plays no part either
        config = with_values(Config(), train={"seed": seed})
        opened = open_data(find_data(root), config.data)
        carved.append([levels(opened.split(name).images) for name in ("test", "validation")])
    assert carved[0] == carved[1]
    test_levels = carved[0][0]
    assert test_levels == sorted(test_levels)
    assert len([level for level in test_levels if level <= 10]) == 2  # class a: 10 of 30
    assert len([level for level in test_levels if level > 10]) == 4  # class b: 20 of 30


def test_carving_draws_with_split_seed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_classes(root, {"a": 10, "b": 20})
    usual = levels(open_folder(root).split("test").images)
    monkeypatch.setattr(datasets, "SPLIT_SEED", 1)
    other = open_folder(root)
    assert levels(other.split("test").images) != usual
    assert Counter(other.split("test").labels.tolist()) == {0: 2, 1: 4}


@pytest.mark.parametrize(
    ("settings", "sizes", "test_classes", "validation_classes"),
    [
        # 9 of 30: 3 and 6; 2 of the 21 left (7 and 14): 0.67 and 1.33, a has the
        # larger remainder
        ({"test_size": 9}, (19, 2, 9), {0: 3, 1: 6}, {0: 1, 1: 1}),
        # 6 of the 24 left (8 and 16): 2 and 4
        ({"validation_size": 6}, (18, 6, 6), {0: 2, 1: 4}, {0: 2, 1: 4}),
        # 5 of 30: 1.67 and 3.33, a's remainder the larger; 4 of 25 (8 and 17): 1.28 and
        # 2.72, b's
        ({"test_size": 5, "validation_size": 4}, (21, 4, 5), {0: 2, 1: 3}, {0: 1, 1: 3}),
    ],
)
def test_test_and_validation_sizes_are_honoured(
    root: Path,
    settings: dict[str, int],
    sizes: tuple[int, int, int],
    test_classes: dict[int, int],
    validation_classes: dict[int, int],
) -> None:
    owner = write_classes(root, {"a": 10, "b": 20})
    opened = open_folder(root, **settings)
    assert opened.dataset.sizes == dict(zip(("train", "validation", "test"), sizes, strict=True))
    assert Counter(opened.split("test").labels.tolist()) == test_classes
    assert Counter(opened.split("validation").labels.tolist()) == validation_classes
    check_labels(opened, owner)


@pytest.mark.parametrize(
    ("settings", "key", "wanted", "count"),
    [
        ({"test_size": 30}, "test_size", 30, 30),
        ({"test_size": 31}, "test_size", 31, 30),
        ({"validation_size": 24}, "validation_size", 24, 24),  # 24 left after the test's 6
        ({"test_size": 20, "validation_size": 10}, "validation_size", 10, 10),
    ],
)
def test_a_carve_too_large_is_an_error(
    root: Path, settings: dict[str, int], key: str, wanted: int, count: int
) -> None:
    write_classes(root, {"a": 10, "b": 20})
    with pytest.raises(DataError) as caught:
        open_folder(root, **settings)
    assert str(caught.value) == (
        f"data.{key} = {wanted} leaves no training pictures ({count} in {root.resolve()}); "
        f"set a smaller data.{key}"
    )


# ---------------------------------------------------------------------- pixels


def write_pair(root: Path, first: Any, second: Any, suffix: str = ".png", **options: Any) -> None:
    """Class a holds ``first`` twice, class b ``second`` twice: decoded in that order."""
    for name, picture in (("a", first), ("b", second)):
        for number in range(2):
            save(root / name / f"{number}{suffix}", picture, **options)


def palette_picture(palette: list[int], indices: list[int]) -> Image.Image:
    picture = Image.new("P", (4, 4))
    picture.putpalette(palette)
    picture.putdata(indices)
    return picture


GRADIENT = (np.arange(16).reshape(4, 4) * 17).astype(np.uint8)  # 0, 17, ..., 255
GRADIENT_16 = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369  # 0, 4369, ..., 65535


def test_eight_bit_grey_pictures_read_exactly(root: Path) -> None:
    write_pair(root, GRADIENT, 255 - GRADIENT)
    opened = open_folder(root)
    pictures = decoded(opened)
    assert opened.dataset.shape == (4, 4, 1)
    assert (opened.dataset.pixel_max, pictures.dtype) == (255, np.uint8)
    assert np.array_equal(pictures[0, :, :, 0], GRADIENT)
    assert np.array_equal(pictures[2, :, :, 0], 255 - GRADIENT)


def test_sixteen_bit_grey_pictures_stay_sixteen_bits(root: Path) -> None:
    write_pair(root, GRADIENT_16, 65535 - GRADIENT_16)
    assert Image.open(root / "a" / "0.png").mode == "I;16"
    opened = open_folder(root)
    pictures = decoded(opened)
    assert opened.dataset.shape == (4, 4, 1)
    assert (opened.dataset.pixel_max, opened.dataset.dtype) == (65535, "uint16")
    assert pictures.dtype == np.uint16
    assert np.array_equal(pictures[0, :, :, 0], GRADIENT_16)
    assert np.array_equal(pictures[3, :, :, 0], 65535 - GRADIENT_16)


def test_eight_bit_pictures_beside_sixteen_bit_ones_are_scaled_by_257(root: Path) -> None:
    write_pair(root, GRADIENT_16, GRADIENT)
    pictures = decoded(open_folder(root))
    assert pictures.dtype == np.uint16
    assert np.array_equal(pictures[0, :, :, 0], GRADIENT_16)
    assert np.array_equal(pictures[2, :, :, 0], GRADIENT.astype(np.uint16) * 257)


def test_a_grey_palette_reads_as_one_channel(root: Path) -> None:
    greys = [255 - 10 * index for index in range(16)]
    picture = palette_picture([v for grey in greys for v in (grey, grey, grey)], list(range(16)))
    write_pair(root, picture, picture)
    opened = open_folder(root)
    assert opened.dataset.shape == (4, 4, 1)
    assert decoded(opened)[0, :, :, 0].tolist() == np.reshape(greys, (4, 4)).tolist()


def test_a_colour_palette_reads_as_three_channels(root: Path) -> None:
    picture = palette_picture([10, 20, 30, 200, 100, 50], [0, 1] * 8)
    write_pair(root, picture, picture)
    opened = open_folder(root)
    assert opened.dataset.shape == (4, 4, 3)
    first_row = decoded(opened)[0, 0].tolist()
    assert first_row == [[10, 20, 30], [200, 100, 50], [10, 20, 30], [200, 100, 50]]


def test_transparency_is_laid_over_black(root: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = [255, 128, 64, 0]  # by column
    write_pair(root, rgba, rgba)
    opened = open_folder(root)
    assert opened.dataset.shape == (4, 4, 3)
    # value * alpha / 255, rounded: 200 * 128 / 255 = 100.4, 50 * 64 / 255 = 12.5 ...
    expected = [[200, 100, 50], [100, 50, 25], [50, 25, 13], [0, 0, 0]]
    assert all(decoded(opened)[0, row].tolist() == expected for row in range(4))


def test_a_colour_jpeg_reads_as_colour(root: Path) -> None:
    first = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    second = np.full((4, 4, 3), (30, 160, 90), np.uint8)
    write_pair(root, first, second, suffix=".jpg", quality=100)
    opened = open_folder(root)
    pictures = decoded(opened).astype(int)
    assert opened.dataset.shape == (4, 4, 3)
    assert np.abs(pictures[0] - first).max() <= 2  # JPEG is lossy, a flat colour little
    assert np.abs(pictures[3] - second).max() <= 2


def test_grey_beside_colour_becomes_three_equal_channels(root: Path) -> None:
    write_pair(root, flat(77), np.full((4, 4, 3), (200, 100, 50), np.uint8))
    opened = open_folder(root)
    pictures = decoded(opened)
    assert opened.dataset.shape == (4, 4, 3)
    assert np.array_equal(pictures[0], np.full((4, 4, 3), 77))
    assert np.array_equal(pictures[2], np.full((4, 4, 3), (200, 100, 50)))


@pytest.mark.parametrize(
    ("colours", "greys"),
    [
        # luma: 0.299 R + 0.587 G + 0.114 B
        (((200, 100, 50), (10, 250, 30)), (124, 153)),  # 124.2 and 153.16
        (((0, 0, 255), (255, 255, 255)), (29, 255)),  # 29.07 and 255
    ],
)
def test_channels_1_makes_colour_grey_by_luma(
    root: Path, colours: tuple[tuple[int, ...], ...], greys: tuple[int, int]
) -> None:
    write_pair(root, *(np.full((4, 4, 3), colour, np.uint8) for colour in colours))
    opened = open_folder(root, channels=1)
    assert opened.dataset.shape == (4, 4, 1)
    assert levels(decoded(opened)) == [greys[0], greys[0], greys[1], greys[1]]
    assert decoded(opened)[0].min() == greys[0]


def test_channels_3_makes_grey_colour(root: Path) -> None:
    write_pair(root, flat(77), flat(200))
    opened = open_folder(root, channels=3)
    assert opened.dataset.shape == (4, 4, 3)
    assert np.array_equal(decoded(opened)[3], np.full((4, 4, 3), 200))


def test_mixed_sizes_are_resized_to_the_most_common(root: Path) -> None:
    for level, (name, size) in enumerate(
        [("a", (4, 6)), ("a", (4, 6)), ("a", (8, 8)), ("b", (4, 6)), ("b", (8, 8))], start=10
    ):
        save(root / name / f"{level}.png", flat(level, size))  # size is (height, width)
    opened = open_folder(root)
    assert opened.dataset.shape == (4, 6, 1)
    pictures = decoded(opened)
    assert pictures.shape == (5, 4, 6, 1)
    # a flat picture stays flat, of its own level
    assert [sorted(set(picture.ravel().tolist())) for picture in pictures] == [
        [10],
        [11],
        [12],
        [13],
        [14],
    ]
    assert opened.parts.notes == [
        "2 pictures of other sizes resized to 6x4, the most common size "
        "(data.image_size chooses another)"
    ]


@pytest.mark.parametrize(
    ("image_size", "shape", "note"),
    [
        ("4x4", (4, 4), "pictures resized to 4x4 (data.image_size)"),
        ("6x4", (4, 6), "pictures resized to 6x4 (data.image_size)"),  # WIDTHxHEIGHT
        ("5", (5, 5), "pictures resized to 5x5 (data.image_size)"),
        ("8x8", (8, 8), None),  # their own size: nothing resized
    ],
)
def test_image_size_forces_a_size(
    root: Path, image_size: str, shape: tuple[int, int], note: str | None
) -> None:
    write_pair(root, flat(30, (8, 8)), flat(90, (8, 8)))
    opened = open_folder(root, image_size=image_size)
    assert opened.dataset.shape == (*shape, 1)
    pictures = decoded(opened)
    assert pictures.shape == (4, *shape, 1)
    assert set(pictures[1].ravel().tolist()) == {30}
    assert set(pictures[2].ravel().tolist()) == {90}
    assert opened.parts.notes == ([note] if note else [])


# ---------------------------------------------------------------------- bad folders


def many(count: int, folder: str = "a", first: int = 1) -> dict[str, int | bytes | None]:
    return {f"{folder}/{number:02}.png": first + number for number in range(count)}


BAD_FOLDERS = [
    ("empty", {}, "{root}: an empty folder; " + NO_CLASSES),
    (
        "hidden things only",
        {".DS_Store": b"\0", ".git/a/0.png": 1, ".cache/b/0.png": 2},
        "{root}: no class subfolders; " + NO_CLASSES,
    ),
    (
        "pictures but no classes",
        {"0.png": 1, "1.png": 2, "2.png": 3, "3.png": 4, "notes.txt": b"x"},
        "{root}: pictures but no class subfolders (0.png, 1.png, 2.png, ...); " + NO_CLASSES,
    ),
    (
        "a class of other files",
        {"a/0.png": 1, "b/notes.txt": b"x"},
        "{root}/b: a class folder without pictures (" + SUFFIXES + ")",
    ),
    (
        "a class of hidden pictures",
        {"a/0.png": 1, "b/.0.png": 2, "b/.thumbs/0.png": 3},
        "{root}/b: a class folder without pictures (" + SUFFIXES + ")",
    ),
    (
        "an empty class",
        {"a/0.png": 1, "b": None},
        "{root}/b: a class folder without pictures (" + SUFFIXES + ")",
    ),
    (
        "one class",
        {"cats/0.png": 1, "cats/1.png": 2},
        "{root}: one class only ('cats'); a classifier needs at least two class subfolders",
    ),
    (
        "one class under train/",
        {"train/cats/0.png": 1, "test/cats/0.png": 2},
        "{root}/train: one class only ('cats'); a classifier needs at least two class subfolders",
    ),
    (
        "test classes differ",
        {"train/a/0.png": 1, "train/b/0.png": 2, "test/a/0.png": 3, "test/c/0.png": 4},
        "{root}/test: its classes differ from the training split's (no 'b'; 'c' not in train)",
    ),
    (
        "validation lacks a class",
        {"train/a/0.png": 1, "train/b/0.png": 2, "val/a/0.png": 3},
        "{root}/val: its classes differ from the training split's (no 'b')",
    ),
    (
        "test but no train",
        {"test/a/0.png": 1, "test/b/0.png": 2},
        "{root}: a test or validation folder but no train/ folder beside it",
    ),
    (
        "3 of 21 not pictures",
        {**many(9), **many(9, "b", 20), "a/x.png": b"no", "b/y.png": b"", "b/z.jpg": b"no"},
        "{root}: 3 of 21 files are not readable pictures (more than 10%), the first: "
        "{root}/a/x.png: " + NOT_A_PICTURE,
    ),
]


@pytest.mark.parametrize(
    ("files", "message"),
    [case[1:] for case in BAD_FOLDERS],
    ids=[case[0] for case in BAD_FOLDERS],
)
def test_bad_folders_are_exact_errors(root: Path, files: dict[str, Any], message: str) -> None:
    build(root, files)
    with pytest.raises(DataError) as caught:
        open_folder(root)
    assert str(caught.value) == message.format(root=root)


@pytest.mark.parametrize(
    ("link", "target", "looped", "first"),
    [
        ("a/loop", "a", "a/loop", "a"),  # a class folder inside itself
        ("b/up", ".", "b/up/b", "b"),  # the whole folder inside a class
        ("a/deep/er/up", "a/deep", "a/deep/er/up", "a/deep"),
    ],
)
def test_a_symbolic_link_loop_is_named(
    root: Path, link: str, target: str, looped: str, first: str
) -> None:
    write_classes(root, {"a": 2, "b": 2})
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink((root / target).resolve(), root / link)
    with pytest.raises(DataError) as caught:
        open_folder(root)
    assert str(caught.value) == (
        f"{root}/{looped}: a symbolic link loop (it leads back to {root}/{first})"
    )


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        # 2 of 20: a tenth is skipped, not an error
        (["a/bad.png", "b/bad.png"], ["a/bad.png", "b/bad.png"]),
        # 4 of 40: three named
        (["a/w.png", "a/x.png", "b/y.png", "b/z.png"], ["a/w.png", "a/x.png", "b/y.png", "..."]),
    ],
)
def test_a_few_files_that_are_not_pictures_are_skipped_with_a_warning(
    root: Path, in_tmp: Path, bad: list[str], shown: list[str]
) -> None:
    per_class = 9 if len(bad) == 2 else 18
    owner = write_classes(root, {"a": per_class, "b": per_class})
    for relative in bad:
        (root / relative).write_bytes(b"these bytes are no picture")
    warnings: list[str] = []
    opened = open_folder(root, warnings.append)
    total = 2 * per_class + len(bad)
    reasons = "; ".join(
        name if name == "..." else f"{root}/{name}: {NOT_A_PICTURE}" for name in shown
    )
    assert warnings == [
        reading(root, total, in_tmp),
        f"warning: skipped {len(bad)} of {total} files that are not readable pictures: {reasons}",
    ]
    assert levels(decoded(opened)) == list(range(1, 2 * per_class + 1))
    assert sum(opened.dataset.sizes.values()) == 2 * per_class
    check_labels(opened, owner)


@pytest.mark.parametrize(
    ("others", "shown"),
    [
        (["a/notes.txt"], "1 file without a picture's suffix (a/notes.txt)"),
        (
            ["a/notes.txt", "a/z.doc", "b/Thumbs.db", "b/deeper/x.psd"],
            "4 files without a picture's suffix (a/notes.txt, a/z.doc, b/Thumbs.db, ...)",
        ),
    ],
)
def test_files_without_a_picture_suffix_are_skipped_with_a_warning(
    root: Path, in_tmp: Path, others: list[str], shown: str
) -> None:
    owner = write_classes(root, {"a": 3, "b": 3})
    build(root, dict.fromkeys(others, b"text"))
    warnings: list[str] = []
    opened = open_folder(root, warnings.append)
    assert warnings == [
        f"warning: skipped {shown}: {SUFFIXES} are read",
        reading(root, 6, in_tmp),
    ]
    assert levels(decoded(opened)) == [1, 2, 3, 4, 5, 6]
    check_labels(opened, owner)


@pytest.mark.parametrize("unreadable_before", [False, True])
def test_a_truncated_jpeg_is_skipped_and_the_others_keep_their_rows(
    root: Path, in_tmp: Path, unreadable_before: bool
) -> None:
    owner = write_classes(root, {"a": 10, "b": 10})
    damaged = root / "a" / "04x.jpg"  # between 04.png and 05.png
    damaged.write_bytes(truncated(jpeg_bytes(flat(250))))
    assert Image.open(damaged).size == (4, 4)  # its header reads
    reasons = [f"{damaged}: cannot read the image ({pillow_failure(damaged)})"]
    if unreadable_before:  # found from its header, one row earlier
        (root / "a" / "03x.png").write_bytes(b"no picture")
        reasons.insert(0, f"{root}/a/03x.png: {NOT_A_PICTURE}")
    total = 20 + len(reasons)
    warnings: list[str] = []
    opened = open_folder(root, warnings.append)
    assert warnings == [
        reading(root, total, in_tmp),
        f"warning: skipped {len(reasons)} of {total} files that are not readable pictures: "
        + "; ".join(reasons),
    ]
    assert opened.dataset.shape == (4, 4, 1)
    assert levels(decoded(opened)) == list(range(1, 21))
    check_labels(opened, owner)


def test_a_truncated_colour_jpeg_does_not_make_a_grey_folder_colour(root: Path) -> None:
    write_classes(root, {"a": 10, "b": 10})
    damaged = root / "a" / "04x.jpg"
    damaged.write_bytes(truncated(jpeg_bytes(np.full((4, 4, 3), (200, 100, 50), np.uint8))))
    opened = open_folder(root)
    assert opened.dataset.shape == (4, 4, 1)  # no readable picture is in colour


def test_hidden_files_are_left_out_and_nested_folders_and_links_read(
    root: Path, in_tmp: Path
) -> None:
    build(
        root,
        {
            "a/00.png": 1,
            "a/01.PNG": 2,  # suffixes in any case
            "a/.DS_Store": b"\0\0\0\1Bud1",
            "a/.hidden.png": 99,
            "a/.thumbs/00.png": 98,
            "a/sub/03.png": 3,
            "a/sub/deeper/05.png": 5,
            "b/0.png": 10,
            "b/1.png": 11,
            "b/2.png": 12,
            ".git/x/0.png": 97,  # a hidden folder is no class
            ".DS_Store": b"\0",
        },
    )
    build(in_tmp / "elsewhere", {"0.png": 20, "1.png": 21})
    os.symlink(in_tmp / "elsewhere", root / "c")  # a class folder that is a link
    warnings: list[str] = []
    opened = open_folder(root, warnings.append)
    assert warnings == [reading(root, 9, in_tmp)]
    assert opened.dataset.classes == ("a", "b", "c")
    assert levels(decoded(opened)) == [1, 2, 3, 5, 10, 11, 12, 20, 21]
    assert [name for name, _, _ in opened.parts.index] == [
        "a/00.png",
        "a/01.PNG",
        "a/sub/03.png",
        "a/sub/deeper/05.png",
        "b/0.png",
        "b/1.png",
        "b/2.png",
        "c/0.png",
        "c/1.png",
    ]
    owner = {1: "a", 2: "a", 3: "a", 5: "a", 10: "b", 11: "b", 12: "b", 20: "c", 21: "c"}
    check_labels(opened, owner)


def test_a_folder_linked_twice_is_no_loop(root: Path, in_tmp: Path) -> None:
    """Only a link back to a folder above it is a loop: one folder reached twice side by
    side is read twice."""
    write_classes(root, {"a": 2, "b": 2})
    build(in_tmp / "shared", {"0.png": 50})
    os.symlink(in_tmp / "shared", root / "b" / "one")
    os.symlink(in_tmp / "shared", root / "b" / "two")
    opened = open_folder(root)
    assert levels(decoded(opened)) == [1, 2, 3, 4, 50, 50]
    assert [name for name, _, _ in opened.parts.index][-2:] == ["b/one/0.png", "b/two/0.png"]


# ---------------------------------------------------------------------- the cache


def refuse(*args: Any) -> Any:
    raise AssertionError("decoded again")


def test_a_second_open_reads_the_cache_alone(
    root: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_classes(root, {"a": 5, "b": 5})
    first = open_folder(root)
    (entry,) = cache_home(in_tmp).iterdir()
    assert len(entry.name) == 32
    assert sorted(path.name for path in entry.iterdir()) == ["info.json", "pixels"]
    monkeypatch.setattr(folder_module, "decode_into", refuse)
    monkeypatch.setattr(folder_module, "headers", refuse)
    warnings: list[str] = []
    again = open_folder(root, warnings.append)
    assert warnings == []
    assert again.dataset == first.dataset
    assert np.array_equal(decoded(again), decoded(first))
    # carving is no part of the pixels: another test_size reads the same entry
    other = open_folder(root, warnings.append, test_size=4)
    assert other.dataset.sizes["test"] == 4
    assert levels(decoded(other)) == list(range(1, 11))
    assert len(list(cache_home(in_tmp).iterdir())) == 1


def test_settings_that_shape_the_pixels_have_their_own_cache_entries(
    root: Path, in_tmp: Path
) -> None:
    write_classes(root, {"a": 3, "b": 3})
    shapes = [
        open_folder(root, **settings).dataset.shape
        for settings in ({}, {"channels": 3}, {"image_size": "2x2"}, {})
    ]
    assert shapes == [(4, 4, 1), (4, 4, 3), (2, 2, 1), (4, 4, 1)]
    assert len(list(cache_home(in_tmp).iterdir())) == 3


def rewrite(path: Path, level: int) -> None:
    """New pixels, and a modification time a second later than the old one."""
    before = path.stat()
    save(path, flat(level))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))


def test_a_changed_file_is_decoded_into_a_new_cache_entry(root: Path, in_tmp: Path) -> None:
    write_classes(root, {"a": 3, "b": 3})
    first = open_folder(root)
    rewrite(root / "a" / "00.png", 200)
    warnings: list[str] = []
    second = open_folder(root, warnings.append)
    assert warnings == [reading(root, 6, in_tmp)]
    assert levels(decoded(second)) == [200, 2, 3, 4, 5, 6]
    assert len(list(cache_home(in_tmp).iterdir())) == 2
    assert second.dataset.fingerprint != first.dataset.fingerprint
    assert changed(first.parts.index, second.parts.index) == "1 file changed (a/00.png)"


@pytest.mark.parametrize(
    ("added", "removed", "rewritten", "said"),
    [
        (["b/new.png"], [], [], "1 file added (b/new.png)"),
        ([], ["a/01.png"], [], "1 file removed (a/01.png)"),
        (
            ["a/x0.png", "a/x1.png", "b/x2.png", "b/x3.png"],
            [],
            [],
            "4 files added (a/x0.png, a/x1.png, b/x2.png, ...)",
        ),
        (
            ["b/new.png"],
            ["a/01.png", "b/00.png"],
            ["a/00.png"],
            "1 file added (b/new.png); 2 files removed (a/01.png, b/00.png); "
            "1 file changed (a/00.png)",
        ),
    ],
)
def test_the_fingerprint_follows_the_files_and_changed_names_them(
    root: Path, added: list[str], removed: list[str], rewritten: list[str], said: str
) -> None:
    write_classes(root, {"a": 3, "b": 3})
    old = open_folder(root)
    assert open_folder(root).dataset.fingerprint == old.dataset.fingerprint
    build(root, dict.fromkeys(added, 250))
    for relative in removed:
        (root / relative).unlink()
    for relative in rewritten:
        rewrite(root / relative, 240)
    new = open_folder(root)
    assert new.dataset.fingerprint != old.dataset.fingerprint
    assert changed(old.parts.index, new.parts.index) == said
    assert changed(old.parts.index, old.parts.index) == ""


def test_a_file_touched_alone_counts_as_changed(root: Path, in_tmp: Path) -> None:
    """Same bytes, a later modification time: the index cannot tell, so it reads again."""
    write_classes(root, {"a": 3, "b": 3})
    old = open_folder(root)
    path = root / "b" / "02.png"
    before = path.stat()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    new = open_folder(root)
    assert path.stat().st_size == before.st_size
    assert changed(old.parts.index, new.parts.index) == "1 file changed (b/02.png)"
    assert new.dataset.fingerprint != old.dataset.fingerprint
    assert len(list(cache_home(in_tmp).iterdir())) == 2


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_chunks_of_files_come_back_in_their_order_on_any_number_of_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    """More files than a chunk holds: on one core in this process, on more in worker
    processes; either way one answer a file, in the files' order."""
    monkeypatch.setattr(folder_module.os, "cpu_count", lambda: cores)
    files = [str(tmp_path / f"{number}.png") for number in range(2 * folder_module.CHUNK + 3)]
    found = folder_module.run_chunks(folder_module.headers, files)
    assert len(found) == len(files)
    assert all(
        shape is None and why.startswith(f"{file}: ")
        for (shape, why), file in zip(found, files, strict=True)
    )
    assert folder_module.run_chunks(folder_module.headers, []) == []
