"""aeon's MiniRocket on one UCR/UEA data set: the accuracy anchor of bench/ucr.py.

Runs in a virtual environment of its own (``make bench-ucr`` makes ``.venv-aeon``): aeon
1.6 pins numpy below rnncls's, so it does not share rnncls's environment. Reads the
archive's ``NAME_TRAIN.ts`` and ``NAME_TEST.ts`` with aeon's own reader, fits
``MiniRocketClassifier(random_state=0)`` on the training file and prints one JSON line:
test accuracy and the seconds of the fit (after a first fit on a few series, which
compiles its numba kernels). Series of several lengths (JapaneseVowels) are
padded to the longest with zeros (aeon's ``Padder``), as MiniRocket needs one length.

    .venv-aeon/bin/python bench/minirocket.py ../shared/data/ucr/GunPoint
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(folder: str) -> int:
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.datasets import load_from_ts_file

    path = Path(folder)
    name = path.name
    x_train, y_train = load_from_ts_file(str(path / f"{name}_TRAIN.ts"))
    x_test, y_test = load_from_ts_file(str(path / f"{name}_TEST.ts"))
    padded = isinstance(x_train, list)
    if padded:  # several lengths: pad every series to the longest of both files
        from aeon.transformations.collection.unequal_length import Padder

        longest = max(series.shape[-1] for series in [*x_train, *x_test])
        padder = Padder(padded_length=longest, fill_value=0)
        x_train, x_test = padder.fit_transform(x_train), padder.fit_transform(x_test)
    # numba compiles MiniRocket's kernels at the first fit: a fit on the first few
    # series first, so the fit timed is the fit's own work
    import numpy as np

    few = np.linspace(0, len(y_train) - 1, 8).astype(int)  # of several classes
    MiniRocketClassifier(random_state=0).fit(x_train[few], y_train[few])
    classifier = MiniRocketClassifier(random_state=0)
    started = time.perf_counter()
    classifier.fit(x_train, y_train)
    seconds = time.perf_counter() - started
    accuracy = float((classifier.predict(x_test) == y_test).mean())
    record = {"set": name, "accuracy": accuracy, "seconds": round(seconds, 3), "padded": padded}
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
