"""Hypothesis strategies for channel-I/O control blocks, installed as
``ccwfuzz.strategies``.

They draw *mostly plausible* values (valid SIDs, ORBs that point at a program, CCWs with
real command codes) with a steady share of hostile ones (reserved bits, odd addresses,
random words), which is what finds bugs in code that parses guest input.

Example:
    >>> from hypothesis import given
    >>> from ccwfuzz.strategies import orbs
    >>> @given(orbs())
    ... def test_orb_round_trip(raw):
    ...     assert len(raw) in (12, 32)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from hypothesis import strategies as st

from ccwfuzz.arch import Ccw0, Ccw1, Orb, ccw, sid
from ccwfuzz.choices import ByteSource, ChoiceSource, RandomSource
from ccwfuzz.program import HwEvent, Op, Program, Schedule, Ssch, make_op
from ccwfuzz.program.generate import (
    DATA_BASE,
    DATA_WINDOW,
    DATA_WINDOWS,
    GUEST_TOP,
    MODES,
    STEPS_PER_OP,
    WALK,
    hw_event,
    orb_ctrl,
    program_at,
    resolve_mode,
    schedule,
    ssch_op,
    worker_op,
)

__all__ = [
    "HypothesisSource", "ccw_chains", "ccws", "channel_programs", "from_choices",
    "hardware_events", "idals", "ops", "orb_words", "orbs", "programs", "schedules",
    "schibs", "sids",
]  # fmt: skip
_T = TypeVar("_T")

_COMMANDS = [
    ccw.CMD_READ, ccw.CMD_WRITE, ccw.CMD_NOP, ccw.CMD_SENSE, ccw.CMD_SENSE_ID,
    ccw.CMD_CONTROL, ccw.CMD_TIC, ccw.CMD_READ_BACKWARD, 0x00, 0x0B, 0x18,
]  # fmt: skip
u32 = st.integers(0, 0xFFFFFFFF)


def sids(subchannels: int = 4) -> st.SearchStrategy[int]:
    """Subsystem-identification words: valid ones for existing subchannels, valid ones
    for missing subchannels, and arbitrary words."""
    return st.one_of(
        st.integers(0, subchannels - 1).map(sid.make),
        st.integers(0, 0xFFFF).map(sid.make),
        st.builds(sid.make, st.integers(0, 0xFFFF), st.integers(0, 3), st.integers(0, 255)),
        u32,
    )


def orbs(program: int = 0x1000) -> st.SearchStrategy[bytes]:
    """ORB bytes (12 or 32): mostly valid with flag bits drawn freely, sometimes with
    reserved bits, transport mode, MIDAW or an invalid CPA, sometimes random."""
    valid = st.builds(
        Orb,
        intparm=u32,
        key=st.integers(0, 15),
        s=st.integers(0, 1),
        f=st.integers(0, 1),
        p=st.integers(0, 1),
        i=st.integers(0, 1),
        u=st.integers(0, 1),
        h=st.integers(0, 1),
        t=st.integers(0, 1),
        lpm=st.sampled_from([0xFF, 0x80, 0x40, 0x00]),
        l=st.integers(0, 1),
        x=st.integers(0, 1),
        cpa=st.one_of(st.just(program), st.integers(0, 0x7FFFFFFF)),
    ).map(Orb.to_bytes)
    hostile = st.builds(
        Orb,
        b=st.integers(0, 1),
        d=st.integers(0, 1),
        reserved=st.integers(0, 31),
        cpa=u32,
    ).map(Orb.to_bytes)
    return st.one_of(valid, hostile, st.binary(min_size=0, max_size=40))


def ccws(fmt1: bool = True, data: int = 0x8000) -> st.SearchStrategy[bytes]:
    """One CCW's 8 bytes in the given format, with real and invalid command codes."""
    cmd = st.one_of(st.sampled_from(_COMMANDS), st.integers(0, 255))
    flags = st.integers(0, 255)
    count = st.one_of(st.integers(0, 64), st.integers(0, 0xFFFF))
    addr = st.one_of(st.integers(data, data + 0x1000), u32)
    if fmt1:
        return st.builds(Ccw1, cmd, flags, count, addr).map(Ccw1.to_bytes)
    return st.builds(
        Ccw0, cmd, addr.map(lambda a: a & 0xFFFFFF), flags, st.integers(0, 255), count
    ).map(Ccw0.to_bytes)


