"""Gradients of the training loss at given weights: rnncls's fused loop (BlockLSTM) against
Keras's own loop (autodiff through tf.while) and a float64 reference (the LSTM written
out in float64, autodiff), on one training batch.

    python exp/gradcheck.py --config configs/smnist.toml exp/runs/base/weights-1000.npz ...
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--no-f64", action="store_true")
    parser.add_argument("weights", nargs="+")
    args = parser.parse_args()

    from rnncls.tf_setup import import_tensorflow

    tf = import_tensorflow(threads=1, inter_op_threads=2)
    import keras

    from rnncls.config import load_config
    from rnncls.data import find_data, load_training_data
    from rnncls.model import READING, build_model
    from rnncls.trainer import step_graph_options, training_forward

    config = load_config(args.config or None, args.overrides)
    train_split, _ = load_training_data(find_data(None, config.data.dir), config.data.validation_size)
    model = build_model(config.model, config.sequence)
    variables = model.trainable_variables
    rng = np.random.default_rng(0)
    pick = rng.choice(len(train_split), args.batch, replace=False)
    images = tf.constant(train_split.images[pick].astype(np.float32) / 255.0)
    labels = tf.constant(train_split.labels[pick].astype(np.int32))
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    from rnncls import training_path
    fused = training_forward(tf, model, config, training_path.FUSED_LOOP)

    def grads_of(forward):
        with tf.GradientTape() as tape:
            loss = loss_function(labels, forward(images))
        return loss, tape.gradient(loss, variables)

    fused_grads = tf.function(lambda: grads_of(fused))
    keras_grads = tf.function(lambda: grads_of(lambda x: model(x, training=True)))
    reading = model.get_layer(READING) if config.sequence.order != "rows" else None

    units = config.model.hidden_units
    lstm64 = keras.layers.LSTM(units, dtype="float64")
    dense64 = keras.layers.Dense(config.model.num_classes, dtype="float64")
    seq0 = reading(images) if reading is not None else images
    dense64(lstm64(tf.cast(seq0, tf.float64)))
    weights64 = [*lstm64.trainable_variables, *dense64.trainable_variables]

    @tf.function
    def f64_grads():
        seq = tf.cast(reading(images) if reading is not None else images, tf.float64)
        with tf.GradientTape() as tape:
            logits = dense64(lstm64(seq))
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(labels, tf.int64), logits))
        return loss, tape.gradient(loss, weights64)

    for path in args.weights:
        arrays = np.load(path)
        for v in variables:
            v.assign(arrays[v.path])
        t0 = time.time()
        with step_graph_options(tf):
            lf, gf = fused_grads()
            lk, gk = keras_grads()
        result = {"weights": path, "loss_fused": float(lf), "loss_keras": float(lk), "seconds": round(time.time() - t0, 1)}
        refs = {"keras": gk}
        if not args.no_f64:
            for w64, v in zip(weights64, variables):
                w64.assign(v.numpy().astype(np.float64))
            l64, g64 = f64_grads()
            result["loss_f64"] = float(l64)
            refs["f64"] = g64
        for ref_name, ref in refs.items():
            errs = {}
            for v, a, b in zip(variables, gf, ref):
                a, b = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
                errs[v.path.split("/")[-1] if "lstm" in v.path else v.path] = float(
                    np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
            result[f"relerr_fused_vs_{ref_name}"] = errs
        if not args.no_f64:
            errs = {}
            for v, a, b in zip(variables, gk, refs["f64"]):
                a, b = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
                errs[v.path] = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
            result["relerr_keras_vs_f64"] = errs
        result["grad_norms_fused"] = {v.path: float(np.linalg.norm(g.numpy())) for v, g in zip(variables, gf)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
