"""Every source format, read whole and tailed: fixtures written by test helpers (TensorBoard files by
torch's own SummaryWriter), growth, truncation, replacement, malformed input, --train/--val."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossmon
from lossmon.cli import main as cli_main
from lossmon.sources import SourceError, load, open_source
from lossmon.watched import WatchedRun

tb = pytest.importorskip("torch.utils.tensorboard", reason="TensorBoard files need the tensorboard package")


def poll_all(src):
    """Poll until nothing more is waiting; merged points and events."""
    points, events = {}, []
    while True:
        up = src.poll()
        if up.reset:
            points.clear()
            events.clear()
        for k, (s, v) in up.points.items():
            ps, pv = points.get(k, (np.empty(0, np.int64), np.empty(0)))
            points[k] = (np.concatenate([ps, s]), np.concatenate([pv, v]))
        events += up.events
        if not up.more:
            return points, events


# ---- TensorBoard ----------------------------------------------------------------------------


def write_tb(logdir, steps, start=0, tags=("train/loss", "eval/loss")):
    w = tb.SummaryWriter(str(logdir))
    for i in range(start, start + steps):
        w.add_scalar(tags[0], 1.0 / (i + 1), i)
        if i % 10 == 0:
            w.add_scalar(tags[1], 2.0 / (i + 1), i)
        w.add_scalar("train/learning_rate", 1e-3, i)
    w.flush()
    return w


def test_tensorboard_log_dir_is_read_with_roles(tmp_path):
    write_tb(tmp_path / "tb", 100).close()
    rec = load(tmp_path / "tb")
    assert rec.format == "TensorBoard"
    st_, va = rec.points["train/loss"]
    assert list(st_) == list(range(100)) and va[3] == pytest.approx(0.25)
    assert list(rec.points["eval/loss"][0]) == list(range(0, 100, 10))
    assert rec.points["train/learning_rate"][1][0] == pytest.approx(1e-3)


def test_tensorboard_tailing_reads_only_new_records(tmp_path):
    w = write_tb(tmp_path / "tb", 50)
    src = open_source(tmp_path / "tb")
    points, _ = poll_all(src)
    assert len(points["train/loss"][0]) == 50
    read = src.bytes_read
    for i in range(50, 80):
        w.add_scalar("train/loss", 1.0 / (i + 1), i)
    w.flush()
    up = src.poll()
    assert list(up.points["train/loss"][0]) == list(range(50, 80))
    size = sum(os.path.getsize(f.path) for f in src.files)
    assert src.bytes_read == size and src.bytes_read - read < size / 2  # only the new bytes
    w.close()


def test_tensorboard_picks_the_newest_run_and_says_so(tmp_path):
    write_tb(tmp_path / "logs" / "old", 10).close()
    write_tb(tmp_path / "logs" / "new", 20).close()
    os.utime(next((tmp_path / "logs" / "old").iterdir()), (1, 1))
    src = open_source(tmp_path / "logs")
    assert src.run_path.name == "new" and "newest of 2" in src.describe()
    assert len(poll_all(src)[0]["train/loss"][0]) == 20


def test_train_and_val_tags_can_be_chosen(tmp_path):
    write_tb(tmp_path / "tb", 30, tags=("objective/train", "objective/heldout")).close()
    with pytest.raises(SourceError, match="has no loss metric"):
        load(tmp_path / "tb")
    rec = load(tmp_path / "tb", train="objective/train", val="objective/heldout")
    assert len(rec.points["train_loss"][0]) == 30 and len(rec.points["val_loss"][0]) == 3
    with pytest.raises(SourceError, match="no metric 'nope'"):
        load(tmp_path / "tb", train="nope")


def test_common_tag_spellings_have_roles():
    from lossmon import names

    for tag in ("Loss/train", "train/loss", "train_loss_step", "loss"):
        assert names.role(tag) == names.TRAIN_LOSS, tag
    for tag in ("Loss/val", "Loss/test", "eval/loss", "val_loss_step", "test_loss"):
        assert names.role(tag) == names.VAL_LOSS, tag
    assert names.role("train_loss_epoch") == names.OTHER  # an epoch average is not the step curve


def test_a_chosen_tag_displaces_a_conventional_one(tmp_path):
    write_tb(tmp_path / "tb", 20, tags=("loss", "val/acc")).close()
    rec = load(tmp_path / "tb", train="val/acc")
    assert "loss (not used)" in rec.points and "train_loss" in rec.points


def test_garbage_event_file_is_counted_not_fatal(tmp_path):
    f = tmp_path / "events.out.tfevents.123.host"
    f.write_bytes(os.urandom(2000))
    src = open_source(f)
    poll_all(src)
    assert src.malformed >= 1


# ---- Lightning CSV and generic CSV ----------------------------------------------------------


def lightning_rows(n, extra=False):
    header = "epoch,step,train_loss,val_loss" + (",lr-Adam" if extra else "")
    rows = [header]
    for i in range(n):
        rows.append(f"0,{i},{1 / (i + 1)},{'' if i % 5 else 2 / (i + 1)}" + (",0.001" if extra else ""))
    return "\n".join(rows) + "\n"


def test_lightning_csv_in_its_log_dir(tmp_path):
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text(lightning_rows(20))
    src = open_source(tmp_path / "lightning_logs")
    assert src.format == "Lightning CSV"
    points, _ = poll_all(src)
    assert len(points["train_loss"][0]) == 20 and list(points["val_loss"][0]) == [0, 5, 10, 15]
    assert "epoch" in points


def test_csv_tail_append_then_rewrite_with_a_wider_header(tmp_path):
    f = tmp_path / "metrics.csv"
    f.write_text(lightning_rows(10))
    src = open_source(f)
    assert len(poll_all(src)[0]["train_loss"][0]) == 10
    with open(f, "a") as fh:
        fh.write("0,10,0.05,\n0,11,0.04,")  # the last line is not complete yet
    up = src.poll()
    assert list(up.points["train_loss"][0]) == [10]
    with open(f, "a") as fh:
        fh.write("\n")
    assert list(src.poll().points["train_loss"][0]) == [11]
    f.write_text(lightning_rows(14, extra=True))  # Lightning rewrites the file when a metric appears
    up = src.poll()
    assert up.reset and len(up.points["train_loss"][0]) == 14 and "lr-Adam" in up.points


def test_csv_malformed_rows_are_counted(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("step,loss\n1,0.5\nx,0.4\n3,abc\n4,nan\n,\n5.5,1\n")
    rec = load(f)
    assert list(rec.points["loss"][0]) == [1, 4] and math.isnan(rec.points["loss"][1][1])
    assert rec.malformed == 2  # "x" and 5.5 are not steps; "abc" is just not a value


# ---- Hugging Face trainer_state.json --------------------------------------------------------


def trainer_state(n, eval_every=5, final=False):
    hist = []
    for i in range(1, n + 1):
        hist.append({"loss": 1.0 / i, "grad_norm": 0.5, "learning_rate": 5e-5, "epoch": i / 10, "step": i * 10})
        if i % eval_every == 0:
            hist.append({"eval_loss": 1.5 / i, "eval_runtime": 1.2, "eval_samples_per_second": 80.0,
                         "epoch": i / 10, "step": i * 10})
    if final:
        hist.append({"train_runtime": 100.0, "train_loss": 0.123, "total_flos": 1e12, "epoch": n / 10, "step": n * 10})
    return {"global_step": n * 10, "log_history": hist}


def test_trainer_state_roles_and_the_summary_is_skipped(tmp_path):
    f = tmp_path / "trainer_state.json"
    f.write_text(json.dumps(trainer_state(20, final=True)))
    rec = load(f)
    assert rec.format.startswith("Hugging Face")
    assert len(rec.points["loss"][0]) == 20 and 0.123 not in rec.points["loss"][1]
    assert "train_loss" not in rec.points and "eval_runtime" not in rec.points
    assert list(rec.points["eval_loss"][0]) == [50, 100, 150, 200]
    assert {"grad_norm", "learning_rate", "epoch"} <= set(rec.points)


def test_trainer_state_follows_the_newest_checkpoint_and_hands_over_only_new_entries(tmp_path):
    out = tmp_path / "out"
    (out / "checkpoint-50").mkdir(parents=True)
    (out / "checkpoint-50" / "trainer_state.json").write_text(json.dumps(trainer_state(5)))
    src = open_source(out)
    assert src.title == "out" and f"{out} (the newest checkpoint's)" in src.describe()  # not checkpoint-50's
    assert WatchedRun(src).name == "out"
    assert len(poll_all(src)[0]["loss"][0]) == 5
    (out / "checkpoint-100").mkdir()
    (out / "checkpoint-100" / "trainer_state.json").write_text(json.dumps(trainer_state(10)))
    up = src.poll()
    assert not up.reset and list(up.points["loss"][0]) == [60, 70, 80, 90, 100]


def test_trainer_state_half_written_is_retried(tmp_path):
    f = tmp_path / "trainer_state.json"
    f.write_text(json.dumps(trainer_state(3)))
    src = open_source(f)
    poll_all(src)
    f.write_text(json.dumps(trainer_state(6))[:50])  # the Trainer is mid-write
    assert not src.poll().points
    f.write_text(json.dumps(trainer_state(6)))
    assert list(src.poll().points["loss"][0]) == [40, 50, 60]


# ---- lossmon run logs and JSONL -------------------------------------------------------------


def make_run(tmp_path, n=300, name="r"):
    def train(run):
        for i in range(n):
            run.log(loss=1.0 / (i + 1), lr=0.1)
            if i % 50 == 49:
                run.log(val_loss=2.0 / (i + 1))
        run.log(loss=float("nan"))
    lossmon.run(train, name=name, run_dir=tmp_path / name, ui="plain")
    return tmp_path / name


def test_columns_hold_the_same_points_as_the_run_log(tmp_path, capsys):
    d = make_run(tmp_path)
    with_columns = open_source(d)
    assert with_columns.columns is not None
    from_columns = load(d)
    (d / "columns" / "names.json").unlink()
    from_log = load(d)
    assert set(from_columns.points) == set(from_log.points) == {"loss", "lr", "val_loss"}
    for k in from_log.points:
        np.testing.assert_array_equal(from_columns.points[k][0], from_log.points[k][0])
        np.testing.assert_array_equal(from_columns.points[k][1], from_log.points[k][1])  # NaN included
    assert [e["event"] for e in from_columns.events] == [e["event"] for e in from_log.events]


def test_run_log_tail_truncate_replace_and_torn_line(tmp_path):
    f = tmp_path / "log.jsonl"
    f.write_text("".join(json.dumps({"step": i, "loss": 1.0 / (i + 1)}) + "\n" for i in range(10)))
    src = open_source(f)
    assert src.format == "JSONL" and len(poll_all(src)[0]["loss"][0]) == 10
    size = f.stat().st_size
    with open(f, "a") as fh:
        fh.write('{"step": 10, "loss": 0.09}\n{"step": 11, "lo')
    assert list(src.poll().points["loss"][0]) == [10]
    assert src.bytes_read == f.stat().st_size and src.reader.bytes_read - size < 100
    with open(f, "a") as fh:
        fh.write('ss": 0.08}\nnot json\n')
    up = src.poll()
    assert list(up.points["loss"][0]) == [11] and src.malformed == 1
    f.write_text('{"step": 0, "loss": 5.0}\n')  # truncated and rewritten in place
    up = src.poll()
    assert up.reset and "truncated" in up.reset and list(up.points["loss"][1]) == [5.0]
    tmp = tmp_path / "new.jsonl"
    tmp.write_text('{"step": 0, "loss": 6.0}\n{"step": 1, "loss": 5.5}\n')
    os.replace(tmp, f)  # a new file under the old name (log rotation)
    up = src.poll()
    assert up.reset and "replaced" in up.reset and list(up.points["loss"][1]) == [6.0, 5.5]


def test_a_watched_run_over_a_growing_file(tmp_path):
    f = tmp_path / "grow.csv"
    f.write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(200)))
    w = WatchedRun(open_source(f))
    while w.poll():
        pass
    assert w.loaded and w.read_only and w.store.last_step == 199
    with open(f, "a") as fh:
        fh.write("".join(f"{i},{10.0 if i == 250 else 1 / (i + 1)}\n" for i in range(200, 300)))
    w.poll()
    assert w.store.last_step == 299
    # the detectors ran on it: a logged curve from another tool gets lossmon's diagnosis
    assert any(e["event"] == "alert" and e["kind"] == "spike" for e in w.store.events)
    f.write_text("step,loss\n0,3.0\n")
    gen = w.generation
    w.poll()
    assert w.generation == gen + 1 and w.store.last_step == 0 and len(w.store.series("loss")) == 1


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("name,content,needle", [
    ("missing", None, "does not exist"),
    ("empty_dir", "dir", "holds no run"),
    ("x.bin", b"\x00\x01binary", "not a format"),
    ("e.txt", b"", "is empty"),
])
def test_unreadable_paths_name_the_formats(tmp_path, capsys, name, content, needle):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    for cmd in (["check", str(path)], ["watch", str(path), "--plain"]):
        assert cli_main(cmd) == 2
        err = capsys.readouterr().err
        assert needle in err and "TensorBoard" in err and err.count("\n") == 1 and "Traceback" not in err


_cells = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=True).map(repr), st.sampled_from(["", "nan", "x", '"', "1e999"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["jsonl", "csv", "state"]), junk=st.binary(max_size=400),
       rows=st.lists(st.lists(_cells, min_size=2, max_size=3), max_size=8))
def test_fuzzed_files_never_raise_anything_but_source_error(tmp_path, kind, junk, rows):
    if kind == "csv":
        body = ("step,loss,val_loss\n" + "\n".join(",".join(r) for r in rows)).encode() + junk
        path = tmp_path / "f.csv"
    elif kind == "jsonl":
        body = b"\n".join(b'{"step": %s, "loss": %s}' % (r[0].encode(), r[1].encode()) for r in rows) + junk
        path = tmp_path / "f.jsonl"
    else:
        body = b'{"log_history": [' + b",".join(b'{"step": %s, "loss": %s}' % (r[0].encode(), r[1].encode())
                                                for r in rows) + b"]}" + junk
        path = tmp_path / "trainer_state.json"
    path.write_bytes(body)
    try:
        rec = load(path)
    except SourceError:
        return
    for steps, values in rec.points.values():
        assert len(steps) == len(values) and steps.dtype == np.int64


@pytest.mark.parametrize("kind", ["jsonl", "state", "csv"])
def test_json_nested_thousands_deep_is_malformed_not_a_crash(tmp_path, kind):
    deep = b"[" * 100_000 + b"]" * 100_000
    if kind == "jsonl":
        path, body = tmp_path / "f.jsonl", b'{"step": 1, "loss": 0.5}\n' + deep + b'\n{"step": 2, "loss": 0.25}\n'
    elif kind == "state":
        path, body = tmp_path / "trainer_state.json", b'{"log_history": [' + deep + b"]}"
    else:
        path, body = tmp_path / "f.csv", b"step,loss\n1,0.5\n" + deep + b"\n2,0.25\n"
    path.write_bytes(body)
    try:
        rec = load(path)
    except SourceError as e:
        assert kind == "state" and "\n" not in str(e)
        return
    assert rec.points["loss"][0].tolist() == [1, 2] and rec.malformed == 1
