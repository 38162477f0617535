"""The shrinker as a pure function: predicates here are plain functions of programs."""

from __future__ import annotations

import pytest

from ccwfuzz.minimize import Verdict, minimize, size
from ccwfuzz.program import (
    Ccw,
    HwEvent,
    Open,
    Policy,
    Program,
    Schedule,
    Ssch,
    Write,
    Yield,
    digest,
)


def _big() -> Program:
    ssch = Ssch(1, ccws=(Ccw(8, 0x40, 12, 0x2000), Ccw(2, 0, 64, 0x3000)), intparm=77,
                idal=bytes(range(1, 17)), at=0x3000)  # fmt: skip
    return Program(
        workers=((Open(0), Yield(0, 4), ssch, Write(0, 3, b"\x01\x02")),
                 (Open(1), Yield(0, 9)), (Write(1, 5, b"zz"),)),
        channel=(HwEvent("attention", 1, after=3), HwEvent("busy", 0)),
        schedule=Schedule(Policy.CHOICES, choices=(1, 0, 2, 1, 1, 0, 2)),
    )  # fmt: skip


def _has_ssch_with_read(p: Program) -> bool:
    return any(isinstance(o, Ssch) and any(c.cmd == 2 for c in o.ccws)
               for w in p.workers for o in w)  # fmt: skip


def test_shrinks_to_what_the_predicate_needs() -> None:
    m = minimize(_big(), _has_ssch_with_read)
    (worker,) = m.program.workers
    (op,) = worker
    assert isinstance(op, Ssch) and op.ccws == (Ccw(2, 0, 0, 0),)
    assert op.intparm == 0 and op.idal == b"" and op.at == 0
    assert m.program.channel == () and m.program.schedule.choices == ()
    assert op.sch == 0 and m.program.subchannels == 1  # toward subchannel 0, then settled
    assert size(m.program) < size(_big())


def test_never_keeps_a_candidate_the_predicate_rejects() -> None:
    seen: list[Program] = []

    def pred(p: Program) -> bool:
        ok = _has_ssch_with_read(p) and len(p.channel) >= 1
        if ok:
            seen.append(p)
        return ok

    m = minimize(_big(), pred)
    assert pred(m.program) and len(m.program.channel) == 1
    assert m.program in seen


def test_each_candidate_runs_once() -> None:
    calls: list[str] = []

    def pred(p: Program) -> bool:
        calls.append(digest(p))
        return _has_ssch_with_read(p)

    m = minimize(_big(), pred)
    assert len(calls) == len(set(calls)) == m.calls


def test_budget_is_kept_and_a_false_start_is_refused() -> None:
    m = minimize(_big(), _has_ssch_with_read, max_calls=5)
    assert m.calls <= 5 and _has_ssch_with_read(m.program)
    with pytest.raises(ValueError, match="does not hold"):
        minimize(_big(), lambda p: False)


def test_cut_keeps_the_interleaving_of_the_other_ops() -> None:
    """An order schedule loses the records of a removed op and nothing else: the
    predicate here holds only when worker 1's records still come first."""
    base = Program(workers=((Open(0), Yield(0, 1)), (Open(0),), ()))

    def run(p: Program) -> Verdict:
        # fake trace: each op writes two records; the channel writes one at the end
        trace = [(w, i) for w, ops in enumerate(p.workers) for i in range(len(ops))
                 for _ in range(2)] + [(len(p.workers), -1)]  # fmt: skip
        order = p.schedule.choices
        first_is_1 = p.schedule.policy != Policy.ORDER or (bool(order) and order[0] == 1)
        holds = any(isinstance(o, Open) for o in p.workers[0]) and first_is_1
        ran = [(w, i) for w, i in trace if w == 1] + [(w, i) for w, i in trace if w != 1]
        return Verdict(holds, tuple(ran))

    m = minimize(base, run, schedule_tries=0)
    assert m.program.schedule.policy == Policy.ORDER
    assert m.program.schedule.choices[0] == 1
    assert m.program.workers == ((Open(0),), (Open(0),))


def test_timed_events_move_with_a_cut() -> None:
    """A hardware event timed by step moves earlier by what a cut removed before it."""
    ev = HwEvent("not_operational", 0, at=40)
    base = Program(workers=((Yield(0, 30), Open(0)), (), ()), channel=(ev,))

    def run(p: Program) -> Verdict:
        # records: 10 per yield-op (1 step per record), then the event, then open's
        ops = p.workers[0]
        trace = [(0, i) for i, o in enumerate(ops) if isinstance(o, Yield) for _ in range(10)]
        trace += [(3, 0)] + [(0, i) for i, o in enumerate(ops) if isinstance(o, Open)]
        at = p.channel[0].at if p.channel else 0
        # the event must still land 30 steps after the last yield's records
        lands = at == 40 - 10 * (1 - sum(isinstance(o, Yield) for o in ops))
        holds = bool(p.channel) and lands and any(isinstance(o, Open) for o in ops)
        return Verdict(holds, tuple(trace), steps=len(trace))

    m = minimize(base, run)
    assert [type(o) for o in m.program.workers[0]] == [Open]
    assert m.program.channel[0].at == 30


def test_plain_bool_predicates_and_fields_toward_defaults() -> None:
    p = Program(workers=((Write(0, 0x3FF, bytes(range(40))),), (), ()))
    m = minimize(p, lambda q: any(isinstance(o, Write) for w in q.workers for o in w))
    assert m.program.workers == ((Write(0, 0, b""),),)


def test_a_cut_that_loses_the_interleaving_gets_fresh_schedules() -> None:
    """Here only PCT schedules show the finding, and the program starts with none:
    a cut is kept only under one of the fresh schedules, never without them."""
    base = Program(workers=((Open(0), Yield(0, 2)), (Yield(0, 3),), ()),
                   schedule=Schedule(Policy.CHOICES, choices=(1, 2)))  # fmt: skip

    def run(p: Program) -> bool:
        opens = any(isinstance(o, Open) for w in p.workers for o in w)
        return opens and (p.schedule.policy == Policy.PCT or p == base)

    assert minimize(base, run, schedule_tries=0).program == base
    m = minimize(base, run)
    assert m.program.schedule.policy == Policy.PCT
    assert m.program.workers == ((Open(0),),)
