"""Helpers for transcribing published logs: read a trainer_state.json log_history into series,
print a coarse text view for hand labelling, and write a curve file. Data only; no detectors."""
import json, math, sys
import numpy as np

def hf_series(path, keys=("loss", "eval_loss", "learning_rate", "grad_norm")):
    st = json.load(open(path))
    out = {}
    for e in st["log_history"]:
        for k in keys:
            if k in e and "step" in e:
                s = out.setdefault(k, {"steps": [], "values": []})
                v = e[k]
                if isinstance(v, float) and not math.isfinite(v):
                    v = "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
                if s["steps"] and e["step"] <= s["steps"][-1]:
                    continue
                s["steps"].append(int(e["step"])); s["values"].append(v)
    return st, out

def _f(v):
    return float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))

def view(series, n=40):
    for k, s in series.items():
        st, va = np.array(s["steps"]), np.array([_f(v) for v in s["values"]])
        fin = va[np.isfinite(va)]
        print(f"== {k}: {len(st)} pts steps {st[0]}..{st[-1]} min {fin.min():.4g}@{st[np.nanargmin(va)]} max {fin.max():.4g}@{st[np.nanargmax(va)]} nonfinite {np.sum(~np.isfinite(va))}")
        idx = np.linspace(0, len(st) - 1, min(n, len(st))).astype(int)
        lo, hi = fin.min(), fin.max()
        for i in idx:
            # chunk stats between consecutive idx
            bar = int(50 * (va[i] - lo) / (hi - lo + 1e-30)) if np.isfinite(va[i]) else 0
            print(f"  {st[i]:>7} {va[i]:>12.5g} " + "#" * bar)

def write(path, d):
    with open(path, "w") as f:
        json.dump(d, f, indent=None, separators=(",", ":"))
        f.write("\n")

if __name__ == "__main__":
    st, s = hf_series(sys.argv[1])
    print({k: st.get(k) for k in ("global_step", "logging_steps", "eval_steps", "num_train_epochs", "train_batch_size")})
    view(s, int(sys.argv[2]) if len(sys.argv) > 2 else 40)

def chunks(series, key, n=25):
    """Per-chunk min/median/max of one series, and the biggest jumps against the trailing median."""
    s = series[key]
    st, va = np.array(s["steps"]), np.array([_f(v) for v in s["values"]])
    for c in np.array_split(np.arange(len(st)), min(n, len(st))):
        if len(c):
            v = va[c]
            print(f"  {st[c[0]]:>7}-{st[c[-1]]:<7} min {np.nanmin(v):<9.4g} med {np.nanmedian(v):<9.4g} max {np.nanmax(v):<9.4g}")
    r = []
    for i in range(10, len(va)):
        m = np.nanmedian(va[max(0, i - 20):i])
        if np.isfinite(va[i]) and m > 0:
            r.append((va[i] / m, st[i], va[i], m))
    r.sort(reverse=True)
    print("  top jumps (ratio, step, value, trailing median):", [(round(a, 2), int(b), round(c, 4), round(d, 4)) for a, b, c, d in r[:6]])
