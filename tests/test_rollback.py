"""Snapshots, the data position and rollback (issue 22): a rollback to a snapshot followed by
training equals, bit for bit, a fresh run restored from that snapshot with the same batches skipped."""

import copy
import threading

import pytest
import torch

from lossmon import events
from lossmon.training.run import Run
from lossmon.training.snapshot import set_rng_state

N_DATA = 23  # not a multiple of the accumulation: epochs end mid-accumulation too
UNTIL = 40


def dataset():
    g = torch.Generator().manual_seed(7)
    return [(torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)) for _ in range(N_DATA)]


def make(opt="adamw", sched=True, scaler=False):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1))
    o = (torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1) if opt == "adamw"
         else torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    s = torch.optim.lr_scheduler.StepLR(o, 7, 0.5) if sched else None
    sc = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3) if scaler else None
    return model, o, s, sc


class Stepper:
    """One training loop body shared by the run and its reference (accumulation across epochs)."""

    def __init__(self, parts, accum=1):
        self.model, self.opt, self.sched, self.scaler = parts
        self.accum, self.micro = accum, 0

    def __call__(self, batch):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.model(x), y) / self.accum
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        self.micro += 1
        if self.micro % self.accum:
            return None
        if self.scaler:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.opt.zero_grad()
        if self.sched:
            self.sched.step()
        return loss


def train_with_rollback(parts, *, accum=1, at=15, to_step=11, skip=20, lr_scale=None, on_disk=False,
                        tmp_path=None, until=UNTIL):
    """Train to `until` with snapshots every 4 steps; at step `at` ask for a rollback."""
    data = dataset()
    run = Run(run_dir=tmp_path)
    model, opt, sched, scaler = parts
    run.watch(opt, sched)
    run.snapshot_every(4, keep=3, on_disk=on_disk, scaler=scaler)
    step = Stepper(parts, accum)
    kept = None
    while run.step < until:
        for batch in run.batches(data):
            loss = step(batch)
            if loss is None:
                continue
            run.log(loss=loss)
            if run.step == at and kept is None:
                snaps = run._recovery.snaps
                snap = snaps.pick(to_step)
                kept = snap, copy.deepcopy(snaps.load(snap))
                run.rollback(to_step=to_step, skip_batches=skip, lr_scale=lr_scale)
                assert run.rollback_pending
            if run.step >= until:
                break
    return run, kept


def reference(parts, kept, skip, *, accum=1, lr_scale=None, until=UNTIL, live=None):
    """A fresh run restored from the snapshot's state, reading the data from its position + skip."""
    snap, state = kept
    model, opt, sched, scaler = parts
    model.load_state_dict(state["modules"][0])
    opt.load_state_dict(state["optimizers"][0])
    if sched:
        sched.load_state_dict(state["schedulers"][0])
    if scaler:
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    if lr_scale is not None:  # the multiplier inside each step, as LRControl applies it
        _scaled(opt, lr_scale)
    data = dataset()
    pos = max(snap.batch + skip, live if live is not None else 0)
    step, n = Stepper(parts, accum), snap.step
    while n < until:
        if step(data[pos % N_DATA]) is not None:
            n += 1
        pos += 1
    return pos


def _scaled(opt, s):
    def pre(o, args, kwargs):
        for g in o.param_groups:
            g["_u"], g["lr"] = g["lr"], g["lr"] * s

    def post(o, args, kwargs):
        for g in o.param_groups:
            g["lr"] = g.pop("_u")

    opt.register_step_pre_hook(pre)
    opt.register_step_post_hook(post)


