"""Turn an injector record (inject.py --record) plus the script's own logs into a corpus curve JSON.

    python to_curve.py look REC.json [--kind nanogpt|makemore|mnist|wlm|lit|hf] [--at 120,240]   # text summary for checking
    python to_curve.py build              # write every curve listed in specs.py into ../runs/

Series: `loss` is the per-step loss the injector saw backpropagated (for HF, `loss` is the
log_history's own logged mean and the curve is sparse); `val_loss` comes from the script's printed
evaluation lines (nanoGPT 'val loss', makemore 'test loss', mnist 'Test set: Average loss',
word_language_model 'valid loss') at the number of optimizer steps completed when it was printed,
from Lightning's metrics.csv (val_loss with its step), or from HF's log_history (eval_loss);
`lr` is the effective LR of param group 0 as the optimizer applied it (the global `lr` for
word_language_model, which has no torch optimizer).
`update_ratio` (records made with inject.py --record-update-ratio): r = log10(||dw|| / ||w||) of the
first optimizer's param group 0 at every optimizer step, rounded to 4 decimals; for HF, the value at
each step log_history logged a loss at.
Sparse versions (`-every10`, `-every50`): at each multiple of N, the mean of the per-step losses
since the previous log (what HF/Lightning-style mean logging would record); lr and update_ratio at that
step (the last per-step value, as a live logger would see it); val unchanged.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent / "runs"
REC = Path("/tmp/work/rec")


def r6(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NaN" if v is None or math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return float(f"{v:.6g}")


def r4(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return r6(v)
    return round(float(v), 4)


ROUND = {"update_ratio": r4}


def _dedupe(pairs):
    d = {}
    for s, v in pairs:
        d[int(s)] = v
    return sorted(d.items())


VAL_RE = {
    "nanogpt": re.compile(r"^step (\d+): train loss [\d.naif]+, val loss ([\d.naif]+)"),
    "makemore": re.compile(r"^step \d+ train loss: \S+ test loss: (\S+)"),
    "mnist": re.compile(r"Test set: Average loss: (\S+),"),
    "wlm": re.compile(r"valid loss\s+(\S+)"),
}


def series_of(rec: dict, kind: str, out_dir: str | None = None) -> dict:
    s = {}
    if kind == "hf":
        st = json.load(open(os.path.join(out_dir, "trainer_state.json")))
        hist = st["log_history"]
        for key, name in (("loss", "loss"), ("eval_loss", "eval_loss"), ("learning_rate", "learning_rate"),
                          ("grad_norm", "grad_norm")):
            pts = [(h["step"], h[key]) for h in hist if key in h]
            if pts:
                s[name] = _dedupe(pts)
        if rec.get("lr") and "learning_rate" in s:
            # HF logs the scheduler's LR; the injector's record has the LR the optimizer applied at each step
            # (they differ only where inject.py scaled it), so the logged steps take the effective value.
            eff = dict(_dedupe(rec["lr"]))
            s["learning_rate"] = [(st, eff.get(st, v)) for st, v in s["learning_rate"]]
        if rec.get("update_ratio") and "loss" in s:
            ur = dict(_dedupe(rec["update_ratio"]))
            s["update_ratio"] = [(st, ur[st]) for st, _ in s["loss"] if st in ur]
        return s
    if kind == "hfstep":  # the HF run's per-step losses as the injector saw them, with its eval_loss
        st = json.load(open(os.path.join(out_dir, "trainer_state.json")))
        s["loss"] = _dedupe(rec["loss"])
        s["learning_rate"] = _dedupe(rec["lr"])
        s["eval_loss"] = _dedupe([(h["step"], h["eval_loss"]) for h in st["log_history"] if "eval_loss" in h])
        if rec.get("update_ratio"):
            s["update_ratio"] = _dedupe(rec["update_ratio"])
        return s
    s["loss"] = _dedupe(rec["loss"])
    if rec["lr"]:
        s["lr"] = _dedupe(rec["lr"])
    if rec.get("update_ratio"):
        s["update_ratio"] = _dedupe(rec["update_ratio"])
    val = []
    if kind == "lit":
        files = sorted(glob.glob(os.path.join(out_dir, "lit", "version_*", "metrics.csv")), key=os.path.getmtime)
        for row in csv.DictReader(open(files[-1])):
            if row.get("val_loss"):
                # Lightning logs the epoch-end validation at the last training step of that epoch (0-based
                # global_step - 1); as optimizer steps completed it is step + 1.
                val.append((int(row["step"]) + 1, float(row["val_loss"])))
    elif kind in VAL_RE:
        for step, line in rec["log"]:
            m = VAL_RE[kind].search(line)
            if m:
                val.append((step, float(m.groups()[-1])))
    if val:
        s["val_loss"] = _dedupe(val)
    return s


def sparse(s: dict, every: int) -> dict:
    loss = s["loss"]
    out, acc = [], []
    for st, v in loss:
        acc.append(v)
        if st % every == 0:
            out.append((st, sum(acc) / len(acc)))  # a NaN in the window makes the mean NaN, as a logged mean would be
            acc = []
    res = {"loss": out}
    if "lr" in s:
        lr = dict(s["lr"])
        res["lr"] = [(st, lr[st]) for st, _ in out if st in lr]
    if "update_ratio" in s:
        ur = dict(s["update_ratio"])
        res["update_ratio"] = [(st, ur[st]) for st, _ in out if st in ur]
    if "val_loss" in s:
        res["val_loss"] = s["val_loss"]
    return res


def to_json_series(s: dict) -> dict:
    return {k: {"steps": [int(a) for a, _ in v], "values": [ROUND.get(k, r6)(float(b)) for _, b in v]}
            for k, v in s.items() if v}


def look(path, kind, at=(), out_dir=None, every=0):
    rec = json.load(open(path)) if path else {}
    s = series_of(rec, kind, out_dir or _out_dir(rec))
    if every:
        s = sparse(s, every)
    for name, pts in s.items():
        vals = [v for _, v in pts]
        fin = [v for v in vals if math.isfinite(v)]
        print(f"{name}: {len(pts)} pts, steps {pts[0][0]}..{pts[-1][0]}, first {vals[:4]}, last {vals[-3:]}, "
              f"min {min(fin) if fin else None}, max {max(fin) if fin else None}, nonfinite {len(vals) - len(fin)}"
              + (f" first nonfinite at {next(st for st, v in pts if not math.isfinite(v))}" if len(fin) < len(vals) else ""))
        if name in ("val_loss", "eval_loss") or len(pts) <= 60:
            print("   ", [(a, round(b, 4)) for a, b in pts])
    if s.get("update_ratio"):
        ur = s["update_ratio"]
        print("  update_ratio median:", _median([v for _, v in ur]), "| second half:",
              _median([v for st, v in ur if st > ur[-1][0] / 2]))
    if "loss" in s and len(s["loss"]) > 60:
        pts = s["loss"]
        nb = 40
        size = max(1, len(pts) // nb)
        print("  buckets (first step: mean/min/max):")
        for i in range(0, len(pts), size):
            chunk = [v for _, v in pts[i:i + size]]
            f = [v for v in chunk if math.isfinite(v)]
            if f:
                print(f"   {pts[i][0]:>6}: {sum(f)/len(f):9.4f} {min(f):9.4f} {max(f):9.4f}" + (" nonfinite" if len(f) < len(chunk) else ""))
            else:
                print(f"   {pts[i][0]:>6}: all nonfinite")
        d = dict(pts)
        for a in at:
            print(f"  around {a}:", [(k, round(d[k], 3)) for k in range(a - 4, a + 12) if k in d])


def _median(vals):
    """Median over the finite values (None if there are none)."""
    f = sorted(v for v in vals if math.isfinite(v))
    return round(f[len(f) // 2] if len(f) % 2 else (f[len(f) // 2 - 1] + f[len(f) // 2]) / 2, 4) if f else None


def _out_dir(rec):
    argv = rec["injector_argv"]
    return argv[argv.index("--out") + 1] if "--out" in argv else None


def command_of(rec):
    """The exact command, from the injector's own argv (record path shortened)."""
    argv = list(rec["injector_argv"])
    i = argv.index("--record")
    argv[i + 1] = "rec.json"
    argv = [a.replace("/work/wt-runs/", "<repo>/").replace("/work/wt-ratio2/", "<repo>/") for a in argv]
    py = "/tmp/work/real/venv-tv/bin/python" if any(k in rec["cwd"] for k in ("mnist", "makemore")) else "python"
    return f"cd {rec['cwd']} && OMP_NUM_THREADS=1 {py} <repo>/benchmarks/curves/make/inject.py " + " ".join(argv)


