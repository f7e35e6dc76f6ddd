"""Search spaces for ``rnncls tune``: one TOML file with a base config, a ``[space]``
table and an optional ``[tune]`` table.

    [train]                       # the base config: any section of a config file
    epochs = 6

    [space]                       # dotted config keys -> what a trial may take
    "train.learning_rate" = { low = 1e-3, high = 1e-2, log = true }
    "model.hidden_units" = { choices = [64, 128] }

    [tune]                        # defaults of the command's options
    trials = 8
    pruner = "median"

Every bound and choice is checked against its key's own rules before any training
starts, so a bad space is one line naming the key. Standard library only (no Optuna, no
TensorFlow): the CLI validates a space cheaply, and the checks are mutation-tested.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnncls.config import from_documents, read_toml, with_values, written
from rnncls.config_keys import CELL_SECTIONS, SECTIONS, Config, key_type
from rnncls.errors import ConfigError

SPACE_TABLE = "space"
TUNE_TABLE = "tune"
PRUNERS = ("median", "hyperband", "none")
# What [tune] may set, and its default.
# warmup: the evaluations a trial makes before the pruner may stop it (0: from its first).
TUNE_DEFAULTS: dict[str, Any] = {"trials": 10, "pruner": "median", "warmup": 0}
RANGE_FIELDS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Dimension:
    """One searched key: a range of numbers (``low``..``high``, optionally on a log
    scale or in steps) or a list of ``choices``."""

    key: str  # "section.name"
    kind: str  # "int", "float" or "choice"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """This dimension's value for an Optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.key, self.low, self.high, step=self.step or 1, log=self.log
            )
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)


@dataclass(frozen=True)
class Space:
    base: Config
    dimensions: tuple[Dimension, ...]
    trials: int
    pruner: str
    source: str
    overrides: tuple[str, ...] = ()  # the --set values that changed the file's base config
    configs: tuple[str, ...] = ()  # the --config files layered over it, in order
    warmup: int = TUNE_DEFAULTS["warmup"]  # evaluations before the pruner may stop a trial

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One trial's values, dotted key -> value. The options of a cell (a key of its
        section, ``lem.dt``) are drawn only for a trial of that cell: ``model.cell`` is
        drawn first, and a trial of the LSTM draws no ``lem.*`` (Optuna's conditional
        search space)."""
        values: dict[str, Any] = {}
        ordered = sorted(self.dimensions, key=lambda d: d.key != "model.cell")
        for dimension in ordered:
            section = dimension.key.split(".", 1)[0]
            if section in CELL_SECTIONS:
                cell = values.get("model.cell", self.base.model.cell)
                if section != cell:
                    continue
            values[dimension.key] = dimension.suggest(trial)
        return {d.key: values[d.key] for d in self.dimensions if d.key in values}

    def config_for(self, values: dict[str, Any]) -> Config:
        """The base config with one trial's values (dotted key -> value)."""
        changes: dict[str, dict[str, Any]] = {}
        for dotted, value in values.items():
            section, name = dotted.split(".", 1)
            changes.setdefault(section, {})[name] = value
        return with_values(self.base, source=f"a trial of {self.source}", **changes)

    def fingerprint(self) -> str:
        """The base config and the dimensions as one JSON text: a study keeps it, and
        refuses to go on with another space."""
        described = {
            "base": written(self.base),
            "space": [dataclasses.asdict(d) for d in self.dimensions],
        }
        return json.dumps(described, sort_keys=True)


def load_space(
    path: Path,
    overrides: list[str] | tuple[str, ...] = (),
    configs: list[Path] | tuple[Path, ...] = (),
) -> Space:
    """Read and check a space file; config files (``--config``), in order, then
    ``overrides`` (``--set``) change its base config, as they change a training's."""
    document = dict(read_toml(path))
    source = str(path)
    table = document.pop(SPACE_TABLE, None)
    tune = document.pop(TUNE_TABLE, {})
    layers = [(read_toml(Path(config)), str(config)) for config in configs]
    base = from_documents([(document, source), *layers], overrides)
    if not isinstance(table, dict) or not table:
        raise ConfigError(
            f"{source} has no [{SPACE_TABLE}] table: add one that maps keys to ranges, like "
            f'"train.learning_rate" = {{ low = 1e-3, high = 1e-2, log = true }}'
        )
    dimensions = tuple(parse_dimension(key, spec, base, source) for key, spec in table.items())
    settings = tune_settings(tune, source)
    trials, pruner = settings["trials"], settings["pruner"]
    return Space(
        base,
        dimensions,
        trials,
        pruner,
        source,
        tuple(overrides),
        tuple(map(str, configs)),
        settings["warmup"],
    )


