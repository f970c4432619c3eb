"""The control channel: steer a run from another terminal through a Unix socket in its run directory.

A job started under nohup, tmux or a scheduler serves `control.sock` (mode 0600). Each connection
is checked against the run's owner with SO_PEERCRED -- a shared GPU box has other users -- and a
foreign peer is refused and recorded as a `control_refused` event. Requests are one JSON object a
line, at most MAX_LINE bytes:

    {"cmd": "scale_lr", "factor": 2}     {"cmd": "set_lr", "value": 3e-4}
    {"cmd": "reset_lr"}  {"cmd": "commit_lr"}  {"cmd": "probe_lr", "factor": 2, "steps": 200}
    {"cmd": "pause"}  {"cmd": "resume"}
    {"cmd": "stop"}  {"cmd": "checkpoint"}  {"cmd": "status"}  {"cmd": "ping"}
    {"cmd": "rollback", "to_step": 1300, "skip_batches": 200, "lr_scale": 0.5}  (all three optional)

An optional "id" is echoed in the reply. Replies are one JSON object a line: {"ok": true, ...} or
{"ok": false, "error": "..."}. Anything malformed -- bad JSON, an unknown command or field, a wrong
type, an oversize line -- gets an error reply and changes nothing. Accepted commands go through the
same Run calls as the keys (source "control") and are recorded as `control` events.

One thread serves every client with non-blocking sockets: a slow, dead or hostile client can cost
it a little time but can never block it, and the training thread never waits on it. Connections
held open cannot lock steering out either: one silent for IDLE_TIMEOUT_S is closed, and past
MAX_CLIENTS a new one takes the place of the idlest (tests/test_control_fuzz.py).
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from lossmon import events, jsontext, names
from lossmon.rundir.runlog import strict
from lossmon.training.lr import MAX_PROBE_STEPS

MAX_LINE = 4096
MAX_CLIENTS = 32  # past this, a new connection takes the place of the longest idle one
IDLE_TIMEOUT_S = 10.0  # a connection that sends no complete request for this long is closed
MAX_PENDING_REPLY = 64 * 1024  # a client that does not read its replies is dropped past this
REQUESTS_PER_S = 200  # per client; a flood is cut off, not queued
LINGER_S = 1.0  # a peer the server hangs up on is read (and ignored) this long, so it gets its last line
MAX_LINGERING = 64
_AF_UNIX_MAX = 100  # sun_path is 108 bytes on Linux; longer paths go through /proc/self/fd

# command -> {field: kind}; kind "lr" is a finite number > 0, "steps" a whole number from 1 to
# MAX_PROBE_STEPS, "step" a whole number >= 0 (a step of the run), "count" one from 0 to MAX_SKIP;
# a kind ending in "?" is optional
COMMANDS: dict[str, dict[str, str]] = {
    "ping": {}, "status": {},
    "scale_lr": {"factor": "lr"}, "set_lr": {"value": "lr"},
    "reset_lr": {}, "commit_lr": {}, "probe_lr": {"factor": "lr?", "steps": "steps?"},
    "pause": {}, "resume": {}, "stop": {}, "checkpoint": {},
    "rollback": {"to_step": "step?", "skip_batches": "count?", "lr_scale": "lr?"},
}
_STEERING = {"scale_lr", "set_lr", "reset_lr", "commit_lr", "probe_lr", "pause", "resume", "stop", "checkpoint",
             "rollback"}
MAX_SKIP = 10**9  # batches a rollback may skip
MAX_SNAPSHOTS_SHOWN = 32  # the newest snapshots a status reply lists


NO_SNAPSHOTS = ("no snapshots to roll back to: call run.snapshot_every(n_steps) in the training function"
                " ([snapshot] enabled = true in the config, or lossmon run --snapshot-every N)")


class ControlError(Exception):
    """The control channel cannot be used; the message is one line for the user."""


class RequestError(ValueError):
    """A request that is refused; the message goes back to the client."""


def parse_request(line: bytes) -> dict:
    """A request line as a validated dict, or RequestError saying what is wrong with it."""
    if len(line) > MAX_LINE:
        raise RequestError(f"request longer than {MAX_LINE} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("request is not UTF-8 text") from None
    try:
        req = jsontext.loads(text)
    except ValueError as e:
        raise RequestError(f"request is not JSON ({getattr(e, 'msg', e)})") from None
    if not isinstance(req, dict):
        raise RequestError("request must be a JSON object")
    cmd = req.get("cmd")
    if not isinstance(cmd, str):
        raise RequestError('request needs "cmd": one of ' + ", ".join(COMMANDS))
    if cmd not in COMMANDS:
        raise RequestError(f"unknown command {cmd[:40]!r}; commands: {', '.join(COMMANDS)}")
    fields = COMMANDS[cmd]
    rid = req.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (str, int))
                            or (isinstance(rid, str) and len(rid) > 64)
                            or (isinstance(rid, int) and not -2**63 <= rid < 2**63)):  # echoed: keep it sane
        raise RequestError('"id" must be a short string or a 64-bit integer')
    for key, value in req.items():
        if key in ("cmd", "id"):
            continue
        kind = fields.get(key)
        if kind is None:
            raise RequestError(f"{cmd} takes no field {key[:40]!r}" + (f"; fields: {', '.join(fields)}" if fields else ""))
        kind = kind.rstrip("?")
        # compared, never converted: float(10**400) raises, and NaN fails both comparisons
        if kind == "lr" and (isinstance(value, bool) or not isinstance(value, (int, float))
                             or not 0 < value <= 1e6):
            raise RequestError(f"{cmd}: {key} must be a number > 0, got {json.dumps(value)[:40]}")
        if kind == "steps" and (isinstance(value, bool) or not isinstance(value, int)
                                or not 1 <= value <= MAX_PROBE_STEPS):
            raise RequestError(f"{cmd}: {key} must be a whole number from 1 to {MAX_PROBE_STEPS}, got"
                               f" {json.dumps(value)[:40]}")
        top = {"step": 2**63 - 1, "count": MAX_SKIP}.get(kind)
        if top is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top):
            raise RequestError(f"{cmd}: {key} must be a whole number from 0 to {top:,}, got {json.dumps(value)[:40]}")
    missing = [k for k, kind in fields.items() if k not in req and not kind.endswith("?")]
    if missing:
        raise RequestError(f"{cmd} needs {', '.join(missing)}")
    return req


def peer_credentials(sock: socket.socket) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of the process at the other end, or None where the OS cannot say."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", raw)


def peer_allowed(peer_uid: int | None, own_uid: int) -> bool:
    """Only the run's own user may steer it. Where the OS gives no credentials (not Linux), the
    socket's 0600 mode is the check."""
    return peer_uid is None or peer_uid == own_uid


