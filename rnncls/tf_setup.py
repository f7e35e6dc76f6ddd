"""Importing TensorFlow and Keras the one way this project does it.

Only the commands that train or evaluate with Keras call :func:`import_tensorflow`; every
other path (``--help``, ``show-sample``, ``predict`` with an ONNX model) never does.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from types import ModuleType


def import_tensorflow(threads: int | None = None, inter_op_threads: int = 1) -> ModuleType:
    """Import TensorFlow quietly with Keras on its backend, and set its thread pools.

    ``threads`` (the pool for the work inside one op) defaults to the CPU count;
    ``inter_op_threads`` run independent ops side by side (training asks for its own
    numbers of both, bench/NOTES.md). Only the first call in a process sets them.
    """
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's C++ start-up messages (CUDA probing, CPU features) bypass its log
    # level; they say nothing a user of this tool can act on.
    with quiet_output():
        import absl.logging
        import tensorflow as tf

        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
        tf.config.list_physical_devices()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads or os.cpu_count() or 1)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    except RuntimeError:
        pass  # TensorFlow already ran an op in this process: its pools are fixed now
    return tf


@contextmanager
def quiet_output() -> Iterator[Callable[[], str]]:
    """Send stdout and stderr to a temporary file, at the Python level and at file
    descriptors 1 and 2 (where TensorFlow's C++ logging writes); yield a reader of it."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with (
        tempfile.TemporaryFile(mode="w+") as sink,
        warnings.catch_warnings(),
        redirect_stdout(sink),
        redirect_stderr(sink),
    ):
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)

        def captured() -> str:
            sink.flush()
            sink.seek(0)
            return sink.read()

        try:
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextmanager
def arithmetic_optimization(tf: ModuleType, enabled: bool) -> Iterator[None]:
    """Grappler's arithmetic optimizer on or off for the graphs called inside (TensorFlow
    reads the option at each call of a ``tf.function``); the previous setting after."""
    before = tf.config.optimizer.get_experimental_options().get("arithmetic_optimization", True)
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": enabled})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"arithmetic_optimization": before})