def tune_settings(table: Any, source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{TUNE_TABLE} in {source} must be a table like [{TUNE_TABLE}]")
    settings = dict(TUNE_DEFAULTS)
    for name, value in table.items():
        where = f"{TUNE_TABLE}.{name} = {value!r} (in {source})"
        if name == "trials":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}: expected a whole number of at least 1")
        elif name == "pruner":
            if value not in PRUNERS:
                raise ConfigError(f"{where}: expected one of {', '.join(PRUNERS)}")
        elif name == "warmup":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{where}: expected a whole number of evaluations, 0 or more")
        else:
            known = ", ".join(TUNE_DEFAULTS)
            raise ConfigError(f"unknown key {TUNE_TABLE}.{name} in {source} (known: {known})")
        settings[name] = value
    return settings


def _field_type(key: str, source: str) -> str:
    """The name of a key's value type: "int", "float", "bool" or "str"."""
    section, dot, name = key.partition(".")
    cls = SECTIONS.get(section) if dot else None
    if cls is None or name not in {f.name for f in dataclasses.fields(cls)}:
        raise ConfigError(
            f'[{SPACE_TABLE}] "{key}" in {source}: not a config key (`rnncls config keys` '
            "lists them, written section.key)"
        )
    return key_type(section, name)[0].__name__


def parse_dimension(key: str, spec: Any, base: Config, source: str) -> Dimension:
    """One ``[space]`` entry, checked: its key exists, its form is a range or a list of
    choices, and every bound and choice is a value the key accepts."""
    kind = _field_type(key, source)
    where = f'[{SPACE_TABLE}] "{key}" in {source}'
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected {{ low = ..., high = ... }} or {{ choices = [...] }}")
    if "choices" in spec:
        return _choices(key, spec, base, source, where)
    unknown = sorted(set(spec) - RANGE_FIELDS)
    if unknown or not {"low", "high"} <= set(spec):
        problem = f"unknown field {unknown[0]}" if unknown else "needs low and high"
        raise ConfigError(f"{where}: {problem} (a range has low, high, log, step; or choices)")
    if kind not in ("int", "float"):
        raise ConfigError(f"{where}: {key} is not a number; give {{ choices = [...] }}")
    low, high = spec["low"], spec["high"]
    log, step = spec.get("log", False), spec.get("step")
    for name, value in (("low", low), ("high", high), ("step", step)):
        if value is None:
            continue
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{where}: {name} = {value!r}: {key} takes whole numbers")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {name} = {value!r} is not a number")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {name} = {value!r} is not a finite number")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log = {log!r}: expected true or false")
    if low > high:
        raise ConfigError(f"{where}: low {low} is above high {high}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low above 0, not {low}")
    if step is not None and (step <= 0 or log):
        problem = "cannot be used with log = true" if log else "must be above 0"
        raise ConfigError(f"{where}: step {step} {problem}")
    for value in (low, high):
        _check_value(key, value, base, source)
    if kind == "float":
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    return Dimension(key, kind, low=low, high=high, log=log, step=step)


def _choices(key: str, spec: dict[str, Any], base: Config, source: str, where: str) -> Dimension:
    choices = spec["choices"]
    if set(spec) != {"choices"}:
        raise ConfigError(f"{where}: choices cannot be mixed with {', '.join(sorted(spec))}")
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where}: choices must be a list of at least one value")
    for value in choices:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: choice {value!r} is not a single value")
        _check_value(key, value, base, source)
    if len({json.dumps(v) for v in choices}) != len(choices):
        raise ConfigError(f"{where}: choices repeat a value")
    return Dimension(key, "choice", choices=tuple(choices))


def _check_value(key: str, value: Any, base: Config, source: str) -> None:
    """The key's own check (type, range), its error naming the key and the space."""
    section, name = key.split(".", 1)
    with_values(base, source=f"[{SPACE_TABLE}] of {source}", **{section: {name: value}})
