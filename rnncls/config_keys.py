"""Every config key, declared once: its section, name, type (a Literal's values), default,
check and help text, as frozen dataclasses one to one with the TOML sections.

``default.toml``, ``rnncls config keys``, ``config show`` and the checks of every value
read these declarations (:mod:`rnncls.config` loads and validates configs with them).
Standard library only, so every command can load and validate a config cheaply.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from rnncls import cells as cell_modules
from rnncls.keyspec import LARGEST_INT, LARGEST_SEED  # noqa: F401 - for the checks below
from rnncls.keyspec import at_least as _at_least
from rnncls.keyspec import fraction as _fraction
from rnncls.keyspec import not_negative as _not_negative
from rnncls.keyspec import positive as _positive
from rnncls.keyspec import spec as _spec
from rnncls.keyspec import up_to_one as _up_to_one


def _not_one(value: Any) -> str | None:
    return None if value == 0 or value >= 2 else "must be 0 (the data set's) or at least 2"


# The values a key of a Literal type takes; the annotation is the one declaration. The
# cells are each a module of rnncls.cells: their names come from there.
Cell = Literal[tuple(cell_modules.CELLS)]  # type: ignore[valid-type]


Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]


Schedule = Literal["constant", "cosine", "exponential", "step"]


Order = Literal["rows", "columns", "pixels"]


FastPath = Literal["auto", "off"]


Distribute = Literal["none", "mirrored", "multi_worker"]


CELLS: tuple[str, ...] = get_args(Cell)


OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)


SCHEDULES: tuple[str, ...] = get_args(Schedule)


ORDERS: tuple[str, ...] = get_args(Order)


Clip = Literal["variable", "global"]


ForgetBias = Literal["unit", "chrono"]


Preparation = Literal["auto", "digits", "plain"]


PREPARATIONS: tuple[str, ...] = get_args(Preparation)


Kind = Literal["auto", "pictures", "series"]


KINDS: tuple[str, ...] = get_args(Kind)


# The longest series a data set may hold unless data.max_steps says otherwise: a longer
# one is more likely a file read wrongly (a whole recording on one line) than a series to
# train a recurrent network on step by step.
MAX_STEPS = 100_000


def parse_image_size(text: str) -> tuple[int, int]:
    """``"32x24"`` (width x height) or ``"32"`` (square) as (height, width)."""
    width, sep, height = text.lower().partition("x")
    if not sep:
        height = width
    if not (width.strip().isdigit() and height.strip().isdigit()):
        raise ValueError(f"{text!r} is not WIDTHxHEIGHT")
    return int(height), int(width)


def _image_size(value: Any) -> str | None:
    if value == "":
        return None
    try:
        height, width = parse_image_size(value)
    except ValueError:
        return 'must be "" (the most common size) or WIDTHxHEIGHT, like "32x32"'
    if not (1 <= height <= 4096 and 1 <= width <= 4096):
        return "must be from 1x1 to 4096x4096 pixels"
    return None


def _channels(value: Any) -> str | None:
    return None if value in (0, 1, 3) else "must be 0 (from the pictures), 1 (grey) or 3 (colour)"


def _label(value: Any) -> str | None:
    return None if value.strip() else "must name a column (not empty)"


@dataclass(frozen=True)
class DataConfig:
    dir: str = _spec(
        "",
        help="The data set: a folder with the MNIST files, an .npz file, a folder of "
        "pictures with a subfolder a class, or series (NAME_TRAIN.ts / .tsv / .csv files); "
        '"" searches the usual places.',
    )
    validation_size: int = _spec(
        0,
        _at_least(0),
        help="Pictures held out of the training split for the periodic evaluation (0: a "
        "tenth of it, at most 5000; MNIST's files: their last ones).",
    )
    test_size: int = _spec(
        0,
        _at_least(0),
        help="Pictures carved out for the test split where the data set has none (0: a "
        "fifth, at most 10000).",
    )
    image_size: str = _spec(
        "",
        _image_size,
        help='Size every picture of a folder is resized to, WIDTHxHEIGHT like "32x32" ("": '
        "the most common size).",
    )
    channels: int = _spec(
        0,
        _channels,
        help="Channels of a folder's pictures: 1 grey, 3 colour (0: colour if any picture is).",
    )
    preparation: Preparation = _spec(
        "auto",
        help="How predict and serve prepare a picture file: digits (as MNIST's were made: "
        "light on dark, boxed, centred), plain (resized), auto (digits for MNIST itself).",
    )
    kind: Kind = _spec(
        "auto",
        help="What an .npz file's x arrays hold: auto (pictures (n, h, w) or (n, h, w, c), "
        "series (n, steps)), pictures, or series ((n, steps) or (n, steps, channels)).",
    )
    label: str = _spec(
        "label",
        _label,
        help="The column of a CSV file that holds the class labels; the other columns are "
        "a series' values, in order.",
    )
    max_steps: int = _spec(
        MAX_STEPS,
        _at_least(1),
        help="The longest series a data set may hold (a longer one is an error that names "
        "it); raise it for longer series.",
    )


@dataclass(frozen=True)
class SequenceConfig:
    order: Order = _spec(
        "rows",
        help="How a picture becomes a sequence: rows (a step a row: 28 steps of 28 pixels for "
        "MNIST, the seed's), columns, or pixels (the row-major stream of its pixels, "
        "pixels_per_step at a time).",
    )
    pixels_per_step: int = _spec(
        1,
        _at_least(1),
        help="Pixels a step for the pixels order (each with its channels): 1 is sequential "
        "MNIST (784 steps); must divide the pixels of a picture.",
    )
    permute: bool = _spec(
        False, help="Read the pixel stream in one fixed random order: permuted sequential MNIST."
    )
    permutation_seed: int = _spec(
        0,
        _at_least(0, LARGEST_SEED),
        help="Seeds that order alone: runs with the same permutation_seed read the pixels alike.",
    )
    samples_per_step: int = _spec(
        1,
        _at_least(1),
        help="Series: samples read in one step, each with its channels (1: a step a sample; "
        "4 reads a series of 100 in 25 steps).",
    )


@dataclass(frozen=True)
class ModelConfig:
    cell: Cell = _spec(
        "lstm",
        help="The recurrent cell, a module of rnncls/cells each (listed by `rnncls config "
        "keys`): lstm (the seed's), gru and simple_rnn from Keras, and cells made for long "
        "sequences. A cell's own options are the section named after it.",
    )
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
        0,
        _not_one,
        help="Output classes (logits of the dense layer): 0 takes the data set's; another "
        "value must equal it.",
    )
    forget_bias: ForgetBias = _spec(
        "unit",
        help="The LSTM's initial gate biases: unit (forget gate 1, others 0, Keras's) or "
        "chrono (forget log(U[1, T - 1]), input its negative, T the sequence's steps; "
        "Tallec & Ollivier 2018): memory over hundreds of steps from the start.",
    )
    conv_layers: int = _spec(
        0,
        _at_least(0, 8),
        help="Convolutional layers over the sequence before the recurrent ones (0: none; "
        "a front end that finds local shapes, for series).",
    )
    conv_filters: int = _spec(
        64, _at_least(1), help="Filters of each convolutional layer (typical: 32 to 128)."
    )
    conv_kernel: int = _spec(
        5, _at_least(1, 1024), help="Steps each convolution spans (typical: 3 to 9)."
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
    clip: Clip = _spec(
        "variable",
        help="What clipnorm bounds: variable (each variable's gradient by its own norm, "
        "Keras's clipnorm) or global (all gradients by their joint norm, Keras's "
        "global_clipnorm, PyTorch's clip_grad_norm_).",
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


# The sections of every run, then each cell's own options ([lem], [cornn], ...): a section
# a cell, named after it, whatever the run's model.cell (a search may draw any cell).
SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "sequence": SequenceConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "augment": AugmentConfig,
    **{name: cell.options for name, cell in cell_modules.CELLS.items() if cell.options},
}
# Config: one frozen field a section (config.model, config.lem, ...).
Config = dataclasses.make_dataclass(
    "Config",
    [(name, cls, field(default_factory=cls)) for name, cls in SECTIONS.items()],
    frozen=True,
)
Config.__module__ = __name__
Config.__doc__ = "A whole config: a frozen dataclass a section (SECTIONS), one to one with TOML."
CELL_SECTIONS: tuple[str, ...] = tuple(
    name for name, cell in cell_modules.CELLS.items() if cell.options is not None
)


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
