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

from hypothesis import strategies as st

from ccwfuzz.arch import Ccw0, Ccw1, Orb, ccw, sid

__all__ = ["ccw_chains", "ccws", "orbs", "schibs", "sids"]

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
