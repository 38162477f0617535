"""spec A.6: channel-program checks, TIC rules, data chaining, IDA, length rules."""

from __future__ import annotations

import struct

import pytest
from conftest import DATA, PROGRAM, Rig

from ccwfuzz.arch import Ccw0, Ccw1, ccw
from ccwfuzz.arch import scsw as S

PC = S.SCH_PROGRAM_CHECK


def _cstat_after(rig: Rig, ccws: list[Ccw1] | list[Ccw0], **orb: int) -> int:
    assert rig.start(ccws, **orb) == 0
    rig.run()
    s = rig.scsw()
    assert s.sc & S.SC_PRIMARY
    return s.cstat


@pytest.mark.parametrize(
    ("name", "ccws", "orb"),
    [
        ("invalid command 0x00", [Ccw1(0x00, 0, 1)], {}),
        ("invalid command 0x10", [Ccw1(0x10, 0, 1)], {}),
        ("MIDA flag", [Ccw1(ccw.CMD_READ, ccw.MIDA, 1, DATA)], {}),
        ("S flag without ORB S", [Ccw1(ccw.CMD_NOP, ccw.S)], {}),
        ("format-0 count 0", [Ccw0(ccw.CMD_READ, DATA, 0, 0, 0)], {"f": 0}),
        ("TIC after TIC", [Ccw1(ccw.CMD_TIC, 0, 0, PROGRAM + 8), Ccw1(ccw.CMD_TIC, 0, 0, PROGRAM + 16), Ccw1(ccw.CMD_NOP)], {}),
        ("format-1 TIC with flags", [Ccw1(ccw.CMD_TIC, ccw.CC, 0, PROGRAM + 8), Ccw1(ccw.CMD_NOP)], {}),
        ("format-1 TIC with count", [Ccw1(ccw.CMD_TIC, 0, 4, PROGRAM + 8), Ccw1(ccw.CMD_NOP)], {}),
        ("format-1 TIC high nibble", [Ccw1(0x18, 0, 0, PROGRAM + 8), Ccw1(ccw.CMD_NOP)], {}),
        ("data address beyond memory", [Ccw1(ccw.CMD_READ, 0, 16, 0x7FFFFFF0)], {}),
        ("data address bit 0", [Ccw1(ccw.CMD_READ, 0, 16, 0x80001000)], {}),
        ("misaligned IDAL", [Ccw1(ccw.CMD_READ, ccw.IDA, 16, DATA + 2)], {}),
        ("S on data-chained CCW", [Ccw1(ccw.CMD_READ, ccw.CD, 4, DATA), Ccw1(ccw.CMD_READ, ccw.S, 4, DATA)], {"s": 1}),
    ],
)  # fmt: skip
def test_A6_program_checks(rig: Rig, name: str, ccws: list[Ccw1], orb: dict[str, int]) -> None:
    """spec A.6 channel-program-check conditions -> program check, alert status."""
    assert _cstat_after(rig, ccws, **orb) == PC, name
    assert rig.scsw().sc & S.SC_ALERT


@pytest.mark.parametrize("cpa", [0, PROGRAM + 4, 0x7FFFFFF8], ids=["zero", "misaligned", "beyond"])
def test_A6_bad_ccw_address(rig: Rig, cpa: int) -> None:
    """spec A.6: CCW address 0, not doubleword aligned, or outside storage."""
    assert _cstat_after(rig, [Ccw1(ccw.CMD_NOP)], cpa=cpa) == PC


def test_A6_format0_24bit_limit(rig: Rig) -> None:
    """spec A.6: format-0 CCW data beyond 16 MiB is a program check."""
    assert _cstat_after(rig, [Ccw0(ccw.CMD_READ, 0xFFFFF8, 0, 0, 16)], f=0) == PC


