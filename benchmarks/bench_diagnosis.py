"""Diagnosis on real curves: lossmon's detectors and the peers' published rules, scored alike.

Each curve of the corpus (benchmarks/curves/, format in its README) is streamed in step order, a few
logged steps at a time (an alert can only use the past), through lossmon's Diagnoser and through each
peer suite (benchmarks/peers.py). Every report is matched against the curve's hand-checked labels:

- a label is found when a report of its class opens inside the label's window; the delay is the
  number of points of the label's metric logged from its onset to the report;
- a report inside no window of its class, and outside the curve's don't-care ranges, is false;
- classes: instability (nonfinite, spike, divergence, oscillation: warning or critical), overfitting
  (any overfitting report, the onset note included), slow (lr_too_low, stall, lr_drop: the
  LR-too-small warning, a stall or LR-drop note). A plateau note is not a report: "converged" and
  "flat at this LR" are what a healthy run's end looks like.
- on healthy curves, every warning or critical episode is a false alarm (the headline figure).

    python benchmarks/bench_diagnosis.py [--quick] [--only ID ...] [--detail] [--no-peers]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402
from figures import Figures  # noqa: E402

from lossmon import names  # noqa: E402
from lossmon.diagnosis import DiagnosisConfig, Diagnoser  # noqa: E402

try:
    import peers as peer_rules  # noqa: E402
except ImportError:  # the peers module lands separately; lossmon is scored without it
    peer_rules = None

SEVERITY = {"info": 0, "warning": 1, "critical": 2}
CHANCE = "lossmon, told the chance level"


@dataclass(frozen=True)
class Class:
    name: str
    labels: frozenset  # label kinds in this class
    reports: frozenset  # alert kinds that report it
    min_severity: str


CLASSES = (
    Class("instability", frozenset(corpus.INSTABILITY), frozenset(corpus.INSTABILITY), "warning"),
    Class("overfitting", frozenset({"overfitting"}), frozenset({"overfitting"}), "info"),
    Class("slow", frozenset({"lr_too_low", "stall", "lr_drop"}), frozenset({"lr_too_low", "stall", "lr_drop"}), "info"),
)


def class_of_label(kind: str) -> Class:
    return next(c for c in CLASSES if kind in c.labels)


def classes_of_report(alert: dict) -> list[Class]:
    sev = SEVERITY.get(alert.get("severity", "warning"), 1)
    return [c for c in CLASSES if alert["kind"] in c.reports and sev >= SEVERITY[c.min_severity]]


def is_alarm(alert: dict) -> bool:
    """A report that costs the user attention: a warning or critical alert."""
    return SEVERITY.get(alert.get("severity", "warning"), 1) >= 1


# ---- streaming ------------------------------------------------------------------------------------

def _ordered(curve: corpus.Curve) -> tuple[np.ndarray, list[tuple[str, np.ndarray, np.ndarray]]]:
    """The curve's distinct steps, and its series."""
    steps = np.unique(np.concatenate([s for s, _ in curve.series.values()]))
    return steps, [(n, s, v) for n, (s, v) in curve.series.items()]


def chunks(curve: corpus.Curve, per: int):
    """({name: (steps, values)}, events) for each run of `per` distinct logged steps, in order."""
    steps, series = _ordered(curve)
    events = sorted(curve.events, key=lambda e: e.get("step", 0))
    for a in range(0, len(steps), per):
        lo, hi = int(steps[a]), int(steps[min(a + per, len(steps)) - 1])
        pts = {}
        for name, s, v in series:
            i, j = np.searchsorted(s, lo, side="left"), np.searchsorted(s, hi, side="right")
            if j > i:
                pts[name] = (s[i:j], v[i:j])
        evs = [e for e in events if lo <= e.get("step", -1) <= hi]
        yield pts, evs


def run_lossmon(curve: corpus.Curve, per: int = 1, chance: bool = False) -> list[dict]:
    """lossmon's detectors at their defaults; `chance`: told the curve's chance level, as a user
    who knows their number of classes can (`[divergence] chance_level`)."""
    config = None
    if chance and curve.chance_level is not None:
        config = DiagnosisConfig()
        config.divergence.chance_level = curve.chance_level
    diag = Diagnoser(config, live=False)
    for pts, evs in chunks(curve, per):
        diag.feed(pts, evs)
    if diag.failed:
        raise RuntimeError(f"{curve.id}: diagnosis failed: {diag.failed}")
    return [a for a in diag.alerts if a["state"] in ("open", "update")]


def run_peers(curve: corpus.Curve, suite: str) -> list[dict]:
    """One peer suite over the curve, point by point (a stop ends the curve for that suite).
    LLM Foundry's window grows with the run's length, which it knows: so it is told here."""
    steps, series = _ordered(curve)
    if suite == "llm-foundry":
        active = peer_rules.PEERS[suite](total_steps=int(steps[-1]))
    else:
        active = peer_rules.PEERS[suite]()
    order = {names.TRAIN_LOSS: 0, names.LR: 1, names.GRAD_NORM: 2, names.VAL_LOSS: 3}
    roles = {}
    for name, _, _ in series:
        r = names.role(name)
        if r in order and r not in roles.values():
            roles[name] = r
    merged = sorted(((int(s), order[roles[name]], roles[name], float(v))
                     for name, st, va in series if name in roles for s, v in zip(st, va)))
    alerts = peer_rules.run_suite(active, ((role, step, value) for step, _, role, value in merged))
    for a in alerts:
        a.setdefault("severity", "warning")
        a.setdefault("state", "open")
    return _episodes(alerts)


