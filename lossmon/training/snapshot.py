"""Snapshots of a training run's state, kept so a rollback can put it back exactly.

A snapshot is everything the next steps depend on: the state of the trained modules, the watched
optimizers and schedulers, the GradScaler when one is given, lossmon's own state (step, LR
multiplier), the RNGs (python `random`, numpy's global one, torch CPU, and every CUDA device once
CUDA is initialised) and the data position (batches consumed through `run.batches`). It is taken
by the training thread at a step boundary (run.py says which), so no update is half applied.

Copies go to host memory: CPU tensors are cloned; CUDA tensors are copied into pinned buffers
with non_blocking copies on a side stream, which the training stream waits for on the GPU before
it touches them again -- the training thread does not block. `on_disk=True` keeps the newest `keep`
in <run dir>/snapshots instead: the training thread copies the state into one host buffer (as
above, fast), and a writer thread saves it with torch.save (atomically: a temporary file, fsync,
a rename), so the write (seconds for a large model) is off the training thread's path. One write
is in flight at a time: a snapshot due while the previous one is still being written waits for it.
Until its file is complete a snapshot restores from the buffer; a write that fails (a full disk)
drops that snapshot and reports through `on_error`, and the next one turns snapshots off.

The modules: the ones given to `snapshot_every(modules=...)`, else the outermost nn.Modules alive
whose parameters the watched optimizers update (found once, by parameter identity, by a scan of
the live objects: capture/checkpoint.py's `trained_modules`). When none is found -- an optimizer
over bare tensors, say -- snapshots cannot restore the model: the first snapshot raises a
ValueError that says to pass `modules=`.
"""

from __future__ import annotations

import copy
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SNAPSHOT_DIR = "snapshots"


@dataclass
class Snapshot:
    """One snapshot: where it is, and (in memory) what it holds."""

    step: int  # the run's step when it was taken
    clock: int  # optimizer steps of the first watched optimizer then (the run's step with none)
    batch: int | None  # batches consumed through run.batches, None when it is not used
    time: float
    where: str  # "memory" or the file's path
    state: dict | None = None  # in memory only
    ready: Any = field(default=None, repr=False)  # a CUDA event the copies complete at (None: done)

    def info(self) -> dict:
        return {"step": self.step, "batch": self.batch, "time": self.time, "where": self.where}


def check_every(n: Any, keep: Any) -> tuple[int, int]:
    """(n_steps, keep) as positive ints, or ValueError naming the bad one."""
    for what, v in (("n_steps", n), ("keep", keep)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"snapshot_every(): {what} must be a whole number >= 1, got {v!r}")
    return int(n), int(keep)


class SnapshotsOff(Exception):
    """A snapshot could not be written (on the writer thread, reported there): no more are taken."""


