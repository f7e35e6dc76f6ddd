from __future__ import annotations

import dataclasses
import filecmp
import tomllib
from pathlib import Path
from typing import Literal

import pytest

from rnncls import config as config_module
from rnncls.config import (
    default_config_path,
    load_config,
    parse_override,
    resumed_config,
    to_toml,
    unused_settings,
    with_values,
)
from rnncls.config_keys import SECTIONS, Config
from rnncls.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_packaged_default_is_the_repository_default():
    assert filecmp.cmp(default_config_path(), REPO / "configs" / "default.toml", shallow=False)


def test_default_config_is_the_seed_experiment():
    config = load_config()
    assert config == Config()  # the file and the dataclass defaults agree
    assert config.model.hidden_units == 64
    assert config.train.learning_rate == 0.01
    assert config.train.batch_size == 64
    assert config.train.steps == 1200
    assert config.train.eval_every == 50


def test_every_default_key_has_a_comment():
    lines = default_config_path().read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"no comment above {line!r}"


def test_precedence_defaults_file_set_flags(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = 10\nbatch_size = 8\nseed = 3\n")
    config = load_config(
        path,
        ["train.batch_size=16", "train.seed=4"],
        {"train.seed": 5, "train.learning_rate": None},
    )
    assert config.train.steps == 10  # file
    assert config.train.batch_size == 16  # --set over the file
    assert config.train.seed == 5  # flag over --set
    assert config.train.learning_rate == 0.01  # flag not given: default


def test_integer_accepted_where_a_float_belongs():
    config = load_config(overrides=["train.learning_rate=1"])
    assert config.train.learning_rate == 1.0
    assert isinstance(config.train.learning_rate, float)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.steps=500", ("train", "steps", 500)),
        ("train.learning_rate=1e-3", ("train", "learning_rate", 0.001)),
        ("model.unroll=false", ("model", "unroll", False)),
        ('data.dir="/tmp/x"', ("data", "dir", "/tmp/x")),
        ("data.dir=/tmp/x", ("data", "dir", "/tmp/x")),
        (" train.steps = 7 ", ("train", "steps", 7)),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("train.steps=0", "train.steps = 0"),
        ("train.steps=-3", "must be at least 1"),
        ("train.steps=1.5", "expected an integer"),
        ("train.steps=true", "expected an integer"),
        ('train.steps="10"', "expected an integer"),
        ("train.batch_size=0", "train.batch_size"),
        ("train.learning_rate=0", "must be greater than 0"),
        ("train.learning_rate=nan", "finite"),
        ("train.learning_rate=inf", "finite"),
        ("model.hidden_units=0", "model.hidden_units"),
        ("model.unroll=1", "expected true or false"),
        ("train.stepz=10", "unknown key train.stepz"),
        ("trian.steps=10", "unknown section [trian]"),
        ("train.steps", "expected SECTION.KEY=VALUE"),
        ("steps=10", "expected SECTION.KEY=VALUE"),
    ],
)
def test_bad_override_names_key_and_source(override, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=[override])
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_bad_file_value_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nbatch_size = -1\n")
    with pytest.raises(ConfigError, match=r"train.batch_size = -1 \(in .*bad.toml\)"):
        load_config(path)


