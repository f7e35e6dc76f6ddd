"""How a 28x28 image becomes the sequence a recurrent network reads (``[sequence]``).

- ``rows``: 28 steps of 28 pixels, top to bottom (the seed's reading, and every run's
  before this section existed);
- ``columns``: 28 steps of 28 pixels, left to right;
- ``pixels``: the row-major stream of the 784 pixels, ``pixels_per_step`` at a time:
  784 steps of one pixel is sequential MNIST; with ``permute`` the stream is first put
  in one fixed random order, drawn from ``permutation_seed`` alone (permuted sequential
  MNIST: one order for the whole data set, for training, evaluation and prediction).

Every reading is one gather: :func:`reading_indices` says which pixel (its row-major
index) each (step, feature) of the sequence takes. The model applies it as its first
layer (:mod:`rnncls.model`), so every export and every command reads images the same way.

numpy only, no TensorFlow: the drawing page and the tests use the same indices.
"""

from __future__ import annotations

import numpy as np

from rnncls.config_keys import IMAGE_PIXELS, ModelConfig, SequenceConfig
from rnncls.data import IMAGE_SIZE

# Constants of splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
# generators", OOPSLA 2014), the mixing function of Java's SplittableRandom.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
# The longest sequence that ``model.unroll`` unrolls into a static graph. The seed's 28
# rows unrolled train faster on the CPU than a loop; a graph of hundreds of copies of the
# cell takes minutes to build, so longer sequences always run as a loop.
UNROLL_STEPS = 28


def sequence_shape(sequence: SequenceConfig) -> tuple[int, int]:
    """(steps, features a step) of the reading."""
    if sequence.order == "pixels":
        return IMAGE_PIXELS // sequence.pixels_per_step, sequence.pixels_per_step
    return IMAGE_SIZE, IMAGE_SIZE


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's output function on uint64 values (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = values + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        return z ^ (z >> np.uint64(31))


def permutation(seed: int, size: int = IMAGE_PIXELS) -> np.ndarray:
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


def reading_indices(sequence: SequenceConfig) -> np.ndarray:
    """The row-major pixel index that each (step, feature) of the sequence reads, an
    int32 array of shape :func:`sequence_shape`."""
    grid = np.arange(IMAGE_PIXELS, dtype=np.int32).reshape(IMAGE_SIZE, IMAGE_SIZE)
    if sequence.order == "rows":
        stream = grid
    elif sequence.order == "columns":
        stream = grid.T
    elif sequence.order == "pixels":
        stream = grid.reshape(-1)
        if sequence.permute:
            stream = stream[permutation(sequence.permutation_seed)]
    else:
        raise ValueError(f"unknown sequence order {sequence.order!r}")
    return np.ascontiguousarray(stream).reshape(sequence_shape(sequence))


def unrolled(model: ModelConfig, sequence: SequenceConfig, gpu: bool = False) -> bool:
    """Whether the recurrent layers unroll: ``model.unroll`` on a sequence of at most
    UNROLL_STEPS steps, on the CPU (on a GPU, Keras's cuDNN kernels need a loop)."""
    return model.unroll and sequence_shape(sequence)[0] <= UNROLL_STEPS and not gpu


def is_identity(sequence: SequenceConfig) -> bool:
    """Whether the sequence is the image itself (rows): the model needs no reading layer."""
    return sequence.order == "rows"


def read(images: np.ndarray, sequence: SequenceConfig) -> np.ndarray:
    """Images (n, 28, 28) as the sequences (n, steps, features) the network reads."""
    flat = np.asarray(images).reshape(len(images), IMAGE_PIXELS)
    return flat[:, reading_indices(sequence)]


def describe(sequence: SequenceConfig) -> str:
    """The reading in a few words, for the log: ``784 steps of 1 pixel, permuted``."""
    steps, features = sequence_shape(sequence)
    if sequence.order == "pixels":
        unit = "pixel" if features == 1 else "pixels"
        permuted = f", permuted (seed {sequence.permutation_seed})" if sequence.permute else ""
        return f"{steps} steps of {features} {unit}{permuted}"
    return f"{steps} {sequence.order} of {features} pixels"
