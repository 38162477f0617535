"""The choice-sequence shrinker as a pure function: the fuzzer's real decoder, fake
predicates."""

from __future__ import annotations

import pytest

from ccwfuzz.choices import RandomSource
from ccwfuzz.engines.fuzz import EVENT_BYTES, SCHEDULE_BYTES, decode, generate
from ccwfuzz.engines.mutate import TracingSource
from ccwfuzz.minimize import size
from ccwfuzz.minimize.choices import minimize_choices
from ccwfuzz.program import Policy, Program, Schedule, Ssch, Yield

FIXED = SCHEDULE_BYTES + EVENT_BYTES


def _decode(data: bytes) -> Program:
    return decode(data, workers=3, subchannels=2, ops=8, target="reference", draw="valid")[0]


def _spans(data: bytes) -> list[tuple[int, int, int]]:
    src = TracingSource(data)
    generate(src, workers=3, subchannels=2, ops=8, target="reference", draw="valid")
    return src.spans


def _two_starts(p: Program) -> bool:
    return sum(isinstance(o, Ssch) for w in p.workers for o in w) >= 2


def _input(pred: object) -> bytes:
    rng = RandomSource(5)
    while True:
        data = bytes(rng.draw(256) for _ in range(600))
        if pred(_decode(data)):  # type: ignore[operator]
            return data


def test_shrinks_an_input_to_what_the_predicate_needs() -> None:
    data = _input(_two_starts)
    calls: list[bytes] = []

    def pred(p: Program) -> bool:
        calls.append(repr(p).encode())
        return _two_starts(p)

    m = minimize_choices(data, _decode, pred, spans=_spans, fixed=FIXED)
    assert _two_starts(m.program) and m.program == _decode(m.data)
    assert sum(o.kind != "open" for w in m.program.workers for o in w) == 2
    assert m.program.op_count() < _decode(data).op_count()
    assert len(m.data) < len(data) and size(m.program) < size(_decode(data))
    assert m.calls == len(calls)
    assert len(set(calls)) == len(calls)  # a candidate program is judged once


def test_never_keeps_what_the_predicate_rejects_and_keeps_its_budget() -> None:
    data = _input(_two_starts)
    m = minimize_choices(data, _decode, _two_starts, spans=_spans, fixed=FIXED, max_calls=15)
    assert m.calls <= 15 and _two_starts(m.program)
    with pytest.raises(ValueError, match="does not hold"):
        minimize_choices(bytes(100), _decode, _two_starts, spans=_spans)


def test_the_fixed_prefix_is_lowered_never_deleted_from() -> None:
    # Byte 0 of a 4-byte prefix is a "schedule" the bug needs at >= 5; the ops follow.
    def toy(d: bytes) -> Program:
        ops = tuple(Yield(0, b) for b in d[4:] if b)
        return Program(workers=(ops,), schedule=Schedule(Policy.CHOICES, choices=tuple(d[:1])))

    def fires(p: Program) -> bool:
        return sum(p.schedule.choices) >= 5 and any(o.n >= 3 for o in p.workers[0])

    spans = lambda d: [(i, 1, 256) for i in range(len(d))]  # noqa: E731
    m = minimize_choices(bytes([200, 1, 2, 3, 9, 0, 4, 7]), toy, fires, spans=spans, fixed=4)
    assert m.data[0] == 5 and list(m.data[4:]) == [3]
    assert m.program.workers == ((Yield(0, 3),),)
