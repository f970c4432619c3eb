"""Comparing runs (#19 item 4): the table's values, the differing config keys, run numbers from
`lossmon ls`, the CLI's plain table and its errors, the wall-time clock."""

from __future__ import annotations

import json
import math

import numpy as np

from compare_runs import T0, three_runs, write_run
from lossmon import cli
from lossmon.compare.runs import load, open_runs, resolve, row
from lossmon.compare.table import cells, differing_keys, table_text
from lossmon.compare.walltime import StepClock


def loaded(paths):
    runs = open_runs(paths)
    for w in runs:
        load(w)
    return runs


def test_table_values_per_run(tmp_path):
    runs = loaded(three_runs(tmp_path))
    rows = [row(w) for w in runs]
    a = rows[0]
    assert (a.name, a.state, a.steps) == ("lr0.1", "finished", 200)
    vals = {s: 2.2 * math.exp(-0.1 * s / 12) + 0.15 for s in range(40, 201, 40)}
    assert a.best_val_step == 200 and a.best_val == vals[200]
    assert a.last_train == 2.0 * math.exp(-0.1 * 200 / 10) + 0.1 + 0.02 * math.sin(200)
    assert [r.steps for r in rows] == [200, 160, 120]
    header, body = cells(rows)
    assert header[-2:] == ["lr", "warmup"]  # batch is the same everywhere: no column
    assert [b[-2:] for b in body] == [["0.1", "-"], ["0.03", "10"], ["0.01", "-"]]


def test_best_val_skips_nan_and_last_train_is_the_last_finite(tmp_path):
    d = write_run(tmp_path, "nan", 0.1, steps=80, nan_at=80)
    (r,) = [row(w) for w in loaded([d])]
    assert r.last_train == 2.0 * math.exp(-0.1 * 79 / 10) + 0.1 + 0.02 * math.sin(79)
    assert r.best_val is not None and math.isfinite(r.best_val)


def test_differing_keys():
    assert differing_keys([{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 1}]) == ["b"]
    assert differing_keys([{"a": [1, 2]}, {"a": [1, 2]}]) == []
    assert differing_keys([{"a": 1}, {"a": 1.0, "c": None}]) == ["a", "c"]  # 1 and 1.0 read differently
    assert differing_keys([]) == []


def test_ls_numbers_are_what_compare_takes(tmp_path):
    paths = three_runs(tmp_path)
    for i, p in enumerate(paths):  # ls lists the oldest first
        meta = json.loads((p / "meta.json").read_text())
        meta["start_time"] = T0 + i
        (p / "meta.json").write_text(json.dumps(meta))
    assert resolve(["3", "1"], tmp_path) == [paths[2], paths[0]]
    assert resolve([str(paths[1])], tmp_path) == [paths[1]]


def test_compare_without_a_terminal_prints_the_table(tmp_path, capsys):
    three_runs(tmp_path / "runs")
    assert cli.main(["compare", "--root", str(tmp_path / "runs"), "1", "2", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["RUN", "STATE", "STEPS", "BEST", "VAL", "AT", "STEP", "LAST", "TRAIN", "lr", "warmup"]
    assert len(out) == 4 and {o.split()[0] for o in out[1:]} == {"lr0.1", "lr0.03", "lr0.01"}


def test_watch_with_several_runs_and_no_terminal_prints_the_table(tmp_path, capsys):
    paths = three_runs(tmp_path)
    assert cli.main(["watch", str(paths[0]), str(paths[2])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [o.split()[0] for o in out] == ["RUN", "lr0.1", "lr0.01"]


def test_bad_runs_are_one_line_and_exit_2(tmp_path, capsys):
    d = write_run(tmp_path / "runs", "a", 0.1)
    for argv, said in ((["compare", str(tmp_path / "nope"), str(d)], "no such run or log"),
                       (["compare", "--root", str(tmp_path / "runs"), "5"], "no run #5: lossmon ls"),
                       (["compare", "--root", str(tmp_path / "empty"), "1"], "no run #1: there are no runs"),
                       (["watch", str(d), str(tmp_path / "nope")], "no such run or log")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err and "Traceback" not in err, err
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01 not a log")
    assert cli.main(["compare", str(d), str(tmp_path / "junk.bin")]) == 2
    assert capsys.readouterr().err.startswith("lossmon compare: ")


def test_same_names_are_told_apart(tmp_path):
    a = write_run(tmp_path / "x", "run", 0.1)
    b = write_run(tmp_path / "y", "run", 0.2)
    assert [w.name for w in loaded([a, b])] == ["run", "run #2"]


def test_plain_table_text_aligns_numbers():
    from lossmon.compare.table import RunRow

    text = table_text([RunRow("a", "running", 1200, 0.5, 1000, 0.61, {"lr": 0.1}),
                       RunRow("bb", "finished", 30, None, None, float("nan"), {"lr": 0.2})])
    lines = text.splitlines()
    assert lines[1].split() == ["a", "running", "1,200", "0.5", "1,000", "0.61", "0.1"]
    assert lines[2].split() == ["bb", "finished", "30", "-", "-", "NaN", "0.2"]


def test_step_clock_reads_wall_times_incrementally(tmp_path):
    d = write_run(tmp_path, "a", 0.1, steps=100, seconds_per_step=0.5)
    log = d / "run.jsonl"
    clock = StepClock(log)
    clock.poll()
    assert clock.known and clock.steps[0] == 1 and clock.steps[-1] == 100
    assert np.allclose(clock.seconds(np.array([1, 50, 100])), [0.0, 24.5, 49.5])
    with open(log, "a") as f:  # a val line at step 100 (no new step), then step 101, then half a line
        f.write(json.dumps({"step": 100, "time": T0 + 99, "val_loss": 1.0}) + "\n")
        f.write(json.dumps({"step": 101, "time": T0 + 50.5 + 0.5, "loss": 1.0}) + "\n{\"step\": 102, ")
    clock.poll()
    assert clock.steps[-1] == 101 and clock.seconds(np.array([100]))[0] == 49.5
    assert StepClock(None).seconds(np.array([1])).tolist() != [0.0]  # nothing known: NaN


def test_watch_takes_an_ls_number_too(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = three_runs(tmp_path / "lossmon_runs")
    for i, p in enumerate(paths):
        meta = json.loads((p / "meta.json").read_text())
        meta["start_time"] = T0 + i
        (p / "meta.json").write_text(json.dumps(meta))
    assert cli.main(["watch", "--once", "2"]) == 0
    assert "lr0.03" in capsys.readouterr().out
    assert cli.main(["watch", "--once", "9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run #9" in err


def test_step_clock_samples_a_long_log_and_stays_close(tmp_path):
    log = tmp_path / "run.jsonl"
    with open(log, "w") as f:  # 40k lines, ~2.4 MB: sampled; 0.5 s a step, then a 100 s pause at 30k
        for i in range(1, 40_001):
            f.write('{"step":%d,"time":%r,"loss":0.5}\n' % (i, T0 + i * 0.5 + (100.0 if i > 30_000 else 0.0)))
            if i % 1000 == 0:
                f.write('{"event":"checkpoint","step":%d,"time":%r}\n' % (i, T0))
    clock = StepClock(log)
    clock.poll()
    assert 1_000 < len(clock.steps) < 5_000 and clock.steps[-1] == 40_000
    got = clock.seconds(np.array([1, 20_000, 35_000, 40_000]))
    assert np.allclose(got, [0.0, 9_999.5, 17_599.5, 20_099.5], atol=15.0)
    size = log.stat().st_size
    assert clock.offset == size
