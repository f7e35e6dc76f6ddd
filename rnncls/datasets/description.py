"""What a run knows of its data set: :class:`DataSet`, stored as ``dataset.json`` in the
run and inside every model file, so that ``eval``, ``predict``, ``serve`` and the exports
know the pictures' shape, the pixel range and the class names without the data.

numpy-free, standard library only: ``rnncls --help`` and the server load it cheaply.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

PICTURES = "pictures"
SERIES = "series"
KINDS = (PICTURES, SERIES)
# Dimensions of ``DataSet.shape`` for each kind: a picture's (height, width, channels), a
# series' (steps, channels) with steps the longest series' length.
SHAPE_DIMENSIONS = {PICTURES: 3, SERIES: 2}
# How a picture file given to predict or serve becomes one of the run's pictures:
# "digits" as MNIST's digits were made (light on dark, fitted into a box, centred by its
# centre of mass: a photographed digit becomes readable); "plain": converted to the run's
# channels and resized, as the pictures of a folder are for training.
PREPARATIONS = ("digits", "plain")
# dataset.json's own version: a later rnncls reads older descriptions.
DESCRIPTION_VERSION = 1


@dataclass(frozen=True)
class DataSet:
    """A data set as a run knows it: its kind, format, shape, classes and where it was."""

    kind: str  # PICTURES or SERIES
    format: str  # the source module that read it: "idx", "npz", "folder", "ts", ...
    shape: tuple[int, ...]  # a picture's (height, width, channels), a series' (steps, channels)
    classes: tuple[str, ...]  # class names, in the order of the model's outputs
    pixel_max: int = 255  # pictures: the largest pixel value (255 for 8 bits, 65535 for 16)
    preparation: str = "plain"  # PREPARATIONS
    path: str = ""  # where it was read, absolute ("" for a model file's own description)
    fingerprint: str = ""  # sha256 of its index (files, sizes, times or contents)
    sizes: dict[str, int] = field(default_factory=dict)  # pictures a split
    carved: tuple[str, ...] = ()  # the splits cut from another one (not in the files)
    # series: each channel's mean and standard deviation over the training split (the
    # model's first layer standardizes with them), and the shortest and longest length
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    lengths: tuple[int, int] = (0, 0)
    masked: bool = False  # series: some have steps without values (padding, missing values)
    version: int = DESCRIPTION_VERSION

    @property
    def is_series(self) -> bool:
        return self.kind == SERIES

    @property
    def steps(self) -> int:
        """A series' steps: its longest length (shorter ones are padded and masked)."""
        return self.shape[0]

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def channels(self) -> int:
        return self.shape[-1]

    @property
    def pixels(self) -> int:
        """Pixels of one picture (each with ``channels`` values)."""
        return self.height * self.width

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def dtype(self) -> str:
        """The numpy dtype of the examples as read: pictures uint8, or uint16 for 16-bit
        data; series float32 (NaN where a series has no value)."""
        if self.is_series:
            return "float32"
        return "uint8" if self.pixel_max <= 255 else "uint16"

    def class_value(self, index: int) -> int | str:
        """A class as JSON and tables show it: an integer where every class name is one
        (MNIST's 0 to 9), else its name."""
        name = self.classes[index]
        return int(name) if self.numeric_classes else name

    @property
    def numeric_classes(self) -> bool:
        return all(is_integer_name(name) for name in self.classes)

    def class_index(self, value: int | str) -> int | None:
        """The index of a class given by its name (or integer), None if unknown."""
        text = str(value)
        return self.classes.index(text) if text in self.classes else None

    def describe(self) -> str:
        """One line for stderr: what was found."""
        sizes = ", ".join(
            f"{name} {self.sizes[name]:,}" + (" (carved)" if name in self.carved else "")
            for name in ("train", "validation", "test")
            if name in self.sizes
        )
        return (
            f"{self.format} data set {self.path or '(no path)'}: {self.items()}, "
            f"{self.num_classes} classes ({shown_classes(self.classes)})"
            + (f"; {sizes}" if sizes else "")
        )

    def items(self) -> str:
        """What one example is: ``28x28 grey pictures``, ``series of 150 steps of 1
        channel``, ``series of 7 to 29 steps of 12 channels``."""
        if self.is_series:
            shortest, longest = self.lengths if any(self.lengths) else (self.steps, self.steps)
            steps = f"{longest}" if shortest == longest else f"{shortest} to {longest}"
            plural = "" if self.channels == 1 else "s"
            return f"series of {steps} steps of {self.channels} channel{plural}"
        height, width, channels = self.shape
        colour = {1: "grey", 3: "colour"}.get(channels, f"{channels} channels")
        depth = "" if self.pixel_max == 255 else f", {self.pixel_max.bit_length()}-bit"
        return f"{width}x{height} {colour}{depth} pictures"

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["shape"] = list(self.shape)
        record["classes"] = list(self.classes)
        record["carved"] = list(self.carved)
        record["mean"], record["std"] = list(self.mean), list(self.std)
        record["lengths"] = list(self.lengths)
        return record

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)

    @classmethod
    def from_json(cls, record: dict[str, Any], where: str = "dataset.json") -> DataSet:
        """A description read back; a damaged one is a ValueError naming ``where``."""
        try:
            data = dict(record)
            data["shape"] = tuple(int(size) for size in data["shape"])
            data["classes"] = tuple(str(name) for name in data["classes"])
            data["carved"] = tuple(data.get("carved", ()))
            data["sizes"] = {str(k): int(v) for k, v in data.get("sizes", {}).items()}
            data["mean"] = tuple(float(x) for x in data.get("mean", ()))
            data["std"] = tuple(float(x) for x in data.get("std", ()))
            data["lengths"] = tuple(int(x) for x in data.get("lengths", (0, 0)))
            known = set(cls.__dataclass_fields__)
            described = cls(**{k: v for k, v in data.items() if k in known})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: not a data set description ({exc})") from None
        kind_fits = SHAPE_DIMENSIONS.get(described.kind) == len(described.shape)
        if not kind_fits or not described.classes:
            raise ValueError(f"{where}: not a data set description")
        return described

    def without_location(self) -> DataSet:
        """The description a model file carries: what its inputs and outputs are, not
        where this machine kept the data."""
        return replace(self, path="", fingerprint="", sizes={}, carved=())


def is_integer_name(name: str) -> bool:
    return name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0"))


def sort_classes(names: list[str] | set[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Sorted names, each once; numerically when every name is an integer (2 before 10,
    -1 before 1), so that a data set's class indices do not depend on the order its files
    list them in."""
    unique = set(names)
    if unique and all(is_integer_name(name.removeprefix("-")) for name in unique):
        return tuple(sorted(unique, key=int))
    return tuple(sorted(unique))


def shown_classes(classes: tuple[str, ...], most: int = 6) -> str:
    """``0, 1, 2, ..., 9`` for a long list of classes."""
    if len(classes) <= most:
        return ", ".join(classes)
    return ", ".join(classes[: most - 2]) + ", ..., " + classes[-1]
