"""The cells package (rnncls/cells/): each cell is one module, found without a list, with
its own options as config keys, its test file, and its place in a search. Nothing here
names a cell made here: a new one is its module and its test file (tests/cells/). No
TensorFlow."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import rnncls.space
from rnncls import cells
from rnncls.config import from_documents, to_toml, unused_model_settings
from rnncls.config_keys import CELL_SECTIONS, SECTIONS, ModelConfig, keys
from rnncls.errors import ConfigError
from rnncls.space import Dimension, Space

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "rnncls" / "cells"
KERAS_CELLS = ["lstm", "gru", "simple_rnn"]


def declared_cells() -> set[str]:
    """The names of the modules of rnncls/cells/ that assign CELL, read as source."""
    found = set()
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CELL" for t in node.targets
            ):
                found.add(path.stem)
    return found


def test_every_module_that_declares_a_cell_is_a_cell_and_nothing_else_is() -> None:
    assert set(cells.CELLS) == declared_cells()
    assert all(cells.CELLS[name].name == name for name in cells.CELLS)
    # Keras's cells first (the seed's LSTM first of all), then the others by name
    ours = [name for name in cells.CELLS if name not in KERAS_CELLS]
    assert list(cells.CELLS) == KERAS_CELLS + sorted(ours)


def test_every_cell_has_its_test_file() -> None:
    missing = [n for n in cells.CELLS if not (REPO / "tests" / "cells" / f"test_{n}.py").is_file()]
    assert missing == []


def test_the_package_imports_no_keras() -> None:
    """Config checks and `rnncls --help` read the declarations: Keras comes later."""
    code = (
        "import sys, rnncls.config_keys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_cells_options_are_the_section_named_after_it() -> None:
    with_options = [name for name, cell in cells.CELLS.items() if cell.options is not None]
    assert list(CELL_SECTIONS) == with_options
    listed = [(section, key) for section, key in keys() if section in CELL_SECTIONS]
    expected = []
    for name in with_options:
        assert SECTIONS[name] is cells.CELLS[name].options
        for option in dataclasses.fields(cells.CELLS[name].options):
            assert len(option.metadata["help"]) > 20, f"{name}.{option.name} has no help"
            expected.append((name, option.name))
    assert listed == expected


def test_every_option_of_every_cell_refuses_a_value_of_another_type() -> None:
    """Each cell's test file checks its options' ranges; their types are checked as
    every key's."""
    for name in CELL_SECTIONS:
        for option in dataclasses.fields(cells.CELLS[name].options):
            with pytest.raises(ConfigError) as error:
                from_documents([({name: {option.name: "text"}}, "t.toml")], [])
            assert str(error.value).startswith(f"{name}.{option.name} = 'text' (in t.toml): ")


@pytest.mark.parametrize("cell", CELL_SECTIONS)
def test_a_runs_config_file_holds_its_cells_options_alone(cell) -> None:
    config = from_documents([({"model": {"cell": cell}}, "a.toml")], [])
    parsed = tomllib.loads(to_toml(config))
    assert set(parsed) & set(CELL_SECTIONS) == {cell}
    assert from_documents([(parsed, "config.toml")], []) == config  # read back the same


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", sorted(cells.CELLS))
def test_a_cell_says_it_has_its_own_pass_exactly_when_its_layer_has_one(name) -> None:
    """The log's path (Cell.sequence_pass, with the cell's default options) and the
    layer's choice (a cell with a ``sequence_pass``) cannot disagree."""
    cell = cells.CELLS[name]
    model = dataclasses.replace(ModelConfig(), cell=name, hidden_units=4)
    options = cell.options() if cell.options else None
    layer = cell.layer(model, options, 7, return_sequences=False, unroll=False, name=name)
    has_pass = getattr(layer.cell, "sequence_pass", None) is not None
    assert cells.takes_own_pass(cell, options) == has_pass


