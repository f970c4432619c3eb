"""Control socket hardening (issue 18): huge numbers get a reply, every refusal is counted, idle
connections cannot lock steering out."""

from __future__ import annotations

import json
import socket
import time

import pytest

from lossmon import control_socket
from lossmon.control_socket import (MAX_CLIENTS, ControlClient, ControlError, ControlServer, RequestError,
                                    parse_request, socket_address)
from lossmon.rundir.layout import SOCKET
from test_control import FakeRun, raw_exchange


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def served(tmp_path):
    run = FakeRun()
    server = ControlServer(run, tmp_path / SOCKET)
    assert server.start(), server.error
    yield run, server, ControlClient(tmp_path / SOCKET)
    server.close()


@pytest.mark.parametrize("line", [
    b'{"cmd": "scale_lr", "factor": 1' + b"0" * 400 + b"}",
    b'{"cmd": "set_lr", "value": -1' + b"0" * 400 + b"}",
    b'{"cmd": "probe_lr", "factor": 2, "steps": 1' + b"0" * 400 + b"}",
])
def test_a_huge_integer_is_refused_with_a_reason(line, served):
    with pytest.raises(RequestError, match="must be"):
        parse_request(line)
    run, server, _ = served
    replies = raw_exchange(server.path, line + b"\n")
    assert len(replies) == 1 and not replies[0]["ok"] and "must be" in replies[0]["error"]
    assert run.calls == []


def test_every_refused_connection_is_counted(tmp_path):
    run = FakeRun()
    server = ControlServer(run, tmp_path / SOCKET, own_uid=control_socket.os.getuid() + 1)
    assert server.start()
    n = 303
    for _ in range(n):
        assert "another user" in raw_exchange(server.path, b'{"cmd": "stop"}\n')[0]["error"]
    server.close()
    refused = [e for e in run.events if e["event"] == "control_refused"]
    assert refused and len(refused) < 20  # rate-limited ...
    assert sum(1 + e.get("unlogged", 0) for e in refused) == n  # ... but every one counted
    assert refused[-1]["total"] == n
    assert run.calls == []


def _idle_connections(path, n):
    addr, fd = socket_address(path)
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr)
        socks.append(s)
    return socks


def test_idle_connections_do_not_lock_steering_out(served):
    run, server, client = served
    idle = _idle_connections(server.path, MAX_CLIENTS + 4)
    try:
        for s in idle[:3]:
            s.sendall(b'{"cmd": "sto')  # half a request: still idle
        assert wait_until(lambda: len(server._clients) >= MAX_CLIENTS)
        assert client.request("pause")["ok"] and run.calls[-1][0] == "pause"
        assert client.request("ping")["ok"]
    finally:
        for s in idle:
            s.close()


def test_an_idle_connection_times_out(served, monkeypatch):
    run, server, client = served
    monkeypatch.setattr(control_socket, "IDLE_TIMEOUT_S", 0.3)
    (s,) = _idle_connections(server.path, 1)
    s.settimeout(5)
    t0 = time.monotonic()
    data = s.recv(4096)  # the server hangs up on it
    s.close()
    assert time.monotonic() - t0 < 4 and (data == b"" or b"idle" in data)
    assert client.request("ping")["ok"]


def test_a_huge_integer_id_is_refused(served):
    run, server, _ = served
    replies = raw_exchange(server.path, b'{"cmd": "ping", "id": 1' + b"0" * 30 + b"}\n")
    assert len(replies) == 1 and not replies[0]["ok"] and '"id"' in replies[0]["error"]


def test_a_client_mid_request_outlives_silent_connections(served):
    """Crowding evicts connections that never sent a byte before one that is sending (the fuzz
    found requests split across sends cut off when the oldest connection went first)."""
    run, server, client = served
    (busy,) = _idle_connections(server.path, 1)
    busy.sendall(b'{"cmd": "pi')
    assert wait_until(lambda: any(c.inbuf for c in server._clients.values()))
    silent = _idle_connections(server.path, MAX_CLIENTS + 4)
    try:
        assert wait_until(lambda: len(server._clients) == MAX_CLIENTS and
                          sum(c.last_data is None for c in server._clients.values()) == MAX_CLIENTS - 1)
        busy.sendall(b'ng", "id": 1}\n')
        busy.settimeout(5)
        reply = json.loads(busy.recv(4096).split(b"\n")[0])
        assert reply["ok"] and reply["id"] == 1
    finally:
        busy.close()
        for s in silent:
            s.close()


def test_a_full_listen_queue_is_waited_on_not_an_instant_failure(tmp_path):
    path = tmp_path / "busy.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(0)  # nobody accepts: the queue fills at once
    fill = []
    try:
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            fill.append(s)
            try:
                s.connect(str(path))
            except BlockingIOError:
                break
        t0 = time.monotonic()
        with pytest.raises(ControlError, match="no answer") as e:
            ControlClient(path, timeout=0.3).request("ping")
        assert time.monotonic() - t0 >= 0.25 and "\n" not in str(e.value)
    finally:
        for s in fill:
            s.close()
        listener.close()


def test_a_refused_peer_always_gets_its_answer(tmp_path):
    """Refusing closed the socket with the peer's request unread, and Linux then resets the
    connection: the peer got ECONNRESET instead of the refusal (seen 1 in ~3000 connections;
    certain when the request is longer than what the server reads before closing)."""
    run = FakeRun()
    server = ControlServer(run, tmp_path / SOCKET, own_uid=control_socket.os.getuid() + 1)
    assert server.start()
    try:
        for _ in range(20):
            replies = raw_exchange(server.path, b'{"cmd": "stop", "pad": "' + b"x" * 8000 + b'"}\n')
            assert len(replies) == 1 and "another user" in replies[0]["error"]
    finally:
        server.close()
