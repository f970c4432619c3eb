"""Fuzzed run logs: whatever a run.jsonl holds (valid lines, garbage, near-misses, deep nesting,
odd unicode, a torn tail), every reader gets through it without a traceback, keeps every valid
point exactly, counts what it skipped, and reads the same whether the file arrives whole or in
pieces. Events of any shape must also format and feed the detectors without raising."""

from __future__ import annotations

import io
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossmon.views import text as events_mod
from lossmon.diagnosis.check import run_check
from lossmon.rundir.runlog import RunLogReader, encode_event, encode_rows
from runlogs import load_run, read_new
from lossmon.sources import load as load_source
from lossmon.sources.base import SourceError

floats = st.floats(allow_nan=True, allow_infinity=True)
names = st.sampled_from(["loss", "val_loss", "lr", "grad_norm", "acc", "épsilon", "loss/train", 'a"b'])
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                           max_leaves=8)


@st.composite
def valid_metric_line(draw):
    step = draw(st.integers(min_value=0, max_value=2**62))
    row = {n: draw(floats) for n in draw(st.lists(names, min_size=1, max_size=3, unique=True))}
    row["step"] = step
    return ("metric", row, encode_rows([row], 1764240000.5).encode())


@st.composite
def event_line(draw):
    ev = {"event": draw(st.sampled_from(["lr_change", "alert", "stop", "pause", "error", "checkpoint", "x"])),
          "step": draw(json_values), "source": draw(json_values)}
    for key in draw(st.lists(st.sampled_from(["old", "new", "multiplier", "kind", "severity", "message",
                                              "state", "value", "ok", "path", "advice"]), max_size=5)):
        ev[key] = draw(json_values)
    return ("event", ev, encode_event(ev).encode())


@st.composite
def bad_line(draw):
    kind = draw(st.sampled_from(["bytes", "text", "json", "near", "deep", "nan"]))
    if kind == "bytes":
        raw = draw(st.binary(max_size=40))
    elif kind == "text":
        raw = draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
    elif kind == "json":
        raw = json.dumps(draw(json_values)).encode()
    elif kind == "near":  # a metric line with a step that is not a whole int64, or values that are not numbers
        rec = {"step": draw(st.one_of(st.text(max_size=3), st.floats(), st.booleans(), st.none(),
                                      st.integers(min_value=2**63, max_value=2**80), st.just([1]))),
               draw(names): draw(json_values)}
        raw = json.dumps(rec).encode()
    elif kind == "deep":
        depth = draw(st.integers(min_value=500, max_value=100_000))
        raw = (b"[" * depth) + (b"]" * depth)
    else:
        raw = b'{"step": 3, "loss": NaN, "val_loss": -Infinity}'  # bare literals: accepted
        return ("metric", {"step": 3, "loss": math.nan, "val_loss": -math.inf}, raw)
    raw = raw.replace(b"\n", b" ").replace(b"\r", b" ")
    return ("bad", None, raw)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(st.one_of(valid_metric_line(), event_line(), bad_line()), max_size=25),
       torn=st.binary(max_size=30), cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=6))
def test_any_run_log_is_read_without_a_traceback_and_keeps_every_valid_point(tmp_path_factory, lines, torn, cuts):
    d = tmp_path_factory.mktemp("run")
    body = b"".join(raw.rstrip(b"\n") + b"\n" for _, _, raw in lines) + torn.replace(b"\n", b"")
    (d / "run.jsonl").write_bytes(body)

    want: dict[str, list[tuple[int, float]]] = {}
    for kind, row, _ in lines:
        if kind == "metric":
            for name, v in row.items():
                if name != "step":
                    want.setdefault(name, []).append((row["step"], v))

    loaded = load_run(d)  # never raises
    got = {n: list(zip(loaded.store.series(n).steps().tolist(), loaded.store.series(n).values().tolist()))
           for n in loaded.store.names()}
    for name, pts in want.items():  # a bad line may add points of its own ("near" lines with a valid
        have = got.get(name, [])    # step); the valid ones must all be there, in order, exactly
        it = iter(have)
        assert all(any(s == s2 and same(v, v2) for s2, v2 in it) for s, v in pts), name
    assert loaded.malformed <= sum(1 for k, _, _ in lines if k == "bad")

    # the same file arriving in pieces reads the same as whole
    (d / "grow.jsonl").write_bytes(b"")
    reader = RunLogReader(d / "grow.jsonl")
    pieces, at = [], 0
    for cut in sorted(c % (len(body) + 1) for c in cuts) + [len(body)]:
        with open(d / "grow.jsonl", "ab") as f:
            f.write(body[at:cut])
        at = cut
        pieces.append(read_new(reader))
    whole = read_new(RunLogReader(d / "run.jsonl"))
    assert sum(p.malformed for p in pieces) == whole.malformed == loaded.malformed
    assert sum(len(p.events) for p in pieces) == len(whole.events)
    for name, (steps, _) in whole.points.items():
        assert sum(len(p.points.get(name, ([], []))[0]) for p in pieces) == len(steps)

    # events of any shape format for the views, and `lossmon check` gets through the file
    for ev in loaded.store.events:
        assert isinstance(events_mod.describe(ev), str)
    try:
        load_source(d / "run.jsonl")
    except SourceError as e:  # nothing readable in it: one line saying so
        assert "\n" not in str(e)
    out, err = io.StringIO(), io.StringIO()
    code = run_check(str(d / "run.jsonl"), out=out, err=err)
    assert code in (0, 1) or (code == 2 and err.getvalue().startswith("lossmon check: ")), err.getvalue()
    assert "Traceback" not in err.getvalue()
