"""Train a config step by step through rnncls's own Trainer (same model, optimizer,
schedule, batches and training path as `rnncls train`), logging every step's loss and
gradient norms (before the optimizer's clipping), and every --probe-every steps the
LSTM's cell-state magnitudes on a fixed batch of validation images.

    python exp/probe.py --config configs/smnist.toml --steps 2500 --out exp/runs/NAME \
        [--set KEY=VALUE ...] [--total 8580]

--total fixes the schedule's length (default: the config's, so the first --steps of the
real run are reproduced exactly).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--total", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--probe-every", type=int, default=100)
    parser.add_argument("--val", type=int, default=2000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--save-weights", action="store_true")
    args = parser.parse_args()

    from rnncls.config import load_config, total_steps
    from rnncls.data import find_data, load_training_data
    from rnncls.trainer import BatchOrder, Trainer, step_graph_options, training_forward

    config = load_config(args.config or None, args.overrides)
    source = find_data(None, config.data.dir)
    train_split, validation = load_training_data(source, config.data.validation_size)
    total = args.total or total_steps(config.train, len(train_split))
    trainer = Trainer(config, train_split, total)
    tf = trainer._tf
    import keras

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "args.json").write_text(json.dumps(vars(args) | {"total": total}, indent=1))
    print(f"path: {trainer.path.describe(config)}; total steps {total}", file=sys.stderr)

    model, optimizer = trainer.model, trainer.optimizer
    variables = model.trainable_variables
    names = [v.path for v in variables]
    forward = training_forward(tf, model, config, trainer.path.name)
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    images = tf.constant(train_split.images)
    labels = tf.constant(train_split.labels.astype(np.int32))

    @tf.function
    def step(indices):
        batch = tf.cast(tf.gather(images, indices), tf.float32) / 255.0
        batch_labels = tf.gather(labels, indices)
        with tf.GradientTape() as tape:
            loss = loss_function(batch_labels, forward(batch))
        gradients = tape.gradient(loss, variables)
        norms = tf.stack([tf.norm(g) for g in gradients])
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss, norms

    # cell states on a fixed batch of validation images, through the fused kernel
    from rnncls.lstm_loop import _kernel_order
    from rnncls.model import READING, recurrent_layer_name

    probe_images = tf.constant(validation.images[:256].astype(np.float32) / 255.0)
    reading = model.get_layer(READING) if config.sequence.order != "rows" else None
    cell = model.get_layer(recurrent_layer_name(config.model, 0)).cell

    @tf.function
    def states():
        seq = reading(probe_images) if reading is not None else probe_images
        w = _kernel_order(tf, tf.concat([cell.kernel, cell.recurrent_kernel], 0))
        b = _kernel_order(tf, cell.bias)
        units = int(cell.recurrent_kernel.shape[0])
        rows = int(seq.shape[0])
        o = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.constant(int(seq.shape[1]), tf.int64),
            x=tf.transpose(seq, [1, 0, 2]),
            cs_prev=tf.zeros([rows, units]), h_prev=tf.zeros([rows, units]),
            w=w, wci=tf.zeros([units]), wcf=tf.zeros([units]), wco=tf.zeros([units]),
            b=b, forget_bias=0.0, cell_clip=0.0, use_peephole=False)
        return o[1], o[2], o[6]  # cs, f, h: (T, B, H)

    order = BatchOrder(config.train.seed, len(train_split), config.train.batch_size)
    steps_log = (out / "steps.jsonl").open("w")
    evals_log = (out / "evals.jsonl").open("w")
    val_images, val_labels = validation.images[: args.val], validation.labels[: args.val]
    from rnncls.evaluate import cross_entropy, keras_logits

    start = time.time()
    window: list[float] = []
    for s in range(args.steps):
        with step_graph_options(tf):
            loss, norms = step(tf.constant(order.batches(s, 1)[0]))
        loss, norms = float(loss), norms.numpy()
        window.append(loss)
        rate = trainer.learning_rate()
        record = {"step": s + 1, "loss": loss, "lr": rate, "global_norm": float(np.sqrt((norms**2).sum())),
                  "norms": {n: float(x) for n, x in zip(names, norms)}}
        if (s + 1) % args.probe_every == 0 or s == 0:
            cs, f, h = (t.numpy() for t in states())
            record["cell"] = {
                "max_abs_c": float(np.abs(cs).max()),
                "mean_abs_c_last": float(np.abs(cs[-1]).mean()),
                "frac_abs_c_last_gt_5": float((np.abs(cs[-1]) > 5).mean()),
                "mean_f": float(f.mean()),
                "mean_f_last": float(f[-1].mean()),
                "h_last_std_over_batch": float(h[-1].std(axis=0).mean()),
                "mean_abs_h_last": float(np.abs(h[-1]).mean()),
            }
            if args.save_weights:
                np.savez(out / f"weights-{s + 1}.npz", **{n: v.numpy() for n, v in zip(names, variables)})
        print(json.dumps(record), file=steps_log, flush=True)
        if (s + 1) % args.eval_every == 0:
            logits = keras_logits(model, val_images, 500)
            acc = float((logits.argmax(1) == val_labels).mean())
            line = {"step": s + 1, "train_loss": float(np.mean(window)), "val_acc": acc,
                    "val_loss": cross_entropy(logits, val_labels), "lr": rate,
                    "seconds": round(time.time() - start, 1)}
            if "cell" in record:
                line["cell"] = record["cell"]
            window = []
            print(json.dumps(line), file=evals_log, flush=True)
            print(json.dumps(line), flush=True)
    np.savez(out / "weights-final.npz", **{n: v.numpy() for n, v in zip(names, variables)})


if __name__ == "__main__":
    main()