def test_malformed_and_missing_files(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\nsteps = 1\n")
    with pytest.raises(ConfigError, match="malformed TOML in .*broken.toml"):
        load_config(broken)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")


def test_to_toml_round_trips_with_comments(tmp_path):
    config = load_config(overrides=["train.steps=33", "data.dir=/x y"])
    text = to_toml(config)
    assert "# Optimizer steps" in text
    path = tmp_path / "again.toml"
    path.write_text(text)
    assert load_config(path) == config
    assert tomllib.loads(text)["train"]["steps"] == 33


def test_with_values_validates():
    config = with_values(Config(), train={"steps": 2000})
    assert config.train.steps == 2000
    with pytest.raises(ConfigError):
        with_values(Config(), train={"steps": 0})


# One bad value for every key, and what its one-line error says. A new key fails
# test_every_key_has_a_bad_value_case until it has a row here.
BAD_VALUES = {
    "data.dir": ("3", "expected a string"),
    "data.validation_size": ("-1", "must be at least 0"),
    "data.test_size": ("-1", "must be at least 0"),
    "data.image_size": ('"32 by 32"', 'must be "" (the most common size) or WIDTHxHEIGHT'),
    "data.channels": ("2", "must be 0 (from the pictures), 1 (grey) or 3 (colour)"),
    "data.preparation": ('"mnist"', "must be one of auto, digits, plain"),
    "data.kind": ('"sounds"', "must be one of auto, pictures, series"),
    "data.label": ('" "', "must name a column (not empty)"),
    "data.max_steps": ("0", "must be at least 1"),
    "sequence.order": ('"diagonal"', "must be one of rows, columns, pixels"),
    "sequence.pixels_per_step": ("0", "must be at least 1"),
    "sequence.samples_per_step": ("0", "must be at least 1"),
    "sequence.permute": ("1", "expected true or false"),
    "sequence.permutation_seed": ("-3", "must be at least 0"),
    "model.cell": ('"lstmm"', "must be one of lstm, gru, simple_rnn"),
    "model.hidden_units": ("0", "must be at least 1"),
    "model.layers": ("0", "must be at least 1"),
    "model.bidirectional": ('"yes"', "expected true or false"),
    "model.dropout": ("1.0", "must be at least 0 and below 1"),
    "model.num_classes": ("1", "must be 0 (the data set's) or at least 2"),
    "model.forget_bias": ('"zero"', "must be one of unit, chrono"),
    "model.conv_layers": ("9", "must be at most 8"),
    "model.conv_filters": ("0", "must be at least 1"),
    "model.conv_kernel": ("0", "must be at least 1"),
    "model.unroll": ("1", "expected true or false"),
    "train.clip": ('"each"', "must be one of variable, global"),
    "train.steps": ("0", "must be at least 1"),
    "train.epochs": ("-1", "must be at least 0"),
    "train.batch_size": ("0", "must be at least 1"),
    "train.optimizer": ('"adagrad"', "must be one of adam, adamw, sgd, rmsprop"),
    "train.learning_rate": ("-0.1", "must be greater than 0"),
    "train.momentum": ("1.5", "must be at least 0 and below 1"),
    "train.weight_decay": ("-1e-4", "must be at least 0"),
    "train.clipnorm": ("-1", "must be at least 0"),
    "train.schedule": ('"linear"', "must be one of constant, cosine, exponential, step"),
    "train.warmup_steps": ("-5", "must be at least 0"),
    "train.decay_rate": ("1.5", "must be above 0 and at most 1"),
    "train.seed": ("-1", "must be at least 0"),
    "train.eval_every": ("0", "must be at least 1"),
    "train.patience": ("-2", "must be at least 0"),
    "train.tensorboard": ('"on"', "expected true or false"),
    "train.fast_path": ('"on"', "must be one of auto, off"),
    "train.distribute": ('"horovod"', "must be one of none, mirrored, multi_worker"),
    "augment.shift": ("-1", "must be at least 0"),
    "augment.rotation": ("181", "must be at most 180"),
    "augment.zoom": ("1", "must be at least 0 and below 1"),
}


def test_every_key_has_a_bad_value_case():
    """A cell's own options have theirs in the cell's test file (tests/cells/)."""
    from rnncls.config_keys import CELL_SECTIONS, keys

    expected = [f"{s}.{k}" for s, k in keys() if s not in CELL_SECTIONS]
    assert sorted(BAD_VALUES) == sorted(expected)


@pytest.mark.parametrize(("key", "case"), BAD_VALUES.items(), ids=list(BAD_VALUES))
def test_a_bad_value_of_each_key_is_one_line_naming_it_exit_2(key, case):
    from conftest import assert_one_line_error
    from typer.testing import CliRunner

    from rnncls.cli import app

    value, problem = case
    result = CliRunner().invoke(app, ["config", "show", "--set", f"{key}={value}"])
    line = assert_one_line_error(result, 2, f"{key} = ")
    assert problem in line
    assert f"(in --set {key}={value})" in line


def test_every_key_is_shown_by_config_show_with_its_comment():
    """Every key of the run's sections; of the cells' sections, the run's cell's alone
    (and any other cell's whose options were changed)."""
    from rnncls.config_keys import CELL_SECTIONS, keys

    text = to_toml(load_config())
    parsed = tomllib.loads(text)
    for section, key in keys():
        if section not in CELL_SECTIONS:
            assert key in parsed[section], f"{section}.{key}"
    assert not set(parsed) & set(CELL_SECTIONS)  # an LSTM run (tests/unit/test_cells.py: others)
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if " = " in line:
            assert lines[number - 1].startswith("# "), f"no comment above {line!r}"


def test_a_config_of_the_first_release_still_loads_with_its_meaning(tmp_path):
    """Run directories written before the new keys existed hold this config.toml."""
    old = tmp_path / "config.toml"
    old.write_text(
        '[data]\ndir = ""\nvalidation_size = 5000\n\n'
        "[model]\nhidden_units = 64\nnum_classes = 10\nunroll = true\n\n"
        "[train]\nsteps = 1200\nbatch_size = 64\nlearning_rate = 0.01\nseed = 1\n"
        "eval_every = 50\n"
    )
    # the keys it wrote keep their values, which mean on MNIST what the new defaults do:
    # the last 5,000 training images for validation, the 10 digits as classes
    assert load_config(old) == with_values(
        Config(), data={"validation_size": 5000}, model={"num_classes": 10}
    )


@pytest.mark.parametrize(
    ("epochs", "images", "batch", "expected"),
    [(0, 55000, 64, 1200), (1, 55000, 64, 859), (3, 55000, 128, 1287), (2, 10, 64, 2)],
)
def test_epochs_set_the_steps_when_above_zero(epochs, images, batch, expected):
    from rnncls.config import total_steps
    from rnncls.config_keys import TrainConfig

    train = TrainConfig(steps=1200, epochs=epochs, batch_size=batch)
    assert total_steps(train, images) == expected


def test_every_shipped_config_loads():
    shipped = sorted(path.name for path in (REPO / "configs").glob("*.toml"))
    assert {"default.toml", "fast.toml", "best.toml", "psmnist.toml", "smnist.toml"} <= set(shipped)
    for name in shipped:
        if name == "tune.toml":  # a search space, checked by the space tests
            continue
        assert isinstance(load_config(REPO / "configs" / name), Config), name
    pixels = load_config(REPO / "configs" / "psmnist.toml").sequence
    assert (pixels.order, pixels.pixels_per_step, pixels.permute) == ("pixels", 1, True)


# ---------------------------------------------------------------------- messages, exactly


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("train.steps=0", "must be at least 1"),
        ("train.steps=2147483648", "must be at most 2147483647"),
        ("train.seed=4294967296", "must be at most 4294967295"),
        ("train.learning_rate=0", "must be greater than 0"),
        ("train.learning_rate=-0.5", "must be greater than 0"),
        ("train.learning_rate=nan", "must be a finite number"),
        ("train.steps=1.5", "expected an integer, got a number"),
        ("train.steps=[1]", "expected an integer, got a list"),
        ('train.steps="10"', "expected an integer, got a string"),
        ("train.steps=true", "expected an integer, got a boolean"),
        ("train.learning_rate=false", "expected a number, got a boolean"),
        ('train.learning_rate="fast"', "expected a number, got a string"),
        ("model.unroll=1", "expected true or false, got an integer"),
        ("model.unroll=0.5", "expected true or false, got a number"),
        ("data.dir=5", "expected a string, got an integer"),
        ("data.dir=true", "expected a string, got a boolean"),
        ("data.dir={a = 1}", "expected a string, got a dict"),
    ],
)
def test_a_bad_value_is_named_with_its_source_and_problem(override: str, problem: str) -> None:
    dotted, raw = override.split("=", 1)
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=[override])
    shown = repr(tomllib.loads(f"v = {raw}")["v"])
    assert str(caught.value) == f"{dotted} = {shown} (in --set {override}): {problem}"


