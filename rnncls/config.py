"""Configuration: TOML sections mapped one to one onto frozen dataclasses.

Standard library only, so every command (even the ones that never touch TensorFlow)
can load and validate a config cheaply.

Precedence, lowest first: the dataclass defaults, the config file, ``--set`` overrides,
then the named command-line flags.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


def _tomllib() -> Any:
    """The TOML reader, imported when first needed (not for `rnncls --help`)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


class ConfigError(ValueError):
    """A configuration problem the user can fix; the CLI exits 2 on it."""


# Integers are counts and sizes that end up in int32 tensors; anything larger is a typo,
# and would otherwise fail deep inside TensorFlow (or train for ever).
LARGEST_INT = 2**31 - 1
# numpy and Keras take seeds below 2**32.
LARGEST_SEED = 2**32 - 1


def _at_least(minimum: int, maximum: int = LARGEST_INT) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value < minimum:
            return f"must be at least {minimum}"
        if value > maximum:
            return f"must be at most {maximum}"
        return None

    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _fraction(value: Any) -> str | None:
    return None if 0.0 <= value < 1.0 else "must be at least 0 and below 1"


def _up_to_one(value: Any) -> str | None:
    return None if 0.0 < value <= 1.0 else "must be above 0 and at most 1"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be at least 0"


def _spec(default: Any, check: Callable[[Any], str | None] | None = None, *, help: str) -> Any:
    """One config key: its default, its check beyond the type, and its help text (the
    comment above the key in default.toml, ``rnncls config keys``, ``config show``)."""
    return field(default=default, metadata={"check": check, "help": help})


# The values a key of a Literal type takes; the annotation is the one declaration.
Cell = Literal["lstm", "gru", "simple_rnn"]
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
Schedule = Literal["constant", "cosine", "exponential", "step"]
Order = Literal["rows", "columns", "pixels"]
FastPath = Literal["auto", "off"]
Distribute = Literal["none", "mirrored", "multi_worker"]
CELLS: tuple[str, ...] = get_args(Cell)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
SCHEDULES: tuple[str, ...] = get_args(Schedule)
ORDERS: tuple[str, ...] = get_args(Order)
# Pixels of a 28x28 image: the length of the pixel stream that `pixels` reads.
IMAGE_PIXELS = 784


def _divides_image(value: Any) -> str | None:
    if not 1 <= value <= IMAGE_PIXELS:
        return f"must be from 1 to {IMAGE_PIXELS}"
    if IMAGE_PIXELS % value:
        return f"must divide the {IMAGE_PIXELS} pixels of an image (1, 2, 4, 7, 8, 14, 16, 28, ...)"
    return None


@dataclass(frozen=True)
class DataConfig:
    dir: str = _spec(
        "", help='Folder with the four MNIST files (or mnist.npz); "" searches the usual places.'
    )
    validation_size: int = _spec(
        5000,
        _at_least(1),
        help="Images held out from the end of the training set for the periodic evaluation.",
    )


@dataclass(frozen=True)
class SequenceConfig:
    order: Order = _spec(
        "rows",
        help="How an image becomes a sequence: rows (28 steps of 28 pixels, the seed's), "
        "columns, or pixels (the row-major stream of 784 pixels, pixels_per_step at a time).",
    )
    pixels_per_step: int = _spec(
        1,
        _divides_image,
        help="Pixels a step for the pixels order: 1 is sequential MNIST (784 steps); "
        "must divide 784.",
    )
    permute: bool = _spec(
        False, help="Read the pixel stream in one fixed random order: permuted sequential MNIST."
    )
    permutation_seed: int = _spec(
        0,
        _at_least(0, LARGEST_SEED),
        help="Seeds that order alone: runs with the same permutation_seed read the pixels alike.",
    )


