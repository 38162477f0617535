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
from ccwfuzz.choices import ChoiceSource
from ccwfuzz.program import Program, Ssch
from ccwfuzz.program.generate import orb_ctrl, program_at, random_program, ssch_op

__all__ = [
    "HypothesisSource", "ccw_chains", "ccws", "channel_programs", "from_choices", "orb_words",
    "orbs", "programs", "schibs", "sids",
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


def programs(mode: str = "valid", workers: int = 3, ops: int = 8, subchannels: int = 2,
             target: str = "reference") -> st.SearchStrategy[Program]:  # fmt: skip
    """Whole programs from :func:`ccwfuzz.program.random_program` (ops, channel events
    and a materialized schedule), so a failing example is a program file away from
    ``ccwfuzz run``.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None)
        ... @given(programs("mixed", workers=1, ops=2))
        ... def test_one_worker(p):
        ...     assert len(p.workers) == 1
        >>> test_one_worker()
    """
    return from_choices(
        lambda src: random_program(
            src, workers=workers, ops=ops, subchannels=subchannels, target=target, mode=mode
        )
    )
