"""Checkpoint requests pending at one step boundary are one checkpoint (issue 18: 50 requests ran a
0.2 s checkpoint 50 times)."""

from __future__ import annotations

from lossmon import events
from lossmon.recording.pump import Pump
from lossmon.training.run import Run
from lossmon.training.steering import Steering


def test_requests_pending_at_one_boundary_are_one_checkpoint():
    emitted = []
    st = Steering(lambda kind, **f: emitted.append({"event": kind, **f}))
    calls = []
    st.checkpoint_fn = lambda: calls.append(1) or "ckpt.pt"
    for i in range(50):
        st.request_checkpoint("control" if i else "key")
    st.serve()
    assert len(calls) == 1
    (ev,) = [e for e in emitted if e["event"] == events.CHECKPOINT]
    assert ev["ok"] and ev["requests"] == 50 and ev["source"] == "key"
    st.request_checkpoint("control")  # a later request is a later checkpoint
    st.serve()
    assert len(calls) == 2 and emitted[-1]["requests"] == 1


def test_a_run_merges_checkpoint_requests_between_steps():
    run = Run()
    calls = []
    run.on_checkpoint(lambda: calls.append(run.step))
    run.log(loss=1.0)
    for _ in range(50):
        run.checkpoint(source="control")
    run.log(loss=1.0)
    run.log(loss=1.0)
    assert len(calls) == 1


def test_a_merged_checkpoint_says_how_many_requests_it_served():
    from lossmon.views.text import describe

    assert describe({"event": "checkpoint", "ok": True, "result": "c.pt", "requests": 50}) == \
        "checkpoint saved: c.pt (50 requests)"
    assert describe({"event": "checkpoint", "ok": True, "requests": 1}) == "checkpoint saved"


def test_fifty_socket_requests_between_two_steps_are_one_checkpoint(tmp_path):
    """The issue's case end to end: 50 `checkpoint` requests over the control socket."""
    from lossmon.control_socket import ControlClient, ControlServer

    run = Run()
    calls = []
    run.on_checkpoint(lambda: calls.append(run.step) or "c.pt")
    server = ControlServer(run, tmp_path / "control.sock")
    assert server.start(), server.error
    try:
        run.log(loss=1.0)
        client = ControlClient(tmp_path / "control.sock")
        assert all(client.request("checkpoint")["ok"] for _ in range(50))
        run.log(loss=1.0)
    finally:
        server.close()
    assert len(calls) == 1
    Pump(run).tick()  # what the pump thread does: the queued events into the store
    (ev,) = [e for e in run.store.events if e["event"] == events.CHECKPOINT]
    assert ev["ok"] and ev["requests"] == 50 and ev["source"] == "control"
