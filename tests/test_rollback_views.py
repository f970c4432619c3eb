"""What a rollback does to the record's readers: the store forks its series (the abandoned stretch
kept apart, the live branch in step order), the plot draws the abandoned part faint, the words,
and the detectors and `lossmon check` judge the live branch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lossmon.cli import main
from lossmon.diagnosis.engine import Diagnoser
from lossmon.recording.branches import fork_at, live_branch
from lossmon.recording.store import MetricStore, Series
from lossmon.views.text import describe
from lossmon.views.tui.plotimage import render_plot

TO, FROM = 1300, 1450


def rollback_event(to=TO, frm=FROM, **kw) -> dict:
    return {"event": "rollback", "step": to, "time": 0.0, "source": "key", "applied": True, "from": frm,
            "to": to, "skipped": 200, "batch": frm + 200, **kw}


def curve(steps, spike=()):
    """A falling loss with noise; steps in `spike` are 20x up (bad batches)."""
    rng = np.random.default_rng(int(steps[0]))
    steps = np.asarray(steps)
    v = 2.0 * (steps + 10.0) ** -0.3 * np.exp(0.03 * rng.standard_normal(len(steps)))
    return np.where(np.isin(steps, list(spike)), v * 20.0, v)


OLD = np.arange(1, FROM + 1)
NEW = np.arange(TO + 1, 1800)
BAD = range(1440, FROM + 1)


def test_fork_at_finds_where_the_steps_went_back_or_crossed_the_target():
    assert fork_at(np.array([1449, 1450, 1301, 1302]), TO) == 2
    assert fork_at(np.array([1301, 1302]), TO, prev=1450) == 0  # the new branch in the next batch
    assert fork_at(np.array([1449, 1450]), TO, prev=1448) is None  # the old branch's last points
    assert fork_at(np.array([1299, 1300, 1301]), TO) == 2  # the live branch alone: it crosses
    assert fork_at(np.array([1299, 1300, 1301]), TO, cross=False) is None


def test_live_branch_drops_each_abandoned_stretch_and_keeps_them_apart():
    steps = np.concatenate([np.arange(1, 151), np.arange(101, 131), np.arange(81, 201)])  # two rollbacks
    st, va, gone = live_branch(steps, steps * 1.0, [100, 80])
    assert st.tolist() == list(range(1, 201))
    assert [(to, s.min(), s.max()) for to, s, _ in gone] == [(100, 101, 150), (80, 81, 130)]


def _store_with_rollback(event_first: bool) -> MetricStore:
    store = MetricStore()
    store.append_points({"loss": (OLD, curve(OLD, BAD))})
    if event_first:
        store.append_events([rollback_event()])
        store.append_points({"loss": (NEW, curve(NEW))})
    else:  # one batch: the pump (or a columns file) hands over the points before the events
        store.append_points({"loss": (NEW, curve(NEW))})
        store.append_events([rollback_event()])
    return store


def test_the_store_forks_a_series_whether_the_event_comes_before_or_after_the_new_points():
    for event_first in (True, False):
        store = _store_with_rollback(event_first)
        live = store.series("loss")
        steps = live.steps()
        assert steps.tolist() == list(range(1, 1800)) and live.out_of_order == 0
        assert np.allclose(live.values()[TO:], curve(NEW))  # the new branch, not the spike
        [(name, gone, to)] = store.abandoned
        assert (name, to, gone.steps()[0], gone.steps()[-1]) == ("loss", TO, TO + 1, FROM)
        assert store.abandoned_of("train_loss") == [gone]
        assert store.last_step == 1799


def test_the_old_series_object_stays_whole_for_a_reader_that_holds_it():
    store = MetricStore()
    store.append_points({"loss": (OLD, curve(OLD, BAD))})
    held = store.series("loss")
    store.append_events([rollback_event()])
    store.append_points({"loss": (NEW, curve(NEW))})
    assert len(held) == FROM and held.steps()[-1] == FROM  # nothing mutated in place
    assert store.series("loss") is not held


def test_the_forked_series_pyramid_matches_one_built_from_scratch():
    store = _store_with_rollback(event_first=True)
    live = store.series("loss")
    fresh = Series("loss")
    fresh.extend(*live.points())
    for cols, start, end in ((7, None, None), (64, 100, 1700), (300, 1200, 1500)):
        a, b = live.envelope(cols, start, end), fresh.envelope(cols, start, end)
        for f in ("lo", "hi", "last", "count"):
            assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True), f


def test_a_series_with_nothing_above_the_target_is_not_forked():
    store = MetricStore()
    store.append_points({"loss": (OLD, curve(OLD)), "val_loss": ([1000], [0.5])})
    store.append_events([rollback_event()])
    store.append_points({"loss": (NEW, curve(NEW)), "val_loss": ([1500], [0.4])})
    assert store.series("val_loss").steps().tolist() == [1000, 1500]
    assert [n for n, _, _ in store.abandoned] == ["loss"]


def test_the_plot_draws_the_abandoned_stretch_faint_and_reaches_its_end():
    store = _store_with_rollback(event_first=True)
    train = store.by_role("train_loss")
    plain = render_plot(100, 20, train=train)
    img = render_plot(100, 20, train=train, abandoned=store.abandoned_of("train_loss"))
    keys = {k for row in img.rows for _, k in row}
    assert "abandoned" in keys and "abandoned" not in {k for row in plain.rows for _, k in row}
    assert img.end == 1799 and img.scale.hi > plain.scale.hi  # the spike is still in view, faint


def test_a_rollback_event_reads_in_words():
    assert describe(rollback_event()) == "rolled back from step 1 450 to 1 300 (key), skipped 200 batches"
    assert describe(rollback_event(scale=0.5)).endswith(", LR x0.5")
    refused = {"event": "rollback", "step": 7, "source": "key", "applied": False, "reason": "no snapshots"}
    assert describe(refused) == "rollback refused (key): no snapshots"
    assert describe({"event": "rollback", "from": "x", "to": None}).startswith("rolled back from step ?")


def _feed_as_the_pump(diag: Diagnoser, batches):
    for points, evs in batches:
        diag.feed(points, evs)


def _pump_batches(spike_steps, rollback: bool, size=50):
    """Train-loss batches of `size` rows as the pump hands them over; the rollback event goes with
    the batch it was logged in, and the new branch's first rows share that batch."""
    old = OLD if rollback else np.arange(1, 1800)
    rows = [(int(s), float(v)) for s, v in zip(old, curve(old, spike_steps))]
    cut = len(rows)
    if rollback:
        rows += [(int(s), float(v)) for s, v in zip(NEW, curve(NEW))]
    out = []
    for i in range(0, len(rows), size):
        part = rows[i:i + size]
        evs = [rollback_event()] if rollback and i < cut <= i + size else []
        out.append(({"loss": ([s for s, _ in part], [v for _, v in part])}, evs))
    return out