def assert_same(a, b):
    (ma, oa, sa, ca), (mb, ob, sb, cb) = a, b
    for pa, pb in zip(ma.parameters(), mb.parameters()):
        assert torch.equal(pa, pb)
    sda, sdb = oa.state_dict()["state"], ob.state_dict()["state"]
    assert sda.keys() == sdb.keys() and sda
    for k in sda:
        for name, t in sda[k].items():
            assert torch.equal(t, sdb[k][name]), name
    if sa:
        assert sa.state_dict()["last_epoch"] == sb.state_dict()["last_epoch"]
        assert sa.get_last_lr() == sb.get_last_lr()
    if ca:
        assert ca.get_scale() == cb.get_scale() and ca.state_dict() == cb.state_dict()


def rollback_events(run):
    return [e for e in run.drain() if e.get("event") == events.ROLLBACK]


@pytest.mark.parametrize("opt, sched, scaler, accum", [
    ("sgd", False, False, 1),
    ("adamw", True, False, 1),
    ("adamw", True, False, 3),
    ("sgd", True, True, 2),
])
def test_rollback_then_training_equals_a_fresh_run_from_the_snapshot_bitwise(opt, sched, scaler, accum):
    a = make(opt, sched, scaler)
    run, kept = train_with_rollback(a, accum=accum)
    live = 15 * accum  # the data position when the rollback is served (after step 15)
    b = make(opt, sched, scaler)
    reference(b, kept, 20, accum=accum, live=live)
    assert_same(a, b)
    (ev,) = rollback_events(run)
    assert ev["applied"] and ev["from"] == 15 and ev["to"] == ev["step"] == kept[0].step == 8
    assert kept[0].batch == 8 * accum
    assert ev["batch"] == max(8 * accum + 20, live) and ev["skipped"] == ev["batch"] - 8 * accum
    assert not run.rollback_pending and run.step == UNTIL


def test_a_different_skip_gives_a_different_run_so_the_comparison_can_fail():
    a = make()
    _, kept = train_with_rollback(a)
    b = make()
    reference(b, kept, 21)
    with pytest.raises(AssertionError):
        assert_same(a, b)


def test_on_disk_snapshots_restore_the_same_and_keep_only_the_last_k(tmp_path):
    a = make()
    run, kept = train_with_rollback(a, on_disk=True, tmp_path=tmp_path)
    b = make()
    reference(b, kept, 20)
    assert_same(a, b)
    assert run.wait_for_snapshots(timeout=30)  # the last one may still be on its way to the file
    files = sorted((tmp_path / "snapshots").iterdir())
    assert len(files) == 3 and not any(f.name.endswith(".tmp") for f in files)
    assert [s["where"] for s in run.snapshots()] == [str(f) for f in sorted(files, key=lambda f: f.stat().st_mtime)]


def test_a_skip_behind_the_live_position_resumes_at_the_live_one_and_says_so():
    a = make("sgd", False)
    run, kept = train_with_rollback(a, at=15, to_step=11, skip=2)  # snapshot at batch 8, live at 15
    b = make("sgd", False)
    reference(b, kept, 2, live=15)
    assert_same(a, b)
    (ev,) = rollback_events(run)
    assert ev["skipped"] == 7 and ev["batch"] == 15


def test_a_skip_past_the_end_of_the_epoch_goes_on_in_the_next_one():
    a = make("sgd", False)
    run, kept = train_with_rollback(a, at=15, to_step=11, skip=30)  # 8 + 30 = 38: past two epochs of 23
    b = make("sgd", False)
    reference(b, kept, 30)
    assert_same(a, b)
    assert rollback_events(run)[0]["batch"] == 38


def test_rolling_back_twice_to_the_same_snapshot_starts_from_it_both_times():
    parts = make()
    run = Run()
    run.watch(parts[1], parts[2])
    run.snapshot_every(4, keep=2)
    step, seen, pending = Stepper(parts), [], False
    for batch in run.batches(dataset()):
        if pending and not run.rollback_pending:  # served at this next(): the state is the snapshot's
            seen.append([p.detach().clone() for p in parts[0].parameters()])
        pending = run.rollback_pending
        run.log(loss=step(batch))
        if run.step == 6 and len(seen) < 2 and not pending:
            snap = run._recovery.snaps.pick(None)
            state = copy.deepcopy(run._recovery.snaps.load(snap))
            run.rollback(skip_batches=0)
            pending = True
        if run.step >= 10:
            break
    assert len(seen) == 2
    for got in seen:  # the first restore did not alias the snapshot: the second starts from it too
        assert all(torch.equal(x, y) for x, y in zip(got, state["modules"][0].values()))
    assert [e["to"] for e in rollback_events(run)] == [4, 4]