def build():
    sys.path.insert(0, str(HERE))
    from specs import CURVES, COMMON
    RUNS.mkdir(parents=True, exist_ok=True)
    for c in CURVES:
        base = COMMON[c["codebase"]]
        rec = json.load(open(REC / f"{c['rec']}.json"))
        out_dir = _out_dir(rec)
        s = series_of(rec, base["kind"], out_dir)
        if c.get("every"):
            s = sparse(s, c["every"])
        source = {"type": "run", "repo": base["repo"], "commit": base["commit"], "script": base["script"],
                  "command": c.get("command") or command_of(rec), "data": c.get("data", base["data"]), "injected": c["injected"]}
        doc = {"id": c["id"], "title": c["title"], "source": source, "field": base["field"],
               "logging": f"every {c['every']} steps (mean of the per-step losses since the last log)" if c.get("every")
               else base.get("logging", "per-step"),
               "series": to_json_series(s), "labels": c.get("labels", []), "dont_care": c.get("dont_care", []),
               "checked": c["checked"]}
        chance = c.get("chance", base.get("chance"))
        if chance is not None:
            doc["chance_level"] = chance
        if c.get("events"):
            doc["events"] = c["events"]
        (RUNS / f"{c['id']}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        print("wrote", c["id"])


def commands():
    """The list of curves and their commands, as markdown (pasted into README.md)."""
    sys.path.insert(0, str(HERE))
    from specs import CURVES
    for c in CURVES:
        rec = json.load(open(REC / f"{c['rec']}.json"))
        kinds = ", ".join(f"{l['kind']}@{l['onset']}" for l in c.get("labels", [])) or "healthy"
        extra = f"; the every-{c['every']} means of the same run" if c.get("every") else ""
        print(f"- `{c['id']}` ({kinds}{extra}; injected: {c['injected']})\n  `{command_of(rec)}`")


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build()
    elif sys.argv[1] == "commands":
        commands()
    else:
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("cmd")
        ap.add_argument("rec", nargs="?")
        ap.add_argument("--kind", required=True)
        ap.add_argument("--at", default="")
        ap.add_argument("--out-dir")
        ap.add_argument("--every", type=int, default=0)
        a = ap.parse_args()
        look(a.rec, a.kind, [int(x) for x in a.at.split(",") if x], a.out_dir, a.every)