def _episodes(alerts: list[dict]) -> list[dict]:
    """Flags in a row (a skip-step rule fires per step) as one report: a flag within 10 logged
    steps of the last one of the same kind continues its episode."""
    out, last = [], {}
    for a in sorted(alerts, key=lambda a: a["step"]):
        prev = last.get(a["kind"])
        last[a["kind"]] = a["step"]
        if prev is not None and a["step"] - prev <= 10 * max(1, _gap_hint(a)):
            continue
        out.append(a)
    return out


def _gap_hint(alert: dict) -> int:
    return int(alert.get("gap", 1))


# ---- matching -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one detector suite said on one curve, matched against its labels."""

    curve: str
    healthy: bool
    found: dict = field(default_factory=dict)  # label index -> (report step, delay in points)
    missed: list = field(default_factory=list)  # label indexes
    false: list = field(default_factory=list)  # false reports (alert dicts)
    alarms: int = 0  # warning/critical episodes on a healthy curve


def _in(step: int, window: tuple[int, int]) -> bool:
    return window[0] <= step <= window[1]


def match(curve: corpus.Curve, alerts: list[dict]) -> Outcome:
    out = Outcome(curve.id, curve.healthy)
    alerts = sorted(alerts, key=lambda a: a["step"])
    credited = set()
    for i, lab in enumerate(curve.labels):
        cls = class_of_label(lab.kind)
        hit = next((a for a in alerts if cls in classes_of_report(a) and _in(a["step"], lab.window)), None)
        if hit is None:
            out.missed.append(i)
            continue
        steps = curve.series[lab.metric][0]
        delay = int(np.searchsorted(steps, hit["step"], side="left") - np.searchsorted(steps, lab.onset, side="left"))
        out.found[i] = (int(hit["step"]), max(delay, 0))
    opened = {}  # (kind, metric) -> the episode's opening alert
    for a in alerts:
        key = (a["kind"], a.get("metric"))
        if a.get("state") == "update" and key in opened:
            if id(opened[key]) in credited or opened[key] in out.false:
                continue  # the episode was already counted, found or false, when it opened
        else:
            opened[key] = a
        if any(_in(a["step"], w) for w in curve.dont_care):
            continue
        own = classes_of_report(a)
        if not own and not is_alarm(a):
            continue  # a note that reports nothing (a plateau, a grad-norm blip)
        if any(class_of_label(lab.kind) in own and _in(a["step"], lab.window) for lab in curve.labels):
            credited.add(id(a))
            continue
        if any(_in(a["step"], lab.window) for lab in curve.labels) and is_alarm(a):
            continue  # another alarm about the same broken stretch (a spike inside a divergence)
        if own or is_alarm(a):
            out.false.append(a)
    if curve.healthy:
        out.alarms = sum(1 for a in alerts if is_alarm(a) and a["state"] == "open"
                         and not any(_in(a["step"], w) for w in curve.dont_care))
    return out


# ---- scoring --------------------------------------------------------------------------------------

@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    delays: list = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else math.nan


def score(curves: list[corpus.Curve], outcomes: list[Outcome]) -> dict:
    by = {c.name: Score() for c in CLASSES}
    early, nan = Score(), Score()
    for curve, out in zip(curves, outcomes):
        for i, lab in enumerate(curve.labels):
            s = by[class_of_label(lab.kind).name]
            hit = i in out.found
            if hit:
                s.tp += 1
                s.delays.append(out.found[i][1])
            else:
                s.fn += 1
            if class_of_label(lab.kind).name == "instability" and lab.onset - _first_step(curve, lab.metric) <= 50:
                early.tp += hit
                early.fn += not hit
            if lab.kind == "nonfinite":
                nan.tp += hit
                nan.fn += not hit
                if hit:
                    nan.delays.append(out.found[i][1])
        for a in out.false:
            for cls in classes_of_report(a) or [CLASSES[0]]:
                by[cls.name].fp += 1
    healthy = [o for o in outcomes if o.healthy]
    return {"classes": by, "early": early, "nan": nan,
            "healthy_curves": len(healthy), "healthy_alarms": sum(o.alarms for o in healthy),
            "healthy_with_alarm": sum(1 for o in healthy if o.alarms)}


def _first_step(curve: corpus.Curve, metric: str) -> int:
    return int(curve.series[metric][0][0])


