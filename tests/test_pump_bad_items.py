"""One bad item never loses its neighbours: a step beyond int64 is refused at log(), and an item
that reaches the pump anyway costs only itself (store, columns and run log keep the rest)."""

from __future__ import annotations


import numpy as np
import pytest

from lossmon import events
from lossmon.recording.pump import Pump
from lossmon.rundir.columns import ColumnWriter
from lossmon.rundir.runlog import RunLogWriter
from lossmon.training.run import Run
from runlogs import load_run


def _pump(tmp_path):
    run = Run("t", tmp_path)
    return run, Pump(run, RunLogWriter(tmp_path / "run.jsonl"), columns=ColumnWriter(tmp_path))


@pytest.mark.parametrize("step", [2**63, 2**64, -(2**63) - 1, np.uint64(2**64 - 1)])
def test_a_step_outside_int64_is_refused_at_log_with_one_clear_error(step):
    run = Run("t")
    with pytest.raises(ValueError, match="int64"):
        run.log(step=step, loss=1.0)
    assert run.backlog == 0 and run.step == 0  # nothing half-recorded


def test_int64_extremes_are_accepted():
    run = Run("t")
    run.log(step=2**63 - 1, loss=1.0)
    run.log(step=-(2**63), loss=2.0)
    assert run.step == -(2**63)


def test_an_item_the_pump_cannot_store_does_not_lose_its_neighbours(tmp_path, capsys):
    run, pump = _pump(tmp_path)
    run.log(loss=1.0)
    run._pending.append({"loss": 9.0, "step": 2**64})  # got past log() somehow: the pump's last line of defence
    run.log(loss=2.0)
    run.record(events.ERROR, message="boom", traceback=None)
    pump.stop()
    assert run.store.series("loss").steps().tolist() == [1, 2]
    assert [e["event"] for e in run.store.events] == ["error"]
    loaded = load_run(tmp_path)
    assert loaded.store.series("loss").steps().tolist()[:1] == [1] and 2 in loaded.store.series("loss").steps().tolist()
    assert any(e["event"] == "error" for e in loaded.store.events)
    assert "lossmon:" in capsys.readouterr().err


def test_columns_that_missed_a_point_are_not_trusted(tmp_path):
    run, pump = _pump(tmp_path)
    run.log(loss=1.0)
    run._pending.append({"loss": 9.0, "step": 2**64})
    pump.stop()
    from lossmon.rundir.columns import read_index
    assert read_index(tmp_path) is None  # readers fall back to run.jsonl