def test_A6_tic_loop_is_bounded(rig: Rig) -> None:
    """spec A.6: more than 255 TICs in one channel program -> program check (the loop
    moves data, so only the TIC limit can end it before the device runs out)."""
    ccws = [Ccw1(ccw.CMD_READ, ccw.CC, 1, DATA), Ccw1(ccw.CMD_TIC, 0, 0, PROGRAM)]
    assert _cstat_after(rig, ccws) == PC
    assert rig.scsw().cpa == PROGRAM + 16  # the 256th TIC failed


def test_A6_nodata_ccws_are_bounded(rig: Rig) -> None:
    """spec A.6: more than 255 CCWs without data transfer -> program check."""
    ccws = [Ccw1(ccw.CMD_NOP, ccw.CC)] * 300
    assert _cstat_after(rig, ccws) == PC


def test_A6_tic_transfers_control(rig: Rig) -> None:
    rig.css.memory.write(0x2000, Ccw1(ccw.CMD_NOP).to_bytes())
    assert _cstat_after(rig, [Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_TIC, 0, 0, 0x2000)]) == 0
    assert rig.scsw().cpa == 0x2008


def test_format0_program(rig: Rig) -> None:
    """spec A.6 format 0 is interpreted like format 1 (Linux convert_ccw0_to_ccw1)."""
    rig.css.memory.write(DATA, b"ABCD")
    ccws = [Ccw0(ccw.CMD_WRITE, DATA, ccw.CC, 0, 4), Ccw0(ccw.CMD_NOP, 0, ccw.SLI, 0, 1)]
    assert _cstat_after(rig, ccws, f=0) == 0
    assert bytes(rig.css.device_storage(0)[:4]) == b"ABCD"


def test_incorrect_length_and_sli(rig: Rig) -> None:
    """Fixed-length record (SENSE ID, 7 bytes): a different count is incorrect length
    (alert, chaining suppressed) unless SLI."""
    assert _cstat_after(rig, [Ccw1(ccw.CMD_SENSE_ID, ccw.CC, 16, DATA), Ccw1(ccw.CMD_NOP)]) == (
        S.SCH_INCORRECT_LENGTH
    )
    s = rig.scsw()
    assert s.sc & S.SC_ALERT and s.cpa == PROGRAM + 8 and s.count == 9
    rig.tsch()
    assert (
        _cstat_after(rig, [Ccw1(ccw.CMD_SENSE_ID, ccw.SLI | ccw.CC, 16, DATA), Ccw1(ccw.CMD_NOP)])
        == 0
    )
    assert rig.scsw().cpa == PROGRAM + 16
    assert rig.css.memory.read(DATA, 7) == struct.pack(">BHBHB", 0xFF, 0x3990, 0xE9, 0x3390, 0x0C)


def test_data_chaining_continues_record(rig: Rig) -> None:
    """CD: the next CCW continues the same command and record."""
    ccws = [Ccw1(ccw.CMD_SENSE_ID, ccw.CD, 3, DATA), Ccw1(0x00, 0, 4, DATA + 0x10)]
    assert _cstat_after(rig, ccws) == 0
    mem = rig.css.memory
    assert mem.read(DATA, 3) + mem.read(DATA + 0x10, 4) == bytes.fromhex("ff3990e933900c")


def test_skip_suppresses_storing(rig: Rig) -> None:
    rig.css.memory.fill(DATA, 8, 0xAA)
    assert _cstat_after(rig, [Ccw1(ccw.CMD_READ, ccw.SKP, 8, DATA)]) == 0
    assert rig.css.memory.read(DATA, 8) == b"\xaa" * 8


def test_read_backward_full_count(rig: Rig) -> None:
    storage = rig.css.device_storage(0)
    storage[:4] = b"wxyz"
    del storage
    rig.css.memory.write(DATA + 0x40, (4).to_bytes(4, "big"))
    ccws = [Ccw1(ccw.CMD_CONTROL, ccw.CC, 4, DATA + 0x40), Ccw1(ccw.CMD_READ_BACKWARD, 0, 4, DATA)]
    assert _cstat_after(rig, ccws) == 0
    assert rig.css.memory.read(DATA, 4) == b"wxyz"


