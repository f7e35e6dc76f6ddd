"""Configuration: TOML sections mapped one to one onto frozen dataclasses.

Standard library only, so every command (even the ones that never touch TensorFlow)
can load and validate a config cheaply.

Precedence, lowest first: the dataclass defaults, the config files, the environment
(``RNNCLS_DATA_DIR`` for ``data.dir``, on a command line's config), ``--set`` overrides,
then the named command-line flags. Each key is declared once, in
:mod:`rnncls.config_keys`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnncls.config_keys import (
    CELL_SECTIONS,
    SECTIONS,
    Config,
    ModelConfig,
    SequenceConfig,
    TrainConfig,
    key_type,
)
from rnncls.errors import ConfigError


def _tomllib() -> Any:
    """The TOML reader, imported when first needed (not for `rnncls --help`)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


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
    if train.clip != TrainConfig.clip and not train.clipnorm:
        found.append(
            f"train.clip = {train.clip!r} is not used: train.clipnorm is 0, so no gradient "
            "is clipped"
        )
    if train.warmup_steps > steps:
        found.append(
            f"train.warmup_steps = {train.warmup_steps} is more than the run's {steps} "
            "steps: the learning rate never reaches train.learning_rate"
        )
    return found


def unused_model_settings(config: Config) -> list[str]:
    """What the layers would not use: the LSTM's forget-gate start for another cell, and
    the options of a cell that is not the run's (``lem.dt`` on an LSTM run)."""
    model = config.model
    unused = []
    if model.forget_bias != ModelConfig.forget_bias and model.cell != "lstm":
        unused.append(
            f"model.forget_bias = {model.forget_bias!r} is not used: only the lstm cell has "
            f"a forget gate, and model.cell is {model.cell!r}"
        )
    for section in CELL_SECTIONS:
        if section == model.cell:
            continue
        options, defaults = getattr(config, section), SECTIONS[section]()
        for option in dataclasses.fields(options):
            value = getattr(options, option.name)
            if value != getattr(defaults, option.name):
                unused.append(
                    f"{section}.{option.name} = {value!r} is not used: it is an option of "
                    f"the {section} cell, and model.cell is {model.cell!r}"
                )
    return unused


