"""A disk that is full for the whole run: the run says it failed to record, ends with a non-zero
status, and meta.json tells the truth (not "running" forever). The disk is faked: writes that
would grow a file fail with ENOSPC, overwriting bytes a file already holds does not (as on a real
full disk)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path

import pytest

import lossmon


@pytest.fixture
def full_disk(monkeypatch):
    real_write, real_pwrite = os.write, os.pwrite
    full = {"on": False, "root": None}

    def ours(fd) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(str(full["root"]))
        except OSError:
            return False

    def grows(fd, n, at=None) -> bool:
        size = os.fstat(fd).st_size
        if at is None:
            at = size if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND else os.lseek(fd, 0, os.SEEK_CUR)
        return at + n > size

    def write(fd, data):
        if full["on"] and ours(fd) and grows(fd, len(data)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def pwrite(fd, data, offset):
        if full["on"] and ours(fd) and grows(fd, len(data), offset):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    real_write_text = Path.write_text

    def write_text(self, *a, **k):
        if full["on"] and str(self).startswith(str(full["root"])):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, *a, **k)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "pwrite", pwrite)
    monkeypatch.setattr(Path, "write_text", write_text)
    return full


def test_a_run_that_could_record_nothing_fails_and_says_so(tmp_path, full_disk, capfd):
    full_disk["root"] = tmp_path

    def train(run):
        full_disk["on"] = True  # full from the first point on (the run directory was made before)
        for i in range(100):
            run.log(loss=float(i))

    with pytest.raises(SystemExit) as exc:
        lossmon.run(train, run_dir=tmp_path / "r", ui="plain")
    full_disk["on"] = False
    assert exc.value.code not in (0, None)
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["state"] == "failed" and meta["exit_code"] == exc.value.code
    assert "No space left" in meta["error"]
    err = capfd.readouterr().err
    assert "could not be written" in err or "could not record" in err
