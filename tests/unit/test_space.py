"""Search spaces (rnncls/space.py): what a [space] table may say, and the one-line errors
for what it may not. No Optuna and no TensorFlow here."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnncls.config import load_config, to_dict
from rnncls.errors import ConfigError
from rnncls.space import Dimension, Space, load_space

BASE = """
[model]
hidden_units = 16

[train]
steps = 20
eval_every = 10
"""


def write_space(folder: Path, space: str, tune: str = "", base: str = BASE) -> Path:
    path = folder / "space.toml"
    path.write_text(f"{base}\n[space]\n{space}\n{tune}", encoding="utf-8")
    return path


def test_a_space_reads_into_its_dimensions_and_base(tmp_path):
    path = write_space(
        tmp_path,
        '"train.learning_rate" = { low = 1e-3, high = 1e-2, log = true }\n'
        '"model.hidden_units" = { low = 16, high = 64, step = 16 }\n'
        '"train.warmup_steps" = { low = 0, high = 5 }\n'
        '"train.clipnorm" = { low = 0, high = 2, step = 0.5 }\n'
        '"model.cell" = { choices = ["lstm", "gru"] }\n',
        "[tune]\ntrials = 7\npruner = 'hyperband'\n",
    )
    space = load_space(path)
    assert space.dimensions == (
        Dimension("train.learning_rate", "float", low=0.001, high=0.01, log=True),
        Dimension("model.hidden_units", "int", low=16, high=64, step=16),
        Dimension("train.warmup_steps", "int", low=0, high=5),
        Dimension("train.clipnorm", "float", low=0.0, high=2.0, step=0.5),
        Dimension("model.cell", "choice", choices=("lstm", "gru")),
    )
    # a float key's integer bounds become floats, so Optuna samples floats
    assert isinstance(space.dimensions[3].low, float)
    assert (space.trials, space.pruner, space.source) == (7, "hyperband", str(path))
    assert (space.base.model.hidden_units, space.base.train.steps) == (16, 20)
    assert space.base.train.learning_rate == 0.01  # the default: the base does not set it


def test_tune_settings_default_to_ten_trials_and_the_median_pruner(tmp_path):
    space = load_space(write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }'))
    assert (space.trials, space.pruner, space.warmup) == (10, "median", 0)


def test_the_pruners_warmup_in_evaluations(tmp_path):
    dimension = '"model.hidden_units" = { choices = [8, 16] }'
    space = load_space(write_space(tmp_path, dimension, "[tune]\nwarmup = 2"))
    assert space.warmup == 2


def test_set_overrides_change_the_base_config(tmp_path):
    path = write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }')
    space = load_space(path, ["train.steps=30", "train.seed=4"])
    assert (space.base.train.steps, space.base.train.seed) == (30, 4)


def test_config_files_layer_over_the_space_files_base_then_set(tmp_path):
    """Space file < each --config file < --set, as a training's configs compose."""
    path = write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }')
    first = tmp_path / "a.toml"
    first.write_text("[train]\nseed = 5\nlearning_rate = 0.003\n[model]\ncell = 'gru'\n")
    second = tmp_path / "b.toml"
    second.write_text("[train]\nseed = 6\nepochs = 2\n")
    space = load_space(path, ["train.learning_rate=0.004"], [first, second])
    base = space.base
    assert (base.train.seed, base.model.cell, base.train.learning_rate) == (6, "gru", 0.004)
    assert (base.model.hidden_units, base.train.eval_every, base.train.epochs) == (16, 10, 2)
    assert space.configs == (str(first), str(second))
    assert space.overrides == ("train.learning_rate=0.004",)


def test_config_for_puts_a_trials_values_into_the_base(tmp_path):
    space = load_space(write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }'))
    config = space.config_for({"model.hidden_units": 8, "train.learning_rate": 0.002})
    expected = to_dict(space.base)
    expected["model"]["hidden_units"] = 8
    expected["train"]["learning_rate"] = 0.002
    assert to_dict(config) == expected


