from lossmon.formatting import fmt_value
from lossmon.views.text import describe


def test_every_event_kind_reads_as_one_plain_line_with_its_numbers():
    lines = {
        "lr": describe({"event": "lr_change", "source": "key", "request": "x0.5", "applied": True,
                        "old": [0.003], "new": [0.0015], "scale": 0.5}),
        "refused": describe({"event": "lr_change", "request": "set 0.1", "applied": False, "reason": "LR is 0"}),
        "commit": describe({"event": "lr_commit", "applied": True, "baked": 0.5, "notes": ["LambdaLR: x"]}),
        "pause": describe({"event": "pause", "source": "key"}),
        "ckpt": describe({"event": "checkpoint", "ok": True, "result": "/tmp/c.pt"}),
        "ckpt_err": describe({"event": "checkpoint", "ok": False, "error": "OSError: disk full"}),
        "error": describe({"event": "error", "message": "RuntimeError: boom"}),
        "unknown": describe({"event": "custom", "step": 3, "x": 1}),
    }
    assert lines["lr"] == "LR x0.5 (key): 0.003 -> 0.0015 (multiplier 0.5)"
    assert lines["refused"] == "LR change set 0.1 refused: LR is 0"
    assert lines["commit"].startswith("LR multiplier 0.5 baked") and "LambdaLR" in lines["commit"]
    assert lines["pause"] == "paused (key)"
    assert lines["ckpt"] == "checkpoint saved: /tmp/c.pt" and "disk full" in lines["ckpt_err"]
    assert lines["error"] == "training raised RuntimeError: boom"
    assert lines["unknown"] == "custom {'x': 1}"
    assert all("\n" not in line for line in lines.values())


def test_values_are_compact_and_non_finite_is_spelled_out():
    assert [fmt_value(v) for v in (0.123456, float("nan"), float("inf"), float("-inf"), None)] == \
        ["0.1235", "NaN", "+inf", "-inf", "-"]


def test_durations_for_the_eta_are_short():
    from lossmon.formatting import fmt_duration

    assert [fmt_duration(x) for x in (4.4, 65, 3599, 7380)] == ["4s", "1m05s", "59m59s", "2h03m"]


def test_final_status_line_has_a_whole_run_rate_and_no_eta():
    import io

    from lossmon.views.plain import PlainPrinter
    from lossmon.training.run import Run

    run = Run("t")
    run.total_steps = 1000
    run.store.append_points({"loss": ([100], [0.5])})
    printer = PlainPrinter(run, out=io.StringIO())
    printer.started -= 10.0  # ten seconds into the run
    printer.status_line()
    run.store.append_points({"loss": ([400], [0.4])})  # the last drain lands just before the final line
    line = printer.status_line(final=True)
    assert "40.0 steps/s" in line and "ETA" not in line
