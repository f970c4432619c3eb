"""A seeded fuzz of the control socket over real connections (issue 18): valid and invalid requests,
huge numbers, garbage, oversize and half lines, requests split across sends, and connections held
open and idle past MAX_CLIENTS. The bar: no traceback on the server, no hang, and every complete
request line answered (a connection the server closes says why on its last line).

The test runs a small budget; the big run, from the repository root:
`PYTHONPATH=. python tests/test_control_fuzz.py --requests 3000`.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lossmon import control_socket
from lossmon.control_socket import MAX_CLIENTS, MAX_LINE, ControlServer, socket_address
from lossmon.rundir.layout import SOCKET

sys.path.insert(0, str(Path(__file__).parent))
from test_control import FakeRun  # noqa: E402

HANG_S = 5.0  # a reply slower than this is a hang


def _valid(rng: random.Random) -> dict:
    cmd = rng.choice(sorted(control_socket.COMMANDS))
    req = {"cmd": cmd}
    if cmd == "scale_lr":
        req["factor"] = rng.choice([0.5, 2, 1e-6, 1e6, rng.uniform(0.01, 10)])
    elif cmd == "set_lr":
        req["value"] = rng.choice([3e-4, 1, rng.uniform(1e-7, 1)])
    elif cmd == "probe_lr" and rng.random() < 0.7:
        req["factor"] = rng.uniform(0.1, 4)
        req["steps"] = rng.randint(1, control_socket.MAX_PROBE_STEPS)
    if rng.random() < 0.5:
        req["id"] = rng.choice([rng.randint(-10**9, 10**9), "r%d" % rng.randint(0, 999)])
    return req


def _huge(rng: random.Random) -> bytes:
    digits = rng.randint(20, MAX_LINE - 80)
    num = ("-" if rng.random() < 0.3 else "") + "9" * digits
    form = rng.choice(['{"cmd":"scale_lr","factor":%s}', '{"cmd":"set_lr","value":%s}',
                       '{"cmd":"probe_lr","steps":%s}', '{"cmd":"ping","id":%s}',
                       '{"cmd":"scale_lr","factor":%se400}', '{"cmd":"set_lr","value":0.%se-99999}'])
    return (form % num).encode()


def _invalid(rng: random.Random) -> bytes:
    return rng.choice([
        b'{"cmd":"fly"}', b'{"cmd":"scale_lr","factor":"2"}', b'{"cmd":"scale_lr"}', b'{"cmd":"pause","now":1}',
        b'{"cmd":"stop","id":[1]}', b'[1,2]', b'"stop"', b'{"cmd":3}', b'stop', b'{"cmd":"scale_lr","factor":NaN}',
        b'{"cmd":"scale_lr","factor":-Infinity}', b'{"cmd":"set_lr","value":0}', b'{"cmd":"probe_lr","steps":0}',
        b'{"cmd":"stop","id":true}', b'{"cmd":"ping","id":"' + b"x" * 100 + b'"}', b"[" * 3000 + b"]" * 1000,
        b'{"cmd":"ping"', b'{"cmd":"ping"}{"cmd":"ping"}', b'{"cmd":"ping","cmd":"stop","x":1}',
        json.dumps({"cmd": "scale_lr", "factor": {"a": [1] * 50}}).encode(),
    ])


def _garbage(rng: random.Random) -> bytes:
    return bytes(rng.choice([b for b in range(256) if b != 10]) for _ in range(rng.randint(1, 300)))


def _line(rng: random.Random) -> tuple[bytes, str]:
    """(one request line without its newline, its kind)."""
    r = rng.random()
    if r < 0.4:
        return json.dumps(_valid(rng)).encode(), "valid"
    if r < 0.6:
        return _invalid(rng), "invalid"
    if r < 0.75:
        return _huge(rng), "huge"
    return _garbage(rng), "garbage"


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.c: Counter = Counter()
        self.problems: list[str] = []

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.c[key] += n

    def problem(self, what: str) -> None:
        with self.lock:
            self.problems.append(what)


def _connect(path: Path) -> socket.socket:
    addr, fd = socket_address(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(HANG_S)
    control_socket.connect(s, addr, HANG_S)
    return s


def _read_replies(s: socket.socket, want: int, tally: Tally, what: str) -> list[dict]:
    """Read until `want` reply lines came or the server hung up; a silence of HANG_S is a hang."""
    buf = b""
    while buf.count(b"\n") < want:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            got = buf.count(b"\n")
            tally.problem(f"hang: {what}: {got} of {want} replies after {HANG_S}s")
            tally.add("hangs")
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    replies = []
    for raw in buf.splitlines():
        try:
            rep = json.loads(raw)
        except ValueError:
            tally.problem(f"reply not JSON: {raw[:80]!r}")
            continue
        if not isinstance(rep, dict) or not isinstance(rep.get("ok"), bool):
            tally.problem(f"reply without ok: {raw[:80]!r}")
        replies.append(rep)
    return replies


def _refused(path: Path, rng: random.Random, tally: Tally) -> None:
    """A connection to a run of another user: one refusal line, whatever it sends."""
    s = _connect(path)
    try:
        try:
            s.sendall(b"".join(_line(rng)[0] + b"\n" for _ in range(rng.randint(0, 3))))
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it finished sending: the answer is still there to read
        replies = _read_replies(s, 1, tally, "refused")
    finally:
        s.close()
    tally.add("refused_connections")
    if len(replies) != 1 or "another user" not in str(replies[0].get("error")):
        tally.problem(f"refused peer got {replies}")


def _conversation(path: Path, seed: int, tally: Tally) -> None:
    """One connection: a few request lines, sent whole or in pieces, maybe ending in a half line."""
    rng = random.Random(seed)
    if rng.random() < 0.1:
        return _refused(path.with_name("foreign.sock"), rng, tally)
    lines = [_line(rng) for _ in range(rng.randint(1, 6))]
    payload = b"".join(line + b"\n" for line, _ in lines)
    ending = rng.random()
    tail = b""
    if ending < 0.05:
        tail = b'{"cmd":"stop","pad":"' + b"x" * (MAX_LINE + 10)  # oversize: an error, then a hang-up
    elif ending < 0.15:
        tail = json.dumps(_valid(rng)).encode()[: rng.randint(1, 10)]  # a half line, then gone
    elif ending < 0.18:
        tail = b'{"cmd": "pa'  # a half line, then silence with the connection open: the server closes it
    try:
        s = _connect(path)
    except OSError as e:
        tally.problem(f"connect failed: {e}")
        return
    try:
        data = payload + tail
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 4)))) if len(data) > 1 else []
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        for piece in pieces:
            s.sendall(piece)
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0, 0.01))  # a slow writer (not a wait for an outcome)
        lingers = 0.15 <= ending < 0.18
        if not lingers:
            s.shutdown(socket.SHUT_WR)
        else:
            s.settimeout(control_socket.IDLE_TIMEOUT_S + HANG_S)
        complete = sum(1 for line, _ in lines if line.strip())
        oversize = ending < 0.05
        replies = _read_replies(s, complete + oversize + lingers, tally, f"seed {seed}")
        if lingers:
            tally.add("lingered")
            if not replies or "closed:" not in str(replies[-1].get("error")):
                tally.problem(f"seed {seed}: a lingering half line was not closed with a reason: {replies[-1:]}")
            else:
                tally.add("closed_idle" if "idle" in replies[-1]["error"] else "closed_crowded")
                replies = replies[:-1]
    except (BrokenPipeError, ConnectionResetError) as e:
        tally.problem(f"seed {seed}: the server hung up mid-send: {e}")
        return
    finally:
        s.close()
    tally.add("connections")
    tally.add("requests", complete)
    answered = min(len(replies), complete)
    closed_why = replies and not replies[-1]["ok"] and str(replies[-1].get("error", "")).startswith("closed:")
    if answered < complete and not closed_why:
        tally.problem(f"seed {seed}: {complete} requests, {len(replies)} replies")
    tally.add("answered", answered)
    for (line, kind), rep in zip([l for l in lines if l[0].strip()], replies):
        tally.add(f"{kind}:{'ok' if rep['ok'] else 'error'}")
        if kind == "valid":
            req = json.loads(line)
            if not rep["ok"] or rep.get("id") != req.get("id"):
                tally.problem(f"seed {seed}: valid {line[:80]!r} -> {rep}")
            elif req["cmd"] in control_socket._STEERING:
                tally.add("steering_ok")
        elif rep["ok"] and kind != "garbage":
            tally.problem(f"seed {seed}: {kind} {line[:80]!r} accepted")
        if "request failed" in str(rep.get("error", "")):
            tally.problem(f"seed {seed}: internal error {rep['error']}")
            tally.add("tracebacks")


def _idle_holder(path: Path, stop: threading.Event, n: int, tally: Tally) -> None:
    """Keep `n` connections open and silent, reopening those the server closes."""
    socks: list[socket.socket] = []
    while not stop.is_set():
        for s in list(socks):
            s.setblocking(False)
            try:
                if s.recv(4096) == b"":
                    raise ConnectionResetError
            except BlockingIOError:
                continue
            except OSError:
                pass
            socks.remove(s)
            s.close()
            tally.add("idle_closed_by_server")
        while len(socks) < n:
            try:
                socks.append(_connect(path))
                tally.add("idle_opened")
            except OSError:
                break
        stop.wait(0.05)
    for s in socks:
        s.close()


def fuzz(tmp: Path, requests: int, seed: int = 0, workers: int = 6, idle: int = MAX_CLIENTS + 8) -> Tally:
    """Fuzz a ControlServer at tmp/control.sock until `requests` request lines were sent."""
    run = FakeRun()
    server = ControlServer(run, tmp / SOCKET)
    errors: list[BaseException] = []
    inner = server._on_ready

    def watched(key, mask):  # the server drops a client on an exception: count it as a traceback
        try:
            inner(key, mask)
        except BaseException as e:
            errors.append(e)
            raise
    server._on_ready = watched
    assert server.start(), server.error
    foreign_run = FakeRun()
    foreign = ControlServer(foreign_run, tmp / "foreign.sock", own_uid=os.getuid() + 1)  # we are the stranger
    assert foreign.start(), foreign.error
    tally = Tally()
    stop = threading.Event()
    holder = threading.Thread(target=_idle_holder, args=(tmp / SOCKET, stop, idle, tally), daemon=True)
    holder.start()
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(workers) as pool:
            i = 0
            while tally.c["requests"] < requests:
                batch = [pool.submit(_conversation, tmp / SOCKET, seed * 1_000_003 + i + j, tally) for j in range(workers * 4)]
                i += len(batch)
                for f in batch:
                    f.result()
        alive = server._thread.is_alive()
    finally:
        stop.set()
        holder.join(5)
        server.close()
        foreign.close()
    tally.add("seconds", round(time.monotonic() - t0))
    if not alive:
        tally.problem("the server thread died")
    for e in errors:
        tally.problem(f"server exception: {type(e).__name__}: {e}")
    tally.add("tracebacks", len(errors))
    refused = [e for e in foreign_run.events if e["event"] == "control_refused"]
    counted = sum(1 + e.get("unlogged", 0) for e in refused)
    tally.add("refusal_events", len(refused))
    if counted != tally.c["refused_connections"] or foreign_run.calls:
        tally.problem(f"{tally.c['refused_connections']} refused connections, {counted} counted in the run log")
    if len(run.calls) != tally.c["steering_ok"]:
        tally.problem(f"{len(run.calls)} run calls for {tally.c['steering_ok']} accepted steering requests")
    return tally


@pytest.mark.slow
def test_socket_fuzz_small_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(control_socket, "IDLE_TIMEOUT_S", 1.0)  # the idle sweep gets its turn too
    tally = fuzz(tmp_path, requests=400, seed=18)
    assert tally.problems == [], tally.problems[:5]
    assert tally.c["requests"] >= 400 and tally.c["answered"] == tally.c["requests"]
    assert tally.c["hangs"] == 0 and tally.c["tracebacks"] == 0
    assert tally.c["idle_opened"] > MAX_CLIENTS  # the idle connections really crowded the server


if __name__ == "__main__":
    import argparse
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--idle-timeout", type=float, default=1.0)
    a = ap.parse_args()
    control_socket.IDLE_TIMEOUT_S = a.idle_timeout
    with tempfile.TemporaryDirectory() as d:
        t = fuzz(Path(d), a.requests, a.seed)
    print(json.dumps(dict(sorted(t.c.items())), indent=1))
    print(f"{len(t.problems)} problems")
    kinds = Counter(p.split(": ", 1)[-1][:60] for p in t.problems)
    for p, n in kinds.most_common(15):
        print(f"  {n} x {p}")
    for p in t.problems[:5]:
        print("  " + p[:300])
    sys.exit(1 if t.problems else 0)