@dataclass(frozen=True)
class ModelConfig:
    cell: Cell = _spec("lstm", help="The recurrent cell: lstm, gru or simple_rnn.")
    hidden_units: int = _spec(
        64,
        _at_least(1),
        help="Size of the recurrent state of each layer and direction (typical: 32 to 256).",
    )
    layers: int = _spec(
        1, _at_least(1, 16), help="Recurrent layers stacked on each other (typical: 1 to 3)."
    )
    bidirectional: bool = _spec(
        False,
        help="Read the sequence in both directions (for rows: top down and bottom up) and "
        "join the two states.",
    )
    dropout: float = _spec(
        0.0,
        _fraction,
        help="Fraction of units dropped while training, between layers and before the head "
        "(0 to 0.5).",
    )
    num_classes: int = _spec(
        10, _at_least(2), help="Number of output classes (logits of the dense layer)."
    )
    unroll: bool = _spec(
        True,
        help="Unroll a sequence of up to 28 steps into a static graph: faster on the CPU, "
        "same result. Longer sequences always run as a loop.",
    )


@dataclass(frozen=True)
class TrainConfig:
    steps: int = _spec(1200, _at_least(1), help="Optimizer steps, one batch each.")
    epochs: int = _spec(
        0,
        _at_least(0, 100_000),
        help="Passes over the training images; above 0 it sets the steps instead (0: use steps).",
    )
    batch_size: int = _spec(64, _at_least(1), help="Images per step.")
    optimizer: Optimizer = _spec("adam", help="The optimizer: adam, adamw, sgd or rmsprop.")
    learning_rate: float = _spec(
        0.01,
        _positive,
        help="The optimizer's learning rate, the peak of a schedule (the seed used 0.01).",
    )
    momentum: float = _spec(
        0.0, _fraction, help="Momentum of sgd and rmsprop (typical: 0.9; 0 is none)."
    )
    weight_decay: float = _spec(
        0.0,
        _not_negative,
        help="Decoupled weight decay (typical for adamw: 1e-4 to 1e-2; 0 is none).",
    )
    clipnorm: float = _spec(
        0.0,
        _not_negative,
        help="Largest gradient norm of each variable (typical: 1.0; 0 leaves gradients alone).",
    )
    schedule: Schedule = _spec(
        "constant",
        help="Learning rate over the run: constant, cosine (to 0), exponential or step.",
    )
    warmup_steps: int = _spec(
        0,
        _at_least(0),
        help="Steps of linear warm-up from 0 to the learning rate, before the schedule.",
    )
    decay_rate: float = _spec(
        0.01,
        _up_to_one,
        help="Where the exponential and step schedules end, as a fraction of the learning rate.",
    )
    seed: int = _spec(
        1,
        _at_least(0, LARGEST_SEED),
        help="Seeds the weights, the data order, dropout and augmentation; the same seed "
        "gives the same run.",
    )
    eval_every: int = _spec(
        50,
        _at_least(1),
        help="Evaluate on the validation split, and save a checkpoint, every this many steps.",
    )
    patience: int = _spec(
        0,
        _at_least(0),
        help="Early stopping: stop after this many evaluations without a better validation "
        "accuracy, and keep the best weights (0: off).",
    )
    tensorboard: bool = _spec(
        False, help="Write TensorBoard event files into the run directory (tensorboard/)."
    )
    fast_path: FastPath = _spec(
        "auto",
        help="auto: train the LSTM through the hand-written two-core passes where they apply "
        "(the maths of Keras's graph, to float32 rounding); off: always through Keras's own "
        "graph.",
    )
    distribute: Distribute = _spec(
        "none",
        help="One training on several devices (tf.distribute): none; mirrored (every local "
        "GPU, or the CPU devices); multi_worker (the machines of TF_CONFIG or of a Slurm "
        "srun). batch_size stays the global batch, split across the replicas; the learning "
        "rate is not rescaled.",
    )


@dataclass(frozen=True)
class AugmentConfig:
    shift: float = _spec(
        0.0,
        _at_least(0, 14),
        help="Largest random shift of a training image, in pixels, each way (0: off; typical 2).",
    )
    rotation: float = _spec(
        0.0,
        _at_least(0, 180),
        help="Largest random rotation of a training image, in degrees, each way "
        "(0: off; typical 10).",
    )
    zoom: float = _spec(
        0.0,
        _fraction,
        help="Largest random zoom of a training image, as a fraction "
        "(0: off; 0.1 is 90 % to 110 %).",
    )

    @property
    def enabled(self) -> bool:
        return bool(self.shift or self.rotation or self.zoom)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    sequence: SequenceConfig = field(default_factory=SequenceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "sequence": SequenceConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "augment": AugmentConfig,
}