def ccw_chains(fmt1: bool = True, max_size: int = 8) -> st.SearchStrategy[bytes]:
    """A channel program: 1..max_size CCWs concatenated."""
    return st.lists(ccws(fmt1), min_size=1, max_size=max_size).map(b"".join)


def schibs() -> st.SearchStrategy[bytes]:
    """SCHIB bytes for MSCH: random PMCW words with a bias toward valid ones."""
    pmcw_w1 = st.one_of(
        st.integers(0, 0xFFFF).map(lambda lo: 0x00800000 | 0x00010000 | lo),
        u32,
    )
    return st.builds(
        lambda w0, w1, w2, w3, w6, mba: (
            b"".join(x.to_bytes(4, "big") for x in (w0, w1, w2, w3, 0, 0, w6))
            + bytes(12)
            + mba.to_bytes(8, "big")
            + bytes(4)
        ),
        u32,
        pmcw_w1,
        u32,
        u32,
        st.one_of(st.sampled_from([0, 1, 4, 5]), u32),
        st.one_of(st.just(0), st.integers(0, 2**64 - 1)),
    ) | st.binary(min_size=0, max_size=60)


# ---- the generator's programs, drawn through Hypothesis ------------------------------
class HypothesisSource:
    """A choice source over a Hypothesis ``draw``: every ``draw(n)`` is one
    ``st.integers(0, n - 1)``, so Hypothesis shrinks each choice toward 0, which the
    generator reads as the plain choice (small chains, default ORB fields).

    Example:
        >>> from hypothesis import given
        >>> @given(st.data())
        ... def test_choices_are_bounded(data):
        ...     assert 0 <= HypothesisSource(data.draw).draw(6) < 6
        >>> test_choices_are_bounded()
    """

    def __init__(self, draw: Callable[[st.SearchStrategy[int]], int]) -> None:
        self._draw = draw

    def draw(self, n: int) -> int:
        return self._draw(_below(n)) if n > 1 else 0


