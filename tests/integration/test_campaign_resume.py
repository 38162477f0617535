"""A campaign SIGKILLed mid-fuzz or mid-minimization leaves no process and, after the
next start, no segment; ``--resume`` continues it with its corpus, findings and figures
and skips the phases it had finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from ccwfuzz.device.segment import list_segments, owner_alive


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CCWFUZZ_")}


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ccwfuzz", "campaign", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env())  # fmt: skip


def _kill_when(
    p: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 120
) -> list[psutil.Process]:
    """SIGKILL the campaign (its process only) once ``ready``; its descendants then."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert p.poll() is None, p.stdout.read() if p.stdout else ""
        assert time.monotonic() < deadline, "never got there"
        time.sleep(0.05)
    kids = psutil.Process(p.pid).children(recursive=True)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    return kids


def _all_gone(procs: list[psutil.Process], timeout: float = 30) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return not alive


def _row(out: Path, sql: str) -> tuple[Any, ...] | None:
    """The first row ``sql`` reads from a running campaign's store, None if none yet."""
    try:
        db = sqlite3.connect(out / "findings.db", timeout=5)
        try:
            row: tuple[Any, ...] | None = db.execute(sql).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return row


def _phase(out: Path) -> str:
    row = _row(out, "SELECT phase FROM campaigns ORDER BY id DESC")
    return row[0] if row else ""


def _resume(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccwfuzz", "campaign", "--resume", str(out)],
                          capture_output=True, text=True, timeout=300, env=_env())  # fmt: skip


def test_killed_mid_fuzz_then_resumed(tmp_path: Path) -> None:
    out = tmp_path / "ref"
    p = _start("--out", str(out), "--time", "16", "--stress-share", "0.2")

    def fuzzing() -> bool:  # the saved figures, not a shard's status: the kill must find them
        row = _row(out, "SELECT data FROM figures WHERE campaign=1")
        return row is not None and json.loads(row[0]).get("fuzz_execs", 0) > 200

    kids = _kill_when(p, fuzzing)
    assert kids and _all_gone(kids), "a shard or an actor outlived its campaign"
    db = sqlite3.connect(out / "findings.db")
    (before,) = db.execute("SELECT data FROM figures WHERE campaign=1").fetchone()
    done = db.execute("SELECT phase FROM phases WHERE done=1").fetchall()
    db.close()
    assert ("regression",) in done and json.loads(before)["fuzz_execs"] > 0

    r = _resume(out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fuzz reference (resumed" in r.stdout and "regression" not in r.stdout
    doc = json.loads((out / "summary.json").read_text())
    fig = doc["targets"]["reference"]
    assert doc["campaign"] == 1 and doc["outcome"] == "clean"
    assert fig["fuzz_execs"] > json.loads(before)["fuzz_execs"] and fig["stress_runs"] > 0
    assert fig["regression_inputs"] > 0  # from before the kill
    stale = [n for n in list_segments() if not owner_alive(n)]
    assert not stale, f"segments left by the killed campaign: {stale}"


def test_killed_mid_minimization_then_resumed(tmp_path: Path) -> None:
    out = tmp_path / "zoo"
    p = _start("--target", "zoo:boxed-busy", "--out", str(out), "--time", "8")
    kids = _kill_when(p, lambda: _phase(out) == "triage")
    assert _all_gone(kids)
    db = sqlite3.connect(out / "findings.db")
    pending = db.execute("SELECT count(*) FROM findings WHERE triage='pending'").fetchone()[0]
    db.close()
    assert pending >= 1

    r = _resume(out)
    assert r.returncode == 1, r.stdout + r.stderr  # campaign 1's findings are new
    assert "triage (resumed" in r.stdout and "fuzz zoo:boxed-busy" not in r.stdout
    doc = json.loads((out / "summary.json").read_text())
    assert doc["campaign"] == 1 and doc["findings"]
    assert all(f["triage"] == "minimized" and f["new"] for f in doc["findings"]), doc["findings"]
    assert all((out / f["reproducer"]).is_file() for f in doc["findings"])
    again = _resume(out)
    assert again.returncode == 2 and "nothing to resume" in again.stderr
