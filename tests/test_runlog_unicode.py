"""Text that is not valid Unicode (a lone surrogate in a metric name, an error message built
from a non-UTF-8 file name) is escaped in run.jsonl, said once, and the rest of the batch is
recorded."""

from __future__ import annotations

import os

from lossmon import events
from lossmon.recording.pump import Pump
from lossmon.rundir.columns import ColumnWriter
from lossmon.rundir.runlog import RunLogWriter
from lossmon.training.run import Run
from runlogs import load_run


def _pump(tmp_path):
    run = Run("t", tmp_path)
    return run, Pump(run, RunLogWriter(tmp_path / "run.jsonl"), columns=ColumnWriter(tmp_path))


def test_a_lone_surrogate_is_escaped_and_the_batch_is_kept(tmp_path, capsys):
    run, pump = _pump(tmp_path)
    bad_file = os.fsdecode(b"data\xff.bin")
    for i in range(3):
        run.log(**{"bad\ud800name": 1.0, "loss": float(i)})
    run.record(events.ERROR, message=f"FileNotFoundError: {bad_file}", traceback=f"... {bad_file}\n")
    pump.tick()
    run.log(**{"bad\ud800name": 1.0, "loss": 7.0})
    pump.stop()
    loaded = load_run(tmp_path)
    assert loaded.malformed == 0
    assert loaded.store.series("loss").steps().tolist() == [1, 2, 3, 4]
    assert [n for n in loaded.store.names() if n.startswith("bad")] == ["bad\\ud800name"]  # escaped, readable
    [err] = [e for e in loaded.store.events if e["event"] == "error"]
    assert err["message"] == "FileNotFoundError: data\\udcff.bin"
    said = [line for line in capsys.readouterr().err.splitlines() if "Unicode" in line]
    assert len(said) == 1  # said once, not once per tick


def test_the_columns_name_it_as_the_run_log_does(tmp_path):
    from lossmon.rundir.columns import read_index

    run, pump = _pump(tmp_path)
    run.log(**{"bad\ud800name": 1.0, "loss": 1.0})
    pump.stop()
    assert read_index(tmp_path) == ["bad\\ud800name", "loss"]
    "".join(read_index(tmp_path)).encode("utf-8")  # printable: `lossmon check` writes these names
