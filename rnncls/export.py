"""Exporting a trained model through Keras's own ``Model.export``: ONNX or a
TensorFlow SavedModel, written aside and moved into place."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rnncls import rundir
from rnncls.errors import RunError
from rnncls.predict import ONNX_DATASET_KEY, load_keras_model
from rnncls.rundir import RunTarget

FORMATS = ("onnx", "saved_model")
DEFAULT_NAMES = {"onnx": rundir.ONNX_FILE, "saved_model": "saved_model"}


def export_model(target: RunTarget, file_format: str, out: Path | None = None) -> Path:
    """Export the Keras model of a run as ``file_format``; by default into the run
    directory (``model.onnx`` or ``saved_model/``). Returns the path written."""
    if file_format not in FORMATS:
        raise ValueError(f"unknown export format {file_format!r}; choose from {FORMATS}")
    source = target.keras_model()
    out = Path(out) if out is not None else source.parent / DEFAULT_NAMES[file_format]
    _check_target(out, file_format)
    model = load_keras_model(source)
    # Keras's ONNX export traces a model that has run at least once; a loaded one has not.
    model(example_input(model))
    # Both exporters print ("Saved artifact at ..."); they run inside quiet_output, so
    # stdout keeps only the path we return.
    if file_format == "onnx":
        export_onnx(model, out)
    else:
        export_saved_model(model, out)
    return out.absolute()


def _check_target(out: Path, file_format: str) -> None:
    """Never replace anything but an earlier export of the same kind."""
    if file_format == "onnx" and out.is_dir():
        raise RunError(f"{out} is a folder; name the .onnx file to write")
    if file_format == "saved_model" and out.exists():
        is_saved_model = out.is_dir() and (out / "saved_model.pb").is_file()
        if not is_saved_model and not (out.is_dir() and not any(out.iterdir())):
            raise RunError(f"{out} exists and is not a SavedModel; choose another --out")
    if not out.parent.is_dir():
        raise RunError(f"cannot write {out}: folder {out.parent} does not exist")


def example_input(model: Any) -> np.ndarray:
    """One example of zeros in the shape the model reads (a series: of two steps; the
    model reads any length)."""
    return np.zeros((1, *(size or 2 for size in model.input_shape[1:])), np.float32)


def rolled(model: Any) -> Any:
    """The same network with its recurrent layers not unrolled, holding the same weights.

    Unrolling speeds up training on the CPU; an exported graph gains nothing from it. The
    rolled graph converts to ONNX about 8 times faster (1.9 against 14.6 s for the seed's
    network, bench/NOTES.md) into a smaller file that ONNX Runtime runs faster, with the
    same logits (tests/cli/test_export.py)."""
    import keras

    def roll(config: Any) -> Any:
        if isinstance(config, dict):
            return {k: (False if k == "unroll" else roll(v)) for k, v in config.items()}
        if isinstance(config, list):
            return [roll(item) for item in config]
        return config

    twin = keras.Model.from_config(roll(model.get_config()))
    twin.set_weights(model.get_weights())
    return twin


def export_onnx(model: Any, path: Path) -> None:
    """Write ``path`` through Keras's own ONNX export (tf2onnx underneath), of the rolled
    twin of ``model``, keeping the converter's chatter off our stdout and stderr unless
    it fails. Training calls this for every run's ``model.onnx``, and ``rnncls export``
    for its own."""
    from rnncls.model import dataset_of
    from rnncls.tf_setup import quiet_output

    model = rolled(model)
    model(example_input(model))  # the exporter traces a called model
    dataset = dataset_of(model)

    def write(temporary: Path) -> None:
        model.export(str(temporary), format="onnx")
        if dataset is not None:
            describe_onnx(temporary, dataset.dumps())

    with quiet_output() as captured:
        try:
            rundir.write_with(path, write)
        except RunError:
            raise  # a failed write already names the file and why
        except Exception as exc:
            raise RuntimeError(f"{exc}; converter output: {captured()[-500:]}") from exc


def describe_onnx(path: Path, description: str) -> None:
    """Put the data set's description in an ONNX file's metadata, so that the file says
    what it reads and what its outputs are (class names) wherever it goes."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = ONNX_DATASET_KEY, description
    onnx.save(model, str(path))


def export_saved_model(model: object, out: Path) -> None:
    """A SavedModel folder (its ``serve`` signature takes float pictures of raw pixel
    values, as model.keras and model.onnx do; a model from before descriptions, 0..1), built
    beside ``out`` and swapped in, so a failure leaves any earlier export intact."""
    from rnncls.tf_setup import quiet_output

    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    retired = staging.with_suffix(".old")
    try:
        with quiet_output() as captured:
            try:
                model.export(str(staging), format="tf_saved_model", verbose=False)  # type: ignore[attr-defined]
            except Exception as exc:
                raise RuntimeError(f"{exc}; exporter output: {captured()[-500:]}") from exc
        if out.exists():
            out.rename(retired)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