@pytest.mark.parametrize(
    "override", ["train.steps=1", "train.steps=2147483647", "train.seed=0", "train.seed=4294967295"]
)
def test_the_limits_themselves_are_allowed(override: str) -> None:
    dotted, raw = override.split("=")
    section, key = dotted.split(".")
    assert getattr(getattr(load_config(overrides=[override]), section), key) == int(raw)


def test_a_long_value_is_cut_in_the_message() -> None:
    for length, shown in ((58, "'" + "a" * 58 + "'"), (59, "'" + "a" * 56 + "...")):
        text = "a" * length
        with pytest.raises(ConfigError) as caught:
            load_config(overrides=[f'train.steps="{text}"'])
        assert str(caught.value).startswith(f"train.steps = {shown} (in --set ")


def test_a_setting_with_unprintable_characters_is_quoted() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["train.steps=0\t"])
    assert str(caught.value) == "train.steps = 0 (in --set 'train.steps=0\\t'): must be at least 1"


def test_flags_are_named_as_the_command_line_spells_them() -> None:
    """The spellings are the CLI's (rnncls/cli/options.py); config.py names the key."""
    from rnncls.cli.options import FLAG_SPELLINGS

    for flags, name in (({"train.batch_size": 0}, "--batch-size"), ({"train.seed": -1}, "--seed")):
        with pytest.raises(ConfigError, match=f"\\(in {name}\\): must be at least"):
            load_config(flags=flags, spellings=FLAG_SPELLINGS)
    with pytest.raises(ConfigError, match=r"\(in --lr\): must be greater than 0$"):
        load_config(flags={"train.learning_rate": 0.0}, spellings=FLAG_SPELLINGS)
    with pytest.raises(ConfigError, match=r"\(in train.seed\): must be at least"):
        load_config(flags={"train.seed": -1})  # no spelling given: the key itself


