import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from lossmon.rundir.runlog import RunLogReader, RunLogWriter, encode_event, format_number
from runlogs import encode_metrics, load_run, read_new


def strict_loads(line):
    def reject(const):
        raise ValueError(f"non-strict JSON constant {const}")
    return json.loads(line, parse_constant=reject)


def test_metric_lines_are_strict_json_and_round_trip_non_finite_values(tmp_path):
    values = {"loss": 1 / 3, "tiny": 5e-324, "neg0": -0.0, "nan": math.nan, "inf": math.inf, "ninf": -math.inf}
    line = encode_metrics(7, 1764240000.123456, values)
    rec = strict_loads(line)
    assert rec["step"] == 7 and rec["nan"] == "NaN" and rec["inf"] == "Infinity" and rec["ninf"] == "-Infinity"
    (tmp_path / "run.jsonl").write_text(line)
    loaded = load_run(tmp_path)
    st_ = loaded.store
    assert st_.series("loss").values()[0] == 1 / 3
    assert st_.series("tiny").values()[0] == 5e-324
    assert math.copysign(1, st_.series("neg0").values()[0]) == -1
    assert math.isnan(st_.series("nan").values()[0])
    assert st_.series("inf").values()[0] == math.inf and st_.series("ninf").values()[0] == -math.inf
    assert st_.nonfinite == 3


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_format_number_round_trips_every_float(x):
    text = format_number(x)
    back = json.loads(text)
    if isinstance(back, str):
        assert math.isnan(x) if back == "NaN" else x == (math.inf if back == "Infinity" else -math.inf)
    else:
        assert back == x and math.copysign(1, back) == math.copysign(1, x)


def test_event_lines_are_strict_json():
    line = encode_event({"event": "lr_change", "step": 3, "old": [math.inf], "new": [0.1], "note": "ünï"})
    rec = strict_loads(line)
    assert rec["old"] == ["Infinity"] and rec["note"] == "ünï"


def test_torn_last_line_is_tolerated_and_malformed_lines_counted(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text(
        encode_metrics(1, 0.0, {"loss": 1.0})
        + "this is not json\n"
        + "[1, 2]\n"
        + '{"loss": 3.0}\n'  # no step
        + '{"step": 2, "loss": NaN, "val_loss": null, "phase": "train"}\n'  # bare NaN literal, null = not logged
        + encode_event({"event": "pause", "step": 2})
        + '{"step": 3, "loss": 0.'  # torn: the writer was killed mid-line
    )
    loaded = load_run(tmp_path)
    assert loaded.malformed == 3
    assert loaded.torn is True
    loss = loaded.store.series("loss")
    assert list(loss.steps()) == [1, 2] and math.isnan(loss.values()[1])
    assert loaded.store.series("val_loss") is None and loaded.store.series("phase") is None
    assert [e["event"] for e in loaded.store.events] == ["pause"]


def test_reader_reads_only_new_bytes_and_completes_partial_lines(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text(encode_metrics(1, 0.0, {"loss": 1.0}) + '{"step": 2, "lo')
    reader = RunLogReader(log)
    first = read_new(reader)
    assert first.points["loss"] == ([1], [1.0]) and reader.torn
    offset = reader.offset
    with open(log, "a") as f:
        f.write('ss": 2.0}\n')
    second = read_new(reader)
    assert second.points["loss"] == ([2], [2.0]) and not reader.torn
    assert reader.offset == offset + len('ss": 2.0}\n') and reader.malformed == 0
    assert read_new(reader).lines == 0


def test_writer_appends_batches_and_closes(tmp_path):
    w = RunLogWriter(tmp_path / "run.jsonl")
    w.write(encode_metrics(1, 0.0, {"loss": 0.5}))
    assert (tmp_path / "run.jsonl").read_text().count("\n") == 1  # reaches the OS at once
    w.write(encode_metrics(2, 0.0, {"loss": 0.4}) + encode_metrics(3, 0.0, {"loss": 0.3}))
    w.close()
    assert w.closed
    w.write("ignored after close")
    assert load_run(tmp_path).store.series("loss").values().tolist() == [0.5, 0.4, 0.3]


def test_invalid_utf8_line_is_counted_not_fatal(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_bytes(b'{"step": 1, "loss": 1.0}\n\xff\xfe garbage\n')
    loaded = load_run(log)
    assert loaded.malformed == 1 and len(loaded.store.series("loss")) == 1


def test_failed_writes_keep_exactly_the_unwritten_bytes_and_retry(tmp_path, monkeypatch):
    import errno
    import os as os_mod

    w = RunLogWriter(tmp_path / "run.jsonl")
    real_write = os_mod.write
    budget = {"bytes": 30}  # the "disk" takes 30 bytes, then is full

    def flaky_write(fd, data):
        if budget["bytes"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(data), budget["bytes"])
        budget["bytes"] -= n
        return real_write(fd, data[:n])

    monkeypatch.setattr("lossmon.rundir.runlog.os.write", flaky_write)
    lines = [encode_metrics(i, 0.0, {"loss": i / 10}) for i in range(1, 6)]
    w.write(lines[0] + lines[1])
    assert w.error and "No space left" in w.error and w.unwritten_bytes > 0
    w.write(lines[2])  # still full: kept, in order
    budget["bytes"] = 10 ** 6  # space again
    w.write(lines[3] + lines[4])
    assert w.error is None and w.unwritten_bytes == 0
    w.close()
    loaded = load_run(tmp_path)
    assert loaded.malformed == 0 and not loaded.torn
    assert loaded.store.series("loss").steps().tolist() == [1, 2, 3, 4, 5]  # nothing lost or doubled