class Snapshots:
    """The last `keep` snapshots of one run, every `every` optimizer steps."""

    def __init__(self, every: int, keep: int = 3, modules: Any = None, on_disk: bool = False,
                 run_dir: Path | None = None, scaler: Any = None) -> None:
        self.every, self.keep = check_every(every, keep)
        if modules is not None and not isinstance(modules, (list, tuple)):
            modules = [modules]
        if modules is not None:
            for m in modules:
                if not (hasattr(m, "state_dict") and hasattr(m, "load_state_dict") and hasattr(m, "parameters")):
                    raise ValueError(f"snapshot_every(modules=...): {type(m).__name__} is not an nn.Module")
        if on_disk and run_dir is None:
            raise ValueError("snapshot_every(on_disk=True) needs a run directory (this run has none)")
        if scaler is not None and not (hasattr(scaler, "state_dict") and hasattr(scaler, "load_state_dict")):
            raise ValueError(f"snapshot_every(scaler=...): {type(scaler).__name__} is not a GradScaler")
        self.modules: list[Any] | None = list(modules) if modules is not None else None
        self.on_disk = bool(on_disk)
        self.dir = Path(run_dir) / SNAPSHOT_DIR if on_disk else None
        self.scaler = scaler
        self._list: tuple[Snapshot, ...] = ()  # replaced whole, never mutated: safe to read from any thread
        self._lock = threading.Lock()
        self.last_clock: int | None = None
        self.taken = 0
        self.seconds = 0.0  # training-thread time spent taking snapshots
        self.written_s = 0.0  # the writer thread's time spent writing them (on_disk)
        self.on_error: Any = None  # on_error(message): a write failed on the writer thread
        self._writer: threading.Thread | None = None
        self._staging: Any = None  # on_disk: the host buffer of the last snapshot written, reused
        self._write_error: str | None = None

    # ---- any thread -----------------------------------------------------------------------------

    def steps(self) -> list[int]:
        return [s.step for s in self._list]

    def infos(self) -> list[dict]:
        return [s.info() for s in self._list]

    def pick(self, to_step: int | None) -> Snapshot | None:
        """The newest snapshot at or before `to_step` (None: the newest)."""
        for s in reversed(self._list):
            if to_step is None or s.step <= to_step:
                return s
        return None

    def by_clock(self, clock: int) -> Snapshot | None:
        for s in self._list:
            if s.clock == clock:
                return s
        return None

    def due(self, clock: int) -> bool:
        return self.last_clock is None or clock - self.last_clock >= self.every

    # ---- training thread ------------------------------------------------------------------------

    def resolve_modules(self, optimizers: list[Any]) -> list[Any]:
        if self.modules is None:
            from lossmon.capture.checkpoint import trained_modules

            found = trained_modules(optimizers) if optimizers else []
            if not found:
                raise ValueError("snapshots found no nn.Module whose parameters a watched optimizer updates:"
                                 " pass them, run.snapshot_every(n, modules=[model])")
            self.modules = found
        return self.modules

    def take(self, step: int, clock: int, batch: int | None, optimizers: list[Any], schedulers: list[Any],
             run_state: dict) -> Snapshot:
        t0 = time.perf_counter()
        modules = self.resolve_modules(optimizers)
        state = {
            "modules": [m.state_dict() for m in modules],
            "optimizers": [o.state_dict() for o in optimizers],
            "schedulers": [s.state_dict() for s in schedulers],
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "run": dict(run_state),
            "rng": rng_state(),
            "clock": clock,
            "batch": batch,
        }
        if self.on_disk:
            self.wait_written()  # one write in flight: its buffer is the one reused here
            if self._write_error is not None:
                raise SnapshotsOff(self._write_error)
            path = self.dir / f"step{step}-clock{clock}.pt"  # type: ignore[operator]
            staging, self._staging = self._staging, None
            copied, ready = host_copy(state, staging)
            snap = Snapshot(step, clock, batch, time.time(), str(path), copied, ready)
            self._keep(snap)
            self._writer = threading.Thread(target=self._write, args=(snap, path), name="lossmon-snapshot-writer")
            self._writer.start()  # not a daemon: the process waits for the file it is writing
        else:
            copied, ready = host_copy(state, self._spare())
            snap = Snapshot(step, clock, batch, time.time(), "memory", copied, ready)
            self._keep(snap)
        self.last_clock = clock
        self.taken += 1
        self.seconds += time.perf_counter() - t0
        return snap

    @property
    def failed(self) -> bool:
        """A write failed: the snapshots left stay usable, no new one is taken."""
        return self._write_error is not None

    def wait_written(self, timeout: float | None = None) -> bool:
        """Until the snapshot being written (on_disk) is in its file; True when none is left."""
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout)
            return not writer.is_alive()
        return True

    def _write(self, snap: Snapshot, path: Path) -> None:
        """The writer thread: the snapshot's buffer to its file, then the buffer is free for the next."""
        t0 = time.perf_counter()
        try:
            if snap.ready is not None:
                snap.ready.synchronize()
            _save(snap.state, path)
        except Exception as e:  # noqa: BLE001 - a full disk: reported, never raised into training
            with self._lock:
                self._list = tuple(s for s in self._list if s is not snap)
            snap.state = None
            self._write_error = f"writing the snapshot of step {snap.step} failed: {type(e).__name__}: {e}"
            if self.on_error is not None:
                try:
                    self.on_error(f"snapshots turned off: {self._write_error}")
                except Exception:  # noqa: BLE001
                    pass
            return
        self.written_s += time.perf_counter() - t0
        with self._lock:
            kept = any(s is snap for s in self._list)
            self._staging, snap.state = snap.state, None  # the file holds it now
        if not kept:  # dropped while it was written (a newer keep, or a rollback past it)
            _unlink(path)

    def _spare(self) -> Any:
        """When `keep` are kept already: the oldest is dropped now and its buffers are reused for the
        new copy (writing into memory already touched is ~5x faster than into fresh pages)."""
        with self._lock:
            if len(self._list) < self.keep:
                return None
            oldest, self._list = self._list[0], self._list[1:]
        spare, oldest.state = oldest.state, None
        if oldest.ready is not None:
            oldest.ready.synchronize()  # its copies must be done before they are overwritten
        return spare

    def _keep(self, snap: Snapshot) -> None:
        with self._lock:
            kept = [s for s in self._list if s.clock != snap.clock] + [snap]
            dropped, kept = kept[:-self.keep], kept[-self.keep:]
            self._list = tuple(kept)
        for s in dropped:
            _forget(s)

    def drop_after(self, snap: Snapshot) -> None:
        """Forget the snapshots taken after `snap`: they belong to the branch a rollback abandons."""
        with self._lock:
            dropped = [s for s in self._list if s.clock > snap.clock]
            self._list = tuple(s for s in self._list if s.clock <= snap.clock)
        for s in dropped:
            _forget(s)

    def load(self, snap: Snapshot) -> dict:
        """The snapshot's state, ready to restore at once: what restoring hands over is a fresh copy
        (a second rollback to the snapshot finds it intact), but the modules' tensors are the
        snapshot's own, whose buffers a later snapshot reuses: copy them to keep them."""
        if snap.where != "memory":
            with self._lock:
                state = snap.state  # still being written: the buffer holds it
            if state is None:
                import torch

                return torch.load(snap.where, map_location="cpu", weights_only=False)
            return {k: (v if k == "modules" else _clone(v)) for k, v in state.items()}
        if snap.ready is not None:
            snap.ready.synchronize()
            snap.ready = None
        state = snap.state
        if state is None:
            raise RuntimeError(f"the snapshot of step {snap.step} was dropped")
        # load_state_dict copies into a module's tensors, but an optimizer keeps the tensors it is
        # given (on the CPU): those are cloned, the modules' are not (restoring 1/3 of the bytes).
        return {k: (v if k == "modules" else _clone(v)) for k, v in state.items()}

    def restore(self, state: dict, optimizers: list[Any], schedulers: list[Any]) -> None:
        """Put modules, optimizers, schedulers, scaler and RNGs (not the run's own state) back."""
        modules = self.modules or []
        if len(state["modules"]) != len(modules) or len(state["optimizers"]) != len(optimizers):
            raise RuntimeError("the watched modules or optimizers changed since the snapshot")
        for m, sd in zip(modules, state["modules"]):
            m.load_state_dict(sd)  # copies into the parameters: the optimizers keep holding the same tensors
            for p in m.parameters():
                p.grad = None  # a fresh start from the snapshot: nothing accumulated
        for o, sd in zip(optimizers, state["optimizers"]):
            o.load_state_dict(sd)
        for s, sd in zip(schedulers, state["schedulers"][:len(schedulers)]):
            s.load_state_dict(sd)
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])


