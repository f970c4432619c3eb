"""The control socket: request validation (fuzzed), the server's handling of clients, the peer check,
socket mode, stale sockets."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossmon.recording.store import MetricStore
from lossmon.rundir.layout import SOCKET
from lossmon.control_socket import (MAX_LINE, ControlClient, ControlError, ControlServer, RequestError,
                             parse_request, peer_allowed, probe, socket_address)


class FakeRun:
    """Records the control calls a server makes; the state a status reply reads."""

    def __init__(self) -> None:
        self.name = "fake"
        self.calls: list[tuple] = []
        self.events: list[dict] = []
        self.step = 5
        self.total_steps = 100
        self.paused = False
        self.pause_requested = False
        self.stop_requested = False
        self.lr_scale = 1.0
        self.lr_watched = True
        self.lr_change_pending = False
        self.lr_probing = False
        self.has_checkpoint = True
        self.snapshotting = True  # the rollback side of the Run (issue 22): rollback() is recorded
        self.rollback_pending = False
        self.store = MetricStore()

    def snapshots(self) -> list[dict]:
        return []

    def record(self, event, **fields):
        self.events.append({"event": event, **fields})

    def __getattr__(self, name):
        if name in ("scale_lr", "set_lr", "reset_lr", "commit_lr", "probe_lr", "pause", "resume", "stop", "checkpoint",
                    "rollback"):
            return lambda *a, **k: self.calls.append((name, a, k))
        raise AttributeError(name)


@pytest.fixture
def served(tmp_path):
    run = FakeRun()
    server = ControlServer(run, tmp_path / SOCKET)
    assert server.start(), server.error
    yield run, server, ControlClient(tmp_path / SOCKET)
    server.close()


def raw_exchange(path: Path, payload: bytes, timeout: float = 2.0) -> list[dict]:
    """Send raw bytes, half-close, and read every reply line until the server closes."""
    addr, fd = socket_address(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except BrokenPipeError:  # the server answered and hung up first (a refused peer): read that
            pass
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
        if fd is not None:
            os.close(fd)
    return [json.loads(line) for line in buf.splitlines() if line.strip()]


# ---- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("line,needle", [
    (b'{"cmd": "fly"}', "unknown command"),
    (b'{"cmd": "scale_lr", "factor": "2"}', "must be a number > 0"),
    (b'{"cmd": "scale_lr", "factor": true}', "must be a number > 0"),
    (b'{"cmd": "scale_lr", "factor": -1}', "must be a number > 0"),
    (b'{"cmd": "scale_lr", "factor": NaN}', "must be a number > 0"),
    (b'{"cmd": "scale_lr", "factor": Infinity}', "must be a number > 0"),
    (b'{"cmd": "scale_lr"}', "needs factor"),
    (b'{"cmd": "pause", "now": 1}', "takes no field"),
    (b'{"cmd": "stop", "id": [1]}', '"id"'),
    (b'[1, 2]', "JSON object"),
    (b'"stop"', "JSON object"),
    (b'{"command": "stop"}', '"cmd"'),
    (b'{"cmd": 3}', '"cmd"'),
    (b'stop', "not JSON"),
    (b'\xff\xfe', "UTF-8"),
    (b'[' * 3000 + b']' * 3000, "longer than"),
    (b'[' * 2000 + b']' * 2000, "nested too deeply"),
])
def test_invalid_requests_are_refused_with_a_reason(line, needle):
    with pytest.raises(RequestError, match=needle):
        parse_request(line)


def test_valid_requests_parse():
    assert parse_request(b'{"cmd": "scale_lr", "factor": 2, "id": "a"}') == {"cmd": "scale_lr", "factor": 2, "id": "a"}
    assert parse_request(b'{"cmd": "set_lr", "value": 0.0003}')["value"] == 3e-4
    for cmd in ("ping", "status", "reset_lr", "commit_lr", "pause", "resume", "stop", "checkpoint"):
        assert parse_request(json.dumps({"cmd": cmd}).encode())["cmd"] == cmd


_json = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                     max_leaves=20)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    _json.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["cmd", "factor", "value", "id", "x"]),
                    st.one_of(st.sampled_from(["scale_lr", "set_lr", "stop", "pause", "zap"]), _json),
                    max_size=4).map(lambda d: json.dumps(d).encode()),
))
@pytest.mark.slow
def test_fuzzed_lines_never_raise_and_only_valid_ones_act(line):
    run = FakeRun()
    server = ControlServer(run, Path("/nonexistent") / SOCKET)
    reply = server.handle(line)
    assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool)
    json.dumps(reply, allow_nan=False)  # every reply is strict JSON
    try:
        parse_request(line)
        valid = True
    except RequestError:
        valid = False
    if not reply["ok"]:
        assert run.calls == [] and not any(e["event"] == "control" for e in run.events)
    else:
        assert valid


# ---- the server -----------------------------------------------------------------------------


def test_socket_is_0600_and_removed_at_close(tmp_path):
    server = ControlServer(FakeRun(), tmp_path / SOCKET)
    assert server.start()
    mode = os.stat(tmp_path / SOCKET).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    server.close()
    assert not (tmp_path / SOCKET).exists()


def test_commands_apply_through_the_run_and_are_recorded(served):
    run, server, client = served
    reply = client.request("scale_lr", factor=2, id=7)
    assert reply["ok"] and reply["id"] == 7
    assert run.calls == [("scale_lr", (2,), {"source": "control"})]
    assert run.events[-1]["event"] == "control" and run.events[-1]["cmd"] == "scale_lr"
    assert run.events[-1]["factor"] == 2 and run.events[-1]["peer_pid"] == os.getpid()
    assert client.request("stop")["ok"] and run.calls[-1][0] == "stop"
    status = client.request("status")
    assert status["ok"] and status["step"] == 5 and status["total_steps"] == 100 and status["lr_watched"]


def test_an_invalid_request_changes_nothing(served):
    run, server, client = served
    reply = client.request("scale_lr", factor="x2")
    assert not reply["ok"] and "number" in reply["error"]
    assert run.calls == [] and run.events == []


def test_lr_without_a_watched_optimizer_is_refused(served):
    run, server, client = served
    run.lr_watched = False
    reply = client.request("scale_lr", factor=2)
    assert not reply["ok"] and "run.watch(optimizer)" in reply["error"] and run.calls == []


def test_many_requests_on_one_connection_and_garbage_between(served):
    run, server, _ = served
    payload = b'{"cmd":"ping"}\n\x00\xff garbage\n{"cmd":"pause"}\n\n{"cmd":"resume"}\n'
    replies = raw_exchange(server.path, payload)
    assert [r["ok"] for r in replies] == [True, False, True, True]
    assert [c[0] for c in run.calls] == ["pause", "resume"]


def test_an_oversize_line_gets_an_error_and_the_connection_is_closed(served):
    run, server, client = served
    replies = raw_exchange(server.path, b'{"cmd":"stop", "pad": "' + b"x" * (MAX_LINE + 10))
    assert len(replies) == 1 and not replies[0]["ok"] and "longer than" in replies[0]["error"]
    assert run.calls == []
    assert client.request("ping")["ok"]  # the server is fine


def test_several_clients_at_once_and_a_client_dying_midway(served):
    run, server, client = served
    addr, fd = socket_address(server.path)
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(addr)
    idle.sendall(b'{"cmd": "sto')  # half a request, then it dies
    results = []

    def ask():
        results.append(ControlClient(server.path).request("status")["ok"])

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    idle.close()
    assert results == [True] * 8
    assert client.request("ping")["ok"] and run.calls == []


def test_a_flood_is_cut_off(served):
    run, server, client = served
    replies = raw_exchange(server.path, b'{"cmd":"ping"}\n' * 500)
    assert 0 < len(replies) < 500 and not replies[-1]["ok"] and "requests a second" in replies[-1]["error"]
    assert client.request("ping")["ok"]


def test_a_foreign_user_is_refused_and_logged(tmp_path):
    assert peer_allowed(1000, 1000) and not peer_allowed(1001, 1000) and peer_allowed(None, 1000)
    run = FakeRun()
    server = ControlServer(run, tmp_path / SOCKET, own_uid=os.getuid() + 1)  # we play the stranger
    assert server.start()
    try:
        replies = raw_exchange(server.path, b'{"cmd": "stop"}\n')
        assert len(replies) == 1 and not replies[0]["ok"] and "another user" in replies[0]["error"]
        deadline = time.monotonic() + 2
        while not run.events and time.monotonic() < deadline:
            time.sleep(0.01)
        assert run.events[0]["event"] == "control_refused" and run.events[0]["uid"] == os.getuid()
        assert run.calls == []
    finally:
        server.close()


def test_a_stale_socket_is_replaced_and_a_live_one_is_not_taken(tmp_path):
    path = tmp_path / SOCKET
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed run leaves
    assert probe(path) == "stale"
    first = ControlServer(FakeRun(), path)
    assert first.start() and probe(path) == "live"
    second = ControlServer(FakeRun(), path)
    assert not second.start() and "another process" in second.error
    assert ControlClient(path).request("ping")["ok"]
    first.close()
    assert probe(path) == "missing"
    with pytest.raises(ControlError, match="not serving"):
        ControlClient(path).request("ping")


def test_a_long_run_directory_path_works(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(str(deep / SOCKET)) > 108
    server = ControlServer(FakeRun(), deep / SOCKET)
    assert server.start(), server.error
    try:
        assert ControlClient(deep / SOCKET).request("ping")["ok"]
        assert probe(deep / SOCKET) == "live"
    finally:
        server.close()
