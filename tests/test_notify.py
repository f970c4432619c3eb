"""Notifications: the [notify] command gets the alert as JSON on stdin, on its own thread; a
failure, a timeout and a missing command are recorded and said once, never raised; the bell."""

from __future__ import annotations

import io
import json
import time

import pytest

from conftest import PYTHON, wait_for
from lossmon.diagnosis.config import ConfigError, NotifyConfig, from_dict
from lossmon.notify import Notifier, rings

CRIT = {"event": "alert", "kind": "divergence", "severity": "critical", "state": "open", "step": 7,
        "metric": "loss", "message": "loss diverged"}


def notifier(command: str, **kw) -> tuple[Notifier, list, list]:
    recorded, said = [], []
    return Notifier(NotifyConfig(command=command, **kw), record=recorded.append, say=said.append), recorded, said


def test_rings_at_the_configured_severity_and_above_never_for_a_resolution():
    assert rings(CRIT, "critical") and rings(CRIT, "warning")
    warn = dict(CRIT, severity="warning")
    assert rings(warn, "warning") and not rings(warn, "critical")
    assert not rings(dict(CRIT, state="resolved"), "warning")
    assert not rings(dict(CRIT, severity="info"), "warning") and not rings({"severity": 3}, "warning")


def test_the_command_gets_the_alert_as_json_on_stdin_off_the_callers_thread(tmp_path):
    out = tmp_path / "got.json"
    n, recorded, said = notifier(f"{PYTHON} -c 'import sys; open(sys.argv[1], \"w\").write(sys.stdin.read())' {out}")
    t0 = time.monotonic()
    n.alert(CRIT)
    assert time.monotonic() - t0 < 0.2  # queued, not run here
    assert n.wait(10)
    assert json.loads(out.read_text())["message"] == "loss diverged"
    assert n.sent == 1 and not recorded and not said


def test_a_warning_runs_it_only_when_configured_so(tmp_path):
    out = tmp_path / "n"
    n, _, _ = notifier(f"echo x >> {out}")
    n.alert(dict(CRIT, severity="warning"))
    n.wait(5)
    assert not out.exists()
    n, _, _ = notifier(f"echo x >> {out}", on="warning")
    n.alert(dict(CRIT, severity="warning"))
    n.wait(5)
    assert out.read_text() == "x\n"


def test_a_failing_command_is_recorded_and_said_once():
    n, recorded, said = notifier("echo nope >&2; exit 3")
    n.alert(CRIT)
    n.alert(CRIT)
    assert n.wait(10)
    assert [r["reason"] for r in recorded] == ["failed", "failed"]
    assert recorded[0]["alert"] == "divergence" and recorded[0]["ok"] is False
    assert len(said) == 1 and "exit status 3" in said[0] and "nope" in said[0]


def test_a_command_that_is_not_found_is_a_failure_that_says_so():
    n, recorded, said = notifier("lossmon-no-such-command-xyz")
    assert n.run_command(CRIT) is False
    assert recorded[0]["reason"] == "failed" and "not found" in said[0]


def test_a_command_past_its_timeout_is_killed_with_what_it_started():
    n, recorded, said = notifier("sleep 30", timeout_s=0.3)
    t0 = time.monotonic()
    assert n.run_command(CRIT) is False
    assert time.monotonic() - t0 < 5  # the timeout, not the sleep
    assert recorded[0]["reason"] == "timeout" and "0.3 s timeout" in said[0]


def test_no_command_does_nothing_and_bad_settings_are_one_line_errors():
    n, recorded, said = notifier("")
    n.alert(CRIT)
    assert n.wait(1) and not recorded and not n.active
    with pytest.raises(ConfigError, match="notify.on must be one of critical, warning"):
        from_dict({"notify": {"on": "info"}})
    with pytest.raises(ConfigError, match="notify.timeout_s must be above 0"):
        from_dict({"notify": {"timeout_s": 0}})
    with pytest.raises(ConfigError, match="unknown setting notify.cmd"):
        from_dict({"notify": {"cmd": "x"}})


