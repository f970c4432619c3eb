"""Seeded fuzzing of every reader through `lossmon check` and `lossmon watch --plain` (issue 18).

Each file is a plausible log of one format (JSONL run log, CSV, trainer_state.json, TensorBoard
event file) with hostile parts -- steps past int64, keys with lone surrogates, events with fields of
the wrong type, BOMs, NaN, deep nesting, torn tails -- and, for a third of them, random byte damage.
Each goes through `run_check` and through what `watch --plain --once` does (the source polled to
its end into a WatchedRun, the plain printer's last status line and every event described), both
in this process: a subprocess per file is too slow for 10,000 files on a small machine.

Counted per format: tracebacks (an exception out of check or watch), internal errors (check's
"internal error while diagnosing": a detector raised, exit 2),
hangs (a file that takes over --hang-s, cut by SIGALRM), wrong exit codes (check not 0/1/2, a 2
without its one line on stderr, watch refusing what check reads). Exit status 1 if any is found.

    python benchmarks/fuzz_readers.py --files 10000 --seed 1         # the issue's budget
    python benchmarks/fuzz_readers.py --files 20 --subprocess 5      # and the real CLI on a few
    python benchmarks/fuzz_readers.py --files 0 --specials           # FIFOs, /dev/zero, huge files
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = ("jsonl", "csv", "state", "tb")
NAMES = ["loss", "val_loss", "lr", "grad_norm", "train/loss", "eval_loss", "Loss/train", "épsilon", 'a"b',
         "\ud800", "x\udfff", "", " ", "step", "event", "a,b", "learning_rate", "epoch"]
EVENTS = ["lr_change", "lr_commit", "alert", "pause", "resume", "stop", "checkpoint", "control",
          "control_refused", "error", "capture", "x"]
FIELDS = ["old", "new", "scale", "baked", "notes", "request", "applied", "source", "kind", "severity",
          "state", "message", "advice", "action", "ok", "result", "error", "cmd", "peer_pid", "uid", "unlogged",
          "reason", "probe", "metric"]


class Hang(Exception):
    pass


def odd(r: random.Random, depth: int = 0):
    """A JSON value of any type, biased to the edges."""
    k = r.randrange(14)
    if k == 0:
        return None
    if k == 1:
        return r.choice([True, False])
    if k == 2:
        return r.choice([0, 1, -1, 5, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**400])
    if k == 3:
        return r.choice([0.5, -0.0, 1e308, 1e-320, float("nan"), float("inf"), -float("inf"), 3.0])
    if k == 4:
        return r.choice(["", "x", "NaN", "inf", "-Infinity", "\ud800", "a\nb", "5", "\x00", "é" * 50])
    if k in (5, 6) and depth < 3:
        return [odd(r, depth + 1) for _ in range(r.randrange(4))]
    if k == 7 and depth < 3:
        return {r.choice(FIELDS + NAMES): odd(r, depth + 1) for _ in range(r.randrange(3))}
    return r.uniform(-10, 10)


def step_value(r: random.Random, i: int):
    if r.random() < 0.9:
        return i
    return odd(r)


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=r_ascii).encode("utf-8", "surrogatepass")


r_ascii = True


def gen_jsonl(r: random.Random) -> bytes:
    lines = []
    for i in range(r.randrange(1, 80)):
        k = r.random()
        if k < 0.6:
            row = {"step": step_value(r, i)}
            for n in r.sample(NAMES, r.randrange(1, 4)):
                row[n] = odd(r) if r.random() < 0.2 else 1.0 / (i + 1) + r.random() * 0.01
            lines.append(dumps(row))
        elif k < 0.8:
            ev = {"event": r.choice(EVENTS) if r.random() < 0.95 else odd(r), "step": step_value(r, i)}
            for f in r.sample(FIELDS, r.randrange(0, 5)):
                ev[f] = odd(r)
            lines.append(dumps(ev))
        elif k < 0.85:
            d = r.choice([10, 1000, 50_000])
            lines.append(b"[" * d + b"]" * d)
        elif k < 0.9:
            lines.append(b'{"step": %d, "loss": NaN, "val_loss": -Infinity}' % i)
        else:
            lines.append(bytes(r.randrange(256) for _ in range(r.randrange(30))).replace(b"\n", b""))
    body = b"\n".join(lines) + (b"\n" if r.random() < 0.8 else b"")
    return (b"\xef\xbb\xbf" if r.random() < 0.05 else b"") + body


def cell(r: random.Random, i: int) -> str:
    k = r.random()
    if k < 0.7:
        return repr(1.0 / (i + 1))
    return r.choice(["", "nan", "inf", "-Infinity", "x", '"', '"1"', "1e999", "-0", "\x00", " ", "9" * 30,
                     str(2**63), "1,2", "\ud800"])


def gen_csv(r: random.Random) -> bytes:
    cols = r.sample(NAMES, r.randrange(1, 5))
    step = r.choice(["step", "global_step", "Step", "iteration", "steps", "epoch"]) if r.random() < 0.95 else ""
    header = [step] + cols
    r.shuffle(header)
    sep = "," if r.random() < 0.9 else r.choice(["\t", ";"])
    rows = [sep.join(header)]
    for i in range(r.randrange(0, 80)):
        cells = []
        for h in header:
            if h == step:
                cells.append(str(i) if r.random() < 0.9 else cell(r, i))
            else:
                cells.append(cell(r, i))
        if r.random() < 0.1:
            cells = cells[: r.randrange(len(cells) + 1)]
        if r.random() < 0.05:
            cells.append("extra")
        rows.append(sep.join(cells))
    text = "\n".join(rows) + ("\n" if r.random() < 0.8 else "")
    if r.random() < 0.1:
        text = text.replace("\n", "\r\n")
    body = text.encode("utf-8", "surrogatepass")
    return (b"\xef\xbb\xbf" if r.random() < 0.05 else b"") + body


def gen_state(r: random.Random) -> bytes:
    hist = []
    for i in range(r.randrange(0, 60)):
        if r.random() < 0.05:
            hist.append(odd(r))
            continue
        e = {"step": step_value(r, i)}
        for n in r.sample(NAMES + ["train_runtime", "eval_runtime", "total_flos", "train_samples_per_second"],
                          r.randrange(1, 4)):
            e[n] = odd(r) if r.random() < 0.2 else 1.0 / (i + 1)
        hist.append(e)
    doc = {"log_history": hist if r.random() < 0.95 else odd(r), "global_step": len(hist)}
    if r.random() < 0.05:
        doc = odd(r)
    body = dumps(doc)
    return (b"\xef\xbb\xbf" if r.random() < 0.05 else b"") + body


def gen_tb(r: random.Random) -> bytes:
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.compat.proto import tensor_pb2

    out = bytearray()
    ev = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
    records = [ev.SerializeToString()]
    for i in range(r.randrange(0, 80)):
        step = i if r.random() < 0.9 else r.choice([-1, 2**62, 2**63 - 1, -(2**63)])
        ev = event_pb2.Event(wall_time=time.time(), step=step)
        for _ in range(r.randrange(1, 3)):
            tag = r.choice([n for n in NAMES if n.encode("utf-8", "ignore") == n.encode("utf-8", "surrogatepass")])
            k = r.random()
            if k < 0.7:
                ev.summary.value.add(tag=tag, simple_value=r.choice([1.0 / (i + 1), float("nan"), float("inf"), 3e38]))
            elif k < 0.9:
                t = tensor_pb2.TensorProto(dtype=r.choice([1, 2]))
                kk = r.randrange(4)
                if kk == 0:
                    t.float_val.append(0.5)
                elif kk == 1:
                    t.double_val.append(0.25)
                elif kk == 2:
                    t.tensor_content = bytes(r.randrange(256) for _ in range(r.choice([0, 3, 4, 8, 9])))
                else:
                    t.tensor_shape.dim.add(size=3)
                ev.summary.value.add(tag=tag, tensor=t)
            else:
                ev.summary.value.add(tag=tag, metadata=summary_pb2.SummaryMetadata(display_name="text"))
        records.append(ev.SerializeToString())
    for rec in records:
        if r.random() < 0.03:
            rec = bytes(r.randrange(256) for _ in range(r.randrange(20)))
        length = len(rec)
        if r.random() < 0.01:
            length = r.choice([2**63, 2**40, len(rec) + 5, 0])
        out += struct.pack("<Q", length % 2**64) + b"\0\0\0\0" + rec + b"\0\0\0\0"
    return bytes(out)


GEN = {"jsonl": gen_jsonl, "csv": gen_csv, "state": gen_state, "tb": gen_tb}
NAME = {"jsonl": "log.jsonl", "csv": "log.csv", "state": "trainer_state.json", "tb": "events.out.tfevents.1.host"}


def damage(r: random.Random, body: bytes) -> bytes:
    """Random byte damage: flips, cuts, splices, junk."""
    b = bytearray(body)
    for _ in range(r.randrange(1, 4)):
        k = r.randrange(5)
        if k == 0 and b:
            for _ in range(r.randrange(1, 8)):
                b[r.randrange(len(b))] = r.randrange(256)
        elif k == 1 and b:
            del b[r.randrange(len(b)):]
        elif k == 2 and b:
            i, j = sorted(r.randrange(len(b)) for _ in range(2))
            b[i:i] = b[i:j]
        elif k == 3:
            at = r.randrange(len(b) + 1)
            b[at:at] = bytes(r.randrange(256) for _ in range(r.randrange(1, 40)))
        elif b:
            i = r.randrange(len(b))
            b[i:i + 1] = b"\n"
    return bytes(b)


def make(fmt: str, seed: int, i: int) -> bytes:
    r = random.Random(f"{seed}-{fmt}-{i}")
    global r_ascii
    r_ascii = r.random() < 0.5
    body = GEN[fmt](r)
    return damage(r, body) if r.random() < 0.33 else body


def specials(d: Path) -> list[Path]:
    """What is not a plain log, under each format's name: a FIFO, /dev/zero, a directory holding
    such files, sparse files of zeros bigger than any line or trainer_state.json lossmon holds."""
    out = []
    for fmt, name in NAME.items():
        base = d / fmt
        base.mkdir()
        fifo = base / name
        os.mkfifo(fifo)
        zero = base / "zero"
        zero.mkdir()
        (zero / name).symlink_to("/dev/zero")
        out += [fifo, zero / name, zero, base]  # the directories: a run's files as FIFOs and devices
        big = base / "big"
        big.mkdir()
        with open(big / name, "wb") as f:
            f.truncate(600 << 20)  # sparse: 600 MB of NULs with no newline
        out.append(big / name)
    run = d / "run"
    run.mkdir()
    for n in ("run.jsonl", "meta.json"):
        os.mkfifo(run / n)
    out.append(run)
    return out


def watch_once(path: Path) -> tuple[int, str]:
    """What `lossmon watch --plain --once PATH` does, without its 0.2 s loop: (exit code, stderr)."""
    from lossmon.sources import no_records
    from lossmon.sources import SourceError, open_source
    from lossmon.views.plain import PlainPrinter
    from lossmon.views.text import describe
    from lossmon.watched import WatchedRun

    try:
        source = open_source(path)
        watched = WatchedRun(source)
        while watched.poll():
            pass
    except SourceError as e:
        return 2, f"lossmon watch: {e}\n"
    if not watched.store.names() and source.malformed and not source.torn:
        return 2, f"lossmon watch: {no_records(source)}\n"  # watch_plain's verdict while tailing
    try:
        watched.finish()  # --once: the file is finished
    except SourceError as e:
        return 2, f"lossmon watch: {e}\n"
    if not watched.store.names() and source.malformed:
        return 2, f"lossmon watch: {no_records(source)}\n"
    out = io.StringIO()
    printer = PlainPrinter(watched, out)
    printer.rates = False
    printer.poll(final=True)
    for ev in watched.store.events:
        describe(ev)
    out.getvalue().encode("utf-8")
    if watched.diagnoser is not None and watched.diagnoser.failed:
        return 3, f"watch: diagnosis stopped after an internal error ({watched.diagnoser.failed})"
    return 0, ""


def one(path: Path, as_json: bool) -> dict:
    from lossmon.diagnosis.check import run_check

    res = {"traceback": None, "internal": None, "hang": False, "wrong": None, "code": None}
    out, err = io.StringIO(), io.StringIO()
    try:
        code = res["code"] = run_check(str(path), as_json=as_json, out=out, err=err)
        e = err.getvalue()
        out.getvalue().encode("utf-8")
        e.encode("utf-8")
        if "internal error" in e:
            res["internal"] = "check: " + e.strip()[:300]
        elif code not in (0, 1, 2):
            res["wrong"] = f"check exit {code}"
        elif code == 2 and not (e.startswith("lossmon check: ") and e.count("\n") == 1):
            res["wrong"] = f"check exit 2 with {e!r:.200}"
    except Hang:
        res["hang"] = True
        return res
    except BaseException:  # noqa: BLE001 - what the fuzzer is for
        res["traceback"] = "check: " + traceback.format_exc(limit=-3)
        return res
    try:
        wcode, werr = watch_once(path)
        if wcode == 3:
            res["internal"] = werr
        elif wcode == 2 and code in (0, 1) and "no loss metric" not in e:
            res["wrong"] = f"watch exit 2 where check exits {code}: {werr.strip()[:200]}"
    except Hang:
        res["hang"] = True
    except BaseException:  # noqa: BLE001
        res["traceback"] = "watch: " + traceback.format_exc(limit=-3)
    return res


def subprocess_check(path: Path, hang_s: float) -> str | None:
    """The real CLI on one file: check, and watch --plain --once (None when both behave)."""
    for cmd in (["check", str(path)], ["watch", "--plain", "--once", str(path)]):
        try:
            p = subprocess.run([sys.executable, "-m", "lossmon", *cmd], cwd=ROOT, capture_output=True,
                               text=True, timeout=hang_s)
        except subprocess.TimeoutExpired:
            return f"{cmd[0]}: hang"
        ok = (0, 1, 2) if cmd[0] == "check" else (0, 2)  # watch --once: read, or refused with one line
        one_line = p.returncode != 2 or (p.stderr.startswith(f"lossmon {cmd[0]}: ") and p.stderr.count("\n") == 1)
        if "Traceback" in p.stderr or p.returncode not in ok or not one_line:
            return f"{cmd[0]}: exit {p.returncode}: {p.stderr[-300:]}"
    return None


def judged(path: Path, as_json: bool, hang_s: float, counts: dict, exits: dict) -> list[str]:
    """`one(path)` under the hang alarm, tallied into `counts` and `exits`; what went wrong, in words."""
    signal.setitimer(signal.ITIMER_REAL, hang_s)
    try:
        res = one(path, as_json=as_json)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    counts["files"] += 1
    exits[res["code"]] = exits.get(res["code"], 0) + 1
    problems = []
    for key, name in (("traceback", "tracebacks"), ("internal", "internal_errors"), ("hang", "hangs"),
                      ("wrong", "wrong_exit")):
        if res[key]:
            counts[name] += 1
            problems.append(res[key] if key != "hang" else "hang")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=200, help="files per format")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--hang-s", type=float, default=20.0)
    ap.add_argument("--subprocess", type=int, default=0, help="also run the CLI on the first N files per format")
    ap.add_argument("--show", type=int, default=3, help="failures shown per format")
    ap.add_argument("--specials", action="store_true", help="also FIFOs, /dev/zero and huge sparse files")
    args = ap.parse_args(argv)

    def alarm(*_):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    bad = 0
    with tempfile.TemporaryDirectory(prefix="lossmon-fuzz-") as tmp:
        for fmt in args.formats.split(","):
            d = Path(tmp) / fmt
            d.mkdir()
            path = d / NAME[fmt]
            counts = {"files": 0, "tracebacks": 0, "internal_errors": 0, "hangs": 0, "wrong_exit": 0, "subprocess_bad": 0}
            shown: list[str] = []
            exits: dict = {}  # check's exit codes: how much of the input was read as a run
            t0 = time.monotonic()
            for i in range(args.files):
                path.write_bytes(make(fmt, args.seed, i))
                for problem in judged(path, i % 2 == 1, args.hang_s, counts, exits):
                    if len(shown) < args.show:
                        shown.append(f"  file {i}: {problem}")
                if i < args.subprocess:
                    why = subprocess_check(path, args.hang_s)
                    if why:
                        counts["subprocess_bad"] += 1
                        if len(shown) < args.show:
                            shown.append(f"  file {i} (CLI): {why}")
            bad += counts["tracebacks"] + counts["internal_errors"] + counts["hangs"] + counts["wrong_exit"] + counts["subprocess_bad"]
            print(f"{fmt:5} " + " ".join(f"{k}={v}" for k, v in counts.items()) + f" check_exits={dict(sorted(exits.items(), key=str))} ({time.monotonic() - t0:.0f} s)",
                  flush=True)
            for line in shown:
                print(line, flush=True)
        if args.specials:
            d = Path(tmp) / "specials"
            d.mkdir()
            counts = {"files": 0, "tracebacks": 0, "internal_errors": 0, "hangs": 0, "wrong_exit": 0}
            exits: dict = {}
            for path in specials(d):
                for problem in judged(path, False, args.hang_s, counts, exits):
                    print(f"  {path.relative_to(d)}: {problem}", flush=True)
            bad += counts["tracebacks"] + counts["internal_errors"] + counts["hangs"] + counts["wrong_exit"]
            print("specials " + " ".join(f"{k}={v}" for k, v in counts.items())
                  + f" check_exits={dict(sorted(exits.items(), key=str))}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
