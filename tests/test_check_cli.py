"""`lossmon check`: formats, output, exit status; and the demo's condition found end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lossmon.cli import main
from lossmon.diagnosis.synthetic import generate


def write_jsonl(path, curve, every=1):
    with open(path, "w") as f:
        for i in range(0, len(curve.steps), every):
            f.write(json.dumps({"step": int(curve.steps[i]), "loss": float(curve.train[i])}) + "\n")
        for s, v in zip(curve.val_steps, curve.val):
            f.write(json.dumps({"step": int(s), "val_loss": float(v)}) + "\n")


def run(capsys, *args):
    code = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_healthy_jsonl_exits_0(tmp_path, capsys):
    write_jsonl(tmp_path / "m.jsonl", generate(20_000, seed=1, noise=0.1, tau=100))
    code, out, err = run(capsys, tmp_path / "m.jsonl")
    assert code == 0, out
    assert "no problems found" in out and "loss (20000)" in out


def test_overfitting_in_a_csv_exits_1_and_says_so(tmp_path, capsys):
    c = generate(30_000, seed=2, noise=0.1, tau=100, overfit_at=12_000)
    lines = ["step,epoch,train_loss,val_loss"]
    val = dict(zip(c.val_steps.tolist(), c.val.tolist()))
    for s, v in zip(c.steps.tolist(), c.train.tolist()):
        lines.append(f"{s},{s // 1000},{v!r},{val.get(s, '')}")  # Lightning CSV: empty = not logged
    (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, tmp_path / "metrics.csv")
    assert code == 1
    assert "overfitting" in out and "warning" in out and "above its best" in out


def test_json_output_is_one_object_per_alert(tmp_path, capsys):
    c = generate(20_000, seed=3, noise=0.1, tau=100, nan_at=15_000)
    write_jsonl(tmp_path / "m.jsonl", c)
    code, out, err = run(capsys, tmp_path / "m.jsonl", "--json")
    assert code == 1
    alerts = [json.loads(line) for line in out.splitlines()]
    assert alerts and all({"kind", "severity", "step", "message"} <= a.keys() for a in alerts)
    nonfinite = [a for a in alerts if a["kind"] == "nonfinite"]
    assert nonfinite[0]["step"] == 15_000 and nonfinite[0]["severity"] == "critical"


def test_non_finite_spellings_and_bare_nan_are_read(tmp_path, capsys):
    p = tmp_path / "m.jsonl"
    rows = [json.dumps({"step": i, "loss": 1.0 / (i + 1)}) for i in range(50)]
    rows += ['{"step": 50, "loss": NaN}', '{"step": 51, "loss": "Infinity"}', '{"step": 52, "loss": null}']
    p.write_text("\n".join(rows) + "\n")
    code, out, _ = run(capsys, p, "--json")
    kinds = [(a["kind"], a["step"]) for a in map(json.loads, out.splitlines())]
    assert kinds[0] == ("nonfinite", 50) and code == 1


def test_malformed_lines_are_counted_not_fatal(tmp_path, capsys):
    p = tmp_path / "m.jsonl"
    rows = [json.dumps({"step": i, "loss": 2.0 - i / 1000}) for i in range(200)]
    p.write_text("\n".join(rows[:100] + ["{not json", "[1, 2]", '{"loss": 1}'] + rows[100:]) + "\n")
    code, out, err = run(capsys, p)
    assert code == 0
    assert "3 malformed lines skipped" in err


@pytest.mark.parametrize("content,needle", [
    (None, "does not exist"),
    ("", "is empty"),
    ("hello world\n", "not a format lossmon knows"),
    ("a,b\n1,2\n", "no step column"),
    ("step,accuracy\n1,0.5\n", "no loss metric"),
    ("{bad\n{worse\n", "none of its 2 lines"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, needle):
    p = tmp_path / "input.txt"
    if content is not None:
        p.write_text(content)
    code, out, err = run(capsys, p)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_config_is_exit_2(tmp_path, capsys):
    write_jsonl(tmp_path / "m.jsonl", generate(2000, seed=1, noise=0.1, tau=100))
    (tmp_path / "c.toml").write_text("[spike]\nsigma = 5\n")
    code, out, err = run(capsys, tmp_path / "m.jsonl", "--config", tmp_path / "c.toml")
    assert code == 2 and "unknown setting spike.sigma" in err


def test_config_turns_a_detector_off(tmp_path, capsys):
    write_jsonl(tmp_path / "m.jsonl", generate(20_000, seed=3, noise=0.1, tau=100, nan_at=15_000))
    (tmp_path / "c.toml").write_text("[nonfinite]\nenabled = false\n")
    code, out, _ = run(capsys, tmp_path / "m.jsonl", "--json", "--config", tmp_path / "c.toml")
    assert "nonfinite" not in {json.loads(line)["kind"] for line in out.splitlines()}


def test_a_manual_lr_change_in_the_run_log_rebases_the_detectors(tmp_path, capsys):
    """A x4 LR raise makes the loss jump; after the recorded lr_change it is not a spike."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(4000):
        level = 1.0 if s < 2000 else 1.6
        rows.append(json.dumps({"step": s, "loss": level * float(np.exp(0.05 * rng.standard_normal()))}))
    change = json.dumps({"event": "lr_change", "step": 1999, "applied": True, "request": "x4", "source": "key"})
    (tmp_path / "with.jsonl").write_text("\n".join(rows[:2000] + [change] + rows[2000:]) + "\n")
    (tmp_path / "without.jsonl").write_text("\n".join(rows) + "\n")
    _, out_with, _ = run(capsys, tmp_path / "with.jsonl", "--json")
    _, out_without, _ = run(capsys, tmp_path / "without.jsonl", "--json")
    assert "spike" in {json.loads(x)["kind"] for x in out_without.splitlines()}
    assert "spike" not in {json.loads(x)["kind"] for x in out_with.splitlines()}