def test_with_values_names_the_command_line() -> None:
    with pytest.raises(ConfigError) as caught:
        with_values(Config(), train={"steps": 0})
    assert str(caught.value) == "train.steps = 0 (in the command line): must be at least 1"


def test_unknown_sections_and_keys_list_the_known_ones(tmp_path: Path) -> None:
    known_sections = ", ".join(SECTIONS)
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["trian.steps=1"])
    assert str(caught.value) == (
        f"unknown section [trian] in --set trian.steps=1; did you mean train? "
        f"(known: {known_sections})"
    )
    known_keys = ", ".join(sorted(f.name for f in dataclasses.fields(SECTIONS["train"])))
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["train.stepz=1"])
    assert str(caught.value) == (
        f"unknown key train.stepz in --set train.stepz=1; did you mean train.steps? "
        f"(known in [train]: {known_keys})"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["train.zzz=1"])  # too far from any key for a guess
    assert str(caught.value) == (
        f"unknown key train.zzz in --set train.zzz=1 (known in [train]: {known_keys})"
    )


@pytest.mark.parametrize(
    ("section", "shown"),
    [
        ('"a b"', '"a b"'),
        ('""', '""'),
        ('"é"', '"\\u00e9"'),
        ('"a.b"', '"a.b"'),
        ("a-b_C9", "a-b_C9"),
    ],
)
def test_strange_section_names_are_shown_as_toml_writes_them(tmp_path, section, shown) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[{section}]\nx = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"unknown section [{shown}] in {path} (known: ")