@pytest.mark.parametrize("cell", CELL_SECTIONS)
def test_another_cells_option_is_said_to_be_unused_and_the_runs_own_is_not(cell) -> None:
    option = dataclasses.fields(SECTIONS[cell])[0]
    # a value of the option's type that is not its default
    value = {bool: not option.default, int: option.default + 1}.get(
        type(option.default), option.default / 2
    )
    lstm = from_documents([({cell: {option.name: value}}, "a.toml")], [])
    assert unused_model_settings(lstm) == [
        f"{cell}.{option.name} = {value!r} is not used: it is an option of the {cell} "
        "cell, and model.cell is 'lstm'"
    ]
    own = from_documents([({"model": {"cell": cell}, cell: {option.name: value}}, "a.toml")], [])
    assert unused_model_settings(own) == []


def test_the_forget_gates_start_is_said_to_be_unused_beside_another_cell() -> None:
    gru = from_documents([({"model": {"cell": "gru", "forget_bias": "chrono"}}, "a.toml")], [])
    assert unused_model_settings(gru) == [
        "model.forget_bias = 'chrono' is not used: only the lstm cell has a forget gate, "
        "and model.cell is 'gru'"
    ]
    lstm = from_documents([({"model": {"forget_bias": "chrono"}}, "a.toml")], [])
    assert unused_model_settings(lstm) == []


class RecordingTrial:
    """What Optuna's trial answers (the drawn cell, else the first choice or the low
    end), recording the names it is asked for."""

    def __init__(self, cell: str) -> None:
        self.cell = cell
        self.asked: list[str] = []

    def suggest_categorical(self, name, choices):
        self.asked.append(name)
        return self.cell if name == "model.cell" else choices[0]

    def suggest_float(self, name, low, high, step=None, log=False):
        self.asked.append(name)
        return low

    def suggest_int(self, name, low, high, step=1, log=False):
        self.asked.append(name)
        return low


# Two made-up cells with an option each: what a search does does not depend on which.
SEARCH = (
    Dimension("alpha.rate", "float", low=0.1, high=1.0),
    Dimension("beta.size", "int", low=1, high=3),
    Dimension("train.learning_rate", "float", low=1e-3, high=1e-2, log=True),
    Dimension("model.cell", "choice", choices=("lstm", "alpha", "beta")),
)


@pytest.mark.parametrize(
    "cell, asked",
    [
        ("lstm", ["model.cell", "train.learning_rate"]),
        ("alpha", ["model.cell", "alpha.rate", "train.learning_rate"]),
        ("beta", ["model.cell", "beta.size", "train.learning_rate"]),
    ],
)
def test_a_search_draws_only_the_drawn_cells_options(monkeypatch, cell, asked) -> None:
    """model.cell is drawn first, wherever it is in the [space] table; an option of
    another cell is not drawn (Optuna's conditional space)."""
    monkeypatch.setattr(rnncls.space, "CELL_SECTIONS", ("alpha", "beta"))
    space = Space(from_documents([], []), SEARCH, trials=3, pruner="median", source="s.toml")
    trial = RecordingTrial(cell)
    values = space.suggest(trial)
    assert trial.asked == asked
    assert list(values) == [d.key for d in SEARCH if d.key in asked]  # the table's order
    assert values["model.cell"] == cell


def test_without_model_cell_in_the_space_the_base_configs_cell_decides(monkeypatch) -> None:
    monkeypatch.setattr(rnncls.space, "CELL_SECTIONS", ("alpha", "beta"))
    base = from_documents([], [])  # the LSTM
    space = Space(base, SEARCH[:3], trials=3, pruner="median", source="s.toml")
    trial = RecordingTrial("unused")
    assert list(space.suggest(trial)) == ["train.learning_rate"]
    beta = dataclasses.replace(base, model=dataclasses.replace(base.model, cell="beta"))
    space = dataclasses.replace(space, base=beta)
    assert list(space.suggest(RecordingTrial("unused"))) == ["beta.size", "train.learning_rate"]