def test_lr_scale_goes_through_the_lr_control_and_matches_a_scaled_reference():
    a = make("sgd", True)
    run, kept = train_with_rollback(a, lr_scale=0.5)
    b = make("sgd", True)
    reference(b, kept, 20, lr_scale=0.5)
    assert_same(a, b)
    evs = [e for e in run.drain() if e.get("event") in (events.ROLLBACK, events.LR_CHANGE)]
    assert [e["event"] for e in evs] == ["rollback", "lr_change"]
    assert evs[0]["scale"] == 0.5 and evs[1]["scale"] == 0.5 and evs[1]["step"] == 8
    assert run.state_dict()["lr_scale"] == 0.5


def test_without_batches_state_rolls_back_at_log_and_data_goes_on():
    """A plain loop: the state comes back exactly; the data cannot be skipped (skipped 0)."""
    parts = make()
    data = dataset()
    run = Run()
    run.watch(parts[1], parts[2])
    run.snapshot_every(4)
    step, kept, i = Stepper(parts), None, 0
    while run.step < UNTIL:
        run.log(loss=step(data[i % N_DATA]))
        i += 1
        if run.step == 15 and kept is None:
            snap = run._recovery.snaps.pick(11)
            kept = snap, copy.deepcopy(run._recovery.snaps.load(snap))
            run.rollback(to_step=11)
    (ev,) = rollback_events(run)
    assert ev["skipped"] == 0 and ev["batch"] is None and ev["to"] == 9  # snapshots at log(): steps 1, 5, 9, 13
    assert kept[0].batch is None
    b = make()
    snap, state = kept
    b[0].load_state_dict(state["modules"][0])
    b[1].load_state_dict(state["optimizers"][0])
    b[2].load_state_dict(state["schedulers"][0])
    set_rng_state(state["rng"])
    ref = Stepper(b)
    for j in range(16, 16 + UNTIL - 9):  # the live loop's next batch (16) follows
        ref(data[j % N_DATA])
    assert_same(parts, b)


def test_a_rollback_with_no_snapshot_is_refused_with_a_reason_never_raised():
    run = Run()
    run.rollback()
    (ev,) = rollback_events(run)
    assert ev["applied"] is False and "snapshot_every" in ev["reason"]
    assert not run.snapshotting and run.snapshots() == [] and not run.rollback_pending
    parts = make()
    run.watch(parts[1])
    run.snapshot_every(5, keep=1)
    step, asked = Stepper(parts), set()
    while run.step < 14:
        for batch in run.batches(dataset()):
            run.log(loss=step(batch))
            if run.step == 3 and 3 not in asked:
                asked.add(3)
                run.rollback(to_step=2, skip_batches=0)  # the snapshot at step 0 (taken at the first batch)
            if run.step == 12 and 12 not in asked:
                asked.add(12)
                run.rollback(to_step=2)  # before the one snapshot kept (step 10)
            if run.step >= 14:
                break
    evs = rollback_events(run)
    assert [e["applied"] for e in evs] == [True, False]
    assert evs[0]["to"] == 0 and "no snapshot at or before step 2" in evs[1]["reason"]


@pytest.mark.parametrize("kwargs, needle", [
    ({"to_step": 1.5}, "to_step"), ({"to_step": True}, "to_step"), ({"to_step": -3}, "to_step"), ({"skip_batches": -1}, "skip_batches"),
    ({"skip_batches": 2.0}, "skip_batches"), ({"lr_scale": 0}, "lr_scale"), ({"lr_scale": float("nan")}, "lr_scale"),
])
def test_bad_rollback_arguments_raise_one_line_value_errors_at_once(kwargs, needle):
    with pytest.raises(ValueError, match=needle) as e:
        Run().rollback(**kwargs)
    assert "\n" not in str(e.value)


