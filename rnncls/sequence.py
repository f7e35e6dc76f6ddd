"""How a picture becomes the sequence a recurrent network reads (``[sequence]``).

A picture of H x W pixels with C channels:

- ``rows``: H steps of W*C values, top to bottom (the seed's reading: 28 steps of 28
  pixels for MNIST, and every run's before this section existed);
- ``columns``: W steps of H*C values, left to right;
- ``pixels``: the row-major stream of the H*W pixels, ``pixels_per_step`` at a time,
  each pixel with its C channels: 784 steps of one pixel is sequential MNIST; with
  ``permute`` the stream is first put in one fixed random order, drawn from
  ``permutation_seed`` alone (permuted sequential MNIST: one order for the whole data
  set, for training, evaluation and prediction).

Every reading is one gather: :func:`reading_indices` says which value of the picture
(its index in the row-major (H, W, C) array) each (step, feature) of the sequence takes.
The model applies it as its first layer (:mod:`rnncls.model`), so every export and every
command reads pictures the same way.

A series of T samples of F channels (a shape of two dimensions, (T, F)) is read in time
order, ``samples_per_step`` samples a step: ceil(T / k) steps of k*F values, its end
padded. The pixel settings do not apply to series, nor the sample setting to pictures.

numpy only, no TensorFlow: the drawing page and the tests use the same indices.
"""

from __future__ import annotations

import numpy as np

from rnncls.config_keys import ModelConfig, SequenceConfig
from rnncls.datasets.idx import MNIST
from rnncls.errors import ConfigError

Shape = tuple[int, ...]  # a picture's (height, width, channels), a series' (steps, channels)


def is_series(shape: Shape) -> bool:
    return len(shape) == 2


# Constants of splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
# generators", OOPSLA 2014), the mixing function of Java's SplittableRandom.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
# The longest sequence that ``model.unroll`` unrolls into a static graph: the seed's
# rows of MNIST (28), which unrolled train faster on the CPU than a loop; a graph of
# hundreds of copies of the cell takes minutes to build, so longer sequences always run
# as a loop.
UNROLL_STEPS = MNIST.height


def sequence_shape(sequence: SequenceConfig, shape: Shape) -> tuple[int, int]:
    """(steps, features a step) of the reading of a picture (or series) of ``shape``."""
    if is_series(shape):
        steps, channels = shape
        per_step = sequence.samples_per_step
        return -(-steps // per_step), per_step * channels
    height, width, channels = shape
    if sequence.order == "pixels":
        return height * width // sequence.pixels_per_step, sequence.pixels_per_step * channels
    if sequence.order == "columns":
        return width, height * channels
    return height, width * channels


def check_reading(sequence: SequenceConfig, shape: Shape) -> None:
    """A reading that does not fit the pictures is a configuration error naming their
    real sizes."""
    if is_series(shape):
        if sequence.samples_per_step > shape[0]:
            raise ConfigError(
                f"sequence.samples_per_step = {sequence.samples_per_step}: more than the "
                f"{shape[0]} samples of the data set's longest series"
            )
        return
    height, width, _ = shape
    pixels = height * width
    if sequence.order == "pixels" and pixels % sequence.pixels_per_step:
        fits = [k for k in range(1, pixels + 1) if pixels % k == 0]
        raise ConfigError(
            f"sequence.pixels_per_step = {sequence.pixels_per_step}: must divide the "
            f"{pixels} pixels of a {width}x{height} picture "
            f"({', '.join(map(str, fits[:10]))}{', ...' if len(fits) > 10 else ''})"
        )


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's output function on uint64 values (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = values + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        return z ^ (z >> np.uint64(31))


def permutation(seed: int, size: int) -> np.ndarray:
    """A fixed random order of ``size`` positions drawn from ``seed`` alone.

    Written out here rather than taken from ``numpy.random``, whose permutations may
    change between numpy versions: a run's order must be the same on every machine and
    in every later version, or a resumed or re-evaluated psMNIST run would read other
    pixels. Each position gets a 64-bit key, splitmix64 of the seed's key plus the
    position; sorting the keys (ties, which never happen in practice, by position)
    gives the order.
    """
    seed_key = _splitmix64(np.array([seed], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        keys = _splitmix64(seed_key + np.arange(size, dtype=np.uint64))
    return np.argsort(keys, kind="stable").astype(np.int32)


def reading_indices(sequence: SequenceConfig, shape: Shape) -> np.ndarray:
    """The index into a row-major (height, width, channels) picture that each (step,
    feature) of the sequence reads, an int32 array of shape :func:`sequence_shape`."""
    height, width, channels = shape
    grid = np.arange(height * width * channels, dtype=np.int32).reshape(shape)
    if sequence.order == "rows":
        stream = grid
    elif sequence.order == "columns":
        stream = grid.transpose(1, 0, 2)
    elif sequence.order == "pixels":
        stream = grid.reshape(height * width, channels)
        if sequence.permute:
            stream = stream[permutation(sequence.permutation_seed, height * width)]
    else:
        raise ValueError(f"unknown sequence order {sequence.order!r}")
    return np.ascontiguousarray(stream).reshape(sequence_shape(sequence, shape))


def unrolled(model: ModelConfig, sequence: SequenceConfig, shape: Shape, gpu: bool = False) -> bool:
    """Whether the recurrent layers unroll: ``model.unroll`` on a sequence of at most
    UNROLL_STEPS steps, on the CPU (on a GPU, Keras's cuDNN kernels need a loop). A
    series never does: its model reads series of any length."""
    if is_series(shape):
        return False
    return model.unroll and sequence_shape(sequence, shape)[0] <= UNROLL_STEPS and not gpu


def is_identity(sequence: SequenceConfig) -> bool:
    """Whether the sequence is the picture's rows: the model needs no gather, only a
    reshape of each row's values into one step."""
    return sequence.order == "rows"


def read(images: np.ndarray, sequence: SequenceConfig) -> np.ndarray:
    """Pictures (n, height, width, channels) as the sequences (n, steps, features) the
    network reads."""
    images = np.asarray(images)
    shape = images.shape[1:]
    flat = images.reshape(len(images), -1)
    return flat[:, reading_indices(sequence, shape)]


def describe(sequence: SequenceConfig, shape: Shape) -> str:
    """The reading in a few words, for the log: ``784 steps of 1 pixel, permuted``."""
    steps, features = sequence_shape(sequence, shape)
    channels = shape[-1]
    each = "" if channels == 1 else f" of {channels} channels"
    if is_series(shape):
        count = sequence.samples_per_step
        return f"{steps} steps of {count} sample{'' if count == 1 else 's'}{each}"
    if sequence.order == "pixels":
        count = sequence.pixels_per_step
        unit = "pixel" if count == 1 else "pixels"
        permuted = f", permuted (seed {sequence.permutation_seed})" if sequence.permute else ""
        return f"{steps} steps of {count} {unit}{each}{permuted}"
    return f"{steps} {sequence.order} of {features // channels} pixels{each}"