def test_live_detectors_rebase_at_a_rollback_and_the_spike_resolves_on_the_new_branch():
    diag = Diagnoser(live=True)
    _feed_as_the_pump(diag, _pump_batches(BAD, rollback=True))
    spikes = [a for a in diag.alerts if a["kind"] == "spike"]
    assert (spikes[0]["state"], spikes[0]["step"]) == ("open", 1440)
    assert (spikes[-1]["state"], spikes[-1]["step"]) == ("resolved", TO + 1)
    assert "rolled back to step 1 300" in spikes[-1]["message"]
    div = [a["state"] for a in diag.alerts if a["kind"] == "divergence"]
    assert div == ["open", "resolved"]
    # the steps going back raise nothing: no alert opens after the rollback was seen
    seen = diag.alerts.index(spikes[-1])
    assert [a for a in diag.alerts[seen:] if a["state"] != "resolved"] == []


def _log_with_a_rollback(tmp_path):
    lines = [json.dumps({"step": int(s), "loss": float(v)}) for s, v in zip(OLD, curve(OLD, BAD))]
    lines.append(json.dumps(rollback_event()))
    lines += [json.dumps({"step": int(s), "loss": float(v)}) for s, v in zip(NEW, curve(NEW))]
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_watch_of_a_finished_log_with_a_rollback_shows_the_live_branch_and_judges_it(tmp_path):
    from lossmon.sources import open_source
    from lossmon.watched import WatchedRun

    watched = WatchedRun(open_source(_log_with_a_rollback(tmp_path)))
    while watched.poll():
        pass
    watched.finish()
    live = watched.store.series("loss")
    assert live.steps().tolist() == list(range(1, 1800))
    assert [(n, t) for n, _, t in watched.store.abandoned] == [("loss", TO)]
    alerts = [e for e in watched.store.events if e["event"] == "alert"]
    assert [(a["kind"], a["state"]) for a in alerts if a["kind"] == "spike"] == [("spike", "open"), ("spike", "update"),
                                                                                ("spike", "resolved")]
    assert [a for a in alerts if a["state"] != "resolved" and a["step"] <= TO] == []


