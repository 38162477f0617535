"""The shard watchdog: psutil's view of every shard process and its actors (resident
memory, CPU, liveness), and the verdict on a shard that must be restarted.

A shard is restarted when its processes together pass the memory limit, or when it
has been silent (no status file written) for longer than the hang limit after a
start-up grace. Both are faults of the tool or the machine, never findings: the
restart and its reason go into the campaign's events, not its findings.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import psutil


@dataclasses.dataclass(frozen=True)
class Limits:
    """When a shard is restarted: resident memory of the shard and its actors over
    ``rss_mb``, or no status for ``hang_seconds`` (counted from ``grace`` seconds
    after its start: an actor pool takes a moment to start)."""

    rss_mb: int = 2048
    hang_seconds: float = 60.0
    grace: float = 15.0


@dataclasses.dataclass(frozen=True)
class Health:
    """One look at a shard: its processes' resident memory (MiB), CPU (percent of one
    core, since the last look) and how many processes it has."""

    rss_mb: float
    cpu: float
    processes: int


class Watchdog:
    """Looks at shards (see the module docstring).

    Example:
        >>> import subprocess, sys
        >>> p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
        >>> dog = Watchdog(Limits(rss_mb=1 << 20, hang_seconds=60))
        >>> h = dog.health(p.pid)
        >>> h.processes, h.rss_mb > 1
        (1, True)
        >>> p.kill(); _ = p.wait()
        >>> dog.health(p.pid) is None
        True
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._procs: dict[int, psutil.Process] = {}

    def _proc(self, pid: int) -> psutil.Process:
        p = self._procs.get(pid)
        if p is None:
            p = self._procs[pid] = psutil.Process(pid)
            p.cpu_percent(None)  # the first call only starts the measurement
        return p

    def health(self, pid: int) -> Health | None:
        """The shard ``pid`` and its descendants now; None if it is gone."""
        try:
            top = self._proc(pid)
            if top.status() == psutil.STATUS_ZOMBIE:
                return None
            procs = [top, *top.children(recursive=True)]
        except psutil.Error:
            self._procs.pop(pid, None)
            return None
        rss = cpu = 0.0
        for p in procs:
            try:
                rss += p.memory_info().rss
                cpu += self._proc(p.pid).cpu_percent(None)
            except psutil.Error:
                continue
        return Health(rss / (1 << 20), cpu, len(procs))

    def verdict(self, pid: int, status: Path, started: float) -> str | None:
        """Why shard ``pid`` (started at monotonic ``started``, writing ``status``)
        must be restarted, or None."""
        h = self.health(pid)
        if h is not None and h.rss_mb > self.limits.rss_mb:
            return f"resident memory {h.rss_mb:.0f} MiB over the limit {self.limits.rss_mb} MiB"
        now = time.monotonic()
        if now - started < self.limits.grace + self.limits.hang_seconds:
            return None
        try:
            age = time.time() - os.stat(status).st_mtime
        except OSError:
            age = now - started
        if age > self.limits.hang_seconds:
            return f"silent for {age:.0f} s (limit {self.limits.hang_seconds:.0f} s)"
        return None

    def forget(self, pid: int) -> None:
        self._procs.pop(pid, None)


__all__ = ["Health", "Limits", "Watchdog"]
