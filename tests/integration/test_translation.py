"""Channel-program translation through real actor processes: each translation rule
fires on the zoo member that brings its bug back, for the smallest input that shows
it, and stays silent on ``reference`` for the very same program; the reference's host
program really goes through pinned frames and back-translation."""

from __future__ import annotations

import pytest

from ccwfuzz.arch import ccw as C
from ccwfuzz.arch import orb as O
from ccwfuzz.exec import Pool
from ccwfuzz.oracles import check, view_of
from ccwfuzz.program import Ccw, Open, Program, RunRequest, Ssch, WaitIrq
from ccwfuzz.sync.history import Ev

AT = 0x1000
DATA = 0x8000
FMT1_4K = O.F | O.P | O.H | 0xFF00  # a Linux guest's ORB: format-2 IDAWs, 4K
FMT1_2K = O.F | O.P | 0xFF00  # format-1 IDAWs: 2K blocks
FMT0 = O.P | O.H | 0xFF00


def idal(*addrs: int, width: int = 8) -> bytes:
    return b"".join(a.to_bytes(width, "big") for a in addrs)


#: (member, ORB word 1, CCWs, IDAL bytes, the rule that must fire)
CASES = [
    # format-0 bytes read as format 1: flags and count come from the address bytes
    ("fmt0-unconverted", FMT0,
     (Ccw(C.CMD_NOP, C.CC | C.SLI, 1, 0x10), Ccw(C.CMD_READ, C.SLI, 16, DATA)), b"",
     "driver.translation-equivalence"),
    # a NOP's address is never looked at; pinning it fails
    ("empty-transfer-pinned", FMT1_4K,
     (Ccw(C.CMD_NOP, C.SLI, 8, 0x7F000000),), b"", "driver.translation-equivalence"),
    # the CCW address after the last CCW stays a host address
    ("scsw-end-of-chain", FMT1_4K, (Ccw(C.CMD_NOP, C.SLI, 1, 0),), b"",
     "driver.translation-equivalence"),
    # 2K IDAWs sharing a page: the second one mapped a page too far
    ("idal-2k-grouped", FMT1_2K,
     (Ccw(C.CMD_READ, C.IDA | C.SLI, 0x40, AT + 8),), idal(DATA + 0x7F0, DATA + 0x800, width=4),
     "driver.translation-equivalence"),
    # 0x200 bytes from page + 0x700 need two 2K IDAWs, counted as one 4K
    ("idaw-count-4k", FMT1_2K, (Ccw(C.CMD_READ, C.SLI, 0x200, DATA + 0x700),), b"",
     "memory.dma-bounds"),
    # the first CCW pins, the second names memory beyond the guest
    ("prefetch-error-leak", FMT1_4K,
     (Ccw(C.CMD_READ, C.CC | C.SLI, 16, DATA), Ccw(C.CMD_READ, C.SLI, 16, 0x7F000000)), b"",
     "memory.leak"),
    # a data-chained continuation whose own code says NOP still moves data
    ("chain-own-command", FMT1_4K,
     (Ccw(C.CMD_READ, C.CD | C.SLI, 8, DATA), Ccw(C.CMD_NOP, C.SLI, 8, DATA + 0x100)), b"",
     "memory.dma-bounds"),
]  # fmt: skip


def program(target: str, ctrl: int, ccws: tuple[Ccw, ...], raw_idal: bytes) -> Program:
    start = Ssch(0, ccws, intparm=7, ctrl=ctrl, at=AT, idal=raw_idal)
    return Program(target=target, subchannels=1, workers=((Open(0), start, WaitIrq(0)),))


def rules_fired(target: str, p: Program) -> set[str]:
    with Pool(target, subchannels=1, workers=1) as pool:
        result = pool.run(RunRequest(p))
        return {f.rule for f in check(view_of(result, p, pool.lock_names()))}


@pytest.mark.parametrize(
    ("member", "ctrl", "ccws", "raw_idal", "rule"),
    [pytest.param(*c, marks=pytest.mark.fires(c[4]), id=c[0]) for c in CASES],
)
def test_member_fires_and_reference_is_silent(
    member: str, ctrl: int, ccws: tuple[Ccw, ...], raw_idal: bytes, rule: str
) -> None:
    assert rule in rules_fired(f"zoo:{member}", program(f"zoo:{member}", ctrl, ccws, raw_idal))
    assert rules_fired("reference", program("reference", ctrl, ccws, raw_idal)) == set()


def test_reference_runs_the_guest_program_through_pinned_frames() -> None:
    """A format-0 program with a TIC to a second segment and a 2K IDAL: the host program
    lives in the cp arena, data moves through frames (no DMA record), the guest's
    status names its own CCW address, and the bare channel agrees (EXPECT = OUTCOME)."""
    second = AT + 0x80
    ccws = (Ccw(C.CMD_WRITE, C.CC | C.SLI, 0x30, DATA + 0x7F0),  # crosses a 2K boundary
            Ccw(C.CMD_TIC, 0, 0, second)) + (Ccw(0, 0, 0, 0),) * 14 + (
            Ccw(C.CMD_READ, C.SLI, 0x20, DATA + 0x1000),)  # fmt: skip
    p = program("reference", FMT0 & ~O.H, ccws, b"")
    with Pool(subchannels=1, workers=1) as pool:
        r = pool.run(RunRequest(p))
        assert check(view_of(r, p, pool.lock_names())) == []
    recs = r.records
    kinds = [x[2] for x in recs]
    assert Ev.DMA not in kinds and kinds.count(Ev.PIN) >= 3
    expect = next(x for x in recs if x[2] == Ev.EXPECT)
    delivered = [x for x in recs if x[2] == Ev.IRB_STORE]
    assert expect[6] == second + 8 == delivered[-1][6]  # last CCW + 8, a guest address
    outcome = next(x for x in recs if x[2] == Ev.OUTCOME)
    mem = next(x for x in recs if x[2] == Ev.EXPECT_MEM)
    assert outcome[5] == mem[5]  # the same guest pages and device storage


def test_host_orb_uses_format_2_idaws_of_the_guests_block_size() -> None:
    from ccwfuzz.driver.reference import Reference

    class FakeCss:
        def pmcw_word(self, sch: int, word: int) -> int:
            return 0x80 << 24

    ref = Reference.__new__(Reference)
    ref.css = FakeCss()  # type: ignore[assignment]
    host_2k = ref.cp_get_orb(0, O.F | 0x8000 | O.RESERVED)
    host_4k = ref.cp_get_orb(0, O.H)
    assert host_2k & (O.H | O.T | O.F) == O.H | O.T | O.F and not host_2k & O.RESERVED
    assert host_4k & (O.H | O.T) == O.H and host_4k & O.LPM == 0x8000  # LPM 0: the paths