def test_bad_snapshot_arguments_and_no_module_found_are_clear():
    run = Run()
    with pytest.raises(ValueError, match="n_steps"):
        run.snapshot_every(0)
    with pytest.raises(ValueError, match="run directory"):
        run.snapshot_every(5, on_disk=True)
    w = torch.nn.Parameter(torch.ones(3))  # an optimizer over a bare tensor: no module owns it
    opt = torch.optim.SGD([w], lr=0.1)
    run.watch(opt)
    run.snapshot_every(1)
    for _ in run.batches(range(3)):
        w.grad = torch.ones(3)
        opt.step()
        run.log(loss=1.0)
    assert not run.snapshotting
    (ev,) = [e for e in run.drain() if e.get("event") == events.CAPTURE]
    assert "modules=" in ev["message"]


def test_snapshots_lists_from_another_thread_while_training():
    parts = make()
    run = Run()
    run.watch(parts[1], parts[2])
    run.snapshot_every(2, keep=3)
    step, seen, done = Stepper(parts), [], threading.Event()

    def reader():
        while not done.is_set():
            seen.append(run.snapshots())

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(3):
            for batch in run.batches(dataset()):
                run.log(loss=step(batch))
    finally:
        done.set()
        t.join()
    final = run.snapshots()
    assert [s["step"] for s in final] == [64, 66, 68] and [s["batch"] for s in final] == [64, 66, 68]
    assert all(len(s) <= 3 and all(x["where"] == "memory" for x in s) for s in seen)
    assert run.data_position == 69 and run.optimizer_steps == 69


# ---- config, automatic recovery, CLI ----------------------------------------------------------------

def test_config_rollback_action_is_spike_only_and_snapshot_section_is_checked():
    from lossmon.diagnosis.config import ConfigError, from_dict

    cfg = from_dict({"spike": {"action": "rollback", "max_rollbacks": 2}, "snapshot": {"enabled": True, "every": 50, "keep": 2}})
    assert cfg.spike.action == "rollback" and cfg.spike.max_rollbacks == 2 and cfg.snapshot.every == 50
    assert not from_dict({}).snapshot.enabled and from_dict({}).spike.action == "alert"  # off by default
    for bad, needle in (({"divergence": {"action": "rollback"}}, r"only \[spike\]"),
                        ({"snapshot": {"every": 0}}, "snapshot.every"),
                        ({"snapshot": {"keep": 0}}, "snapshot.keep"),
                        ({"spike": {"max_rollbacks": 0}}, "max_rollbacks")):
        with pytest.raises(ConfigError, match=needle):
            from_dict(bad)


def test_a_spike_rolls_back_once_by_itself_when_configured(tmp_path):
    """Bad batches cause a spike; [spike] action = "rollback" goes back before it, skips them, and
    does not act again on the same spike; past max_rollbacks it refuses, saying so."""
    import time

    import lossmon
    from runlogs import load_run

    g = torch.Generator().manual_seed(3)
    xs = [torch.randn(16, 4, generator=g) for _ in range(400)]
    w_true = torch.randn(4, 1, generator=g)
    bad = set(range(120, 123)) | set(range(330, 333))
    data = [(x, x @ w_true * (200.0 if i in bad else 1.0)) for i, x in enumerate(xs)]
    cfg = {"spike": {"action": "rollback", "max_rollbacks": 1, "rollback_skip": 200}, "snapshot": {"enabled": True, "every": 10}}

    def train(run):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        run.watch(opt)
        deadline = time.monotonic() + 20
        for x, y in run.batches(data):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.log(loss=loss)
            want = {125: 1, 335: 2}.get(run.data_position)
            while want and not run.rollback_pending and time.monotonic() < deadline \
                    and sum(e["event"] == "rollback" for e in run.store.events) < want:
                time.sleep(0.005)  # the detectors run on the pump: wait for their verdict on the spike
        return run

    run = lossmon.run(train, name="auto", run_dir=tmp_path / "r", ui="plain", config=cfg)
    evs = [e for e in load_run(tmp_path / "r").store.events if e["event"] == "rollback"]
    assert [e["applied"] for e in evs] == [True, False], evs
    first, second = evs
    assert first["source"] == "diagnosis:spike" and first["to"] <= 120 and first["skipped"] >= 200
    assert "max_rollbacks" in second["reason"]
    assert run.snapshotting


