"""No orphan actors, no leaked segments or semaphores, however a run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from ccwfuzz.device import list_segments
from ccwfuzz.exec import Pool
from ccwfuzz.program import RandomSource, RunRequest, random_program
from ccwfuzz.sync import Outcome

PARENT = textwrap.dedent(
    """
    import json, sys, time
    from ccwfuzz.exec import Pool
    from ccwfuzz.program import RandomSource, RunRequest, random_program
    pool = Pool()
    pool.run(RunRequest(random_program(RandomSource(1))))
    print(json.dumps({"pids": pool.pids(), "segment": pool._seg.name}), flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)
    time.sleep(60)
    """
)


def _sems() -> set[str]:
    return {n for n in os.listdir("/dev/shm") if n.startswith("sem.")}


def _gone(pids: list[int], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
        if not alive:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT", "exit"])
def test_actors_die_with_the_parent(how: str) -> None:
    sems = _sems()
    p = subprocess.Popen([sys.executable, "-c", PARENT, "exit" if how == "exit" else "sleep"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line, p.stderr.read() if p.stderr else ""
    info = json.loads(line)
    assert len(info["pids"]) == 5
    if how != "exit":
        p.send_signal(getattr(signal, how))
    p.wait(timeout=30)
    assert _gone(info["pids"]), f"orphan actors after {how}"
    if how == "SIGKILL":  # the owner could not unlink: the next start (any) sweeps it
        from ccwfuzz.device import Segment

        Segment.create(8).close()
    assert info["segment"] not in list_segments()
    assert _sems() <= sems, "leaked named semaphores"


def test_close_reaps_actors_and_unlinks() -> None:
    pool = Pool()
    pids, name = pool.pids(), pool._seg.name if pool._seg else ""
    pool.run(RunRequest(random_program(RandomSource(2))))
    pool.close()
    assert _gone(pids, within=5)
    assert name not in list_segments()
    pool.close()  # idempotent


def test_killed_actor_is_lost_not_a_finding_and_the_pool_recovers() -> None:
    with Pool() as pool:
        victim = pool.pids()[0]
        os.kill(victim, signal.SIGKILL)
        r = pool.run(RunRequest(random_program(RandomSource(3)), timeout=1.0))
        assert r.outcome == Outcome.LOST and r.inconclusive and r.fault
        assert victim not in pool.pids() and _gone([victim], within=5)
        assert pool.run(RunRequest(random_program(RandomSource(3)))).outcome == Outcome.DONE