def keys() -> list[tuple[str, str]]:
    """Every (section, key) of a config, in file order."""
    return [(name, f.name) for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


@dataclass(frozen=True)
class KeyInfo:
    """One config key as ``rnncls config keys`` lists it."""

    name: str  # section.key
    type: str
    default: Any
    comment: str


def describe_keys() -> list[KeyInfo]:
    """Every key with its type (a Literal's values), default and help text."""
    found = []
    for section, cls in SECTIONS.items():
        for fld in dataclasses.fields(cls):
            kind, choices = key_type(section, fld.name)
            shown = " | ".join(choices) if choices else kind.__name__
            found.append(KeyInfo(f"{section}.{fld.name}", shown, fld.default, fld.metadata["help"]))
    return found


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)  # resolves this module's string annotations, once a class


def key_type(section: str, key: str) -> tuple[type, tuple[Any, ...]]:
    """The Python type of a key's values and, for a Literal, the values it takes. An
    optional key (``int | None``) has the type of its values when given."""
    hint = _type_hints(SECTIONS[section])[key]
    if get_origin(hint) in (Union, UnionType):
        arms = [arm for arm in get_args(hint) if arm is not type(None)]
        if len(arms) != 1:
            raise TypeError(f"{section}.{key}: one type or one type | None, not {hint}")
        hint = arms[0]
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        return type(choices[0]), choices
    if hint not in (bool, int, float, str):
        raise TypeError(f"{section}.{key}: a config key is a bool, int, float, str or Literal")
    return hint, ()


def total_steps(train: TrainConfig, training_images: int) -> int:
    """The steps a run trains for: ``epochs`` passes when set, else ``steps``."""
    if train.epochs:
        return train.epochs * max(training_images // train.batch_size, 1)
    return train.steps


def unused_settings(train: TrainConfig, steps: int) -> list[str]:
    """What in ``[train]`` a run of ``steps`` steps would not use, said so that nobody
    waits for the effect of a setting the optimizer or schedule never reads."""
    found = []
    if train.momentum and train.optimizer not in ("sgd", "rmsprop"):
        found.append(
            f"train.momentum = {train.momentum} is not used: only sgd and rmsprop take it, "
            f"and train.optimizer is {train.optimizer!r}"
        )
    if train.decay_rate != TrainConfig.decay_rate and train.schedule not in ("exponential", "step"):
        found.append(
            f"train.decay_rate = {train.decay_rate} is not used: only the exponential and "
            f"step schedules take it, and train.schedule is {train.schedule!r}"
        )
    if train.warmup_steps > steps:
        found.append(
            f"train.warmup_steps = {train.warmup_steps} is more than the run's {steps} "
            "steps: the learning rate never reaches train.learning_rate"
        )
    return found


def unused_sequence_settings(sequence: SequenceConfig) -> list[str]:
    """What in ``[sequence]`` the reading would not use: the pixel settings of an order
    that reads rows or columns."""
    if sequence.order == "pixels":
        return []
    found = []
    if sequence.pixels_per_step != SequenceConfig.pixels_per_step:
        found.append(
            f"sequence.pixels_per_step = {sequence.pixels_per_step} is not used: only the "
            f"pixels order takes it, and sequence.order is {sequence.order!r}"
        )
    if sequence.permute:
        found.append(
            "sequence.permute = true is not used: only the pixels order permutes the "
            f"pixel stream, and sequence.order is {sequence.order!r}"
        )
    return found


# The named flags whose spelling is not the key's (error messages name the flag typed).
FLAG_NAMES = {"train.learning_rate": "--lr"}


def default_config_path() -> Path:
    """The packaged default config, the same file as ``configs/default.toml``."""
    return Path(__file__).with_name("default.toml")  # package data, beside this module


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _shown(name: str) -> str:
    """A section or key as TOML would write it: bare when it can be, quoted otherwise,
    so a strange name (a newline, a space) never breaks the one-line message."""
    if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        return name
    return json.dumps(name)


def _shown_value(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _coerce(section: str, key: str, value: Any, source: str) -> Any:
    """Check one value against its key's declared type, values and range; return it in
    that type."""
    expected, choices = key_type(section, key)
    where = f"{section}.{key} = {_shown_value(value)} (in {source})"
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_type_name(value)}")
    elif expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_type_name(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: must be a finite number")
    elif expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_type_name(value)}")
    elif not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {_type_name(value)}")
    if choices and value not in choices:
        raise ConfigError(f"{where}: must be one of " + ", ".join(map(str, choices)))
    check = dataclasses.fields(SECTIONS[section])[_index(section, key)].metadata["check"]
    problem = check(value) if check else None
    if problem:
        raise ConfigError(f"{where}: {problem}")
    return value


def _index(section: str, key: str) -> int:
    return [f.name for f in dataclasses.fields(SECTIONS[section])].index(key)


def _merge(values: dict[str, dict[str, Any]], document: dict[str, Any], source: str) -> None:
    """Validate ``document`` (section -> key -> value) and merge it into ``values``."""
    for section, table in document.items():
        if section not in SECTIONS:
            known = ", ".join(SECTIONS)
            raise ConfigError(f"unknown section [{_shown(section)}] in {source} (known: {known})")
        if not isinstance(table, dict):
            raise ConfigError(f"{section} in {source} must be a table like [{section}]")
        fields = {f.name for f in dataclasses.fields(SECTIONS[section])}
        for key, value in table.items():
            if key not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(
                    f"unknown key {section}.{_shown(key)} in {source} "
                    f"(known in [{section}]: {known})"
                )
            values[section][key] = _coerce(section, key, value, source)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file is a directory: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    tomllib = _tomllib()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML in {path}: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"malformed TOML in {path}: values nested too deeply") from None


