"""The whole benchmark suite in one command: each section in its own process, a summary table of
the key figures against DESIGN.md §7's budgets, and benchmarks/RESULTS.md (figures, machine,
versions, date, and every section's full report).

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--out benchmarks/RESULTS.md]

`make bench` runs it at full size (about 15 minutes on a 2-core VM). `--quick` runs every section
at a tiny size (under a minute; the test suite does this so the scripts cannot rot): its figures
are not measurements. The CUDA section reports itself skipped where there is no CUDA device.
Exit status 1 when a section fails to run (a missed budget is reported, not an error).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    script: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] | None = ()  # None: skipped in a quick run (its code runs in another section or test)


SECTIONS = [
    Section("log", "1. log() per call vs a bare loop, TensorBoard and tqdm", "bench_log.py",
            (), ("--calls", "2000", "--rounds", "1")),
    Section("throughput", "2. Steps/s: bare vs plain vs headless TUI vs TUI in a pty (interleaved)", "bench_tui.py",
            (), ("--reps", "1", "--arm-s", "0.6", "--keys", "1", "--preload", "20000")),
    Section("overhead", "2b. Plain-mode recording, same model in alternating blocks", "bench_overhead.py",
            (), ("--blocks", "2", "--block-steps", "20")),
    Section("lr", "2c. LR control: hooks per optimizer step, DDP exchange", "bench_lr.py",
            (), ("--steps", "50", "--rounds", "1", "--no-ddp")),
    Section("snapshot", "2f. Rollback snapshots of a 100M-parameter model with AdamW: per snapshot, per step",
            "bench_snapshot.py", (), ("--params", "2e5", "--reps", "2")),
    Section("update_ratio", "2e. The update-to-weight ratio: cost per step (on vs off), r at a sane vs a tiny LR",
            "bench_update_ratio.py", (), ("--quick",)),
    Section("capture", "2d. lossmon run's zero-code capture per step, vs bare and the explicit API", "bench_capture.py",
            ("--rounds", "21", "--steps", "2000", "--tiny"), ("--rounds", "1", "--steps", "20", "--tiny")),
    Section("plot", "3. Plot frame at 200x50 vs history length", "bench_plot.py",
            (), ("--max-points", "1000")),
    Section("store", "3b. Store memory and queries vs history length", "bench_store.py",
            (), ("--max-points", "1000")),
    Section("detectors", "4. Detectors: throughput, delay, false alarms", "bench_detectors.py",
            (), ("--seeds", "1", "--reps", "1", "--steps", "3000")),
    Section("diagnosis", "4e. Diagnosis on real curves: lossmon beside the peers' published rules", "bench_diagnosis.py",
            (), ("--quick",)),
    Section("forecast", "4f. Forecast of the final value on real curves, against last value and a line",
            "bench_forecast.py", (), ("--quick",)),
    Section("lr_probe", "4g. The LR probe's verdict against keeping x2 for real, on small real models",
            "bench_lr_probe.py", (), ("--quick",)),
    Section("watch", "5. lossmon watch: first frame, memory, tailing latency", "bench_watch.py",
            (), ("--lines", "1000", "--reps", "1", "--latency-s", "2")),
    Section("long", "4b. A 10M-step plain-mode run: memory", "bench_long_run.py",
            (), ("--steps", "20000")),
    Section("ui10m", "4c. The TUI with 10M points of history: key to screen", "bench_tui.py",
            ("--reps", "0", "--keys", "20", "--preload", "10000000"), None),
    Section("crash", "4d. SIGKILL at random moments: the run log survives", "crash_trials.py",
            (), None),  # tests/test_crash_safety.py runs its trials
    Section("terminal", "6. Terminal output of the demo at 160x48", "bench_terminal.py",
            (), ("--seconds", "3")),
    Section("gpu", "7. CUDA: no host-device sync, exact values, throughput", "bench_gpu.py",
            (), ("--steps", "50", "--reps", "1")),
]


def run_section(sec: Section, quick: bool, timeout: float) -> dict:
    """Run one script, echoing its report; returns its figures, output and status."""
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "figures.json"
        cmd = [sys.executable, str(HERE / sec.script), *(sec.quick if quick else sec.full), "--json", str(out_json)]
        t0 = time.monotonic()
        lines: list[str] = []
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, cwd=ROOT)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                print("  " + line, end="", flush=True)
            proc.wait(timeout=max(1.0, timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        took = time.monotonic() - t0
        result = {"figures": [], "notes": []}
        if out_json.exists():
            result = json.loads(out_json.read_text())
    status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    return {**result, "output": lines, "status": status, "seconds": took}


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("torch", "numpy", "textual", "rich", "tensorboard", "tqdm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    out["lossmon"] = rev or "unknown"
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, IndexError, ValueError):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {usable} usable cores{mem}, {platform.system()} {platform.release()}"


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "MISSED")


def table(results: list[tuple[Section, dict]], quick: bool) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for sec, res in results:
        if res["status"] != "ok":
            rows.append((sec.name, "(section)", res["status"], "", "FAILED"))
        for f in res["figures"]:
            judged = "(quick run)" if quick and f["ok"] is not None else verdict(f["ok"])
            rows.append((sec.name, f["name"], f"{f['shown']} {f['unit']}".strip(), f["budget"], judged))
        for n in res["notes"]:
            rows.append((sec.name, n, "", "", ""))
    return rows


def print_table(rows) -> None:
    heads = ("section", "figure", "value", "budget", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)]
    widths[1] = min(widths[1], 70)
    fmt = "  ".join(f"{{:{w}s}}" for w in widths)
    print(fmt.format(*heads))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt.format(*r))


def markdown(results, rows, args, started: datetime.datetime, took: float) -> str:
    v = versions()
    out = ["# lossmon benchmark results", ""]
    if args.quick:
        out += ["**Quick run (tiny sizes): these figures are not measurements.**", ""]
    out += [f"- Date: {started:%Y-%m-%d %H:%M} UTC ({took / 60:.1f} min)",
            f"- Machine: {machine()}",
            "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
            f"- Command: `python benchmarks/run_all.py{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}`",
            "- Budgets: DESIGN.md §7. Every figure is a median of interleaved runs in one process or one"
            " session (see each section); these machines are noisy, so compare ratios, not absolutes.",
            "", "| section | figure | value | budget | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    for sec, res in results:
        out += ["", f"## {sec.title}", "", f"`{sec.script}`, {res['status']}, {res['seconds']:.0f} s", "", "```"]
        out += res["output"] or ["(no output)"]
        out.append("```")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite runs, measures nothing")
    ap.add_argument("--only", nargs="*", choices=[s.name for s in SECTIONS], help="run these sections only")
    ap.add_argument("--out", default=None, help="where to write the markdown report (default benchmarks/RESULTS.md;"
                                                 " a quick run: benchmarks/RESULTS-quick.md, never the real figures)")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed per section")
    args = ap.parse_args()
    if args.out is None:
        args.out = str(HERE / ("RESULTS-quick.md" if args.quick else "RESULTS.md"))
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    results = []
    for sec in SECTIONS:
        if args.only and sec.name not in args.only:
            continue
        print(f"\n== {sec.title} ({sec.script})", flush=True)
        if args.quick and sec.quick is None:
            print("  (not in a quick run)")
            results.append((sec, {"figures": [], "notes": ["not in a quick run"], "output": [], "status": "ok",
                                  "seconds": 0.0}))
            continue
        results.append((sec, run_section(sec, args.quick, args.timeout)))
    rows = table(results, args.quick)
    print("\n== Summary" + (" (quick run: not measurements)" if args.quick else ""))
    print_table(rows)
    Path(args.out).write_text(markdown(results, rows, args, started, time.monotonic() - t0))
    print(f"\nwritten: {args.out}")
    return 0 if all(res["status"] == "ok" for _, res in results) else 1


if __name__ == "__main__":
    sys.exit(main())
