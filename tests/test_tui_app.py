"""The live UI driven by Pilot with a deterministic trainer: every key acts on the real training
loop through the Run, and the screen says so."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from lossmon.recording.pump import Pump
from lossmon.training.run import Run
from lossmon.views.tui.app import LossmonApp
from lossmon.views.tui.screens import ConfirmQuit, HelpScreen, LRDialog
from tui_helpers import TickCounter, fake_trainer, local, preloaded_run, ticks, until


@pytest.fixture
def new_run():
    """Runs with a pump (as a session gives them): the store fills while training logs."""
    pumps = []

    def make(run_dir=None) -> Run:
        run = Run("t", run_dir)
        pumps.append(Pump(run, None, interval=0.02).start())
        return run

    yield make
    for p in pumps:
        p.stop()


def drawn(app: LossmonApp) -> bool:
    img = app.query_one("#plot").image
    return img is not None and img.scale is not None


def status(app: LossmonApp) -> str:
    return app.status_text().plain


def plot_text(app: LossmonApp) -> str:
    img = app.query_one("#plot").image
    return "\n".join("".join(t for t, _ in row) for row in img.rows)


async def start(pilot, app, log, steps: int = 20) -> None:
    await until(pilot, lambda: log.steps >= steps and app.run_.store.last_step >= steps, what="training started")


def lr_used(log) -> float:
    return log.deltas[-1]


async def checkpoints_served(pilot, run: Run, log, rounds: int = 3) -> None:
    """Ask for `rounds` checkpoints one after the other and wait until the training thread has
    served each: a paused trainer serves them from its pause loop, so this proves it ran (and had
    its chance to step) `rounds` times -- a signal from the trainer itself, not a sleep."""
    for _ in range(rounds):
        served = len(log.checkpoint_threads)
        run.checkpoint(source="test")
        await until(pilot, lambda: len(log.checkpoint_threads) > served, what="checkpoint served while paused")


@pytest.mark.parametrize("key,factor", [("right_square_bracket", 2.0), ("left_square_bracket", 0.5),
                                        ("plus", 1.25), ("minus", 0.8)])
@pytest.mark.slow
async def test_lr_keys_change_the_lr_the_optimizer_uses(key, factor, new_run):
    train, log = fake_trainer()
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, log)
        assert lr_used(log) == pytest.approx(0.1)
        await pilot.press(key)
        assert f"LR x{factor:g} at the next step" in status(app) or f"x{factor:g} manual" in status(app)
        await until(pilot, lambda: abs(lr_used(log) - 0.1 * factor) < 1e-12, what="new LR used")
        await until(pilot, lambda: f"x{factor:g} manual" in status(app))
        await pilot.press("0")
        await until(pilot, lambda: abs(lr_used(log) - 0.1) < 1e-12, what="multiplier back to 1")
        await pilot.press("s")
    assert app.run_.lr_scale == 1.0
    kinds = [e["event"] for e in app.run_.store.events]
    assert kinds.count("lr_change") == 2


@pytest.mark.slow
async def test_lr_dialog_rejects_bad_input_then_sets_the_exact_lr(new_run):
    train, log = fake_trainer()
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, log)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LRDialog))
        for bad in ("abc", "-1", "0", "nan", "inf"):
            inp = app.screen.query_one("#lr-input")
            inp.value = bad
            app.screen.query_one("#lr-error").update("")
            await pilot.press("enter")
            await until(pilot, lambda: "finite number > 0" in str(app.screen.query_one("#lr-error").render()),
                        what=bad)
            assert isinstance(app.screen, LRDialog), bad
        app.screen.query_one("#lr-input").value = "0.025"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, LRDialog))
        await until(pilot, lambda: abs(lr_used(log) - 0.025) < 1e-12, what="exact LR used")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LRDialog))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LRDialog))
        await pilot.press("s")
    assert abs(lr_used(log) - 0.025) < 1e-12


@pytest.mark.parametrize("key", ["p", "space"])
@pytest.mark.slow
async def test_pause_freezes_the_step_count_and_resume_continues(key, new_run):
    train, log = fake_trainer()
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, log)
        await pilot.press(key)
        assert "pausing" in status(app) or "paused" in status(app)
        await until(pilot, lambda: app.run_.paused)
        frozen = log.steps
        await checkpoints_served(pilot, app.run_, log)  # the paused trainer ran three times
        assert log.steps == frozen
        await until(pilot, lambda: " paused " in status(app))
        await pilot.press(key)
        await until(pilot, lambda: log.steps > frozen + 5, what="training resumed")
        assert " running " in status(app)
        await pilot.press("s")


@pytest.mark.slow
async def test_checkpoint_runs_in_the_training_thread_and_shows_as_an_event(new_run):
    train, log = fake_trainer()
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, log)
        await pilot.press("c")
        await until(pilot, lambda: log.checkpoint_threads, what="checkpoint ran")
        await until(pilot, lambda: any("checkpoint saved (key): ckpt-ok" in text for _, _, text in app.feed))
        await pilot.press("s")
    assert log.checkpoint_threads == ["lossmon-train"]


async def test_stop_ends_training_and_the_app_stays_open(new_run):
    train, log = fake_trainer()
    app = LossmonApp(*local(new_run(), train))
    counter = TickCounter(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, log)
        await pilot.press("s")
        await until(pilot, lambda: not app.training_alive, what="trainer returned")
        await until(pilot, lambda: " stopped " in status(app))
        steps = log.steps
        await ticks(pilot, counter)  # the app had three more ticks to exit or see a step
        assert app.is_running and log.steps == steps
        await pilot.press("p")  # nothing to steer any more: a notice, no crash
        assert app.state == "stopped"


async def test_ctrl_c_is_a_graceful_stop_not_a_quit(new_run):
    train, log = fake_trainer()
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, log)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not app.training_alive)
        await until(pilot, lambda: app.state == "stopped", what="the app noticed at its next numbers tick")
        assert app.is_running and app.state == "stopped"
        assert any(e["event"] == "stop" and e["source"] == "key" for e in app.run_.store.events)


@pytest.mark.slow
async def test_quit_asks_while_training_then_stops_gracefully(new_run):
    train, log = fake_trainer()
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, log)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmQuit))
        before = log.steps
        await until(pilot, lambda: log.steps > before + 5, what="still training after 'n'")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, what="app exited")
    assert not app.training_alive and not app.forced
    assert app.job.trainer.outcome.state == "stopped"


@pytest.mark.slow
async def test_second_q_forces_out_when_the_trainer_does_not_return(new_run):
    train, log = fake_trainer(stuck=True)
    app = LossmonApp(*local(new_run(), train))
    counter = TickCounter(app)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await start(pilot, app, log)
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
            await pilot.press("q")
            await until(pilot, lambda: app.quitting)
            await ticks(pilot, counter)  # three ticks that each could have exited: the trainer is alive
            assert app.is_running and " stopping " in status(app)  # still waiting for the trainer
            await pilot.press("q")
            await until(pilot, lambda: not app.is_running, what="forced exit")
        assert app.forced and app.training_alive
    finally:
        log.release.set()
        app.job.trainer.join(5)


async def test_quit_after_training_ended_exits_at_once(new_run):
    train, log = fake_trainer(steps=30, delay=0.0)
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.state == "finished")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert app.job.trainer.outcome.state == "finished"


async def test_view_keys_log_y_smoothing_window():
    app = LossmonApp(preloaded_run(), clock=lambda: 100.0, started=0.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: drawn(app))
        img = app.query_one("#plot").image
        assert img.scale.log and img.start == 1
        await pilot.press("y")
        assert not app.query_one("#plot").image.scale.log
        assert "y: linear" in plot_text(app)
        assert "smoothed 0.9" in plot_text(app)
        await pilot.press("m")
        assert "smoothed 0.99" in plot_text(app)
        await pilot.press("m")
        assert "━ train  " in plot_text(app)  # smoothing off
        await pilot.press("m")
        assert "smoothed 0.6" in plot_text(app)
        await pilot.press("w")
        img = app.query_one("#plot").image
        assert img.start == pytest.approx(5000 - 0.1 * 4999) and "last 10 %" in plot_text(app)
        await pilot.press("w")
        assert app.query_one("#plot").image.start == 4001
        await pilot.press("w")
        assert app.query_one("#plot").image.start == 1


async def test_alerts_show_newest_first_and_acknowledge():
    app = LossmonApp(preloaded_run(), clock=lambda: 100.0, started=0.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.feed)
        text = app.events_text().plain
        assert text.index("train loss is NaN") < text.index("loss 30 is 14x") < text.index("LR x0.5")
        assert "[p]" in text and "[[]" in text  # the suggested key
        assert "2 new alerts" in status(app)
        await pilot.press("a")
        assert "new alert" not in status(app)
        app.run_.record("alert", kind="plateau", severity="info", message="flat")
        app.run_.store.append_events(app.run_.drain())
        await until(pilot, lambda: "1 new alert " in status(app))
        assert app.events_text().plain.index("flat") < app.events_text().plain.index("train loss is NaN")


async def test_help_opens_and_closes():
    app = LossmonApp(preloaded_run(), clock=lambda: 100.0, started=0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_a_training_exception_keeps_the_curves_and_shows_the_traceback(new_run):
    train, log = fake_trainer(raise_at=120, prints=True)
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.state == "failed", what="failure noticed")
        out = "\n".join(line.text for line in app.query_one("#output").lines)
        assert "print at step 100" in out
        assert "RuntimeError: boom at step 120" in out and "Traceback" in out
        assert out.index("print at step 100") < out.index("Traceback")
        assert " failed " in status(app)
        await until(pilot, lambda: drawn(app) and app.query_one("#plot").image.end >= 120)
        assert any("\u2801" <= ch <= "\u28ff" for ch in plot_text(app))  # the curves are still drawn
        await until(pilot, lambda: any("training raised RuntimeError: boom at step 120" in t for _, _, t in app.feed),
                    what="the error event in the feed")
        await pilot.press("q")
    assert app.job.trainer.outcome.state == "failed"
    assert any(e["event"] == "error" for e in app.run_.store.events)


async def test_nan_and_inf_are_counted_and_marked_never_a_crash(new_run):
    nan, inf = float("nan"), float("inf")
    train, log = fake_trainer(steps=200, delay=0.0,
                              values={60: {"loss": nan}, 61: {"loss": inf}, 62: {"grad_norm": -inf},
                                      100: {"val_loss": nan}})
    app = LossmonApp(*local(new_run(), train))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.state == "finished")
        await until(pilot, lambda: "non-finite 4" in status(app))
        app.redraw_now()
        assert "×" in plot_text(app)
        sparks = app.sparks_text(None, None).plain
        assert "grad norm" in sparks and "-inf" in sparks


async def test_print_and_logging_go_to_the_output_pane_and_are_restored(tmp_path, new_run):
    handler = logging.StreamHandler(sys.stderr)
    logger = logging.getLogger("lossmon-test-trainer")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    real_stdout = sys.stdout

    def train(run):
        print("hello from print")
        logger.info("hello from logging")
        run.log(loss=1.0)

    run = new_run(tmp_path)
    app = LossmonApp(*local(run, train))
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.state == "finished")
            await until(pilot, lambda: len(app.query_one("#output").lines) >= 2,
                        what=lambda: (app.capture.total_lines, [l.text for l in app.query_one("#output").lines]))
            out = "\n".join(line.text for line in app.query_one("#output").lines)
            assert "hello from print" in out and "hello from logging" in out
        assert sys.stdout is real_stdout
        assert handler.stream is sys.stderr
        saved = (tmp_path / "output.log").read_text()
        assert "hello from print\n" in saved and "hello from logging\n" in saved
    finally:
        logger.removeHandler(handler)


@pytest.mark.slow
async def test_resize_relayouts_and_redraws_at_the_new_size():
    app = LossmonApp(preloaded_run(), clock=lambda: 100.0, started=0.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: drawn(app))
        wide = len(plot_text(app).splitlines()[1])
        assert not app.has_class("-narrow")
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: app.has_class("-narrow") and app.has_class("-short"))
        await until(pilot, lambda: len(plot_text(app).splitlines()[1]) < wide, what="plot redrawn smaller")
        assert len(plot_text(app).splitlines()[1]) <= 78
        await pilot.press("question_mark")  # a dialog on top while the terminal shrinks
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.resize_terminal(200, 60)
        await until(pilot, lambda: not app.has_class("-narrow"))
        await pilot.resize_terminal(80, 24)
        await pilot.press("escape")
        await until(pilot, lambda: app.query_one("#side").region.y > app.query_one("#plot").region.y,
                    what="side panels stacked under the plot")


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TEXTUAL_COLOR_SYSTEM": "standard"}])
async def test_no_color_and_16_colours_render(monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    app = LossmonApp(preloaded_run(), clock=lambda: 100.0, started=0.0)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: drawn(app))
        svg = app.export_screenshot()
        assert "preloaded" in svg and "alerts" in svg and "\u28ff" in svg  # status, panels, braille
    assert app.return_code in (None, 0)


async def test_progress_bars_show_in_place_in_the_output_pane_and_end_as_lines(tmp_path, new_run):
    tqdm = pytest.importorskip("tqdm").tqdm
    release = threading.Event()

    def train(run):
        print("hello")
        outer = tqdm(total=3, desc="epoch", position=0, mininterval=0, ncols=70)
        inner = tqdm(total=200, desc="batch", position=1, leave=False, mininterval=0, ncols=70)
        outer.update()
        for i in range(200):
            inner.update()
            run.log(loss=1.0 / (i + 1))
        release.wait(30)
        inner.close()
        outer.update(2)
        outer.close()
        print("bye")

    def pane() -> list[str]:
        return [line.text.rstrip() for line in app.query_one("#output").lines]

    app = LossmonApp(*local(new_run(tmp_path), train))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any("200/200" in line for line in pane()), what=pane)
            shown = pane()
            assert shown[0] == "hello" and len(shown) == 3  # one row per bar, each at its latest state
            assert shown[1].startswith("epoch:  33%") and "1/3" in shown[1]
            assert shown[2].startswith("batch: 100%") and "200/200" in shown[2]
            release.set()
            await until(pilot, lambda: app.state == "finished" and "bye" in pane(), what=pane)
            shown = pane()
            assert len(shown) == 3 and shown[0] == "hello" and shown[2] == "bye"
            assert shown[1].startswith("epoch: 100%") and "3/3" in shown[1]
    finally:
        release.set()
    saved = (tmp_path / "output.log").read_text().split("\n")
    assert saved[0] == "hello" and saved[1].startswith("epoch: 100%") and saved[2:] == ["bye", ""]
