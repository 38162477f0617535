"""Path-management control word and subchannel-information block (spec A.3, A.4)."""

from __future__ import annotations

import dataclasses
import struct

from ccwfuzz.arch._fields import ControlBlock, Field, check_fields
from ccwfuzz.arch.scsw import Scsw

# Word 1 (spec A.3).
Q = 0x80000000
W = 0x40000000
ISC = 0x38000000
BIT5 = 0x04000000
RESERVED_6_7 = 0x03000000
ENABLED = 0x00800000
LM = 0x00600000
MM = 0x00180000
D = 0x00040000
T = 0x00020000
V = 0x00010000
DEVNO = 0x0000FFFF
# Word 2 / word 3.
LPM = 0xFF000000
PNOM = 0x00FF0000
LPUM = 0x0000FF00
PIM = 0x000000FF
MBI = 0xFFFF0000
POM = 0x0000FF00
PAM = 0x000000FF
# Word 6.
W6_RESERVED_HIGH = 0xFF000000
ST = 0x00E00000
W6_RESERVED_MID = 0x001FFFF8
MBFC = 0x00000004
XMWME = 0x00000002
CSENSE = 0x00000001
#: Spec A.3 / QEMU ``ioinst_schib_valid``: word-6 bits that make MSCH an operand exception.
W6_INVALID = 0xFF1FFFF8

#: Reserved masks of the PMCW flags halfword (bits 0-15 of word 1) for MSCH, spec G.1.
PMCW_MASK_UPSTREAM = 0xC300  # QEMU >= 7.0, KUT tests 8 and 12 (the default)
PMCW_MASK_OLD_QEMU = 0x0700

#: Word-1 bits MSCH may modify (spec A.3 "MSCH-modifiable"): ISC, E, LM, MM, D.
W1_MODIFIABLE = ISC | ENABLED | LM | MM | D
#: Word-3 bits MSCH may modify: MBI and POM.
W3_MODIFIABLE = MBI | POM
#: Word-6 bits MSCH may modify: F (MBFC) and S (concurrent sense).
W6_MODIFIABLE = MBFC | CSENSE

PMCW_SIZE = 28
SCHIB_SIZE = 52


@check_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Pmcw(ControlBlock):
    """PMCW (spec A.3), 7 words."""

    intparm: int = 0
    q: int = 0
    w: int = 0
    isc: int = 0
    bit5: int = 0
    reserved_6_7: int = 0
    e: int = 0
    lm: int = 0
    mm: int = 0
    d: int = 0
    t: int = 0
    v: int = 0
    devno: int = 0
    lpm: int = 0
    pnom: int = 0
    lpum: int = 0
    pim: int = 0
    mbi: int = 0
    pom: int = 0
    pam: int = 0
    chpid0_3: int = 0
    chpid4_7: int = 0
    reserved_high: int = 0
    st: int = 0
    reserved_mid: int = 0
    mbfc: int = 0
    xmwme: int = 0
    csense: int = 0

    WORDS = 7
    FIELDS = (
        Field("intparm", 0, 0xFFFFFFFF),
        Field("q", 1, Q),
        Field("w", 1, W),
        Field("isc", 1, ISC),
        Field("bit5", 1, BIT5),
        Field("reserved_6_7", 1, RESERVED_6_7),
        Field("e", 1, ENABLED),
        Field("lm", 1, LM),
        Field("mm", 1, MM),
        Field("d", 1, D),
        Field("t", 1, T),
        Field("v", 1, V),
        Field("devno", 1, DEVNO),
        Field("lpm", 2, LPM),
        Field("pnom", 2, PNOM),
        Field("lpum", 2, LPUM),
        Field("pim", 2, PIM),
        Field("mbi", 3, MBI),
        Field("pom", 3, POM),
        Field("pam", 3, PAM),
        Field("chpid0_3", 4, 0xFFFFFFFF),
        Field("chpid4_7", 5, 0xFFFFFFFF),
        Field("reserved_high", 6, W6_RESERVED_HIGH),
        Field("st", 6, ST),
        Field("reserved_mid", 6, W6_RESERVED_MID),
        Field("mbfc", 6, MBFC),
        Field("xmwme", 6, XMWME),
        Field("csense", 6, CSENSE),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Schib:
    """SCHIB (spec A.4): PMCW (28) + SCSW (12) + MBA (8) + model-dependent area (4)."""

    pmcw: Pmcw = dataclasses.field(default_factory=Pmcw)
    scsw: Scsw = dataclasses.field(default_factory=Scsw)
    mba: int = 0
    mda: int = 0

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Schib:
        if len(data) != SCHIB_SIZE:
            raise ValueError(f"a SCHIB is {SCHIB_SIZE} bytes, got {len(data)}")
        mba, mda = struct.unpack_from(">QI", data, 40)
        return cls(Pmcw.from_bytes(data[:28]), Scsw.from_bytes(data[28:40]), mba, mda)

    def to_bytes(self) -> bytes:
        return self.pmcw.to_bytes() + self.scsw.to_bytes() + struct.pack(">QI", self.mba, self.mda)
