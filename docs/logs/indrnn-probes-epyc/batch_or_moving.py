"""Accuracy of a run's model.keras on the first 512 MNIST test digits, with batch norm
reading the batch's statistics (training=True) and its moving averages (training=False).

    python batch_or_moving.py RUN_DIR [MNIST_DIR]
"""

import gzip
import sys
from pathlib import Path

import keras
import numpy as np

import rnncls.model  # noqa: F401 - registers rnncls's layers

run = Path(sys.argv[1])
mnist = Path(sys.argv[2] if len(sys.argv) > 2 else "../shared/data/mnist")
with gzip.open(mnist / "t10k-images-idx3-ubyte.gz") as f:
    pictures = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)[:512]
with gzip.open(mnist / "t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)[:512]
model = keras.saving.load_model(run / "model.keras", compile=False)
# the moving averages first: a call in training moves them toward these digits' statistics
for training in (False, True):
    logits = np.asarray(model(pictures.astype("float32"), training=training))
    right = (logits.argmax(-1) == labels).mean()
    statistics = "the batch's statistics" if training else "the moving averages"
    print(f"{run.name}: {right:.1%} right with {statistics}, largest |logit| {np.abs(logits).max():.1f}")
