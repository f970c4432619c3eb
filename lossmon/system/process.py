"""The process and the machine: `sys/cpu_percent`, `sys/rss_mb`, `sys/ram_used_percent`.

On Linux from the stdlib (os.times, /proc/self/statm, /proc/meminfo: ~20 us a sample, no
dependency); elsewhere through psutil when it is installed; figures neither can give are left out.
"""

from __future__ import annotations

import os
import time

MB = 1024 * 1024


def _proc_ok() -> bool:
    return os.path.exists("/proc/self/statm") and os.path.exists("/proc/meminfo")


class ProcessSampler:
    """CPU % since the previous sample (100 = one core busy), RSS and the RAM in use."""

    def __init__(self) -> None:
        self._psutil = None
        if not _proc_ok():
            try:
                import psutil

                self._psutil = psutil.Process()
                self._vm = psutil.virtual_memory
            except Exception:  # noqa: BLE001 - not installed, or no access: CPU % from os.times only
                self._psutil = None
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._last = self._cpu_times()

    @staticmethod
    def _cpu_times() -> tuple[float, float]:
        t = os.times()
        return time.monotonic(), t.user + t.system

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        now = self._cpu_times()
        dt = now[0] - self._last[0]
        if dt > 0:
            out["sys/cpu_percent"] = round(100.0 * (now[1] - self._last[1]) / dt, 1)
        self._last = now
        if self._psutil is not None:
            out["sys/rss_mb"] = round(self._psutil.memory_info().rss / MB, 1)
            out["sys/ram_used_percent"] = round(float(self._vm().percent), 1)
            return out
        rss = _statm_rss(self._page)
        if rss is not None:
            out["sys/rss_mb"] = round(rss / MB, 1)
        ram = _meminfo_used_percent()
        if ram is not None:
            out["sys/ram_used_percent"] = round(ram, 1)
        return out


def _statm_rss(page: int) -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * page
    except (OSError, ValueError, IndexError):
        return None


def _meminfo_used_percent() -> float | None:
    """(MemTotal - MemAvailable) / MemTotal, as psutil and `free` count it."""
    total = avail = None
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemTotal:"):
                    total = int(line.split()[1])
                elif line.startswith(b"MemAvailable:"):
                    avail = int(line.split()[1])
                if total is not None and avail is not None:
                    break
    except (OSError, ValueError, IndexError):
        return None
    if not total or avail is None:
        return None
    return 100.0 * (total - avail) / total