def test_a_trial_value_its_key_refuses_is_a_config_error(tmp_path):
    space = load_space(write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }'))
    with pytest.raises(ConfigError, match=r"train\.batch_size = 0 \(in a trial of .*space\.toml\)"):
        space.config_for({"train.batch_size": 0})


class RecordingTrial:
    """What a Dimension asks of an Optuna trial, recorded (Optuna's own API names)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def suggest_categorical(self, name, choices):
        self.calls.append(("categorical", name, choices))
        return choices[-1]

    def suggest_int(self, name, low, high, step=1, log=False):
        self.calls.append(("int", name, low, high, step, log))
        return high

    def suggest_float(self, name, low, high, step=None, log=False):
        self.calls.append(("float", name, low, high, step, log))
        return low


def test_each_kind_of_dimension_asks_optuna_for_its_own_kind():
    trial = RecordingTrial()
    assert Dimension("model.cell", "choice", choices=("lstm", "gru")).suggest(trial) == "gru"
    assert Dimension("model.layers", "int", low=1, high=3).suggest(trial) == 3
    assert Dimension("train.clipnorm", "float", low=0.5, high=2.0, step=0.5).suggest(trial) == 0.5
    lr = Dimension("train.learning_rate", "float", low=1e-3, high=1e-2, log=True)
    assert lr.suggest(trial) == 1e-3
    assert trial.calls == [
        ("categorical", "model.cell", ["lstm", "gru"]),
        ("int", "model.layers", 1, 3, 1, False),
        ("float", "train.clipnorm", 0.5, 2.0, 0.5, False),
        ("float", "train.learning_rate", 1e-3, 1e-2, None, True),
    ]


def test_the_fingerprint_changes_with_the_space_and_with_the_base(tmp_path):
    one = load_space(write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }'))
    same = load_space(write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }'))
    other_space = load_space(write_space(tmp_path, '"model.hidden_units" = { choices = [8, 32] }'))
    other_base = load_space(tmp_path / "space.toml", ["train.steps=21"])
    assert one.fingerprint() == same.fingerprint()
    assert other_space.fingerprint() != one.fingerprint()
    assert other_base.fingerprint() != other_space.fingerprint()


BAD_SPACES = [
    # (space lines, tune lines, what the one-line error says)
    ('"train.nope" = { low = 1, high = 2 }', "", '[space] "train.nope"'),
    ('"nosection" = { low = 1, high = 2 }', "", "not a config key"),
    ('"optim.lr" = { low = 1, high = 2 }', "", "not a config key"),
    ('"train.learning_rate" = 0.1', "", "expected { low = ..., high = ... }"),
    ('"train.learning_rate" = { low = 0.1 }', "", "needs low and high"),
    ('"train.learning_rate" = { low = 0.1, high = 0.2, spread = 1 }', "", "unknown field spread"),
    ('"train.learning_rate" = { low = 0.2, high = 0.1 }', "", "low 0.2 is above high 0.1"),
    ('"train.learning_rate" = { low = 0.0, high = 0.1, log = true }', "", "needs low above 0"),
    ('"train.learning_rate" = { low = -1.0, high = 0.1 }', "", "train.learning_rate = -1.0"),
    ('"train.learning_rate" = { low = 0.1, high = 0.2, log = 1 }', "", "log = 1"),
    ('"train.learning_rate" = { low = "a", high = 0.2 }', "", "low = 'a' is not a number"),
    ('"train.learning_rate" = { low = nan, high = 0.2 }', "", "not a finite number"),
    ('"train.clipnorm" = { low = 0.1, high = 0.2, step = 0 }', "", "step 0 must be above 0"),
    (
        '"train.learning_rate" = { low = 0.1, high = 0.2, step = 0.1, log = true }',
        "",
        "cannot be used with log = true",
    ),
    ('"model.hidden_units" = { low = 8.5, high = 16 }', "", "low = 8.5: model.hidden_units takes"),
    ('"model.hidden_units" = { low = 0, high = 16 }', "", "model.hidden_units = 0"),
    ('"model.cell" = { low = 1, high = 2 }', "", "model.cell is not a number"),
    ('"model.cell" = { choices = ["lstm", "tree"] }', "", "model.cell = 'tree'"),
    ('"model.cell" = { choices = [] }', "", "a list of at least one value"),
    ('"model.cell" = { choices = "lstm" }', "", "a list of at least one value"),
    ('"model.cell" = { choices = ["lstm", "lstm"] }', "", "choices repeat a value"),
    ('"model.cell" = { choices = [["lstm"]] }', "", "is not a single value"),
    ('"model.cell" = { choices = ["lstm"], low = 1 }', "", "cannot be mixed with"),
    ('"model.hidden_units" = { choices = [8, true] }', "", "model.hidden_units = True"),
    ('"model.hidden_units" = { choices = [8] }', "[tune]\ntrials = 0", "tune.trials = 0"),
    ('"model.hidden_units" = { choices = [8] }', "[tune]\ntrials = true", "tune.trials = True"),
    ('"model.hidden_units" = { choices = [8] }', "[tune]\npruner = 'wait'", "tune.pruner"),
    ('"model.hidden_units" = { choices = [8] }', "[tune]\ntrails = 3", "unknown key tune.trails"),
    ('"model.hidden_units" = { choices = [8] }', "[tune]\nwarmup = -1", "tune.warmup = -1"),
    ('"model.hidden_units" = { choices = [8] }', "[tune]\nwarmup = 1.5", "tune.warmup = 1.5"),
    ('"model.hidden_units" = { choices = [8] }', "tune = 3", "must be a table like [tune]"),
]


@pytest.mark.parametrize(("space", "tune", "fragment"), BAD_SPACES)
def test_a_bad_space_is_one_config_error_naming_its_key(tmp_path, space, tune, fragment):
    if tune == "tune = 3":  # a top-level key must come before the first table
        path = tmp_path / "space.toml"
        path.write_text(f"tune = 3\n{BASE}\n[space]\n{space}\n", encoding="utf-8")
    else:
        path = write_space(tmp_path, space, tune)
    with pytest.raises(ConfigError) as caught:
        load_space(path)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_a_space_without_a_space_table_says_how_to_write_one(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text(BASE, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"has no \[space\] table"):
        load_space(path)


def test_the_base_config_is_checked_like_any_config(tmp_path):
    path = write_space(
        tmp_path, '"model.hidden_units" = { choices = [8] }', base="[train]\nsteps = -3\n"
    )
    with pytest.raises(ConfigError, match=r"train\.steps = -3 \(in .*space\.toml\)"):
        load_space(path)


def test_the_shipped_space_loads_and_its_base_is_a_good_config():
    shipped = Path(__file__).resolve().parents[2] / "configs" / "tune.toml"
    space = load_space(shipped)
    assert isinstance(space, Space) and space.dimensions
    assert space.pruner == "median"
    assert space.base.train.seed == load_config().train.seed


def test_tune_with_a_bad_space_is_one_line_and_exit_2_before_anything_is_made(
    tmp_path, monkeypatch
):
    from conftest import assert_one_line_error
    from typer.testing import CliRunner

    from rnncls.cli import app

    monkeypatch.chdir(tmp_path)
    path = write_space(tmp_path, '"train.learning_rate" = { low = 0.2, high = 0.1 }')
    result = CliRunner().invoke(app, ["tune", str(path)])
    assert_one_line_error(
        result, 2, f'[space] "train.learning_rate" in {path}: low 0.2 is above high 0.1'
    )
    assert not (tmp_path / "runs").exists()
    assert_one_line_error(CliRunner().invoke(app, ["tune", "missing.toml"]), 2, "not found")


# Whole messages, so that each part (the key, the file, the reason) is checked.
EXACT_MESSAGES = [
    (
        '"train.learning_rate" = { low = -1.0, high = 0.1 }',
        "",
        "train.learning_rate = -1.0 (in [space] of {path}): must be greater than 0",
    ),
    (
        '"model.forget_bias" = { choices = ["unit", "tree"] }',
        "",
        "model.forget_bias = 'tree' (in [space] of {path}): must be one of unit, chrono",
    ),
    (
        '"train.nope" = { low = 1, high = 2 }',
        "",
        '[space] "train.nope" in {path}: not a config key (`rnncls config keys` lists them, '
        "written section.key)",
    ),
    (
        '"model.cell" = { choices = ["lstm"], low = 1 }',
        "",
        '[space] "model.cell" in {path}: choices cannot be mixed with choices, low',
    ),
    (
        '"train.learning_rate" = { high = 0.1 }',
        "",
        '[space] "train.learning_rate" in {path}: needs low and high (a range has low, high, '
        "log, step; or choices)",
    ),
    (
        '"train.learning_rate" = { low = 0.1, high = "x" }',
        "",
        "[space] \"train.learning_rate\" in {path}: high = 'x' is not a number",
    ),
    (
        '"train.clipnorm" = { low = 0.1, high = 0.2, step = "x" }',
        "",
        "[space] \"train.clipnorm\" in {path}: step = 'x' is not a number",
    ),
    (
        '"train.learning_rate" = { low = 0.1, high = 0.2, step = 0.1, log = true }',
        "",
        '[space] "train.learning_rate" in {path}: step 0.1 cannot be used with log = true',
    ),
    (
        '"model.layers" = { choices = [1] }',
        "[tune]\ntrials = 0",
        "tune.trials = 0 (in {path}): expected a whole number of at least 1",
    ),
    (
        '"model.layers" = { choices = [1] }',
        "[tune]\npruner = 'wait'",
        "tune.pruner = 'wait' (in {path}): expected one of median, hyperband, none",
    ),
    (
        '"model.layers" = { choices = [1] }',
        "[tune]\ntrails = 3",
        "unknown key tune.trails in {path} (known: trials, pruner, warmup)",
    ),
]


@pytest.mark.parametrize(("space", "tune", "message"), EXACT_MESSAGES)
def test_the_whole_error_message(tmp_path, space, tune, message):
    path = write_space(tmp_path, space, tune)
    with pytest.raises(ConfigError) as caught:
        load_space(path)
    assert str(caught.value) == message.format(path=path)


def test_a_space_that_is_not_a_table_is_refused(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(f"space = 3\n{BASE}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"has no \[space\] table"):
        load_space(path)


def test_the_limits_themselves_are_allowed(tmp_path):
    """A range of one value (low = high), and a search of one trial."""
    path = write_space(tmp_path, '"model.layers" = { low = 2, high = 2 }', "[tune]\ntrials = 1\n")
    space = load_space(path)
    assert space.dimensions == (Dimension("model.layers", "int", low=2, high=2),)
    assert space.trials == 1


def test_a_space_keeps_the_set_values_that_changed_its_base(tmp_path):
    """tune's suggestion after Ctrl-C repeats them (a study refuses a changed base)."""
    from rnncls.space import load_space

    path = tmp_path / "s.toml"
    path.write_text('[space]\n"train.learning_rate" = { low = 0.001, high = 0.01 }\n')
    assert load_space(path, ["train.steps=20"]).overrides == ("train.steps=20",)
    assert load_space(path).overrides == ()


def test_a_bad_value_in_a_layered_config_names_that_file(tmp_path):
    path = write_space(tmp_path, '"model.hidden_units" = { choices = [8, 16] }')
    layer = tmp_path / "layer.toml"
    layer.write_text("[train]\nseed = 'x'\n")
    with pytest.raises(ConfigError, match=rf"train.seed = 'x' \(in {layer}\): expected an integer"):
        load_space(path, [], [layer])
