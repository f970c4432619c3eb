"""log() where nothing records (the run has ended; a forked DataLoader worker, where the pump
thread does not exist) costs nothing: it never waits for a pump that will not come, queues
nothing, and says once on stderr that it records nothing there."""

from __future__ import annotations

import os
import sys
import time

import pytest

import lossmon

CALLS = 110_000  # before: past 100k queued rows, a 1 s stall every 1,024 calls (~9 s here)


def _log_many(run) -> float:
    t0 = time.perf_counter()
    for i in range(CALLS):
        run.log(loss=float(i))
    return time.perf_counter() - t0


def test_log_after_the_run_ended_costs_nothing_and_says_so_once(tmp_path, capfd):
    run = lossmon.run(lambda run: run.log(loss=1.0), run_dir=tmp_path / "r", ui="plain")
    capfd.readouterr()
    took = _log_many(run)
    err = capfd.readouterr().err
    assert run.backlog == 0  # nothing queued for a consumer that is gone
    assert took < 2.0, took  # before: ~9 s of stalls
    said = [line for line in err.splitlines() if "records nothing" in line]
    assert len(said) == 1 and "ended" in said[0], err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_log_in_a_forked_worker_costs_nothing_and_says_so_once(tmp_path):
    def train(run):
        run.log(loss=1.0)
        r, w = os.pipe()
        errr, errw = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: what a DataLoader worker that logs would do
            sys.stderr = os.fdopen(errw, "w")
            try:
                took = _log_many(run)
                os.write(w, f"{took} {run.backlog}\n".encode())
            finally:
                os._exit(0)
        os.close(w)
        os.close(errw)
        out = os.read(r, 100).decode()
        os.waitpid(pid, 0)
        err = b""
        while chunk := os.read(errr, 65536):
            err += chunk
        run.result = out, err.decode()
        run.log(loss=2.0)  # the parent still records

    run = lossmon.run(lambda run: train(run) or run.result, run_dir=tmp_path / "r", ui="plain")
    out, err = run.result
    took, backlog = out.split()
    assert int(backlog) == 0
    assert float(took) < 2.0, took
    said = [line for line in err.splitlines() if "records nothing" in line]
    assert len(said) == 1 and "fork" in said[0], err
    assert run.store.series("loss").steps().tolist() == [1, 2]
