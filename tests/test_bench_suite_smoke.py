"""The benchmark suite (benchmarks/run_all.py) at a tiny size: every section runs, hands its
figures to the summary, and RESULTS.md gets the machine, the versions and every section's report.
No timing is checked here; the figures themselves come from `make bench`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_all  # noqa: E402


@pytest.mark.slow
def test_the_whole_suite_runs_at_a_tiny_size_and_writes_its_report(tmp_path):
    # two halves at once (CI has two cores): the same sections, half the wall time
    names = [sec.name for sec in run_all.SECTIONS]
    halves = [names[:len(names) // 2], names[len(names) // 2:]]
    procs = [subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick",
                               "--out", str(tmp_path / f"R{k}.md"), "--only", *half],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k, half in enumerate(halves)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    reports = [(tmp_path / f"R{k}.md").read_text() for k in range(2)]
    for report in reports:
        assert "Quick run" in report and "- Machine: " in report and "torch 2." in report
    report = "\n".join(reports)
    for sec in run_all.SECTIONS:
        assert f"## {sec.title}" in report, sec.name
        assert f"`{sec.script}`, ok" in report, sec.name
        rows = [line for line in report.splitlines() if line.startswith(f"| {sec.name} |")]
        assert rows, f"section {sec.name} handed no figure or note to the summary"
    summary = "".join(out.split("== Summary", 1)[1] for out in outs)
    for figure in ("log(float) minus bare loop", "tensorboard add_scalar", "tqdm update+set_postfix",
                   "plain mode throughput", "TUI headless throughput", "TUI in pty throughput",
                   "frame with 1,000 points", "B/pt", "M points/s", "first frame", "on screen while tailing",
                   "demo at 160x48", "whole-process RSS growth", "with 20,000 points of history", "LR hooks"):
        assert figure in summary, figure
    assert "MISSED" not in summary and " met " not in summary  # a quick run judges nothing


def test_a_failing_section_is_reported_and_fails_the_suite(tmp_path, monkeypatch):
    bad = tmp_path / "bench_broken.py"
    bad.write_text("import sys\nprint('half a report')\nsys.exit(3)\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    res = run_all.run_section(run_all.Section("broken", "broken", "bench_broken.py"), quick=True, timeout=60)
    assert res["status"] == "failed (exit 3)" and res["output"] == ["half a report"]
    rows = run_all.table([(run_all.Section("broken", "broken", "bench_broken.py"), res)], quick=False)
    assert rows == [("broken", "(section)", "failed (exit 3)", "", "FAILED")]