def test_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("train = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"train in {path} must be a table like [train]"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe[train]", "cannot read config file {path}: 'utf-8' codec can't decode"),
        (b"[train]\nsteps = " + b"[" * 2000, "malformed TOML in {path}: values nested too deeply"),
        (b"[train\n", "malformed TOML in {path}: "),
    ],
)
def test_unreadable_config_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(message.format(path=path))
    with pytest.raises(ConfigError, match=f"^config file is a directory: {tmp_path}$"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('data.dir="a=b"', ("data", "dir", "a=b")),
        ("a.b.c=1", ("a", "b.c", 1)),
    ],
)
def test_parse_override_splits_at_the_first_separators(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", [".steps=1", "train.=1", "=1", "train=1", "train.steps"])
def test_parse_override_needs_section_and_key(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_override(text)
    assert str(caught.value).startswith(f"--set {text!r}: expected SECTION.KEY=VALUE")


def test_to_toml_keeps_values_with_equals_signs(tmp_path: Path) -> None:
    config = load_config(overrides=['data.dir="/data/a=b c"'])
    path = tmp_path / "again.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config


def test_the_default_files_are_written_from_the_key_declarations() -> None:
    """configs/default.toml, its packaged copy, `config keys` and `config show` all say
    what each key's one declaration says; `python -m rnncls.config` rewrites the files."""
    from rnncls.config import default_toml
    from rnncls.config_keys import describe_keys

    assert default_config_path().read_text(encoding="utf-8") == default_toml()
    text = default_toml()
    assert (
        "# Read the pixel stream in one fixed random order: permuted sequential MNIST.\n"
        "permute = false\n" in text
    )
    info = {key.name: key for key in describe_keys()}
    assert info["model.cell"].type.startswith("lstm | gru | simple_rnn")  # then ours
    assert info["train.seed"].type == "int" and info["model.dropout"].type == "float"
    assert info["sequence.permute"].comment.startswith("Read the pixel stream")
    shown = to_toml(Config()).splitlines()
    assert shown[shown.index("permute = false") - 1] == "# " + info["sequence.permute"].comment


def test_every_annotation_form_is_checked_by_its_type(monkeypatch) -> None:
    """Literal values and optional keys are checked from the annotation itself."""
    from rnncls.config_keys import key_type

    assert key_type("model", "forget_bias") == (str, ("unit", "chrono"))
    assert key_type("train", "steps") == (int, ())

    @dataclasses.dataclass(frozen=True)
    class Optional:
        limit: int | None = None
        mode: Literal["a", "b"] = "a"

    monkeypatch.setitem(config_module.SECTIONS, "extra", Optional)
    assert key_type("extra", "limit") == (int, ())
    assert key_type("extra", "mode") == (str, ("a", "b"))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("model.dropout=1.0", "must be at least 0 and below 1"),
        ("train.weight_decay=-0.5", "must be at least 0"),
        ("train.decay_rate=0.0", "must be above 0 and at most 1"),
    ],
)
def test_the_range_checks_say_their_range(setting, message):
    with pytest.raises(ConfigError) as caught:
        load_config(None, [setting])
    assert (
        str(caught.value)
        == f"{setting.split('=')[0]} = {setting.split('=')[1]} (in --set {setting}): {message}"
    )


def test_a_decay_rate_of_one_is_allowed():
    """1 keeps the rate constant; only 0 and above 1 are refused."""
    assert load_config(None, ["train.decay_rate=1.0"]).train.decay_rate == 1.0


@pytest.mark.parametrize(
    ("train", "steps", "expected"),
    [
        ({}, 1200, []),
        ({"optimizer": "sgd", "momentum": 0.9}, 1200, []),
        ({"optimizer": "rmsprop", "momentum": 0.9}, 1200, []),
        (
            {"optimizer": "adamw", "momentum": 0.9},
            1200,
            ["train.momentum = 0.9 is not used: only sgd and rmsprop take it, "
             "and train.optimizer is 'adamw'"],
        ),
        ({"schedule": "exponential", "decay_rate": 0.1}, 1200, []),
        ({"schedule": "step", "decay_rate": 0.1}, 1200, []),
        (
            {"schedule": "cosine", "decay_rate": 0.1},
            1200,
            ["train.decay_rate = 0.1 is not used: only the exponential and step schedules "
             "take it, and train.schedule is 'cosine'"],
        ),
        ({"warmup_steps": 1200}, 1200, []),  # its last step reaches the peak
        (
            {"warmup_steps": 1201, "momentum": 0.5},
            1200,
            ["train.momentum = 0.5 is not used: only sgd and rmsprop take it, "
             "and train.optimizer is 'adam'",
             "train.warmup_steps = 1201 is more than the run's 1200 steps: the learning "
             "rate never reaches train.learning_rate"],
        ),
    ],
)  # fmt: skip
def test_settings_a_run_would_not_use_are_named(train, steps, expected) -> None:
    config = with_values(Config(), train=train)
    assert unused_settings(config.train, steps) == expected