@pytest.mark.parametrize(("h", "t", "block"), [(0, 0, 2048), (1, 0, 4096), (1, 1, 2048)])
def test_A6_indirect_data_addressing(rig: Rig, h: int, t: int, block: int) -> None:
    """spec A.1 H/T and A.6: format-1 IDAWs (4 bytes, 2K blocks), format-2 IDAWs
    (8 bytes, 4K or 2K blocks); only the first IDAW may start inside a block."""
    size = 8 if h else 4
    first = 0x20000 + block - 16
    second = 0x40000
    idal = first.to_bytes(size, "big") + second.to_bytes(size, "big")
    rig.css.memory.write(0x3000, idal)
    storage = rig.css.device_storage(0)
    storage[:48] = bytes(range(48))
    del storage
    assert _cstat_after(rig, [Ccw1(ccw.CMD_READ, ccw.IDA, 48, 0x3000)], h=h, t=t) == 0
    mem = rig.css.memory
    assert mem.read(first, 16) + mem.read(second, 32) == bytes(range(48))
    rig.tsch()
    bad = (first + 8).to_bytes(size, "big") * 2  # second IDAW not on a block boundary
    rig.css.memory.write(0x3000, bad)
    assert _cstat_after(rig, [Ccw1(ccw.CMD_READ, ccw.IDA, 48, 0x3000)], h=h, t=t) == PC


def test_sense_returns_and_resets_sense(rig: Rig) -> None:
    """A rejected command leaves sense data (byte 0 command reject); SENSE returns
    it; the next non-sense command resets it."""
    _cstat_after(rig, [Ccw1(0x0B)])
    assert rig.css.device_sense(0)[0] == 0x80
    rig.tsch()
    assert _cstat_after(rig, [Ccw1(ccw.CMD_SENSE, 0, 32, DATA)]) == 0
    assert rig.css.memory.read(DATA, 1) == b"\x80"
    rig.tsch()
    _cstat_after(rig, [Ccw1(ccw.CMD_NOP)])
    assert rig.css.device_sense(0) == bytes(32)


@pytest.mark.parametrize("target", [0xFFFFFFF8, 0x80000000, 0xFFFFFFFC])
def test_A6_tic_to_top_of_address_space_ends_with_program_check(rig: Rig, target: int) -> None:
    """spec A.6 / C.2: a TIC beyond 2 GiB is a program check that ends the program
    (the reported CPA wraps at 32 bits instead of crashing the channel)."""
    assert _cstat_after(rig, [Ccw1(ccw.CMD_TIC, 0, 0, target)]) == PC
    assert rig.scsw().cpa == (target + 8) & 0xFFFFFFFF
    assert rig.css.channel.busy() == []


def test_A6_cd_takes_precedence_over_sli(rig: Rig) -> None:
    """spec A.6: the length check is active when SLI=0 or CD=1: a record that ends
    before a data-chained CCW's count is incorrect length even with SLI."""
    ccws = [Ccw1(ccw.CMD_SENSE_ID, ccw.CD | ccw.SLI | ccw.CC, 10, DATA), Ccw1(ccw.CMD_NOP)]
    assert _cstat_after(rig, ccws) == S.SCH_INCORRECT_LENGTH
    assert rig.scsw().cpa == PROGRAM + 8  # chaining suppressed: the NOP did not run


def test_read_backward_stores_downward(rig: Rig) -> None:
    """Read backward stores at descending addresses from the end of the data area, so
    a short record lands in forward order at the area's top."""
    storage = rig.css.device_storage(0)
    storage[:4] = b"ABCD"
    del storage
    rig.css.memory.write(DATA + 0x40, (4).to_bytes(4, "big"))
    rig.css.memory.fill(DATA, 8, 0xEE)
    ccws = [
        Ccw1(ccw.CMD_CONTROL, ccw.CC, 4, DATA + 0x40),
        Ccw1(ccw.CMD_READ_BACKWARD, ccw.SLI, 8, DATA),
    ]
    assert _cstat_after(rig, ccws) == 0
    assert rig.css.memory.read(DATA, 8) == b"\xee" * 4 + b"ABCD"