def test_a_live_session_runs_the_command_for_a_critical_alert_and_records_failures(tmp_path):
    from lossmon.session.session import Session

    out = tmp_path / "alert.json"
    cfg = from_dict({"notify": {"command": f"cat > {out}"}})
    session = Session("n", tmp_path / "r", cfg, system=False)
    try:
        session._alert(CRIT)  # as the diagnoser's sink hands it on
        wait_for(lambda: out.exists() and out.read_text())
    finally:
        session.close("finished", 0)
    assert json.loads(out.read_text())["kind"] == "divergence"
    cfg = from_dict({"notify": {"command": "exit 1"}})
    session = Session("f", tmp_path / "f", cfg, system=False)
    session._alert(CRIT)
    wait_for(lambda: session.notifier.failed)
    session.close("finished", 0)
    lines = [json.loads(x) for x in (tmp_path / "f" / "run.jsonl").read_text().splitlines() if x.startswith("{")]
    notes = [x for x in lines if x.get("event") == "notify"]
    assert notes and notes[0]["reason"] == "failed"


def test_check_notify_runs_the_command_for_each_alert_in_ci(tmp_path):
    from lossmon.diagnosis.check import run_check

    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps({"step": i, "loss": 1.0 if i < 200 else float("nan")}) + "\n"
                           for i in range(1, 260)).replace("NaN", '"nan"'))
    got = tmp_path / "got"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[notify]\ncommand = "cat >> {got}; echo >> {got}"\n')
    err = io.StringIO()
    code = run_check(str(log), config_path=str(cfg), notify=True, out=io.StringIO(), err=err)
    assert code == 1
    sent = [json.loads(x) for x in got.read_text().splitlines() if x.strip()]
    assert sent and all(a["severity"] == "critical" for a in sent) and sent[0]["kind"] == "nonfinite"
    assert "notify command run for" in err.getvalue()
    cfg.write_text("[spike]\nsigmas = 5\n")
    err = io.StringIO()
    assert run_check(str(log), config_path=str(cfg), notify=True, out=io.StringIO(), err=err) == 2
    assert "--notify needs a command" in err.getvalue()


def test_plain_mode_rings_the_bell_only_on_a_terminal():
    from lossmon.training.run import Run
    from lossmon.views.plain import PlainPrinter

    class Tty(io.StringIO):
        def isatty(self):
            return True

    for out, bell in ((Tty(), True), (io.StringIO(), False)):
        run = Run("b")
        run.store.append_events([dict(CRIT)])
        p = PlainPrinter(run, out=out)
        p.bell_on = "critical"
        p.poll()
        assert ("\a" in out.getvalue()) is bell
        assert "loss diverged" in out.getvalue()


def test_lossmon_watch_rings_the_bell_as_its_config_says(tmp_path, monkeypatch):
    """`lossmon watch --config f.toml` follows [notify] on / bell, as a live run does."""
    from lossmon.notify import bell_severity
    from lossmon.session import watching
    from lossmon.sources import open_source
    from lossmon.views.tui.app import LossmonApp
    from lossmon.watched import WatchedRun

    assert bell_severity(NotifyConfig()) == "critical"
    assert bell_severity(NotifyConfig(on="warning")) == "warning"
    assert bell_severity(NotifyConfig(bell=False)) is None and bell_severity(NotifyConfig(enabled=False)) is None
    log = tmp_path / "run.jsonl"
    log.write_text('{"step": 1, "loss": 1.0}\n')
    seen = []
    monkeypatch.setattr(LossmonApp, "run", lambda self, *a, **k: seen.append(self.bell_on))
    for notify, expected in (({"on": "warning"}, "warning"), ({"bell": False}, None), (None, "critical")):
        config = from_dict({"notify": notify}) if notify else None
        watched = WatchedRun(open_source(str(log)), config=config)
        watching.watch_tui(watched)
        assert seen[-1] == expected, notify
