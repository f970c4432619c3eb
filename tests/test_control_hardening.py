"""Control socket hardening (issue 18): huge numbers get a reply, every refusal is counted, idle
connections cannot lock steering out."""

from __future__ import annotations


import pytest

from lossmon import control_socket
from lossmon.control_socket import ControlClient, ControlServer, RequestError, parse_request
from lossmon.rundir.layout import SOCKET
from test_control import FakeRun, raw_exchange


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
