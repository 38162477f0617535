"""The watchdog's verdicts on a real process: over the memory limit, silent too long,
healthy; and a process tree's memory is the sum of its processes'."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from ccwfuzz.watchdog import Limits, Watchdog

CHILD = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"


def test_verdicts(tmp_path: Path) -> None:
    status = tmp_path / "0.json"
    status.write_text("{}")
    p = subprocess.Popen([sys.executable, "-c", CHILD])
    try:
        started = time.monotonic()
        deadline = started + 20
        while Watchdog(Limits()).health(p.pid).processes < 2 and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.05)
        health = Watchdog(Limits()).health(p.pid)
        assert health is not None and health.processes == 2 and health.rss_mb > 2
        assert Watchdog(Limits(rss_mb=1 << 20)).verdict(p.pid, status, started) is None
        why = Watchdog(Limits(rss_mb=1)).verdict(p.pid, status, started)
        assert why is not None and why.startswith("resident memory") and "limit 1 MiB" in why
        old = time.time() - 100
        os.utime(status, (old, old))
        silent = Limits(hang_seconds=5, grace=0)
        assert Watchdog(silent).verdict(p.pid, status, started - 10) is not None
        assert (
            Watchdog(silent).verdict(p.pid, status, started - 10) == "silent for 100 s (limit 5 s)"
        )
        assert Watchdog(silent).verdict(p.pid, status, time.monotonic()) is None  # in its grace
    finally:
        for child in psutil.Process(p.pid).children(recursive=True):
            child.kill()
        p.kill()
        p.wait()
    assert Watchdog(Limits()).health(p.pid) is None
