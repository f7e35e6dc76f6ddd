import sys, numpy as np
sys.path.insert(0, "tests"); sys.path.insert(0, "tests/unit")
import test_long_memory as t
from rnncls.tf_setup import import_tensorflow
tf = import_tensorflow(threads=1, inter_op_threads=2)
print("spread unit", t.last_output_spread(tf, "unit"), "chrono", t.last_output_spread(tf, "chrono"))
from rnncls.config import load_config
from rnncls.data import Split
from rnncls.trainer import BatchOrder, Trainer
for fb in ("unit", "chrono"):
  for lr in sys.argv[1:]:
    config = load_config(overrides=[*t.SEQUENTIAL_196, "model.hidden_units=16", f"model.forget_bias='{fb}'", "train.batch_size=32", f"train.learning_rate={lr}"])
    digits, labels = t.top_row_digits(640, seed=3)
    tr = Trainer(config, Split("train", digits, labels), steps=300)
    order = BatchOrder(config.train.seed, len(labels), 32)
    out = []
    for k in range(0, 300, 20):
        out.append(round(tr.run_steps(order.batches(k, 20)) / 20, 3))
    print(fb, lr, out, flush=True)