def _shown_override(text: str) -> str:
    return text if text.isprintable() else repr(text)


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parse one ``--set section.key=value``; the value is read as a TOML value.

    A value that is not valid TOML (``--set data.dir=/tmp/x``) is taken as a string.
    """
    name, sep, raw = text.partition("=")
    if not sep:
        raise ConfigError(f"--set {text!r}: expected SECTION.KEY=VALUE")
    section, dot, key = name.strip().partition(".")
    if not dot or not section or not key:
        raise ConfigError(f"--set {text!r}: expected SECTION.KEY=VALUE, like train.steps=500")
    raw = raw.strip()
    tomllib = _tomllib()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw
    return section, key, value


def load_config(
    path: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
) -> Config:
    """Resolve a config: defaults < file < ``--set`` overrides < named flags.

    ``flags`` maps ``"section.key"`` to a value, ``None`` meaning "not given".
    """
    path = path or default_config_path()
    return from_document(read_toml(path), str(path), overrides, flags)


def from_document(
    document: dict[str, Any],
    source: str,
    overrides: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
) -> Config:
    """:func:`load_config` of a TOML document already read (``source`` names it in
    errors), e.g. the base config of a search space."""
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    _merge(values, document, source)
    for text in overrides:
        section, key, value = parse_override(text)
        _merge(values, {section: {key: value}}, f"--set {_shown_override(text)}")
    for dotted, value in (flags or {}).items():
        if value is not None:
            section, key = dotted.split(".")
            flag = FLAG_NAMES.get(dotted, f"--{key.replace('_', '-')}")
            _merge(values, {section: {key: value}}, flag)
    _length_from_the_command_line(values, command_line_keys(overrides, flags))
    return Config(**{name: cls(**values[name]) for name, cls in SECTIONS.items()})


LENGTH_KEYS = ("train.steps", "train.epochs")


def command_line_keys(
    overrides: list[str] | tuple[str, ...] = (), flags: dict[str, Any] | None = None
) -> set[str]:
    """The dotted keys that ``--set`` and the named flags give a value."""
    given = {".".join(parse_override(text)[:2]) for text in overrides}
    return given | {dotted for dotted, value in (flags or {}).items() if value is not None}


def _length_from_the_command_line(values: dict[str, dict[str, Any]], given: set[str]) -> None:
    """One rule for the length of training, whichever spelling gives it (``--steps``,
    ``--epochs``, ``--set train.steps=``, ``--set train.epochs=``): a length given on the
    command line replaces the config file's, so steps given there undo the file's epochs
    (which would otherwise win). Both on the command line is an error."""
    if "train.steps" not in given:
        return
    if "train.epochs" in given and values["train"].get("epochs"):
        raise ConfigError(
            "train.steps and train.epochs both set the length of training on the command "
            "line; give one"
        )
    values["train"]["epochs"] = 0


def resumed_config(
    saved: Config,
    run: str,
    config_path: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
) -> Config:
    """The config a resumed run trains with: its own, ``saved``, with the length the
    command line gives (``--steps``, ``--epochs`` or their ``--set`` spellings).

    The command line that started the run may be given again with ``--resume`` added (a
    requeued job does this): ``--config`` and ``--set`` values equal to the run's own are
    accepted, one that differs is an error naming the key and both values. Without
    ``--config`` the ``--set`` values are checked against the run's config alone.
    """
    given = command_line_keys(overrides, flags)
    document = read_toml(config_path) if config_path else to_dict(saved)
    source = str(config_path) if config_path else f"{run}'s config"
    requested = from_document(document, source, overrides, flags)
    for section, table in to_dict(requested).items():
        for key, value in table.items():
            dotted, theirs = f"{section}.{key}", getattr(getattr(saved, section), key)
            if dotted not in LENGTH_KEYS and value != theirs:
                raise ConfigError(
                    f"--resume: {dotted} is {toml_value(theirs)} in {run}'s config but "
                    f"{toml_value(value)} on this command line; a resumed run keeps its "
                    "config (only --steps or --epochs may change)"
                )
    if not given & set(LENGTH_KEYS):
        return saved
    return with_values(
        saved, train={"steps": requested.train.steps, "epochs": requested.train.epochs}
    )


def with_values(
    config: Config, *, source: str = "the command line", **changes: dict[str, Any]
) -> Config:
    """A copy of ``config`` with validated changes, e.g. ``train={"steps": 2000}``;
    ``source`` names where they come from in errors."""
    values = to_dict(config)
    _merge(values, changes, source)
    return Config(**{name: cls(**values[name]) for name, cls in SECTIONS.items()})


def to_dict(config: Config) -> dict[str, dict[str, Any]]:
    return dataclasses.asdict(config)


def to_toml(config: Config) -> str:
    """The resolved config as TOML, itself a valid config file, each key's help text
    above it on one line."""
    lines: list[str] = []
    for section, table in to_dict(config).items():
        lines.append(f"[{section}]")
        for fld in dataclasses.fields(SECTIONS[section]):
            lines.append(f"# {fld.metadata['help']}")
            lines.append(f"{fld.name} = {toml_value(table[fld.name])}")
        lines.append("")
    return "\n".join(lines)


DEFAULT_HEADER = """\
# The seed's experiment: "RNN classification on MNIST" from the TensorFlow 1 tutorials.
# Each 28x28 image is read as 28 time steps (rows) of 28 pixels by an LSTM; a dense
# layer on its last output gives the 10 logits. Every key can be overridden with
# `--set section.key=value`, and the common ones with named flags (`--steps`, `--lr`).
#
# Written from the declarations in rnncls/config.py by `python -m rnncls.config`;
# edit those, not this file.
"""


def default_toml() -> str:
    """configs/default.toml (and the packaged copy): every key's default under its help
    text, wrapped, from the one declaration of each key above."""
    import textwrap

    parts = [DEFAULT_HEADER]
    for section, cls in SECTIONS.items():
        parts.append(f"\n[{section}]\n")
        for fld in dataclasses.fields(cls):
            for line in textwrap.wrap(fld.metadata["help"], width=88):
                parts.append(f"# {line}\n")
            parts.append(f"{fld.name} = {toml_value(fld.default)}\n")
    return "".join(parts)


def toml_value(value: Any) -> str:
    import tomli_w

    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


if __name__ == "__main__":  # python -m rnncls.config: write the default config files anew
    text = default_toml()
    package_copy = default_config_path()
    for path in (package_copy, package_copy.parent.parent / "configs" / "default.toml"):
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