def rng_state() -> dict:
    """The RNG states a training step may draw from."""
    out: dict[str, Any] = {"python": random.getstate()}
    np = sys.modules.get("numpy")
    if np is not None:
        out["numpy"] = np.random.get_state()
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np = sys.modules.get("numpy")
    if np is not None and "numpy" in state:
        np.random.set_state(state["numpy"])
    torch = sys.modules.get("torch")
    if torch is not None and "torch" in state:
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


def host_copy(obj: Any, spare: Any = None) -> tuple[Any, Any]:
    """A deep copy of a state tree with every tensor on the host, and the CUDA event the device
    copies complete at (None when there were none). `spare`: an older copy of the same tree whose
    tensors are written into where shape and dtype match. CUDA tensors go into pinned buffers
    through non_blocking copies on a side stream; the current stream waits for that stream (on the
    GPU), so the next update cannot overwrite a tensor before it is copied, and the CPU never waits."""
    import torch

    cuda: list[tuple[Any, Any]] = []

    def buffer(o: Any, s: Any, pinned: bool) -> Any:
        if isinstance(s, torch.Tensor) and s.shape == o.shape and s.dtype == o.dtype and s.device.type == "cpu" \
                and (not pinned or s.is_pinned()):
            return s
        return torch.empty(o.shape, dtype=o.dtype, device="cpu", pin_memory=pinned)

    def walk(o: Any, s: Any) -> Any:
        if isinstance(o, torch.Tensor):
            o = o.detach()
            if o.is_cuda:
                buf = buffer(o, s, True)
                cuda.append((buf, o))
                return buf
            if o.layout != torch.strided or o.is_quantized:
                return o.clone()
            return buffer(o, s, False).copy_(o)
        if isinstance(o, dict):
            sd = s if isinstance(s, dict) else {}
            return {k: walk(v, sd.get(k)) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            sl = s if isinstance(s, (list, tuple)) and len(s) == len(o) else [None] * len(o)
            out = [walk(v, w) for v, w in zip(o, sl)]
            return out if isinstance(o, list) else tuple(out)
        return copy.deepcopy(o)

    out = walk(obj, spare)
    if not cuda:
        return out, None
    main = torch.cuda.current_stream()
    side = _side_stream()
    side.wait_stream(main)  # copy what the updates so far wrote
    with torch.cuda.stream(side):
        for buf, src in cuda:
            buf.copy_(src, non_blocking=True)
            src.record_stream(side)
        done = torch.cuda.Event()
        done.record(side)
    main.wait_stream(side)  # the next update waits for the copies, on the GPU only
    return out, done


_side: Any = None


def _side_stream() -> Any:
    global _side
    import torch

    if _side is None or _side.device != torch.device("cuda", torch.cuda.current_device()):
        _side = torch.cuda.Stream()
    return _side


def _clone(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_clone(v) for v in obj)
    return copy.deepcopy(obj)


def _save(state: dict, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)  # a full disk leaves no half file behind
        except OSError:
            pass
        raise


def _forget(snap: Snapshot) -> None:
    if snap.where == "memory":
        snap.state = None
    else:
        _unlink(Path(snap.where))  # (a file still being written: the writer removes it when done)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
