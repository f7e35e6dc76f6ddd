"""What every cell's test checks, shared by the files of tests/cells/ (one a cell).

- :func:`assert_layer_follows`: the cell's Keras layer, on random weights and inputs,
  against the step equations the test file writes out in numpy from the paper;
- :func:`assert_sequence_pass_follows_keras`: for a cell with a hand-written training
  pass, its last output and gradients against Keras's loop over the cell and autodiff;
- :func:`assert_refused`: a bad value of an option is one line naming it, exit 2;
- :func:`assert_padding_is_invisible`: a sequence padded with masked steps ends as it
  ends alone (variable-length series);
- :func:`assert_trains_resumes_exports_and_serves`: through the command line, a run of
  the cell on tiny pictures read as 49 steps: trained in two halves it ends with the
  weights of a straight run, bit for bit (optimizer and every layer's state included);
  its ONNX model gives Keras's logits; ``rnncls predict`` without TensorFlow gives Keras's
  classes; ``rnncls serve`` answers with ``predict``'s classes and probabilities.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from conftest import TINY_SETTINGS, invoke, make_digits, sets, write_mnist

# The pictures are read 16 pixels a step (49 steps): a loop, as the pixel tasks run.
PIXEL_SETTINGS = ["sequence.order='pixels'", "sequence.pixels_per_step=16"]


def cell_layer(name: str, units: int, steps: int, options: dict[str, Any] | None = None, **kw):
    """The layer ``rnncls.cells`` builds for cell ``name`` with ``units`` units."""
    import dataclasses

    from rnncls.cells import CELLS
    from rnncls.config_keys import ModelConfig

    cell = CELLS[name]
    values = cell.options(**(options or {})) if cell.options else None
    model = dataclasses.replace(ModelConfig(), cell=name, hidden_units=units)
    arguments = {"return_sequences": True, "unroll": False, "name": name, **kw}
    return cell.layer(model, values, steps, **arguments)


def assert_layer_follows(
    name: str,
    options: dict[str, Any],
    reference: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray],
    *,
    units: int = 5,
    seed: int = 0,
) -> None:
    """The layer's outputs at every step, for 3 sequences of 7 steps of 2 features, equal
    ``reference(weights, sequences)`` (weights by name, drawn here; outputs (3, 7, units))."""
    rng = np.random.default_rng(seed)
    sequences = rng.normal(size=(3, 7, 2)).astype("float32")
    layer = cell_layer(name, units, steps=7, options=options)
    layer(sequences)  # builds
    weights = {}
    for variable in layer.cell.trainable_weights:
        value = rng.uniform(-0.9, 0.9, size=variable.shape).astype("float32")
        variable.assign(value)
        weights[variable.name] = value
    expected = reference(weights, sequences.astype("float64"))
    np.testing.assert_allclose(np.asarray(layer(sequences)), expected, rtol=1e-4, atol=1e-5)


def assert_padding_is_invisible(name: str, options: dict[str, Any] | None = None) -> None:
    """Two sequences of 9 steps, the second padded after 5 masked steps: its last output
    is its output alone after 5 steps; the first is unchanged by its neighbour's padding."""
    rng = np.random.default_rng(1)
    sequences = rng.normal(size=(2, 9, 3)).astype("float32")
    mask = np.ones((2, 9), dtype=bool)
    mask[1, 5:] = False
    padded = sequences.copy()
    padded[1, 5:] = 0.0
    layer = cell_layer(name, 4, steps=9, options=options, return_sequences=False)
    both = np.asarray(layer(padded, mask=mask))
    alone_long = np.asarray(layer(sequences[:1]))
    alone_short = np.asarray(layer(sequences[1:, :5]))
    np.testing.assert_allclose(both[0], alone_long[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both[1], alone_short[0], rtol=1e-5, atol=1e-6)


def assert_sequence_pass_follows_keras(name: str, options: dict[str, Any]) -> None:
    """Training (the cell's ``sequence_pass``) and inference (Keras's loop over the cell's
    ``call``) give the same last output for a batch of sequences of 11 steps, and the
    gradients of a weighted sum of it, with respect to every weight and to the inputs,
    agree. Batches of 3 and of 4 sequences: the pass runs an even batch as two chains
    (rnncls/cells/own_pass.py)."""
    for batch in (3, 4):
        _assert_sequence_pass_follows_keras(name, options, batch)


def _assert_sequence_pass_follows_keras(name: str, options: dict[str, Any], batch: int) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(2)
    sequences = tf.constant(rng.normal(size=(batch, 11, 2)).astype("float32"))
    layer = cell_layer(name, 5, steps=11, options=options, return_sequences=False)
    layer(sequences)  # builds
    for variable in layer.trainable_weights:
        variable.assign(rng.uniform(-0.9, 0.9, size=variable.shape).astype("float32"))
    weighting = tf.constant(rng.normal(size=(batch, 5)).astype("float32"))
    calls = []
    passing = layer.cell.sequence_pass
    layer.cell.sequence_pass = lambda *a: calls.append(1) or passing(*a)

    def outputs_and_gradients(training: bool) -> list[np.ndarray]:
        with tf.GradientTape() as tape:
            tape.watch(sequences)
            output = layer(sequences, training=training)
            loss = tf.reduce_sum(output * weighting)
        gradients = tape.gradient(loss, [sequences, *layer.trainable_weights])
        return [np.asarray(output), *(np.asarray(g) for g in gradients)]

    ours = outputs_and_gradients(training=True)
    assert calls == [1]  # the pass ran, once
    keras = outputs_and_gradients(training=False)
    assert calls == [1]
    names = ["output", "d inputs", *(w.path for w in layer.trainable_weights)]
    for label, got, expected in zip(names, ours, keras, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6, err_msg=f"{label}, {batch}")


def assert_refused(key: str, value: str, problem: str) -> None:
    """``--set key=value`` is refused as every key's bad value is: exit 2, one line."""
    from conftest import assert_one_line_error

    result = invoke("config", "show", "--set", f"{key}={value}")
    line = assert_one_line_error(result, 2)
    assert line == f"error: {key} = {value} (in --set {key}={value}): {problem}"


def without_tensorflow(folder: Path) -> dict[str, str]:
    """An environment in which ``import tensorflow`` raises ImportError."""
    shim = folder / "shim" / "tensorflow"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text('raise ImportError("TensorFlow is switched off here")\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(shim.parent), env.get("PYTHONPATH", "")])
    return env


def assert_trains_resumes_exports_and_serves(tmp_path: Path, settings: list[str]) -> None:
    from rnncls import server
    from rnncls.checkpoints import load_checkpoint
    from rnncls.predict import OnnxClassifier, load_classifier

    data = write_mnist(tmp_path / "mnist")
    every = sets([*TINY_SETTINGS, *PIXEL_SETTINGS, *settings])
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    common = ["--data-dir", data, "-q"]
    result = invoke("train", *every, *common, "--run-dir", straight)
    assert result.exit_code == 0, result.output
    result = invoke("train", *every, *common, "--steps", 3, "--run-dir", halves)
    assert result.exit_code == 0, result.output
    result = invoke("train", "--run-dir", halves, "--resume", "--steps", 6, *common)
    assert result.exit_code == 0, result.output
    (state, ours), (their_state, theirs) = load_checkpoint(halves), load_checkpoint(straight)
    assert state["step"] == their_state["step"] == 6
    assert ours.keys() == theirs.keys()
    for group in theirs:
        assert ours[group].keys() == theirs[group].keys(), group
        for key, array in theirs[group].items():
            np.testing.assert_array_equal(ours[group][key], array, err_msg=f"{group} {key}")

    onnx, keras = (
        load_classifier(straight / "model.onnx"),
        load_classifier(straight / "model.keras"),
    )
    assert isinstance(onnx, OnnxClassifier)
    images = make_digits(40, seed=1)[0][:10]  # the first ten test pictures of write_mnist
    keras_logits = keras.logits(images)
    np.testing.assert_allclose(onnx.logits(images), keras_logits, rtol=1e-4, atol=1e-5)

    env = without_tensorflow(tmp_path)
    predicted = subprocess.run(
        [sys.executable, "-m", "rnncls", "predict", "--run", straight, "--data-dir", data]
        + ["--n", "10", "--format", "jsonl"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert predicted.returncode == 0, predicted.stderr
    records = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [record["prediction"] for record in records] == keras_logits.argmax(1).tolist()

    from starlette.testclient import TestClient

    with TestClient(server.create_app(server.load_served_model(straight))) as client:
        answer = client.post("/predict", json=images.tolist())
    assert answer.status_code == 200, answer.text
    served = answer.json()["predictions"]
    assert [record["prediction"] for record in served] == keras_logits.argmax(1).tolist()
    np.testing.assert_allclose(
        [record["probability"] for record in served],
        [record["probability"] for record in records],
        atol=1e-6,  # predict rounds to 6 digits
    )
