"""Bad input through the driver: anything-mode programs (every ORB bit, CCWs of any
code, flags and count, data addresses anywhere, bad IDAWs, wild TICs, raw writes at
any offset and length on every region) through ``reference`` in real actor processes.
Every input is answered by a condition code, a status or an errno: no actor raises,
no rule fires. CI feeds about 10,000 inputs; ``-m slow`` feeds 100,000."""

from __future__ import annotations

import pytest

from ccwfuzz.exec import Pool
from ccwfuzz.oracles import check, view_of
from ccwfuzz.program import RandomSource, RunRequest, Ssch, Write, random_program
from ccwfuzz.sync import Outcome


def feed(inputs: int, seed: int) -> int:
    """Run anything-mode programs until ``inputs`` starts and raw writes went in."""
    fed = 0
    with Pool() as pool:
        names = pool.lock_names()
        k = 0
        while fed < inputs:
            p = random_program(RandomSource(seed + k), mode="anything", ops=12)
            k += 1
            r = pool.run(RunRequest(p))
            assert r.outcome == Outcome.DONE, (seed + k - 1, r.outcome, r.crashes)
            assert check(view_of(r, p, names)) == [], seed + k - 1
            fed += sum(isinstance(o, (Ssch, Write)) for w in p.workers for o in w)
    return fed


def test_ten_thousand_hostile_inputs_through_the_driver() -> None:
    assert feed(10_000, 7_000_000) >= 10_000


@pytest.mark.slow
def test_a_hundred_thousand_hostile_inputs_through_the_driver() -> None:
    assert feed(100_000, 8_000_000) >= 100_000


def test_a_program_placed_past_guest_memory_is_answered() -> None:
    """``at`` past the guest's memory (a program file may say anything): the guest
    stores nothing there, the driver refuses the start, nobody raises."""
    from ccwfuzz.program import Ccw, Open, Program, WaitIrq

    nop = (Ccw(0x03, 0x20, 1, 0),)
    starts = (Ssch(0, nop, at=0x7FFFFFF8), Ssch(0, nop, at=0x1FFF8, idal=b"x" * 64))
    p = Program(subchannels=1, workers=((Open(0), *starts, WaitIrq(0)),))
    with Pool(subchannels=1, workers=1) as pool:
        r = pool.run(RunRequest(p))
        assert r.outcome == Outcome.DONE and check(view_of(r, p, pool.lock_names())) == []
