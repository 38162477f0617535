"""Edges of the contract: records written by the target elsewhere, a wrapped history
ring, bad driver code (a constructor that raises, a module that does not import, a
region overrun, a made-up FSM event), and the strict contract's bookkeeping."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ccwfuzz.arch import scsw as S
from ccwfuzz.device import list_segments
from ccwfuzz.driver import resolve
from ccwfuzz.engines import search
from ccwfuzz.engines.conformance import check_driver
from ccwfuzz.exec import DriverStartError, Pool
from ccwfuzz.oracles import RunView, check, not_judged
from ccwfuzz.program import RunRequest, loads
from ccwfuzz.program.ops import OPS
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Instr, Record
from ccwfuzz.testing import check as check_program

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FINAL = S.FC_START | S.SC_PRIMARY | S.SC_SECONDARY | S.SC_PENDING
SSCH = OPS.index("ssch") + 1


def R(seq: int, actor: int, kind: Ev, *args: int) -> Record:
    return Record((seq, actor, kind, *args, *([0] * (5 - len(args)))))


def V(*records: Record, **kw: object) -> RunView:
    return RunView(list(records), Outcome.DONE, "reference", 1, 1, **kw)  # type: ignore[arg-type]


def rules(view: RunView) -> list[str]:
    return [f.rule for f in check(view)]


FAILED_SSCH = (R(0, 0, Ev.OP_BEGIN, SSCH, 0, 0), R(1, 0, Ev.OP_END, SSCH, 0, 0, -5 & 0xFFFFFFFF))


@pytest.mark.fires("driver.retcode")
def test_a_rule_judges_a_run_whose_bug_kept_its_records_from_being_written() -> None:
    assert rules(V(*FAILED_SSCH)) == []  # no RET anywhere: this driver may not write them
    assert "driver.retcode" in not_judged(V(*FAILED_SSCH))
    # the target wrote RET records in other runs: the missing answer is the bug
    assert rules(V(*FAILED_SSCH, seen_kinds=frozenset({Ev.RET}))) == ["driver.retcode"]


def test_rules_that_follow_state_from_the_start_are_not_judged_on_a_wrapped_ring() -> None:
    read = R(5, 0, Ev.IRB_READ, 0, 0x1234, FINAL, 0)
    store = R(4, 1, Ev.IRB_STORE, 0, 0x9999, FINAL)
    assert "driver.irb-integrity" in rules(V(store, read))  # a stale IRB, ring complete
    wrapped = V(store, read, lost=100)  # the IRB read may be one delivered before the window
    assert "driver.irb-integrity" not in rules(wrapped)
    assert "driver.irb-integrity" in not_judged(wrapped)


@pytest.mark.fires("driver.irb-integrity")
def test_strict_an_older_read_does_not_mark_a_newer_irb_read() -> None:
    begin = R(0, 0, Ev.OP_BEGIN, OPS.index("read_io") + 1, 0, 0)
    x, y, z = (R(i, 1, Ev.IRB_STORE, 0, h, FINAL) for i, h in ((1, 11), (3, 12), (5, 13)))
    read_x = R(4, 0, Ev.IRB_READ, 0, 11, FINAL, 0)  # copied before Y arrived, recorded after
    view = V(x, begin, y, read_x, z, contract="strict")
    msgs = [f.message for f in check(view)]
    assert "delivered IRB overwritten before it was read" in msgs  # Y was never read


def test_strict_a_read_on_one_subchannel_does_not_cancel_a_loss_on_another() -> None:
    def two(*records: Record) -> RunView:
        return RunView(list(records), Outcome.DONE, "reference", 1, 2, contract="strict")

    lost = two(R(0, 1, Ev.IRB_STORE, 0, 7, FINAL), R(1, 1, Ev.IRB_STORE, 0, 8, FINAL),
               R(2, 0, Ev.IRB_READ, 1, 7, FINAL, 0), R(3, 1, Ev.IRB_STORE, 1, 7, FINAL))  # fmt: skip
    assert any(f.sch == 0 and "overwritten" in f.message for f in check(lost))


@pytest.mark.fires("driver.cp-free-final")
def test_a_cp_freed_after_csch_but_before_the_clear_status_is_a_finding() -> None:
    alloc = R(0, 0, Ev.CP_ALLOC, 0, 1, 0x20000, 0x1000, 8)
    start = R(1, 0, Ev.INSTR, Instr.SSCH | 256, 0, 0, 0, S.FC_START)
    clear = R(2, 0, Ev.INSTR, Instr.CSCH | 256, 0, 0, 0, S.FC_CLEAR)
    free = R(3, 0, Ev.CP_FREE, 0, 1, 0x20000, 2, 0)
    assert "driver.cp-free-final" in rules(V(alloc, start, clear, free))
    final = R(3, 1, Ev.INTERRUPT, 0, S.FC_CLEAR | S.SC_PENDING, 0, 0, 4)
    after = R(4, 0, Ev.CP_FREE, 0, 1, 0x20000, 2, 0)
    assert "driver.cp-free-final" not in rules(V(alloc, start, clear, final, after))


def test_a_driver_whose_constructor_raises_is_bad_input_and_leaks_nothing() -> None:
    before = set(list_segments())
    with pytest.raises(DriverStartError, match="RuntimeError: no such device table"):
        Pool("drivers.incomplete:FailsToConstruct")
    assert set(list_segments()) == before
    r = _cli("stress", "--target", "drivers.incomplete:FailsToConstruct", "--time", "1")
    assert r.returncode == 2 and "cannot start" in r.stderr and "Traceback" not in r.stderr
    r = _cli("check-driver", "drivers.incomplete:FailsToConstruct")
    assert r.returncode == 1 and "PROBLEM" in r.stdout


def test_a_driver_module_that_fails_to_import_is_one_line(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(os.fspath(tmp_path), "brokenmod.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write("def oops(:\n")
    r = _cli("check-driver", "brokenmod:Driver", pythonpath=os.fspath(tmp_path))
    assert r.returncode == 2 and "SyntaxError" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.fires("actor.crash")
def test_a_crash_is_keyed_by_the_driver_frame_not_the_toolkit() -> None:
    with Pool("drivers.incomplete:OverrunsTheRegion") as pool:
        r = search(pool, "actor.crash", budget=300, seed=2, max_steps=10_000)
    assert r.found is not None and r.found.where == "incomplete.py:async_write", r.found


def test_check_driver_reports_records_dropped_as_malformed() -> None:
    with Pool("drivers.incomplete:BadEvent", subchannels=1, workers=2) as pool:
        report = check_driver(pool, resolve("drivers.incomplete:BadEvent"))
    assert any("out-of-range fields were dropped" in p for p in report.problems)


# Open, start, remove: the interrupt's bottom half then runs on the freed private state,
# whose deferred-free flag, cp-initialized flag and pinned-page count all read 0x6b6b6b6b.
REMOVED_UNDER_TODO = """{"format": "ccwfuzz.program", "version": 2, "target": "zoo:remove-uaf",
 "subchannels": 2, "workers": [[{"op": "open", "sch": 1}, {"op": "ssch", "sch": 1,
 "idal": "00000000"}, {"op": "remove", "sch": 1}]], "channel": [],
 "schedule": {"policy": "pct", "priorities": [0, 1, 2], "changes": [1]}}"""


@pytest.mark.fires("memory.poison-read")
def test_a_path_on_freed_private_state_stops_at_the_poison_instead_of_looping() -> None:
    """Spec E17: a poisoned count once drove the bottom half through 1.8e9 unpins with
    no scheduling point, so the run ended only at its 10 s wall-clock limit, as an
    inconclusive hang, and the use after free went unreported."""
    program = loads(REMOVED_UNDER_TODO)
    with Pool("zoo:remove-uaf", subchannels=2, workers=1) as pool:
        r = pool.run(RunRequest(program))
        findings = check_program(program, pool=pool)
    assert r.outcome == Outcome.DONE, r.outcome
    assert [f.rule for f in findings] == ["memory.poison-read"], findings


def _cli(*args: str, pythonpath: str = TESTS) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run([sys.executable, "-m", "ccwfuzz", *args], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip
