"""Faults of the tool are never findings against the driver: a killed actor makes a run
inconclusive (re-run on a restarted pool), a free run that only hits its wall-clock
limit is re-judged under the controlled scheduler, the session still ends on time, and
bad command-line values and output paths are refused before anything runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from ccwfuzz.engines import Session, stress
from ccwfuzz.exec import Pool
from ccwfuzz.program import Mode, Open, Program, ReadIo

HERE = Path(__file__).parent
KINDS = {"worker": 0, "channel": 3, "workqueue": 4}  # actor index in a 3-worker pool


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(HERE))
    return subprocess.run([sys.executable, "-m", "ccwfuzz", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)  # fmt: skip


@pytest.mark.parametrize("mode", [Mode.CONTROLLED, Mode.FREE])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_killed_actor_is_no_finding_and_the_session_ends_on_time(kind: str, mode: Mode) -> None:
    seconds = 2.0
    with Pool() as pool:
        victim = pool.pids()[KINDS[kind]]
        timer = threading.Timer(0.5, os.kill, (victim, signal.SIGKILL))
        timer.start()
        t0 = time.monotonic()
        session = Session(pool, mode=mode, seconds=seconds, seed=5)
        judged = list(session)
        took = time.monotonic() - t0
        timer.join()
        assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == "zombie"
    assert [f.line() for j in judged for f in j.findings] == []
    assert session.stats.lost >= 1, session.stats
    assert took < seconds + 1.5, f"session overshot its {seconds} s by {took - seconds:.1f} s"


def test_killed_actor_in_the_cli_says_inconclusive_and_exits_0() -> None:
    p = subprocess.Popen([sys.executable, "-m", "ccwfuzz", "stress", "--time", "3"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.5)
    actors = [c for c in psutil.Process(p.pid).children() if "python" in c.name().lower()]
    assert actors
    actors[0].kill()
    t0 = time.monotonic()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, out + err
    assert "0 finding(s)" in out and "lost actor" in out, out
    assert time.monotonic() - t0 < 3.0
    assert "Traceback" not in err


def test_free_hang_is_inconclusive_and_rejudged_controlled() -> None:
    """A free run that only ends at its clock limit (no scheduling point passes, as
    under heavy load): the same program is run controlled, and no finding comes of it."""
    target = "brokendrivers:FreeModeStall"
    sys.path.insert(0, str(HERE))
    try:
        with Pool(target, subchannels=1, workers=1) as pool:
            session = Session(pool, mode=Mode.FREE, seconds=30.0)  # the stall ends at 2 s
            prog = Program(target=target, subchannels=1, workers=((Open(0), ReadIo(0)),))
            judged = session.judge(prog)
    finally:
        sys.path.remove(str(HERE))
    assert judged is not None and judged.mode == Mode.CONTROLLED
    assert judged.findings == []
    assert session.stats.inconclusive == 1


def test_reference_free_stress_needs_no_clock() -> None:
    """Zero findings on reference in free mode, whatever the load: a free run that
    overruns its clock is re-judged controlled, so load alone cannot make a finding."""
    with Pool() as pool:
        hits = [h.finding.line() for h in stress(pool, 2.0, seed=9, mode=Mode.FREE)]
    assert hits == []


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "x"])
def test_times_must_be_finite_and_positive(value: str) -> None:
    for args in (("stress", "--time", value), ("bench", "--seconds", value)):
        r = _cli(*args, timeout=20)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_unwritable_out_is_refused_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for out in (blocker, blocker / "sub"):
        r = _cli("stress", "--time", "30", "--out", str(out), timeout=20)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    r = _cli("run", "--history", str(tmp_path), "--token", "ccw1.x.y", timeout=20)
    assert r.returncode == 2 and "directory" in r.stderr


def test_ctrl_c_of_free_stress_is_quick_and_quiet() -> None:
    p = subprocess.Popen([sys.executable, "-m", "ccwfuzz", "stress", "--time", "30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(2.0)
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    out, err = p.communicate(timeout=20)
    took = time.monotonic() - t0
    assert p.returncode == 130, out + err
    assert "BufferError" not in err and "Traceback" not in err, err
    assert took < 0.5 + 1.0  # 0.5 s is the target; the slack is for a loaded test machine


def test_sweep_survives_what_it_may_not_remove(monkeypatch: pytest.MonkeyPatch) -> None:
    from ccwfuzz.device import Segment, segment

    planted = Path(segment.SHM_DIR) / "ccwfuzz-99999999-0-deadbeef"
    planted.mkdir()
    try:
        assert planted.name not in segment.sweep_stale()  # a directory: left alone
        real_unlink = os.unlink

        def refuse(path: str) -> None:
            if os.path.basename(path).startswith("ccwfuzz-"):
                raise PermissionError(1, "Operation not permitted")
            real_unlink(path)

        monkeypatch.setattr(segment.os, "unlink", refuse)
        stale = Path(segment.SHM_DIR) / "ccwfuzz-99999998-0-deadbeef"
        stale.write_bytes(b"")
        try:
            assert stale.name not in segment.sweep_stale()  # may not remove: skipped
            Segment.create(64).close()  # and creating a segment still works
        finally:
            monkeypatch.undo()
            stale.unlink()
    finally:
        planted.rmdir()


@pytest.mark.fires("sched.step-limit")
def test_a_free_livelock_is_a_step_count_verdict_not_a_clock_one() -> None:
    """Free runs count scheduling points per actor: a livelock ends at the step budget
    (LIMIT, conclusive), long before the wall-clock limit."""
    from ccwfuzz.oracles import check, view_of
    from ccwfuzz.program import RunRequest

    target = "brokendrivers:FreeModeSpin"
    sys.path.insert(0, str(HERE))
    try:
        with Pool(target, subchannels=1, workers=1) as pool:
            prog = Program(target=target, subchannels=1, workers=((Open(0), ReadIo(0)),))
            r = pool.run(RunRequest(prog, Mode.FREE, timeout=30.0, max_steps=20_000))
    finally:
        sys.path.remove(str(HERE))
    assert r.outcome.name == "LIMIT" and not r.inconclusive and r.steps >= 20_000
    assert "sched.step-limit" in {f.rule for f in check(view_of(r, prog))}
