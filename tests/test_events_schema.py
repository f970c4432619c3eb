"""Every event the package records is one lossmon.events names, carrying only fields it lists."""

from __future__ import annotations

from pathlib import Path

import torch

from lossmon import events
from lossmon.control_socket import ControlServer
from lossmon.diagnosis.alerts import ADVICE, Episode
from lossmon.training.run import Run
from lossmon.training.thread import call_training

ALWAYS = {"event", "step", "time"}


def recorded() -> list[dict]:
    """A run that does a bit of everything: LR changes and a commit, a checkpoint that works and
    one that fails, control requests, a stop, and a training function that raises."""
    run = Run()
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=0.1)
    run.watch(opt)
    calls = iter([None, OSError("disk full")])

    def save():
        e = next(calls)
        if e:
            raise e
        return "ckpt.pt"

    run.on_checkpoint(save)
    server = ControlServer(run, Path("/nonexistent/control.sock"))  # handle() only: never started
    for line in (b'{"cmd": "scale_lr", "factor": 2}', b'{"cmd": "checkpoint"}'):
        assert server.handle(line)["ok"]

    def train(run):
        for step in range(4):
            opt.step()
            run.log(loss=1.0)
            if step == 1:
                run.commit_lr()
                run.scale_lr(0.5)
                run.checkpoint()
        run.stop()
        run.log(loss=1.0)
        raise RuntimeError("boom")

    call_training(train, run)
    Episode(lambda a: run.record(a.pop("event"), **a), "spike", "loss").start(3, "warning", "spiked", "cut_lr")
    return [e for e in run.drain() if "event" in e]


def test_every_recorded_event_is_written_down_with_its_fields():
    seen = recorded()
    kinds = {e["event"] for e in seen}
    assert {events.LR_CHANGE, events.LR_COMMIT, events.CHECKPOINT, events.CONTROL, events.STOP,
            events.ERROR, events.ALERT} <= kinds
    for e in seen:
        assert e["event"] in events.FIELDS, e
        undocumented = set(e) - ALWAYS - set(events.FIELDS[e["event"]])
        assert not undocumented, (e["event"], undocumented)


def test_advice_names_actions_the_key_table_has():
    from lossmon.views.keys import BY_ID

    assert all(action is None or action in BY_ID for _, action in ADVICE.values())