# ---------------------------------------------------------------------- length and resume


@pytest.mark.parametrize(
    ("file_text", "overrides", "flags", "length"),
    [
        ("[train]\nepochs = 10\n", ["train.steps=500"], {}, (500, 0)),
        ("[train]\nepochs = 10\n", [], {"train.steps": 500}, (500, 0)),
        ("[train]\nsteps = 700\n", ["train.epochs=2"], {}, (700, 2)),
        ("[train]\nepochs = 10\n", [], {}, (1200, 10)),
        ("[train]\nepochs = 10\n", ["train.epochs=0", "train.steps=9"], {}, (9, 0)),
    ],
    ids=["set-steps", "flag-steps", "set-epochs", "file-only", "both-epochs-0"],
)
def test_a_length_on_the_command_line_replaces_the_files_whichever_spelling(
    tmp_path, file_text, overrides, flags, length
):
    path = tmp_path / "c.toml"
    path.write_text(file_text)
    config = load_config(path, overrides, flags)
    assert (config.train.steps, config.train.epochs) == length


def test_steps_and_epochs_both_on_the_command_line_is_an_error():
    with pytest.raises(ConfigError, match="^train.steps and train.epochs both set the length"):
        load_config(overrides=["train.steps=5", "train.epochs=2"])


def test_a_resumed_run_accepts_its_own_command_line_again(tmp_path):
    from rnncls.config import resumed_config

    path = tmp_path / "fast.toml"
    path.write_text("[model]\nhidden_units = 128\n[train]\nepochs = 10\n")
    saved = load_config(path, ["train.seed=3"])
    assert resumed_config(saved, "x", path, ["train.seed=3"]) == saved
    assert resumed_config(saved, "x", None, ["train.seed=3"]) == saved
    assert resumed_config(saved, "x") == saved
    longer = resumed_config(saved, "x", path, ["train.seed=3"], {"train.steps": 9000})
    assert (longer.train.steps, longer.train.epochs) == (9000, 0)
    assert longer.model == saved.model and longer.train.seed == 3
    # A run lengthened earlier keeps its length when the first line is given again.
    lengthened = resumed_config(saved, "x", None, ["train.epochs=20"])
    assert resumed_config(lengthened, "x", path, ["train.seed=3"]) == lengthened


def test_a_resumed_run_refuses_another_value_naming_the_key_and_both_values(tmp_path):
    from rnncls.config import resumed_config

    saved = load_config(overrides=["train.seed=3"])
    with pytest.raises(ConfigError) as raised:
        resumed_config(saved, "runs/x", None, ["train.seed=4"])
    assert str(raised.value) == (
        "--resume: train.seed is 3 in runs/x's config but 4 on this command line; a "
        "resumed run keeps its config (only --steps or --epochs may change)"
    )


def test_the_pixel_settings_of_a_row_or_column_reading_are_said_to_be_unused():
    from rnncls.config import unused_sequence_settings
    from rnncls.config_keys import SequenceConfig

    assert unused_sequence_settings(SequenceConfig(order="pixels", pixels_per_step=4)) == []
    assert unused_sequence_settings(SequenceConfig(order="columns")) == []
    assert unused_sequence_settings(
        SequenceConfig(order="columns", pixels_per_step=4, permute=True)
    ) == [
        "sequence.pixels_per_step = 4 is not used: only the pixels order takes it, and "
        "sequence.order is 'columns'",
        "sequence.permute = true is not used: only the pixels order permutes the pixel "
        "stream, and sequence.order is 'columns'",
    ]


