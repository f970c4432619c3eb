"""Control under torch.distributed: gloo, 2 CPU processes (issue 5)."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

import ddp_worker

pytestmark = [pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built"),
              pytest.mark.slow]  # multi-process (gloo) runs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path, mode, change_step=None, stop_at=None):
    mp.spawn(ddp_worker.worker, args=(free_port(), mode, str(tmp_path), change_step, stop_at), nprocs=2, join=True)
    return [torch.load(tmp_path / f"{mode}-{stop_at}-{r}.pt") for r in range(2)]


def test_lr_change_on_rank0_lands_on_every_rank_at_the_same_step_bitwise(tmp_path):
    r0, r1 = launch(tmp_path, "lossmon")
    assert r0["used"] == r1["used"]  # both ranks used the same LR at every step
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], r1["params"]))
    halved = [i for i, (u, v) in enumerate(zip(r0["used"], r0["used"][1:]), 1) if v < u * 0.6]
    assert len(halved) == 1 and 20 <= halved[0] <= 20 + 64
    assert r0["checkpoints"] and r0["checkpoints"] == r1["checkpoints"]  # ran on both, same step
    s0, s1 = launch(tmp_path, "scripted", change_step=halved[0])
    assert s0["used"] == r0["used"]
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], s0["params"]))  # bitwise the scripted run


def test_stop_from_rank0_stops_every_rank_at_the_same_step(tmp_path):
    r0, r1 = launch(tmp_path, "lossmon", stop_at=50)
    assert r0["steps"] == r1["steps"] and 50 < r0["steps"] < ddp_worker.STEPS
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], r1["params"]))


def test_pause_on_rank0_holds_every_rank_and_resumes_in_lockstep(tmp_path):
    from runlogs import load_run

    r0, r1 = launch(tmp_path, "lossmon-pause")
    assert r0["steps"] == r1["steps"] == ddp_worker.STEPS
    assert r0["used"] == r1["used"]
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], r1["params"]))
    kinds = [e["event"] for e in load_run(tmp_path / "run-lossmon-pause-None").store.events]
    assert kinds.count("pause") == 1 and kinds.count("resume") == 1


def test_lr_probe_from_rank0_starts_and_ends_on_every_rank_at_the_same_step_bitwise(tmp_path):
    """probe_lr(2, 25): x2 for exactly 25 optimizer steps on both ranks, then the multiplier it had;
    the replicas stay identical and equal to a scripted run with that window (issue 23)."""
    r0, r1 = launch(tmp_path, "lossmon-probe")
    assert r0["used"] == r1["used"]
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], r1["params"]))
    u = r0["used"]
    halved = [i for i, (a, b) in enumerate(zip(u, u[1:]), 1) if b < a * 0.6]
    doubled = [i for i, (a, b) in enumerate(zip(u, u[1:]), 1) if b > a * 1.6]
    at = ddp_worker.PROBE_AT
    assert len(doubled) == 1 and at <= doubled[0] <= at + 64  # the probe starts at an exchange step
    start = doubled[0]
    assert halved[-1] == start + ddp_worker.PROBE_STEPS  # and ends exactly PROBE_STEPS later
    s0, _ = launch(tmp_path, "scripted", change_step=(halved[0], start))
    assert s0["used"] == u
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], s0["params"]))


def test_rollback_from_rank0_restores_every_rank_at_the_same_step_bitwise(tmp_path):
    """rollback(to_step=25, skip_batches=7) on rank 0: both ranks restore the snapshot of step 25
    at the same optimizer step, skip the same batches of their own shards, stay identical, and
    equal (each) a fresh replica restored from that snapshot with those batches skipped (issue 22)."""
    import ddp_rollback_worker as w
    from runlogs import load_run

    mp.spawn(w.worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rollback-{r}.pt") for r in range(2))
    assert r0["same"] and r1["same"]  # bitwise the reference on each rank
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], r1["params"]))
    assert r0["rollbacks"] == r1["rollbacks"] == 1
    assert r0["last"]["clock"] == r1["last"]["clock"] == w.TO_STEP and r0["snap_batch"] == w.TO_STEP
    assert r0["last"]["batch"] == r1["last"]["batch"]  # the same step, so the same live position
    assert w.ASK_AT <= r0["last"]["from"] <= w.ASK_AT + 64  # served at an exchange step
    (ev,) = [e for e in load_run(tmp_path / "run").store.events if e["event"] == "rollback"]
    assert ev["applied"] and ev["to"] == ev["step"] == w.TO_STEP and ev["from"] == r0["last"]["from"]