@functools.cache
def _below(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def from_choices(build: Callable[[ChoiceSource], _T]) -> st.SearchStrategy[_T]:
    """A strategy of whatever ``build`` makes from a choice source, so a Hypothesis
    failure is an ordinary ccwfuzz value (and program) that replays by its choices."""

    @st.composite
    def strategy(draw: st.DrawFn) -> _T:
        return build(HypothesisSource(draw))

    return strategy()


def orb_words(mode: str = "valid") -> st.SearchStrategy[int]:
    """ORB word 1 (spec A.1) as :func:`ccwfuzz.program.generate.orb_ctrl` draws it, every
    field on its own; ``mode`` is ``"valid"``, ``"anything"`` or ``"mixed"``.

    Example:
        >>> from hypothesis import given
        >>> @given(orb_words("valid"))
        ... def test_no_transport_mode_here(ctrl):
        ...     assert 0 <= ctrl < 2**32
        >>> test_no_transport_mode_here()
    """
    return from_choices(lambda src: orb_ctrl(src, mode))


def channel_programs(mode: str = "valid", sch: int = 0, worker: int = 0) -> st.SearchStrategy[Ssch]:
    """One start (an :class:`~ccwfuzz.program.Ssch` op: ORB, CCWs, IDAL, CPA) on
    subchannel ``sch``, placed in worker ``worker``'s first program slot."""
    return from_choices(lambda src: ssch_op(src, mode, sch, program_at(worker, 0)))


#: The most choice bytes one op of a Hypothesis program reads (an ssch op with a long
#: chain in anything mode reads about this many; past its bytes every choice is 0).
OP_BYTES = 96
#: ... and the fewest it is drawn with (an op's choices past its bytes are all 0, so this
#: only makes Hypothesis draw richer ops: on ``outside_driver:EarlyFree`` the median
#: example that first fails fell from ~385 to ~160 over six seeds)
OP_MIN_BYTES = 16
#: The schedule's own bytes: its family, and PCT's or the lagging walk's parameters
#: (the walk's choices come from one seed, see :func:`programs`).
SCHEDULE_HEAD = 16


def _mode(mode: str, what: str = "mode") -> None:
    if mode not in MODES:
        raise ValueError(f"{what} must be one of {', '.join(MODES)}, not {mode!r}")


def idals(mode: str = "valid", width: int = 8, block: int = 4096,
          max_idaws: int = 8) -> st.SearchStrategy[bytes]:  # fmt: skip
    """IDALs (spec A.6): 1..``max_idaws`` IDAWs of ``width`` bytes (8: format 2, 4:
    format 1) for ``block``-byte blocks (4096, or 2048 with ORB T). ``"valid"``: the
    first IDAW anywhere in the data windows, every later one on a block boundary there,
    format-1 ones with bit 0 clear; ``"anything"``: valid ones and hostile ones (a
    later IDAW off its boundary, bit 0 set, past guest memory, a list that is not a
    whole number of IDAWs, random words); ``"mixed"`` is the same as anything here.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(idals("valid", width=4, block=2048))
        ... def test_later_idaws_on_boundaries(idal):
        ...     words = [int.from_bytes(idal[i:i + 4], "big") for i in range(0, len(idal), 4)]
        ...     assert all(w % 2048 == 0 and w < 2**31 for w in words[1:])
        >>> test_later_idaws_on_boundaries()
    """
    _mode(mode)
    if width not in (4, 8) or block not in (2048, 4096) or max_idaws < 1:
        raise ValueError("idals: width is 4 or 8, block 2048 or 4096, max_idaws at least 1")
    top = DATA_BASE + DATA_WINDOWS * DATA_WINDOW

    def pack(words: list[int]) -> bytes:
        return b"".join((w & ((1 << 8 * width) - 1)).to_bytes(width, "big") for w in words)

    first = st.integers(DATA_BASE, top - 1)
    later = st.integers(DATA_BASE // block, top // block - 1).map(lambda k: k * block)
    valid = st.builds(lambda a, rest: pack([a, *rest]), first,
                      st.lists(later, max_size=max_idaws - 1))  # fmt: skip
    if mode == "valid":
        return valid
    word = st.integers(0, (1 << 8 * width) - 1)

    @st.composite
    def hostile(draw: st.DrawFn) -> bytes:
        rest = draw(st.lists(later, min_size=min(1, max_idaws - 1), max_size=max_idaws - 1))
        words = [draw(first), *rest]
        k = draw(st.integers(0, len(words) - 1))
        how = draw(st.sampled_from(["off-boundary", "bit0", "beyond", "ragged", "random"]))
        if how == "off-boundary" and len(words) > 1:  # only a later IDAW has a boundary
            words[max(k, 1)] += draw(st.integers(1, block - 1))
        elif how == "bit0":
            words[k] |= 1 << (8 * width - 1)
        elif how == "beyond":
            words[k] = GUEST_TOP + draw(st.integers(0, 1 << 24))
        elif how == "random":
            words = draw(st.lists(word, min_size=1, max_size=max_idaws))
        raw = pack(words)
        return raw[: -draw(st.integers(1, width - 1))] if how == "ragged" else raw

    return valid | hostile()


def ops(mode: str = "valid", subchannels: int = 2, worker: int = 0
        ) -> st.SearchStrategy[Op]:  # fmt: skip
    """One worker op as the generator draws it (:func:`~ccwfuzz.program.generate.worker_op`:
    starts with their chains, region reads and raw writes, halts, clears, waits, the
    lifecycle ops), from one byte string of choices (lower and shorter is plainer).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(ops("anything", subchannels=3))
        ... def test_on_a_subchannel(op):
        ...     assert 0 <= op.sch < 3
        >>> test_on_a_subchannel()
    """
    _mode(mode)

    @st.composite
    def one(draw: st.DrawFn) -> Op:
        m = resolve_mode(HypothesisSource(draw), mode)
        return worker_op(ByteSource(draw(_op_bytes())), subchannels, m, worker)

    return one()


def _op_bytes() -> st.SearchStrategy[bytes]:
    return st.binary(min_size=OP_MIN_BYTES, max_size=OP_BYTES)


def hardware_events(subchannels: int = 2, events: int = 2,
                    steps: int = 400) -> st.SearchStrategy[list[HwEvent]]:  # fmt: skip
    """Up to ``events`` hardware events (attention, busy, late device end, paths off or
    on line, not operational and back) as the generator draws them, the timed ones
    spread over about ``steps`` scheduling steps; each event is one list element.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(hardware_events(subchannels=1, events=3))
        ... def test_on_the_one_subchannel(events):
        ...     assert all(e.sch == 0 for e in events)
        >>> test_on_the_one_subchannel()
    """
    spread = max(1, steps // (1 + events // 2))

    def build(raws: list[bytes]) -> list[HwEvent]:
        hw: list[HwEvent] = []
        at = 0
        for raw in raws:
            at = hw_event(ByteSource(raw), subchannels, spread, at, hw)
        return hw

    return st.lists(st.binary(max_size=8), max_size=events).map(build)


def schedules(actors: int = 5, steps: int = 400) -> st.SearchStrategy[Schedule]:
    """Materialized schedules for ``actors`` actors (workers + the channel and the work
    queue): PCT, the sticky walk or the lagging walk, change points and lag windows
    within ``steps``. The family and its parameters come from a few bytes (zero: PCT
    of depth 1), the walk's :data:`~ccwfuzz.program.generate.WALK` choices from one
    seed, so shrinking a schedule takes a few steps, not one per walk choice.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(schedules(actors=4))
        ... def test_a_policy(s):
        ...     assert s.policy.value in ("pct", "walk", "lag")
        >>> test_a_policy()
    """
    return st.builds(
        lambda head, seed: schedule(ByteSource(head), actors, steps, walk_length=WALK,
                                    walk_range=256, walk=RandomSource(seed)),
        st.binary(max_size=SCHEDULE_HEAD), u32,
    )  # fmt: skip


def programs(mode: str = "valid", workers: int = 3, ops: int = 8, subchannels: int = 2,
             target: str = "reference", events: int = 2) -> st.SearchStrategy[Program]:  # fmt: skip
    """Whole programs, built by the generator the fuzzer decodes its inputs with
    (:mod:`ccwfuzz.program.generate`): every worker opens its subchannels, then up to
    ``ops`` ops; the channel fires up to ``events`` hardware events; the schedule (PCT,
    the walk or the lagging walk) is materialized in the program. A failing example is
    an ordinary program, a program file away from ``ccwfuzz run``.

    Laid out for Hypothesis' shrinker: each op and each hardware event is one list
    element whose choices are one byte string read by a
    :class:`~ccwfuzz.choices.ByteSource` (shorter and lower bytes are plainer ops, as
    for the fuzzer), so deleting an element deletes exactly one op; event times and
    change points are drawn within a span fixed by the shape, so deleting an op moves
    none of them; the walk's choices come from one seed. A failing program shrinks to
    about the size ``ccwfuzz minimize`` reaches (``tests/integration/test_shrinking.py``).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None)
        ... @given(programs("mixed", workers=1, ops=2))
        ... def test_one_worker(p):
        ...     assert len(p.workers) == 1 and len(p.workers[0]) <= 2 + 2
        >>> test_one_worker()
    """
    _mode(mode)
    # where timed events and change points go: from the shape, not from the ops drawn,
    # so deleting an op moves no event and no change point (as in the fuzzer's decoder)
    steps = STEPS_PER_OP * workers * (ops + subchannels)
    op_bytes = st.lists(_op_bytes(), max_size=ops)
    channel = hardware_events(subchannels, events, steps)
    scheds = schedules(workers + 2, steps)

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        m = resolve_mode(HypothesisSource(draw), mode)
        ws = []
        for w in range(workers):
            # two in three open a subchannel, as in random_program; zero is "don't",
            # so the shrinker drops the opens a finding does not need
            opening = tuple(make_op("open", sch=s) for s in range(subchannels)
                            if draw(_below(3)))  # fmt: skip
            worker: list[Op] = []
            starts = 0
            for raw in draw(op_bytes):
                worker.append(worker_op(ByteSource(raw), subchannels, m, w, starts))
                starts += worker[-1].kind == "ssch"
            ws.append(opening + tuple(worker))
        return Program(target=target, subchannels=subchannels, workers=tuple(ws),
                       channel=tuple(draw(channel)), schedule=draw(scheds))  # fmt: skip

    return build()