def test_pixels_per_step_is_checked_against_the_data_set_not_the_config():
    """Any count loads; whether it divides the pictures is the data set's to say
    (tests/unit/test_sequence.py checks the message)."""
    assert load_config(overrides=["sequence.pixels_per_step=784"]).sequence.pixels_per_step == 784
    assert load_config(overrides=["sequence.pixels_per_step=5"]).sequence.pixels_per_step == 5


def test_the_length_error_is_exactly_one_line():
    with pytest.raises(ConfigError) as raised:
        load_config(overrides=["train.steps=5", "train.epochs=2"])
    assert str(raised.value) == (
        "train.steps and train.epochs both set the length of training on the command line; give one"
    )


def test_a_resumed_runs_flags_are_named_as_the_command_line_spells_them():
    from rnncls.config import resumed_config

    saved = load_config()
    with pytest.raises(ConfigError, match=r"\(in --lr\): must be greater than 0$"):
        resumed_config(saved, "x", None, (), {"train.learning_rate": 0.0}, {
            "train.learning_rate": "--lr"
        })  # fmt: skip


def test_a_resumed_runs_config_file_is_named_where_it_has_a_bad_value(tmp_path):
    from rnncls.config import resumed_config

    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = -1\n")
    with pytest.raises(ConfigError, match=rf"^train.steps = -1 \(in {path}\): must be at least 1$"):
        resumed_config(load_config(), "runs/x", path)


def test_a_key_declared_with_an_unsupported_type_is_named(monkeypatch) -> None:
    from rnncls.config_keys import key_type

    @dataclasses.dataclass(frozen=True)
    class Misdeclared:
        either: int | str = 0
        listed: list = dataclasses.field(default_factory=list)

    monkeypatch.setitem(config_module.SECTIONS, "odd", Misdeclared)
    with pytest.raises(TypeError, match=r"^odd.either: one type or one type \| None, not "):
        key_type("odd", "either")
    with pytest.raises(TypeError, match=r"^odd.listed: a config key is a bool, int, float"):
        key_type("odd", "listed")


# ---------------------------------------------------------------------- composed configs


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_config_files_compose_later_ones_winning_then_set_then_flags(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a.toml", "[train]\nseed = 1\nbatch_size = 32\n[model]\ncell = 'gru'\n"
    )
    second = write(tmp_path / "b.toml", "[train]\nseed = 2\nlearning_rate = 0.003\n")
    origins: dict[str, str] = {}
    config = load_config(
        [first, second],
        ["train.batch_size=16"],
        {"train.learning_rate": 0.002, "train.seed": None},
        {"train.learning_rate": "--lr"},
        origins,
    )
    assert (config.train.seed, config.model.cell) == (2, "gru")
    assert (config.train.batch_size, config.train.learning_rate) == (16, 0.002)
    assert origins["train.seed"] == str(second)
    assert origins["model.cell"] == str(first)
    assert origins["train.batch_size"] == "--set train.batch_size=16"
    assert origins["train.learning_rate"] == "--lr"
    assert origins["model.hidden_units"] == "default"
    assert set(origins) == {
        f"{s}.{f.name}" for s, c in SECTIONS.items() for f in dataclasses.fields(c)
    }


def test_a_later_files_steps_replace_an_earlier_files_epochs(tmp_path: Path) -> None:
    epochs = write(tmp_path / "epochs.toml", "[train]\nepochs = 3\n")
    steps = write(tmp_path / "steps.toml", "[train]\nsteps = 500\n")
    origins: dict[str, str] = {}
    config = load_config([epochs, steps], origins=origins)
    assert (config.train.steps, config.train.epochs) == (500, 0)
    assert origins["train.epochs"] == origins["train.steps"] == str(steps)
    # the other way round, the later file's epochs win as they always do
    config = load_config([steps, epochs])
    assert (config.train.steps, config.train.epochs) == (500, 3)
    # and the command line's steps undo any file's epochs
    origins = {}
    config = load_config([epochs], ["train.steps=40"], origins=origins)
    assert (config.train.steps, config.train.epochs, origins["train.epochs"]) == (
        40,
        0,
        "--set train.steps=40",
    )


