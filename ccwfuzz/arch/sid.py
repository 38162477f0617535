"""Subsystem-identification word (spec B, "SID validity")."""

from __future__ import annotations

import dataclasses

ONE = 0x00010000  # bit 47 of GR1: must be one
M = 0x00080000  # multiple-subchannel-set / MCSS facility bit
CSSID = 0xFF000000
SSID = 0x00060000
SSID_SHIFT = 17
SCHNO = 0x0000FFFF


def make(schno: int, ssid: int = 0, cssid: int = 0) -> int:
    """The SID word for subchannel ``schno`` (sets M when a CSSID is given).

    Example:
        >>> hex(make(5))
        '0x10005'
    """
    m = M if cssid else 0
    return (cssid << 24) | m | (ssid << SSID_SHIFT) | ONE | (schno & SCHNO)


@dataclasses.dataclass(frozen=True, slots=True)
class Sid:
    cssid: int
    ssid: int
    schno: int


def decode(word: int) -> Sid | None:
    """Decode GR1's low word, or None when it is invalid (operand exception).

    QEMU ``ioinst_disassemble_sch_ident``: the one-bit must be set and, unless M is set,
    the CSSID byte must be zero. Bits 8-11 are ignored (spec G.18).
    """
    word &= 0xFFFFFFFF
    if not word & ONE:
        return None
    if not word & M and word & CSSID:
        return None
    return Sid((word & CSSID) >> 24, (word & SSID) >> SSID_SHIFT, word & SCHNO)