def test_check_reads_the_live_branch_of_a_run_log_with_a_rollback(tmp_path, capsys):
    path = _log_with_a_rollback(tmp_path)
    code = main(["check", str(path), "--json"])
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [a for a in out if a["state"] != "resolved" and a["step"] > TO] == []  # no false alerts on the branch
    assert code == 0  # the spike was in the abandoned stretch: the live branch has none


@pytest.mark.slow  # a real job (thread, socket, pump)
def test_a_real_rollback_forks_the_store_through_the_pump():
    """The real Run and pump: a rollback asked at step 50 to the snapshot at step 30; the store's
    live series is in step order with the new branch, the abandoned stretch is kept apart."""
    from lossmon.recording.pump import Pump
    from lossmon.training.run import Run

    run = Run("rb")
    pump = Pump(run, None, interval=0.01).start()
    diag = Diagnoser(live=True)
    pump.subscribers.append(diag.feed)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run.watch(opt)
    run.snapshot_every(10, keep=5)
    asked = False
    for batch in run.batches(range(1000)):
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        opt.step()
        run.log(loss=2.0 / (1 + batch) ** 0.5)
        if run.step == 50 and not asked:
            run.rollback(to_step=30, skip_batches=5, source="test")
            asked = True
        if run.step >= 80:
            break
    pump.stop()
    [ev] = [e for e in run.store.events if e["event"] == "rollback"]
    assert ev["applied"] and (ev["from"], ev["to"]) == (50, 30), ev
    live = run.store.series("loss")
    assert live.steps().tolist() == list(range(1, 81)) and live.out_of_order == 0
    [(gone, to)] = [(s, to) for name, s, to in run.store.abandoned if name == "loss"]
    assert (to, gone.steps().tolist()) == (30, list(range(31, 51)))
    assert run.store.abandoned_of("train_loss") == [gone]
    assert live.values()[30] < gone.values()[0]  # the new branch reads later batches (after the skipped ones)
    assert diag.failed is None and [(a["kind"], a["state"]) for a in diag.alerts] == []


def test_check_says_what_it_judged_after_a_rollback(tmp_path, capsys):
    main(["check", str(_log_with_a_rollback(tmp_path))])
    out = capsys.readouterr().out
    assert "1 rollback (step 1 450 -> 1 300): the live branch is judged" in out


def test_the_live_forecast_starts_its_curve_over_at_the_new_branch():
    from lossmon.diagnosis.forecast_live import LiveForecast

    fc = LiveForecast(lambda: 4000, interval=1e9, clock=lambda: 0.0)
    fc({"loss": (OLD, curve(OLD, BAD))}, [])
    fc({}, [rollback_event()])  # the event first, in a batch of its own: the fork waits for the points
    assert fc._tracks["train_loss"].first_step == 1
    fc({"loss": (NEW, curve(NEW))}, [])
    track = fc._tracks["train_loss"]
    assert (track.first_step, track.last_step) == (TO + 1, 1799)