def unused_sequence_settings(sequence: SequenceConfig, series: bool = False) -> list[str]:
    """What in ``[sequence]`` the reading would not use: the pixel settings of an order
    that reads rows or columns (or of a series), the sample setting of pictures."""
    if series:
        changed = [
            f"sequence.{key} = {toml_value(value)}"
            for key, value in (
                ("order", sequence.order),
                ("pixels_per_step", sequence.pixels_per_step),
                ("permute", sequence.permute),
            )
            if value != getattr(SequenceConfig, key)
        ]
        return [f"{text} is not used: a series is read in time order" for text in changed]
    found = []
    if sequence.samples_per_step != SequenceConfig.samples_per_step:
        found.append(
            f"sequence.samples_per_step = {sequence.samples_per_step} is not used: only "
            "series take it"
        )
    if sequence.order == "pixels":
        return found
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
            raise ConfigError(
                f"unknown section [{_shown(section)}] in {source}"
                f"{_did_you_mean(section, list(SECTIONS))} (known: {known})"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{section} in {source} must be a table like [{section}]")
        fields = {f.name for f in dataclasses.fields(SECTIONS[section])}
        for key, value in table.items():
            if key not in fields:
                known = ", ".join(sorted(fields))
                everywhere = [
                    f"{name}.{f.name}"
                    for name, cls in SECTIONS.items()
                    for f in dataclasses.fields(cls)
                ]
                guess = _did_you_mean(f"{section}.{key}", everywhere)
                raise ConfigError(
                    f"unknown key {section}.{_shown(key)} in {source}{guess} "
                    f"(known in [{section}]: {known})"
                )
            values[section][key] = _coerce(section, key, value, source)


def _did_you_mean(name: str, known: list[str]) -> str:
    """``: did you mean model.hidden_units?`` for a near miss, else ""."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


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


ConfigPaths = Path | str | Sequence[Path | str] | None
# Where a value came from, for `config show --origin`: a key no file sets is the default.
DEFAULT_ORIGIN = "default"


def config_paths(paths: ConfigPaths) -> list[Path]:
    """One path, several (later ones layered over earlier ones), or none."""
    if paths is None:
        return []
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    return [Path(path) for path in paths]


def load_config(
    paths: ConfigPaths = None,
    overrides: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
    spellings: dict[str, str] | None = None,
    origins: dict[str, str] | None = None,
    environment: Sequence[tuple[dict[str, Any], str]] = (),
) -> Config:
    """Resolve a config: defaults < each file in turn < ``environment`` (documents from
    environment variables, each with its variable's name) < ``--set`` overrides < named
    flags.

    Several files compose, as ``--config`` given more than once does: each one's values
    replace the earlier ones'. ``flags`` maps ``"section.key"`` to a value, ``None``
    meaning "not given"; ``spellings`` says how the command line spells each (``--lr``),
    for the messages: the command line owns its flags' names, this module only their keys.
    ``origins``, when given, is filled with where each dotted key's value came from.
    """
    given = config_paths(paths)
    if given:
        documents = [(read_toml(path), str(path)) for path in given]
    else:  # the packaged defaults: every value in it is a default
        documents = [(read_toml(default_config_path()), DEFAULT_ORIGIN)]
    documents += list(environment)
    return from_documents(documents, overrides, flags, spellings, origins)


def from_documents(
    documents: Sequence[tuple[dict[str, Any], str]],
    overrides: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
    spellings: dict[str, str] | None = None,
    origins: dict[str, str] | None = None,
) -> Config:
    """:func:`load_config` of TOML documents already read, each with its source's name."""
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    found = origins if origins is not None else {}
    found.update(
        {
            f"{name}.{f.name}": DEFAULT_ORIGIN
            for name, cls in SECTIONS.items()
            for f in dataclasses.fields(cls)
        }
    )

    def merge(document: dict[str, Any], source: str) -> None:
        _merge(values, document, source)
        for section, table in document.items():
            found.update({f"{section}.{key}": source for key in table})

    for document, source in documents:
        train = document.get("train")
        merge(document, source)
        # A later file's length replaces an earlier file's, as the command line's does:
        # its steps undo their epochs (which would otherwise win).
        if isinstance(train, dict) and "steps" in train and "epochs" not in train:
            if values["train"].get("epochs"):
                values["train"]["epochs"] = 0
                found["train.epochs"] = source
    for text in overrides:
        section, key, value = parse_override(text)
        merge({section: {key: value}}, f"--set {_shown_override(text)}")
    for dotted, value in (flags or {}).items():
        if value is not None:
            section, key = dotted.split(".")
            merge({section: {key: value}}, (spellings or {}).get(dotted, dotted))
    if _length_from_the_command_line(values, command_line_keys(overrides, flags)):
        found["train.epochs"] = found["train.steps"]
    return Config(**{name: cls(**values[name]) for name, cls in SECTIONS.items()})


LENGTH_KEYS = ("train.steps", "train.epochs")


def command_line_keys(
    overrides: list[str] | tuple[str, ...] = (), flags: dict[str, Any] | None = None
) -> set[str]:
    """The dotted keys that ``--set`` and the named flags give a value."""
    given = {".".join(parse_override(text)[:2]) for text in overrides}
    return given | {dotted for dotted, value in (flags or {}).items() if value is not None}


def _length_from_the_command_line(values: dict[str, dict[str, Any]], given: set[str]) -> bool:
    """One rule for the length of training, whichever spelling gives it (``--steps``,
    ``--epochs``, ``--set train.steps=``, ``--set train.epochs=``): a length given on the
    command line replaces the config file's, so steps given there undo the file's epochs
    (which would otherwise win). Both on the command line is an error. True when it
    undid the file's epochs."""
    if "train.steps" not in given:
        return False
    if "train.epochs" in given and values["train"].get("epochs"):
        raise ConfigError(
            "train.steps and train.epochs both set the length of training on the command "
            "line; give one"
        )
    undone = bool(values["train"].get("epochs"))
    values["train"]["epochs"] = 0
    return undone


def resumed_config(
    saved: Config,
    run: str,
    config_path: ConfigPaths = None,
    overrides: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
    spellings: dict[str, str] | None = None,
) -> Config:
    """The config a resumed run trains with: its own, ``saved``, with the length the
    command line gives (``--steps``, ``--epochs`` or their ``--set`` spellings).

    The command line that started the run may be given again with ``--resume`` added (a
    requeued job does this): ``--config`` and ``--set`` values equal to the run's own are
    accepted, one that differs is an error naming the key and both values. Without
    ``--config`` the ``--set`` values are checked against the run's config alone.
    """
    given = command_line_keys(overrides, flags)
    documents = [(read_toml(path), str(path)) for path in config_paths(config_path)]
    documents = documents or [(to_dict(saved), f"{run}'s config")]
    requested = from_documents(documents, overrides, flags, spellings)
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
    """Every section of ``config``, every cell's options included."""
    return dataclasses.asdict(config)


def written(config: Config) -> dict[str, dict[str, Any]]:
    """The sections a run shows (its config.toml, ``config show``, HParams, ``runs``): the
    sections of every run, and a cell's own options where that cell is the run's or they
    differ from their defaults, so that an LSTM run does not list LEM's time step."""
    values = to_dict(config)
    return {
        section: table
        for section, table in values.items()
        if section not in CELL_SECTIONS
        or section == config.model.cell
        or table != dataclasses.asdict(SECTIONS[section]())
    }


def to_toml(config: Config, origins: dict[str, str] | None = None) -> str:
    """The resolved config as TOML, itself a valid config file, each key's help text
    above it on one line; with ``origins``, each value followed by where it came from
    (``# from configs/fast.toml``)."""
    lines: list[str] = []
    for section, table in written(config).items():
        lines.append(f"[{section}]")
        for fld in dataclasses.fields(SECTIONS[section]):
            lines.append(f"# {fld.metadata['help']}")
            line = f"{fld.name} = {toml_value(table[fld.name])}"
            if origins is not None:
                line += f"  # from {origins[f'{section}.{fld.name}']}"
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


DEFAULT_HEADER = """\
# The seed's experiment: "RNN classification on MNIST" from the TensorFlow 1 tutorials.
# Each 28x28 image is read as 28 time steps (rows) of 28 pixels by an LSTM; a dense
# layer on its last output gives the 10 logits. Every key can be overridden with
# `--set section.key=value`, and the common ones with named flags (`--steps`, `--lr`).
#
# A cell's own options are the section named after it ([lem] ...; `rnncls config keys`
# lists them all), written into a run's config.toml when it is the run's cell.
#
# Written from the declarations in rnncls/config_keys.py by `python -m rnncls.config`;
# edit those, not this file.
"""


def default_toml() -> str:
    """configs/default.toml (and the packaged copy): every key's default under its help
    text, wrapped, from the one declaration of each key above."""
    import textwrap

    parts = [DEFAULT_HEADER]
    for section, cls in SECTIONS.items():
        if section in CELL_SECTIONS:
            continue
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