def test_a_snapshot_that_cannot_be_written_turns_snapshots_off_with_an_event_not_an_error(tmp_path, monkeypatch):
    import lossmon.training.snapshot as snapshot

    def full(state, f):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    parts = make()
    run = Run(run_dir=tmp_path)
    run.watch(parts[1])
    run.snapshot_every(2, on_disk=True)
    step = Stepper(parts)
    for batch in run.batches(dataset()):
        run.log(loss=step(batch))  # training goes on
    assert run.wait_for_snapshots(timeout=30)
    assert run.step == N_DATA and not run.snapshotting
    (ev,) = [e for e in run.drain() if e.get("event") == events.CAPTURE]
    assert "No space left" in ev["message"]
    assert not list((tmp_path / snapshot.SNAPSHOT_DIR).iterdir())  # no half-written file left


def test_lossmon_run_takes_snapshot_every_before_the_script(capsys):
    from lossmon import cli

    own, target = cli.split_run_args(["--snapshot-every", "50", "train.py", "--snapshot-every", "7"])
    assert own == ["--snapshot-every", "50"] and target == ["train.py", "--snapshot-every", "7"]
    assert cli._run_parser().parse_args(own).snapshot_every == 50
    with pytest.raises(SystemExit):
        cli._run_parser().parse_args(["--snapshot-every", "0"])
    assert "snapshot-every" in capsys.readouterr().err


def test_a_disk_snapshot_is_written_off_the_training_thread_and_restores_while_still_being_written(tmp_path,
                                                                                                  monkeypatch):
    """torch.save held back: training goes on past the snapshot (the write is the writer thread's),
    a rollback to it restores from its host buffer, and the file appears once the write is let go."""
    real_save, gate, writers = torch.save, threading.Event(), []

    def held(state, f):
        writers.append(threading.current_thread().name)
        assert gate.wait(30)
        real_save(state, f)

    monkeypatch.setattr(torch, "save", held)
    parts = make("sgd", False)
    model = parts[0]
    run = Run(run_dir=tmp_path)
    run.watch(parts[1])
    run.snapshot_every(1000, on_disk=True)  # one snapshot, at the first boundary
    step, at_snapshot, asked, after = Stepper(parts), None, False, None
    for batch in run.batches(dataset()):
        if at_snapshot is None and run.snapshots():  # taken at this next(): the state it holds
            at_snapshot = copy.deepcopy(model.state_dict())
        if asked and after is None and not run.rollback_pending:  # served at this next()
            after = copy.deepcopy(model.state_dict())
        run.log(loss=step(batch))
        if run.step == 10 and not asked:
            run.rollback(skip_batches=0)
            asked = True
    assert writers == ["lossmon-snapshot-writer"] and not gate.is_set()  # every step ran during the write
    (ev,) = rollback_events(run)
    assert ev["applied"] and ev["to"] == run.snapshots()[0]["step"]
    assert after is not None and all(torch.equal(after[k], at_snapshot[k]) for k in at_snapshot)
    gate.set()
    assert run.wait_for_snapshots(timeout=30)
    assert [f.name for f in (tmp_path / "snapshots").iterdir()] == [run.snapshots()[0]["where"].rsplit("/", 1)[1]]
