import json, sys
path = sys.argv[1]
every = int(sys.argv[2]) if len(sys.argv) > 2 else 100
rows = [json.loads(l) for l in open(path)]
win = []
for r in rows:
    win.append(r)
    if r["step"] % every == 0 or "cell" in r and r["step"] == 1:
        import numpy as np
        loss = np.mean([w["loss"] for w in win]); gn = [w["global_norm"] for w in win]
        nm = {k.split("/")[-1][:6] + ("L" if "lstm" in k else "D"): max(w["norms"][k] for w in win) for k in r["norms"]}
        c = r.get("cell", {})
        print(f'{r["step"]:5d} loss {loss:.4f} lr {r["lr"]:.2e} gnorm med {np.median(gn):.3g} max {max(gn):.3g} | ' +
              " ".join(f"{k}:{v:.3g}" for k, v in nm.items()) + " | " +
              " ".join(f"{k}={v:.3g}" for k, v in c.items()))
        win = []
