"""The forecast on real curves: the final value predicted at 25, 50 and 75 % of each run, against
two naive baselines.

For each series of the corpus (benchmarks/curves/) that is a loss curve a forecast should handle:

- healthy curves: every train-loss and val-loss series;
- labelled curves, scored as their own group: an lr_too_low curve (slow, but a clean learning
  curve: the label spans the whole run); an overfitting curve's train series (the label is on the
  val loss, which rises: not a curve to extrapolate with saturating families); a curve with spikes
  only when every spike's window ends before the 25 % cut (the run recovered, and the spike is in
  the past at every cut). Divergence, NaN, stall and LR-drop curves are not scored: after the event
  the curve is not a learning curve (stuck at chance, 1e33, flat). An LR-cut curve (a 100x cut, then
  a stall) is scored in its own group with the Forecaster reset at the cut, as the live app does,
  at the cuts at least 10 % of the run past it.

What is seen at a cut is the raw points up to 25/50/75 % of the series' step span, smoothed as the
live app hands them over: equal-count block means, at most 256 of them (the store's block means).
A Forecaster (lossmon.diagnosis.forecast) is updated every 2.5 % of the run up to the cut, as the
live app re-fits every few seconds, so its stability rule acts as it would live; its answer at the
cut is scored. The truth is the mean of the last 5 % of the series' raw finite points (at least
one); the forecast's target is the series' last step.

- last value: the mean of the last 5 % of the points seen (at least one): the smoothed value now;
- line: a least-squares line through the raw points of the last 10 % of the stretch seen (at least
  2 points), extrapolated to the last step.

Relative error |pred - true| / |true|, medians per cut and series kind. The forecast is scored where
it answers (with the baselines on the same points, so they compare), and as "forecast, else last
value" on every point. Coverage: how often the true final value is inside [low, high].

    python benchmarks/bench_forecast.py [--quick] [--detail] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402
from figures import Figures  # noqa: E402

from lossmon import names  # noqa: E402
from lossmon.diagnosis import forecast as fc  # noqa: E402

CUTS = (0.25, 0.5, 0.75)
UPDATE_EVERY = 0.025  # of the run, between Forecaster updates
BLOCKS = 256
TRUTH_TAIL = 0.05
LINE_TAIL = 0.10


@dataclass
class Case:
    curve: str
    group: str  # healthy, labelled
    kind: str  # train, val
    schedule: str  # constant, decaying (the LR ends below 0.7x its peak), unknown (no LR logged)
    steps: np.ndarray
    values: np.ndarray
    reset: int | None = None  # an LR cut: the Forecaster is reset there, as the live app does


def cases(curves: list[corpus.Curve]) -> list[Case]:
    out = []
    for c in curves:
        picked = {}
        for name in c.series:
            r = names.role(name)
            if r in (names.TRAIN_LOSS, names.VAL_LOSS) and r not in picked:
                picked[r] = name
        for role, name in picked.items():
            kind = "train" if role == names.TRAIN_LOSS else "val"
            st, va = c.series[name]
            if np.isfinite(va).sum() < 4:
                continue
            if c.healthy:
                group = "healthy"
            else:
                kinds = {lab.kind for lab in c.labels}
                span0, span1 = int(st[0]), int(st[-1])
                first_cut = span0 + CUTS[0] * (span1 - span0)
                if kinds == {"lr_too_low"}:
                    group = "labelled"
                elif kinds == {"overfitting"} and kind == "train":
                    group = "labelled"
                elif kinds <= {"spike"} and all(lab.window[1] < first_cut for lab in c.labels):
                    group = "labelled"
                elif kinds == {"lr_drop"} and lr_cut(c) is not None:
                    out.append(Case(c.id, "LR cut, re-fit", kind, schedule(c), st.astype(np.float64), va, lr_cut(c)))
                    continue
                else:
                    continue
            out.append(Case(c.id, group, kind, schedule(c), st.astype(np.float64), va))
    return out


def lr_cut(c: corpus.Curve) -> int | None:
    """The first step where the logged LR falls to under half its previous value."""
    for n, (s, v) in c.series.items():
        if names.role(n) == names.LR:
            i = np.nonzero(v[1:] < 0.5 * v[:-1])[0]
            return int(s[i[0] + 1]) if len(i) else None
    return None


def schedule(c: corpus.Curve) -> str:
    lr = next((v for n, (_, v) in c.series.items() if names.role(n) == names.LR), None)
    if lr is None or not np.isfinite(lr).any():
        return "unknown"
    lr = lr[np.isfinite(lr)]
    return "constant" if lr[-1] >= 0.7 * lr.max() else "decaying"


def block_means(s: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(v)
    return fc.thin(s[ok], v[ok], BLOCKS)


def truth(c: Case) -> float:
    v = c.values[np.isfinite(c.values)]
    k = max(1, int(round(TRUTH_TAIL * len(v))))
    return float(v[-k:].mean())


def last_value(s: np.ndarray, v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan")
    k = max(1, int(round(TRUTH_TAIL * len(v))))
    return float(v[-k:].mean())


def line(s: np.ndarray, v: np.ndarray, lo: float, target: float) -> float:
    ok = np.isfinite(v)
    s, v = s[ok], v[ok]
    if not len(v):
        return float("nan")
    a = s[-1] - LINE_TAIL * (s[-1] - lo)
    m = s >= a
    if m.sum() < 2:
        m = np.zeros_like(m)
        m[-2:] = True
    if m.sum() < 2:
        return float(v[-1])
    p = np.polyfit(s[m], v[m], 1)
    return float(np.polyval(p, target))


def run_case(c: Case, times: list[float]) -> dict:
    """Stream the case through a Forecaster up to each cut; one record per cut."""
    s0, s1 = float(c.steps[0]), float(c.steps[-1])
    target = int(c.steps[-1])
    true = truth(c)
    f = fc.Forecaster()
    recs = {}
    stops = sorted({round(k * UPDATE_EVERY, 6) for k in range(1, int(CUTS[-1] / UPDATE_EVERY) + 1)} | set(CUTS))
    for at in stops:
        m = c.steps <= s0 + at * (s1 - s0)
        if c.reset is not None and f.start is None and c.steps[m][-1:].size and c.steps[m][-1] >= c.reset:
            f.reset(c.reset)
        bs, bv = block_means(c.steps[m], c.values[m])
        t0 = time.perf_counter()
        got = f.update(bs, bv, target) if len(bs) else None
        times.append((time.perf_counter() - t0) * 1e3)
        if at not in CUTS or (c.reset is not None and s0 + at * (s1 - s0) < c.reset + 0.1 * (s1 - s0)):
            continue  # after an LR cut: only cuts at least 10 % of the run past it are scored
        seen_s, seen_v = c.steps[m], c.values[m]
        direct = fc.fit(bs, bv, target, c.reset) if len(bs) else None
        recs[at] = {
            "true": true,
            "forecast": None if got is None else got.value,
            "low": None if got is None else got.low,
            "high": None if got is None else got.high,
            "family": None if got is None else got.family,
            "fit": None if direct is None else direct.value,
            "fit_in": None if direct is None else direct.low <= true <= direct.high,
            "last": last_value(seen_s, seen_v) if len(seen_s) else float("nan"),
            "line": line(seen_s, seen_v, s0, target) if len(seen_s) else float("nan"),
            "points": int(m.sum()),
        }
    return recs


def rel(pred, true) -> float:
    return abs(pred - true) / abs(true) if abs(true) > 0 else float("nan")


def med(xs) -> float:
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def summarize(rows: list[tuple[Case, float, dict]]) -> dict:
    n = len(rows)
    ans = [(c, r) for c, _, r in rows if r["forecast"] is not None and np.isfinite(r["last"])]
    allr = [(c, r) for c, _, r in rows if np.isfinite(r["last"])]
    fits = [(c, r) for c, _, r in rows if r["fit"] is not None]
    return {
        "n": n,
        "answered": len(ans),
        "fc": med(rel(r["forecast"], r["true"]) for _, r in ans),
        "last_ans": med(rel(r["last"], r["true"]) for _, r in ans),
        "line_ans": med(rel(r["line"], r["true"]) for _, r in ans),
        "fc_or_last": med(rel(r["forecast"] if r["forecast"] is not None else r["last"], r["true"]) for _, r in allr),
        "last": med(rel(r["last"], r["true"]) for _, r in allr),
        "line": med(rel(r["line"], r["true"]) for _, r in allr),
        "fit_answered": len(fits),
        "fit": med(rel(r["fit"], r["true"]) for _, r in fits),
        "coverage": (sum(r["low"] <= r["true"] <= r["high"] for _, r in ans) / len(ans)) if ans else float("nan"),
        "fit_coverage": (sum(bool(r["fit_in"]) for _, r in fits) / len(fits)) if fits else float("nan"),
        "half": med((r["high"] - r["low"]) / 2 / abs(r["true"]) for _, r in ans if r["true"]),
        "wins": sum(rel(r["forecast"], r["true"]) < rel(r["last"], r["true"]) for _, r in ans),
    }


def _p(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f} %"


def table(groups: dict) -> str:
    head = ("| group | series | cut | n | forecast answers | forecast | last value (same) | line (same) |"
            " forecast, else last | last value | line | fit alone (answers) | coverage (forecast / fit alone) |"
            " interval half-width | forecast beats last value |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    out = []
    for (group, kind, cut), s in groups.items():
        out.append(f"| {group} | {kind} | {int(cut * 100)} % | {s['n']} | {s['answered']} | {_p(s['fc'])} |"
                   f" {_p(s['last_ans'])} | {_p(s['line_ans'])} | {_p(s['fc_or_last'])} | {_p(s['last'])} |"
                   f" {_p(s['line'])} | {_p(s['fit'])} ({s['fit_answered']}) |"
                   f" {_p(s['coverage'])} / {_p(s['fit_coverage'])} | {_p(s['half'])} | {s['wins']} of {s['answered']} |")
    return head + "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few curves (the test suite's smoke run)")
    ap.add_argument("--only", nargs="*", help="curve ids")
    ap.add_argument("--detail", action="store_true", help="one line per case and cut")
    ap.add_argument("--json", help="write the key figures here (benchmarks/run_all.py)")
    args = ap.parse_args(argv)
    curves = corpus.load_all()
    if args.only:
        curves = [c for c in curves if c.id in args.only]
    todo = cases(curves)
    if args.quick:
        todo = todo[::max(1, len(todo) // 5)][:5]
    if not todo:
        print("no curves to score")
        return 1
    times: list[float] = []
    t0 = time.perf_counter()
    results = [(c, run_case(c, times)) for c in todo]
    took = time.perf_counter() - t0
    raw512 = []  # fit() on 512 raw points (it thins them to 256 block means itself)
    for c in todo:
        ok = np.isfinite(c.values)
        if ok.sum() >= 512:
            s5, v5 = c.steps[ok][:512], c.values[ok][:512]
            t1 = time.perf_counter()
            fc.fit(s5, v5, int(c.steps[-1]))
            raw512.append((time.perf_counter() - t1) * 1e3)
    groups: dict = {}
    for grp in ("healthy", "labelled", "LR cut, re-fit"):
        for kind in ("train", "val", "all"):
            for cut in CUTS:
                rows = [(c, cut, r[cut]) for c, r in results
                        if c.group == grp and (kind == "all" or c.kind == kind) and cut in r]
                if rows:
                    groups[(grp, kind, cut)] = summarize(rows)
    for sched in ("constant", "decaying", "unknown"):
        for cut in CUTS:
            rows = [(c, cut, r[cut]) for c, r in results if c.schedule == sched and c.group != "LR cut, re-fit"]
            if rows:
                groups[(f"LR {sched}", "all", cut)] = summarize(rows)
    print(f"## Forecast of the final value on {len(todo)} real series ({len({c.curve for c in todo})} curves),"
          f" cut at 25/50/75 %; {took:.1f} s\n")
    print("Median relative error |pred - true| / |true| of the final value (true: mean of the last 5 % of the"
          " raw points).\n")
    print(table(groups))
    print(f"Fit cost (Forecaster.update on up to {BLOCKS} block means, {len(times)} calls): median"
          f" {statistics.median(times):.2f} ms, max {max(times):.2f} ms")
    if raw512:
        print(f"fit() on 512 raw points ({len(raw512)} series): median {statistics.median(raw512):.2f} ms,"
              f" max {max(raw512):.2f} ms")
    fams: dict = {}
    for _, r in results:
        for cut in CUTS:
            if cut in r and r[cut]["family"]:
                fams[r[cut]["family"]] = fams.get(r[cut]["family"], 0) + 1
    print("Families picked (answers):", ", ".join(f"{k} {v}" for k, v in sorted(fams.items(), key=lambda kv: -kv[1])))
    if args.detail:
        print()
        for c, r in results:
            for cut in [k for k in CUTS if k in r]:
                x = r[cut]
                f = "-" if x["forecast"] is None else f"{x['forecast']:.4g} [{x['low']:.4g}, {x['high']:.4g}] {x['family']}"
                print(f"{c.curve:<36} {c.kind:<5} {c.group:<8} {int(cut * 100):>2}% pts {x['points']:>5} true {x['true']:.4g}"
                      f"  fc {f}  fit {x['fit'] if x['fit'] is None else round(x['fit'], 4)}"
                      f"  last {x['last']:.4g}  line {x['line']:.4g}")
    fig = Figures()
    for cut in CUTS:
        s = groups.get(("healthy", "all", cut))
        if s:
            fig.add(f"healthy {int(cut * 100)} %: forecast, else last (rel. error)", 100 * s["fc_or_last"], "%",
                    fmt="{:.1f}")
            fig.add(f"healthy {int(cut * 100)} %: last value (rel. error)", 100 * s["last"], "%", fmt="{:.1f}")
            fig.add(f"healthy {int(cut * 100)} %: forecast answers", s["answered"], f"of {s['n']}", fmt="{:.0f}")
    fig.add("forecast update, median", statistics.median(times), "ms", fmt="{:.2f}")
    fig.add("forecast update, max", max(times), "ms", "<= 20", max(times) <= 20.0, fmt="{:.1f}")
    fig.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