@pytest.mark.slow
def test_the_overfit_demo_reports_overfitting_and_check_exits_1(tmp_path):
    """The issue's end-to-end check: `lossmon demo overfit --plain`, then `lossmon check` on its run."""
    run_dir = tmp_path / "run"
    demo = subprocess.run([sys.executable, "-m", "lossmon", "demo", "overfit", "--plain", "--steps", "3200",
                           "--run-dir", str(run_dir)], capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert "[warning] overfitting:" in demo.stdout
    check = subprocess.run([sys.executable, "-m", "lossmon", "check", str(run_dir)], capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 1
    assert "overfitting" in check.stdout


def _lightning_log_after_a_raise(root: Path) -> Path:
    """metrics.csv of a run whose LR was raised x8 from lossmon at step 300 (the log has the
    schedule's LR, 0.1 throughout): the loss jumps from ~0.5 to ~2.4, then falls again."""
    rng = np.random.default_rng(0)
    lines = ["epoch,step,train_loss,lr-SGD"]
    for s in range(1, 601):
        level = 0.5 + 2.0 * np.exp(-s / 60) if s <= 300 else 0.5 + 1.9 * np.exp(-(s - 300) / 400)
        lines.append(f"0,{s},{level * (1 + 0.02 * rng.standard_normal()):.5f},0.1")
    d = root / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("\n".join(lines) + "\n")
    return d / "metrics.csv"


def _lossmon_run_beside(root: Path) -> Path:
    run = root / "lossmon_runs" / "20261203-000000-train"
    run.mkdir(parents=True)
    (run / "meta.json").write_text(json.dumps({"name": "train", "start_time": time.time() - 60, "state": "done"}))
    rows = [json.dumps({"step": s, "lr": 0.1 if s <= 300 else 0.8}) for s in range(1, 601)]
    rows.insert(300, json.dumps({"event": "lr_change", "step": 300, "source": "key", "request": "x8",
                                 "applied": True, "old": [0.1], "new": [0.8], "scale": 8.0}))
    (run / "run.jsonl").write_text("\n".join(rows) + "\n")
    return run


def test_check_on_a_tools_log_uses_the_lossmon_runs_lr_changes_beside_it(tmp_path, capsys):
    """After a `]` in the live run, the tool's log alone reads as a divergence; with the lossmon run
    beside it, check re-bases at the LR change as the live run did, and says which LR it used."""
    log = _lightning_log_after_a_raise(tmp_path)
    code, out, _ = run(capsys, log)
    assert code == 1 and "divergence" in out and "the schedule's" in out  # the log alone: a false alarm
    run_dir = _lossmon_run_beside(tmp_path)
    code, out, _ = run(capsys, log)
    assert f"LR: the effective LR from the lossmon run {run_dir.resolve()} (1 change made from lossmon)" in out
    assert code == 0 and "divergence" not in out, out