def socket_address(path: Path) -> tuple[str, int | None]:
    """An address for `path` that fits sun_path: long paths go through the directory's fd."""
    text = str(path)
    if len(text.encode()) <= _AF_UNIX_MAX:
        return text, None
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    return f"/proc/self/fd/{fd}/{path.name}", fd


def connect(s: socket.socket, addr: str, timeout: float) -> None:
    """Connect, retrying while the server's listen queue is full: a Unix socket with a timeout
    fails at once with EAGAIN then, where a moment later it would be accepted."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            s.connect(addr)
            return
        except BlockingIOError:
            if time.monotonic() + pause > deadline:
                raise socket.timeout("the run's control socket is too busy to accept") from None
            time.sleep(pause)  # a backoff between tries, bounded by the timeout
            pause = min(pause * 2, 0.05)


def probe(path: Path, timeout: float = 0.5) -> str:
    """'live' if a server answers at `path`, 'stale' if a socket file is there but nobody serves
    it (a killed run), 'missing' if there is none."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        addr, fd = socket_address(path)
    except OSError:
        return "stale"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        connect(s, addr, timeout)
        return "live"
    except OSError:
        return "stale"
    finally:
        s.close()
        if fd is not None:
            os.close(fd)


class ControlClient:
    """Sends one request per connection and waits for its reply (any thread)."""

    def __init__(self, path: Path, timeout: float = 2.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def request(self, cmd: str, **fields: Any) -> dict:
        """The server's reply as a dict; ControlError when it cannot be reached or answers nonsense."""
        line = json.dumps({"cmd": cmd, **fields}).encode() + b"\n"
        try:
            addr, fd = socket_address(self.path)
        except OSError as e:
            raise ControlError(f"cannot reach {self.path}: {e.strerror or e}") from None
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            connect(s, addr, self.timeout)
            try:
                s.sendall(line)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a server that refuses us answers and hangs up at once: its answer is still there
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > MAX_PENDING_REPLY:
                    break
        except socket.timeout:
            raise ControlError(f"no answer from {self.path} within {self.timeout:g}s") from None
        except OSError as e:
            if e.errno in (errno.ECONNREFUSED, errno.ENOENT):
                raise ControlError("the run is not serving control (it has ended, or was killed)") from None
            raise ControlError(f"cannot reach {self.path}: {e.strerror or e}") from None
        finally:
            s.close()
            if fd is not None:
                os.close(fd)
        try:
            reply = jsontext.loads(buf.split(b"\n", 1)[0])
        except ValueError:
            raise ControlError("the run's control channel sent a reply that is not JSON") from None
        if not isinstance(reply, dict):
            raise ControlError("the run's control channel sent a reply that is not an object")
        return reply


class _Client:
    __slots__ = ("sock", "inbuf", "outbuf", "pid", "window_start", "count", "closing", "last_active", "last_data")

    def __init__(self, sock: socket.socket, pid: int | None) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.pid = pid
        self.window_start = time.monotonic()
        self.count = 0
        self.closing = False
        self.last_active = self.window_start  # when it connected or last sent a complete request
        self.last_data: float | None = None  # when it last sent any bytes (None: never)


class ControlServer:
    """Serves control.sock for one Run on a daemon thread. `start()` says whether it could."""

    def __init__(self, run: Any, path: Path, *, own_uid: int | None = None) -> None:
        self.run = run
        self.path = Path(path)
        self.own_uid = os.getuid() if own_uid is None else own_uid
        self.error: str | None = None
        self._listener: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._clients: dict[int, _Client] = {}
        self._lingering: dict[socket.socket, float] = {}  # hung-up peers still read until EOF: deadline
        self._halt = False
        self._wake_r: socket.socket | None = None  # made in start(): a server never started holds no sockets
        self._wake_w: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="lossmon-control", daemon=True)
        self._last_refusal_event = 0.0
        self._refusals_unlogged = 0  # refused since the last control_refused event
        self._refusals_total = 0
        self._last_refused: tuple[int | None, int | None] = (None, None)  # (uid, pid)

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> bool:
        try:
            self._listener = self._bind()
        except (OSError, ControlError) as e:
            self.error = str(e) if isinstance(e, ControlError) else f"cannot serve {self.path}: {e.strerror or e}"
            return False
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel = selectors.DefaultSelector()
        self._listener.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread.start()
        return True

    def _bind(self) -> socket.socket:
        if self.path.exists() or self.path.is_symlink():
            if probe(self.path) == "live":
                raise ControlError(f"{self.path} is served by another process; not taking it over")
            self.path.unlink()  # a stale socket from a killed run: never trusted, replaced
        addr, fd = socket_address(self.path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(addr)
            os.chmod(self.path, 0o600)  # before listen(): nobody can connect until it is 0600
            s.listen(128)  # bursts of connections wait here instead of failing with EAGAIN
        except OSError:
            s.close()
            raise
        finally:
            if fd is not None:
                os.close(fd)
        return s

    def close(self) -> None:
        """Stop serving and remove the socket file. Safe to call twice."""
        if self._halt:
            return
        self._halt = True
        if self._listener is None:
            return
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout=2)
        try:
            self.path.unlink()
        except OSError:
            pass

    # ---- the loop -----------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._halt:
                for key, mask in self._sel.select(timeout=min(1.0, IDLE_TIMEOUT_S)):
                    try:
                        self._on_ready(key, mask)
                    except Exception:  # noqa: BLE001 - one client's trouble ends that client only
                        if isinstance(key.data, _Client):
                            self._drop(key.data)
                if self._refusals_unlogged and time.monotonic() - self._last_refusal_event >= 1.0:
                    self._log_refusals()
                self._close_idle()
                now = time.monotonic()
                for sock in [s for s, deadline in self._lingering.items() if deadline < now]:
                    self._unlinger(sock)
        finally:
            if self._refusals_unlogged:
                self._log_refusals()  # the refusals of a burst's last second are counted too
            for c in list(self._clients.values()):
                self._drop(c)
            for sock in list(self._lingering):
                self._unlinger(sock)
            for s in (self._listener, self._wake_r, self._wake_w):
                try:
                    s.close()
                except (OSError, AttributeError):
                    pass
            self._sel.close()

    def _on_ready(self, key: selectors.SelectorKey, mask: int) -> None:
        if key.data == "listen":
            self._accept()
        elif key.data == "wake":
            self._wake_r.recv(64)
        elif key.data == "linger":
            self._drain(key.fileobj)
        else:
            c = key.data
            if mask & selectors.EVENT_READ:
                self._read(c)
            if mask & selectors.EVENT_WRITE and c.sock.fileno() >= 0:
                self._flush(c)

    def _accept(self) -> None:
        for _ in range(16):
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, say: wait instead of spinning on a ready listener
                time.sleep(0.1)
                return
            sock.setblocking(False)
            cred = peer_credentials(sock)
            pid, uid = (cred[0], cred[1]) if cred else (None, None)
            if not peer_allowed(uid, self.own_uid):
                self._refuse(sock, pid, uid)
                continue
            if len(self._clients) >= MAX_CLIENTS:
                self._evict_idlest()
            c = _Client(sock, pid)
            self._clients[sock.fileno()] = c
            self._sel.register(sock, selectors.EVENT_READ, c)

    def _close_idle(self) -> None:
        cutoff = time.monotonic() - IDLE_TIMEOUT_S
        for c in [c for c in self._clients.values() if c.last_active < cutoff]:
            self._hang_up(c, f"closed: idle (no complete request for {IDLE_TIMEOUT_S:g}s)")

    def _evict_idlest(self) -> None:
        """Make room for a new connection by closing the idlest one, so connections held open can
        never lock steering out: one that never sent a byte goes first (the oldest of them), then
        the one whose last bytes are oldest. What it already sent is answered first."""
        c = min(self._clients.values(),
                key=lambda c: (c.last_data is not None, c.last_data or c.last_active))
        self._read(c)  # a request waiting in its buffer is answered, not lost
        if c.sock.fileno() >= 0 and self._clients.get(c.sock.fileno()) is c:  # not already let go
            self._hang_up(c, f"closed: too many clients (at most {MAX_CLIENTS}); this one was the idlest")

    def _hang_up(self, c: _Client, why: str) -> None:
        """Stop serving a client with a last error line saying why."""
        c.outbuf += json.dumps({"ok": False, "error": why}).encode() + b"\n"
        self._finish(c)

    def _finish(self, c: _Client) -> None:
        """Stop serving a client the server is done with: what is left of its replies goes out,
        then it lingers (below)."""
        if c.sock.fileno() < 0:
            return
        self._clients.pop(c.sock.fileno(), None)
        try:
            self._sel.unregister(c.sock)
        except (KeyError, ValueError, OSError):
            pass
        c.closing = True
        self._linger(c.sock, bytes(c.outbuf))
        c.outbuf.clear()

    def _linger(self, sock: socket.socket, last: bytes) -> None:
        """Send `last` (best effort), shut the write side, and read and ignore what the peer still
        sends until it hangs up (at most LINGER_S): a socket closed with bytes unread resets the
        connection, and the peer would lose the answer (seen as ECONNRESET by refused peers)."""
        try:
            if last:
                sock.send(last)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        if len(self._lingering) >= MAX_LINGERING:
            self._unlinger(min(self._lingering, key=self._lingering.get))
        try:
            self._sel.register(sock, selectors.EVENT_READ, "linger")
        except (KeyError, ValueError, OSError):
            sock.close()
            return
        self._lingering[sock] = time.monotonic() + LINGER_S
        self._drain(sock)

    def _drain(self, sock: socket.socket) -> None:
        for _ in range(4):  # a bounded share of the thread per wake-up
            try:
                if sock.recv(65536):
                    continue
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                pass
            self._unlinger(sock)  # EOF or an error: the peer is gone
            return

    def _unlinger(self, sock: socket.socket) -> None:
        self._lingering.pop(sock, None)
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        sock.close()

    def _refuse(self, sock: socket.socket, pid: int | None, uid: int | None) -> None:
        self._linger(sock, json.dumps({"ok": False, "error": "refused: this run belongs to another user"}).encode() + b"\n")
        self._refusals_total += 1
        self._refusals_unlogged += 1
        self._last_refused = (uid, pid)
        if time.monotonic() - self._last_refusal_event >= 1.0:  # a hostile loop cannot flood the run log
            self._log_refusals()

    def _log_refusals(self) -> None:
        """One control_refused event for the refusals not yet recorded (at most one a second, and
        a last one when the server stops): `unlogged` + 1 of them, `total` so far."""
        self._last_refusal_event = time.monotonic()
        uid, pid = self._last_refused
        extra = {"unlogged": self._refusals_unlogged - 1} if self._refusals_unlogged > 1 else {}
        self._refusals_unlogged = 0
        self.run.record(events.CONTROL_REFUSED, uid=uid, pid=pid, total=self._refusals_total, **extra)

    def _read(self, c: _Client) -> None:
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(c)
            return
        if not data:
            self._drop(c)
            return
        c.inbuf += data
        c.last_data = time.monotonic()
        while not c.closing:
            nl = c.inbuf.find(b"\n")
            if nl < 0:
                if len(c.inbuf) > MAX_LINE:
                    self._reply(c, {"ok": False, "error": f"request longer than {MAX_LINE} bytes"})
                    c.closing = True  # the rest of such a line cannot be trusted to resync
                break
            line = bytes(c.inbuf[:nl])
            del c.inbuf[: nl + 1]
            if not self._within_rate(c):
                self._reply(c, {"ok": False, "error": f"more than {REQUESTS_PER_S} requests a second"})
                c.closing = True
                break
            if line.strip():
                c.last_active = time.monotonic()
                self._reply(c, self.handle(line, c.pid))
        if c.closing and not c.outbuf:
            self._finish(c)

    def _within_rate(self, c: _Client) -> bool:
        now = time.monotonic()
        if now - c.window_start >= 1.0:
            c.window_start, c.count = now, 0
        c.count += 1
        return c.count <= REQUESTS_PER_S

    def _reply(self, c: _Client, reply: dict) -> None:
        c.outbuf += json.dumps(reply, allow_nan=False, default=str).encode() + b"\n"
        if len(c.outbuf) > MAX_PENDING_REPLY:
            self._drop(c)
            return
        self._flush(c)

    def _flush(self, c: _Client) -> None:
        if c.outbuf:
            try:
                sent = c.sock.send(c.outbuf)
                del c.outbuf[:sent]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop(c)
                return
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.outbuf else 0)
        try:
            self._sel.modify(c.sock, want, c)
        except (KeyError, ValueError, OSError):
            return
        if c.closing and not c.outbuf:
            self._finish(c)

    def _drop(self, c: _Client) -> None:
        c.closing = True
        c.outbuf.clear()
        fd = c.sock.fileno()
        self._clients.pop(fd, None)
        try:
            self._sel.unregister(c.sock)
        except (KeyError, ValueError, OSError):
            pass
        c.sock.close()

    # ---- requests -----------------------------------------------------------------------------

    def handle(self, line: bytes, peer_pid: int | None = None) -> dict:
        """Validate and apply one request line; the reply (never raises: a request that trips
        something unforeseen still gets an answer, and the connection stays)."""
        try:
            return self._handle(line, peer_pid)
        except Exception as e:  # noqa: BLE001
            return {"ok": False, "error": f"request failed: {type(e).__name__}: {str(e)[:200]}"}

    def _handle(self, line: bytes, peer_pid: int | None) -> dict:
        try:
            req = parse_request(line)
        except RequestError as e:
            return {"ok": False, "error": str(e)}
        rid = {"id": req["id"]} if "id" in req else {}
        cmd = req["cmd"]
        try:
            reply = self._apply(cmd, req)
        except (ValueError, TypeError) as e:
            return {"ok": False, "cmd": cmd, "error": str(e), **rid}
        if cmd in _STEERING:
            args = {k: v for k, v in req.items() if k not in ("cmd", "id")}
            self.run.record(events.CONTROL, cmd=cmd, source="control", peer_pid=peer_pid, **args)
        return {"ok": True, "cmd": cmd, **reply, **rid}

    def _apply(self, cmd: str, req: dict) -> dict:
        run = self.run
        if cmd == "ping":
            return {"pid": os.getpid(), "name": run.name}
        if cmd == "status":
            return self.status()
        if cmd in ("scale_lr", "set_lr", "reset_lr", "commit_lr", "probe_lr"):
            if not run.lr_watched and run.step > 0:
                raise ValueError("LR control needs run.watch(optimizer) in the training function")
            if cmd == "scale_lr":
                run.scale_lr(req["factor"], source="control")
            elif cmd == "set_lr":
                run.set_lr(req["value"], source="control")
            elif cmd == "reset_lr":
                run.reset_lr(source="control")
            elif cmd == "probe_lr":
                run.probe_lr(req.get("factor", 2.0), req.get("steps", 200), source="control")
            else:
                run.commit_lr(source="control")
            return {"applies": "at the next optimizer step"}
        if cmd == "pause":
            run.pause(source="control")
            return {"applies": "at the next step"}
        if cmd == "resume":
            run.resume(source="control")
            return {}
        if cmd == "stop":
            run.stop(source="control")
            return {"applies": "at the next step"}
        if cmd == "checkpoint":
            if not run.has_checkpoint:
                raise ValueError("no checkpoint function registered: the training function must call run.on_checkpoint(fn)")
            run.checkpoint(source="control")
            return {"applies": "at the next step"}
        if cmd == "rollback":
            if not run.snapshotting:
                raise ValueError(NO_SNAPSHOTS)
            run.rollback(req.get("to_step"), req.get("skip_batches", 200), req.get("lr_scale"), source="control")
            return {"applies": "at the next step"}
        raise ValueError(f"unknown command {cmd!r}")  # pragma: no cover - parse_request checks

    def status(self) -> dict:
        run = self.run
        return {
            "pid": os.getpid(), "name": run.name, "step": run.step, "total_steps": run.total_steps,
            "paused": run.paused, "pause_requested": run.pause_requested,
            "stopping": bool(run.stop_requested), "lr_scale": run.lr_scale,
            "lr_watched": run.lr_watched, "lr_pending": run.lr_change_pending, "lr_probing": run.lr_probing,
            "checkpoint": run.has_checkpoint,
            **_snapshot_status(run),
            "loss": _last(run, names.TRAIN_LOSS), "val_loss": _last(run, names.VAL_LOSS), "lr": _last(run, names.LR),
        }


def _snapshot_status(run: Any) -> dict:
    """What a watcher's rollback dialog shows: whether snapshots are kept, the newest of them, and
    whether a rollback waits for the next step."""
    return {"snapshotting": run.snapshotting, "rollback_pending": run.rollback_pending,
            "snapshots": [strict(s) for s in run.snapshots()[-MAX_SNAPSHOTS_SHOWN:]]}


def _last(run: Any, role: str) -> float | str | None:
    """The last value the run logged under a role (names.TRAIN_LOSS, ...) as strict JSON (a
    non-finite one as its string name, as in the run log); None if it has logged none."""
    series = run.store.by_role(role)
    last = series.last() if series is not None else None
    return None if last is None else strict(last[1])
