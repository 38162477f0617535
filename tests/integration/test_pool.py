"""The persistent pool, both modes, determinism, stalls, crashes."""

from __future__ import annotations

import pytest

from ccwfuzz.exec import Pool
from ccwfuzz.program import (
    Close,
    Mode,
    Open,
    Policy,
    Program,
    RandomSource,
    ReadIo,
    RequestError,
    RunRequest,
    Schedule,
    Ssch,
    WaitIrq,
    random_program,
    seeded_pct,
)
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev

BROKEN = "brokendrivers"


@pytest.fixture(scope="module")
def pools() -> tuple[Pool, Pool]:
    a, b = Pool(), Pool()
    yield a, b
    a.close()
    b.close()


def test_same_program_and_schedule_give_identical_history(pools: tuple[Pool, Pool]) -> None:
    """200 random programs, each run twice in one pool and once in a
    second pool, give byte-identical histories."""
    a, b = pools
    for seed in range(200):
        p = random_program(RandomSource(seed))
        first = a.run(RunRequest(p))
        assert first.outcome == Outcome.DONE, (seed, first.outcome)
        assert a.run(RunRequest(p)).raw == first.raw, seed
        assert b.run(RunRequest(p)).raw == first.raw, seed


def test_different_schedules_interleave_differently(pools: tuple[Pool, Pool]) -> None:
    """The schedule is what decides: changing only the PCT seed changes the history."""
    import dataclasses

    a, _ = pools
    p = random_program(RandomSource(5))
    histories = {
        a.run(RunRequest(dataclasses.replace(p, schedule=seeded_pct(s, 3, 3)))).raw
        for s in range(20)
    }
    assert len(histories) > 5


def test_choice_list_schedule_is_followed(pools: tuple[Pool, Pool]) -> None:
    import dataclasses

    a, _ = pools
    p = random_program(RandomSource(11))
    runs = {
        a.run(RunRequest(dataclasses.replace(
            p, schedule=Schedule(Policy.CHOICES, choices=(c, 1, 2, 0, 2, 1) * 5)
        ))).raw
        for c in range(3)
    }  # fmt: skip
    assert len(runs) > 1
    again = dataclasses.replace(
        p, schedule=Schedule(Policy.CHOICES, choices=(2, 1, 2, 0, 2, 1) * 5)
    )
    assert a.run(RunRequest(again)).raw == a.run(RunRequest(again)).raw


def test_open_ssch_wait_read_round_trip() -> None:
    """A guest's start completes: FSM IDLE -> CP_PROCESSING -> CP_PENDING -> IDLE, the
    IRB reaches the region, the cp is freed."""
    from ccwfuzz.program import Ccw

    ops = (
        Open(0),
        Ssch(0, (Ccw(0x03, 0x20, 1, 0),), intparm=7),
        WaitIrq(0),
        Close(0),
    )
    with Pool(workers=1, subchannels=1) as pool:
        r = pool.run(RunRequest(Program(subchannels=1, workers=(ops,))))
    assert r.outcome == Outcome.DONE
    fsm = [(x.arg("old"), x.arg("new")) for x in r.records if x.kind == Ev.FSM]
    assert fsm == [(1, 2), (2, 3), (3, 4), (4, 2), (2, 1)]
    kinds = [x.kind for x in r.records]
    assert Ev.CP_ALLOC in kinds and Ev.CP_FREE in kinds and Ev.IRB_READ in kinds
    guest = [x for x in r.records if x.kind == Ev.GUEST_CC]
    assert guest[0].arg("cc") == 0
    assert r.states[0].name == "STANDBY" and r.cp_live == [False]


def test_deadlock_is_reported_with_waiters() -> None:
    """All live actors waiting = deadlock finding, with who waits."""
    from ccwfuzz.program import Ccw

    ops = (Open(0), Ssch(0, (Ccw(0x03, 0x20, 1, 0),)), ReadIo(0))
    with Pool(f"{BROKEN}:ForgetsUnlock", workers=1, subchannels=1) as pool:
        prog = Program(target=f"{BROKEN}:ForgetsUnlock", subchannels=1, workers=(ops,))
        r = pool.run(RunRequest(prog))
    assert r.outcome == Outcome.DEADLOCK
    assert r.deadlock_mask == 1  # worker 0 waits
    waits = [x for x in r.records if x.kind == Ev.LOCK_WAIT]
    assert waits and waits[-1].arg("owner") == 0  # on a mutex it holds itself


def test_actor_crash_is_reported_and_pool_survives() -> None:
    prog = Program(target=f"{BROKEN}:CrashesOnRead", subchannels=1,
                   workers=((Open(0), ReadIo(0)),))  # fmt: skip
    with Pool(f"{BROKEN}:CrashesOnRead", workers=1, subchannels=1) as pool:
        r = pool.run(RunRequest(prog))
        assert r.outcome == Outcome.CRASH and r.crashed_mask == 1
        assert any(x.kind == Ev.CRASH for x in r.records)
        again = pool.run(RunRequest(prog))
        assert again.outcome == Outcome.CRASH  # the pool is still usable


def test_free_mode_runs_reference_clean() -> None:
    with Pool() as pool:
        for seed in range(20):
            r = pool.run(RunRequest(random_program(RandomSource(seed)), Mode.FREE))
            if r.inconclusive:  # a loaded machine can make a free run overrun its clock
                continue
            assert r.outcome == Outcome.DONE, (seed, r.outcome)
            seqs = [x.seq for x in r.records]
            assert seqs == sorted(seqs) == list(range(seqs[0], seqs[0] + len(seqs)))


def test_program_shape_must_match_pool() -> None:
    with Pool(workers=1, subchannels=1) as pool, pytest.raises(RequestError, match="workers"):
        pool.run(RunRequest(Program(subchannels=1, workers=((), ()))))