def _f(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"


def table(results: dict[str, dict]) -> str:
    head = ("| suite | class | precision | recall | F1 | median delay (points) | found / labels | false reports |\n"
            "|---|---|---|---|---|---|---|---|\n")
    rows = []
    for suite, res in results.items():
        for cls in CLASSES:
            s = res["classes"][cls.name]
            if s.tp + s.fn + s.fp == 0:
                continue
            d = statistics.median(s.delays) if s.delays else math.nan
            rows.append(f"| {suite} | {cls.name} | {_f(s.precision)} | {_f(s.recall)} | {_f(s.f1)} | "
                        f"{'-' if d != d else f'{d:g}'} | {s.tp} / {s.tp + s.fn} | {s.fp} |")
        e, n = res["early"], res["nan"]
        rows.append(f"| {suite} | early blow-ups (first 50 steps) | | {_f(e.recall)} | | | {e.tp} / {e.tp + e.fn} | |")
        nd = statistics.median(n.delays) if n.delays else math.nan
        rows.append(f"| {suite} | NaN | | {_f(n.recall)} | | {'-' if nd != nd else f'{nd:g}'} | {n.tp} / {n.tp + n.fn} | |")
        rows.append(f"| {suite} | healthy curves: warning episodes | | | | | {res['healthy_alarms']} on "
                    f"{res['healthy_with_alarm']} of {res['healthy_curves']} curves | |")
    return head + "\n".join(rows) + "\n"


def detail(curves: list[corpus.Curve], outcomes: list[Outcome], alerts: dict[str, list[dict]],
           everything: bool = False) -> str:
    lines = []
    for curve, out in zip(curves, outcomes):
        labs = []
        for i, lab in enumerate(curve.labels):
            if i in out.found:
                st, d = out.found[i]
                labs.append(f"{lab.kind}@{lab.onset}: found at {st} (+{d})")
            else:
                labs.append(f"{lab.kind}@{lab.onset}: MISSED")
        state = "; ".join(labs) if labs else ("healthy" + (f": {out.alarms} ALARMS" if out.alarms else ": quiet"))
        lines.append(f"{curve.id}: {state}")
        for a in out.false:
            lines.append(f"    false: step {a['step']} {a.get('severity')} {a['kind']}: {a.get('message', '')[:150]}")
        if everything:
            for a in alerts.get(curve.id, []):
                lines.append(f"    said: step {a['step']} {a.get('severity')} {a['kind']}: {a.get('message', '')[:150]}")
    return "\n".join(lines) + "\n"


def evaluate(curves: list[corpus.Curve], suites: list[str], per: int = 1) -> tuple[dict, dict]:
    results, outcomes = {}, {}
    for suite in suites:
        outs, said = [], {}
        for c in curves:
            if suite.startswith("lossmon"):
                alerts = run_lossmon(c, per, chance=suite == CHANCE)
            else:
                alerts = run_peers(c, suite)
            said[c.id] = alerts
            outs.append(match(c, alerts))
        results[suite] = score(curves, outs)
        outcomes[suite] = (outs, said)
    return results, outcomes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few curves (the test suite's smoke run)")
    ap.add_argument("--only", nargs="*", help="curve ids")
    ap.add_argument("--detail", action="store_true", help="per-curve findings of lossmon (--all: every alert)")
    ap.add_argument("--all", action="store_true", help="with --detail: every alert lossmon raised")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--per", type=int, default=1, help="logged steps per feed (1: point by point)")
    ap.add_argument("--json", help="write the key figures here (benchmarks/run_all.py)")
    args = ap.parse_args(argv)
    curves = corpus.load_all()
    if args.only:
        curves = [c for c in curves if c.id in args.only]
    if args.quick:
        curves = curves[::max(1, len(curves) // 6)][:6]
    if not curves:
        print("no curves to score")
        return 1
    suites = ["lossmon", CHANCE] + ([] if args.no_peers or peer_rules is None else list(peer_rules.PEERS))
    t0 = time.perf_counter()
    results, outcomes = evaluate(curves, suites, args.per)
    took = time.perf_counter() - t0
    n_lab = sum(len(c.labels) for c in curves)
    print(f"## Diagnosis on {len(curves)} real curves ({sum(c.healthy for c in curves)} healthy, {n_lab} labels,"
          f" {sum(c.points for c in curves)} points), streamed {args.per} logged step(s) at a time; {took:.1f} s\n")
    print(table(results))
    if args.detail:
        outs, said = outcomes["lossmon"]
        print(detail(curves, outs, said, args.all))
    fig = Figures()
    res = results["lossmon"]
    targets = {"instability": 0.9, "overfitting": 0.9, "slow": 0.7}
    for cls in CLASSES:
        s = res["classes"][cls.name]
        if cls.name != "slow" and s.tp + s.fp:
            fig.add(f"{cls.name} precision", s.precision, "", ">= 0.9", s.precision >= 0.9, "{:.2f}")
        if s.tp + s.fn:
            fig.add(f"{cls.name} recall", s.recall, "", f">= {targets[cls.name]}", s.recall >= targets[cls.name],
                    "{:.2f}")
    fig.add("warning episodes on healthy curves", res["healthy_alarms"], f"on {res['healthy_curves']} curves",
            "<= 1", res["healthy_alarms"] <= 1, "{:.0f}")
    fig.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