def test_no_config_file_is_the_defaults_everywhere() -> None:
    origins: dict[str, str] = {}
    assert load_config(None, origins=origins) == Config()
    assert set(origins.values()) == {"default"}


def test_an_error_in_a_composed_file_names_that_file(tmp_path: Path) -> None:
    good = write(tmp_path / "good.toml", "[train]\nseed = 1\n")
    bad = write(tmp_path / "bad.toml", "[train]\nseed = 'x'\n")
    with pytest.raises(ConfigError, match=rf"train.seed = 'x' \(in {bad}\): expected an integer"):
        load_config([good, bad])


def test_to_toml_with_origins_stays_a_valid_config(tmp_path: Path) -> None:
    layer = write(tmp_path / "layer.toml", "[model]\nhidden_units = 32\n")
    origins: dict[str, str] = {}
    config = load_config([layer], ["train.seed=9"], origins=origins)
    text = to_toml(config, origins)
    assert f"hidden_units = 32  # from {layer}\n" in text
    assert "seed = 9  # from --set train.seed=9\n" in text
    assert 'cell = "lstm"  # from default\n' in text
    assert load_config(write(tmp_path / "shown.toml", text)) == config


def test_a_resume_checks_the_composed_files(tmp_path: Path) -> None:
    first = write(tmp_path / "a.toml", "[train]\nseed = 3\n")
    second = write(tmp_path / "b.toml", "[model]\nhidden_units = 32\n")
    saved = load_config([first, second])
    assert resumed_config(saved, "runs/x", [first, second]) == saved
    with pytest.raises(
        ConfigError, match=r"--resume: model.hidden_units is 32 in runs/x's config but 64"
    ):
        resumed_config(saved, "runs/x", [first])


def test_a_file_that_gives_both_lengths_keeps_its_epochs(tmp_path: Path) -> None:
    """Only a file that gives steps alone undoes an earlier file's epochs; the origin of
    epochs set by a file and left alone is that file."""
    first = write(tmp_path / "first.toml", "[train]\nepochs = 3\n")
    both = write(tmp_path / "both.toml", "[train]\nsteps = 500\nepochs = 2\n")
    origins: dict[str, str] = {}
    config = load_config([first, both], origins=origins)
    assert (config.train.steps, config.train.epochs) == (500, 2)
    assert origins["train.epochs"] == origins["train.steps"] == str(both)
    origins = {}
    load_config([first], origins=origins)
    assert (origins["train.epochs"], origins["train.steps"]) == (str(first), "default")


def test_the_sequence_settings_a_series_or_a_picture_run_does_not_use():
    from rnncls.config import unused_sequence_settings
    from rnncls.config_keys import SequenceConfig

    assert unused_sequence_settings(SequenceConfig(), series=True) == []
    assert unused_sequence_settings(SequenceConfig(samples_per_step=4), series=True) == []
    assert unused_sequence_settings(
        SequenceConfig(order="pixels", pixels_per_step=2, permute=True), series=True
    ) == [
        'sequence.order = "pixels" is not used: a series is read in time order',
        "sequence.pixels_per_step = 2 is not used: a series is read in time order",
        "sequence.permute = true is not used: a series is read in time order",
    ]
    # pictures: samples_per_step is said whatever the order
    assert unused_sequence_settings(SequenceConfig(order="pixels", samples_per_step=3)) == [
        "sequence.samples_per_step = 3 is not used: only series take it"
    ]
    assert unused_sequence_settings(SequenceConfig(order="columns", samples_per_step=3)) == [
        "sequence.samples_per_step = 3 is not used: only series take it"
    ]
    assert unused_sequence_settings(SequenceConfig(order="rows", permute=True)) == [
        "sequence.permute = true is not used: only the pixels order permutes the pixel "
        "stream, and sequence.order is 'rows'"
    ]
