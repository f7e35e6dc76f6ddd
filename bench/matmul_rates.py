"""How fast this CPU multiplies float32 matrices: the numbers behind the FLOP floor.

Prints one JSON object: the best GFLOP/s seen for a 64x64 by 64x256 product (the
LSTM's recurrent step) and for a 1024-square product, over the library (PyTorch's MKL
where the bench extra is installed, else numpy's BLAS) and 1 or all threads. The best of
many tries is what the machine can do when nothing else runs on it.

    python bench/matmul_rates.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

SHAPES = {"small_64x64x256": ((64, 64, 256), 500), "large_1024": ((1024, 1024, 1024), 5)}


def best_seconds(product: Callable[[], object], repeats: int, tries: int = 10) -> float:
    product()
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        for _ in range(repeats):
            product()
        best = min(best, (time.perf_counter() - started) / repeats)
    return best


def torch_rates() -> dict[str, float]:
    import torch

    rates: dict[str, float] = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        for name, ((m, k, n), repeats) in SHAPES.items():
            a, b = torch.rand(m, k), torch.rand(k, n)
            rate = 2 * m * k * n / best_seconds(lambda a=a, b=b: a @ b, repeats) / 1e9
            rates[name] = max(rates.get(name, 0.0), round(rate, 1))
    return rates


def numpy_rates() -> dict[str, float]:
    import numpy as np

    rng = np.random.default_rng(0)
    rates = {}
    for name, ((m, k, n), repeats) in SHAPES.items():
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        rates[name] = round(2 * m * k * n / best_seconds(lambda a=a, b=b: a @ b, repeats) / 1e9, 1)
    return rates


def main() -> int:
    try:
        rates, library = torch_rates(), "torch"
    except ImportError:
        rates, library = numpy_rates(), "numpy"
    sys.stdout.write(json.dumps({**rates, "library": library}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
