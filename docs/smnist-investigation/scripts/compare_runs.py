"""Per-step losses and saved weights of two probe runs from the same seed."""
import json, sys
import numpy as np
a, b = sys.argv[1], sys.argv[2]
la = [json.loads(l) for l in open(f"{a}/steps.jsonl")]
lb = [json.loads(l) for l in open(f"{b}/steps.jsonl")]
n = min(len(la), len(lb))
first = None
for i in range(n):
    d = abs(la[i]["loss"] - lb[i]["loss"])
    rel = d / la[i]["loss"]
    if first is None and rel > 1e-3:
        first = i + 1
for s in [1, 2, 5, 10, 20, 50, 100, 120, 140, 150, 160, 180, 200, 250, 300, 400, 500]:
    if s <= n:
        x, y = la[s - 1], lb[s - 1]
        print(f"step {s:4d} loss {x['loss']:.6f} {y['loss']:.6f} |diff| {abs(x['loss']-y['loss']):.2e}  gnorm {x['global_norm']:.4g} {y['global_norm']:.4g}")
print("first step with relative loss difference > 1e-3:", first)
import glob, os
for path in sorted(glob.glob(f"{b}/weights-*.npz")):
    other = f"{a}/{os.path.basename(path)}"
    if not os.path.exists(other):
        continue
    wa, wb = np.load(other), np.load(path)
    errs = {k.split("/")[-1] + ("" if "lstm" in k else "D"): float(np.linalg.norm(wa[k] - wb[k]) / np.linalg.norm(wa[k])) for k in wa.files}
    print(os.path.basename(path), " ".join(f"{k}={v:.2g}" for k, v in errs.items()))
