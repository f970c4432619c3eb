"""Every file a run directory holds, by name, and how a new run directory is made.

    lossmon_runs/<YYYYmmdd-HHMMSS>-<name>/   one run (DEFAULT_ROOT: where runs go by default)
        run.jsonl        RUN_LOG: the record, one JSON object a line (rundir/runlog.py)
        meta.json        META: name, host, pid, versions, and how the run ended (rundir/meta.py)
        columns/         COLUMNS: a binary copy of the metric points, for fast opening (rundir/columns.py)
            names.json   COLUMNS_INDEX: metric names by column file number
            <i>.bin      (int64 step, float64 value) records
        control.sock     SOCKET: the live run's control socket (control_socket.py)
        output.log       OUTPUT_LOG: what training printed while the live UI showed (views/tui/capture.py)

Readers and writers take these names from here, never as literals of their own.

A run directory is private to its user: one that another user owns or can write, or that holds a
file another user owns (a link planted in a shared teamrun/, say), is refused, and files in it are
created with O_NOFOLLOW (temp files also O_EXCL), so a root job can never be made to write through
a link to a file of someone's choosing.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

DEFAULT_ROOT = "lossmon_runs"
RUN_LOG = "run.jsonl"
META = "meta.json"
COLUMNS = "columns"
COLUMNS_INDEX = "names.json"
SOCKET = "control.sock"
OUTPUT_LOG = "output.log"


class RunDirError(Exception):
    """The run directory cannot be created or used; the message is one line for the user."""


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned[:64] or "run"


def is_run_dir(path: Path) -> bool:
    """A directory that holds a lossmon run (its run log or its metadata)."""
    return path.is_dir() and ((path / RUN_LOG).exists() or (path / META).exists())


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _unsafe(st: os.stat_result) -> str | None:
    """Why a file with this (lstat) status is not safe to write in, or None."""
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
    if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o022:
        return f"writable by other users (mode {stat.S_IMODE(st.st_mode):o}; chmod go-w it)"
    return None


def check_parent(folder: Path) -> None:
    """RunDirError if every user may write `folder` without the sticky bit: any of them could then
    rename a run directory made in it away and put a link in its place."""
    mode = os.stat(folder).st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise RunDirError(f"refusing to make a run directory in {folder}: every user can write it"
                          f" (mode {stat.S_IMODE(mode):o}; chmod o-w or +t it)")


def check_private(path: Path) -> None:
    """RunDirError unless `path` (a run directory) and every file in it, and in its columns/, are
    this user's and writable by nobody else: anything else lets another user plant links."""
    if not hasattr(os, "geteuid"):  # no Unix owners here (Windows): nothing to check
        return
    why = _unsafe(os.stat(path))
    if why:
        raise RunDirError(f"refusing run directory {path}: {why}")
    for folder in (path, path / COLUMNS):
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            why = _unsafe(entry.stat(follow_symlinks=False))
            if why:
                raise RunDirError(f"refusing run directory {path}: {entry.path} is {why}")


def private_subdir(path: Path) -> None:
    """Make (or accept) a subdirectory of a run directory: a real directory of this user's that
    nobody else can write -- never a link to one somewhere else. OSError otherwise."""
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    st = os.lstat(path)
    why = "a link" if stat.S_ISLNK(st.st_mode) else None if stat.S_ISDIR(st.st_mode) else "not a directory"
    why = why or _unsafe(st)
    if why:
        raise OSError(f"{path} is {why}; not writing there")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename, so a reader never sees half of it. The temp file
    is created fresh (O_EXCL | O_NOFOLLOW): a link planted at its name is removed, never followed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileExistsError:  # left by a killed run, or planted: unlink removes a link, not its target
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def create_run_dir(name: str, run_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path:
    """Create the directory for a new run and return it.

    `run_dir` is the run's own directory (created if missing; refused if it already holds a run
    log). Without it, a fresh timestamped folder is made under `root` (default ./lossmon_runs).
    """
    try:
        if run_dir is not None:
            path = Path(run_dir)
            if path.parent != path:
                path.parent.mkdir(0o755, parents=True, exist_ok=True)
                check_parent(path.parent)
            try:
                path.mkdir(0o755)
            except FileExistsError:
                pass
            check_private(path)
            if os.path.lexists(path / RUN_LOG):
                raise RunDirError(f"run directory {path} already holds a run log; choose another --run-dir")
            return path
        base = Path(root if root is not None else DEFAULT_ROOT)
        base.mkdir(0o755, parents=True, exist_ok=True)
        check_parent(base)
        stem = time.strftime("%Y%m%d-%H%M%S") + "-" + safe_name(name)
        for i in range(1, 1000):
            path = base / (stem if i == 1 else f"{stem}-{i}")
            try:
                path.mkdir(0o755)  # fresh, ours, and nobody else can write in it
                return path
            except FileExistsError:
                continue
        raise RunDirError(f"could not find a free run directory name under {base}")
    except RunDirError:
        raise
    except OSError as e:
        where = run_dir if run_dir is not None else (root or DEFAULT_ROOT)
        raise RunDirError(f"cannot create run directory {where}: {e.strerror or e}") from None
