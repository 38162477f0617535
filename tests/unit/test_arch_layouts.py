"""Spec A: every control block round-trips, and every flag sits at its documented bit.

The expected masks below are typed in from the spec tables, not imported from the code,
so a wrong mask in ``ccwfuzz.arch`` fails here.
"""

from __future__ import annotations

import random
import struct

import pytest

from ccwfuzz.arch import Ccw0, Ccw1, Erw, Irb, Orb, Pmcw, Schib, Scsw, ccw, sid
from ccwfuzz.arch._fields import ControlBlock

RNG = random.Random(0xCC)


@pytest.mark.parametrize("cls", [Orb, Scsw, Pmcw, Ccw0, Ccw1, Erw])
def test_round_trip_random_words(cls: type[ControlBlock]) -> None:
    """spec A: decode then encode is the identity for arbitrary bytes."""
    for _ in range(500):
        raw = RNG.randbytes(cls.size())
        if cls is Orb:
            raw = raw[:7] + bytes([raw[7] | 1]) + raw[8:]  # X=1: the 32-byte form
        assert cls.from_bytes(raw).to_bytes() == raw


def test_orb_short_form_is_12_bytes() -> None:
    """spec A.1: X=0 gives a 12-byte ORB; X=1 gives 32 bytes."""
    assert len(Orb().to_bytes()) == 12
    assert len(Orb(x=1).to_bytes()) == 32
    raw = bytes(range(12))
    raw = raw[:7] + bytes([raw[7] & ~1]) + raw[8:]
    assert Orb.from_bytes(raw).to_bytes() == raw


def test_schib_and_irb_round_trip() -> None:
    """spec A.4 (52 bytes) and A.5 (96 bytes)."""
    for _ in range(200):
        raw = RNG.randbytes(52)
        assert Schib.from_bytes(raw).to_bytes() == raw
        raw = RNG.randbytes(96)
        assert Irb.from_bytes(raw).to_bytes() == raw


def _one_bit(cls: type[ControlBlock], field: str) -> tuple[int, int]:
    """(word index, word value) when only ``field`` is set to all ones."""
    f = next(f for f in cls.FIELDS if f.name == field)
    obj = cls(**{f2.name: 0 for f2 in cls.FIELDS} | {field: f.mask >> f.shift})
    words = struct.unpack(f">{cls.WORDS}I", obj.to_bytes().ljust(4 * cls.WORDS, b"\0"))
    nonzero = [(i, v) for i, v in enumerate(words) if v]
    assert len(nonzero) == 1
    return nonzero[0]


ORB_BITS = {  # spec A.1, word 1
    "key": 0xF0000000, "s": 0x08000000, "c": 0x04000000, "m": 0x02000000,
    "y": 0x01000000, "f": 0x00800000, "p": 0x00400000, "i": 0x00200000,
    "a": 0x00100000, "u": 0x00080000, "b": 0x00040000, "h": 0x00020000,
    "t": 0x00010000, "lpm": 0x0000FF00, "l": 0x00000080, "d": 0x00000040,
    "reserved": 0x0000003E, "x": 0x00000001,
}  # fmt: skip


@pytest.mark.parametrize(("field", "mask"), ORB_BITS.items())
def test_orb_bit_positions(field: str, mask: int) -> None:
    assert _one_bit(Orb, field) == (1, mask)


SCSW_BITS = {  # spec A.2, word 0 (fc/ac/sc as whole fields)
    "key": 0xF0000000, "s": 0x08000000, "l": 0x04000000, "cc": 0x03000000,
    "f": 0x00800000, "p": 0x00400000, "i": 0x00200000, "a": 0x00100000,
    "u": 0x00080000, "z": 0x00040000, "e": 0x00020000, "n": 0x00010000,
    "reserved": 0x00008000, "fc": 0x00007000, "ac": 0x00000FE0, "sc": 0x0000001F,
}  # fmt: skip


@pytest.mark.parametrize(("field", "mask"), SCSW_BITS.items())
def test_scsw_bit_positions(field: str, mask: int) -> None:
    assert _one_bit(Scsw, field) == (0, mask)


def test_scsw_word2_fields() -> None:
    """spec A.2 word 2: device status, subchannel status, residual count."""
    raw = Scsw(dstat=0x0C, cstat=0x40, count=0x1234).to_bytes()
    assert raw[8:] == bytes([0x0C, 0x40, 0x12, 0x34])
    assert Scsw(cpa=0xDEADBEE8).to_bytes()[4:8] == bytes.fromhex("deadbee8")


def test_scsw_status_bit_values() -> None:
    """spec A.2: FC start 0x4000 ... SC status pending 0x0001 inside word 0."""
    from ccwfuzz.arch import scsw as S

    expected = {
        "FC_START": 0x4000, "FC_HALT": 0x2000, "FC_CLEAR": 0x1000,
        "AC_RESUME_PENDING": 0x800, "AC_START_PENDING": 0x400, "AC_HALT_PENDING": 0x200,
        "AC_CLEAR_PENDING": 0x100, "AC_SUBCHANNEL_ACTIVE": 0x80, "AC_DEVICE_ACTIVE": 0x40,
        "AC_SUSPENDED": 0x20, "SC_ALERT": 0x10, "SC_INTERMEDIATE": 0x8, "SC_PRIMARY": 0x4,
        "SC_SECONDARY": 0x2, "SC_PENDING": 0x1,
        "DEV_ATTENTION": 0x80, "DEV_CHANNEL_END": 0x08, "DEV_DEVICE_END": 0x04,
        "DEV_UNIT_CHECK": 0x02, "DEV_UNIT_EXCEPTION": 0x01, "SCH_PCI": 0x80,
        "SCH_INCORRECT_LENGTH": 0x40, "SCH_PROGRAM_CHECK": 0x20,
    }  # fmt: skip
    for name, value in expected.items():
        assert getattr(S, name) == value, name


PMCW_BITS = {  # spec A.3
    "q": (1, 0x80000000), "w": (1, 0x40000000), "isc": (1, 0x38000000),
    "bit5": (1, 0x04000000), "reserved_6_7": (1, 0x03000000), "e": (1, 0x00800000),
    "lm": (1, 0x00600000), "mm": (1, 0x00180000), "d": (1, 0x00040000),
    "t": (1, 0x00020000), "v": (1, 0x00010000), "devno": (1, 0x0000FFFF),
    "lpm": (2, 0xFF000000), "pnom": (2, 0x00FF0000), "lpum": (2, 0x0000FF00),
    "pim": (2, 0x000000FF), "mbi": (3, 0xFFFF0000), "pom": (3, 0x0000FF00),
    "pam": (3, 0x000000FF), "reserved_high": (6, 0xFF000000), "st": (6, 0x00E00000),
    "reserved_mid": (6, 0x001FFFF8), "mbfc": (6, 0x4), "xmwme": (6, 0x2),
    "csense": (6, 0x1), "intparm": (0, 0xFFFFFFFF),
}  # fmt: skip


@pytest.mark.parametrize(("field", "where"), PMCW_BITS.items())
def test_pmcw_bit_positions(field: str, where: tuple[int, int]) -> None:
    assert _one_bit(Pmcw, field) == where


def test_schib_layout() -> None:
    """spec A.4: PMCW at 0, SCSW at 28, MBA at 40 (8 bytes), model area at 48."""
    s = Schib(Pmcw(intparm=0x11223344), Scsw(cpa=0x55667788), mba=0x0102030405060708, mda=9)
    raw = s.to_bytes()
    assert len(raw) == 52
    assert raw[0:4] == bytes.fromhex("11223344")
    assert raw[32:36] == bytes.fromhex("55667788")
    assert raw[40:48] == bytes.fromhex("0102030405060708")
    assert raw[48:52] == bytes.fromhex("00000009")


def test_irb_layout_and_erw() -> None:
    """spec A.5: SCSW 0, ESW 12, ECW 32, EMW 64; ERW S bit and sense count."""
    erw = Erw(s=1, scnt=32)
    assert erw.to_words() == [0x01000000 | (32 << 16)]
    irb = Irb(Scsw(cpa=8), (0x00800000, erw.to_words()[0], 0, 0, 0), bytes(range(32)))
    raw = irb.to_bytes()
    assert raw[4:8] == bytes.fromhex("00000008")
    assert raw[12:16] == bytes.fromhex("00800000")
    assert raw[32:64] == bytes(range(32))
    assert Irb.from_bytes(raw).erw.s == 1


def test_ccw_formats() -> None:
    """spec A.6: format 1 = cmd, flags, count, address; format 0 = cmd, 24-bit address,
    flags, reserved, count."""
    assert Ccw1(0x02, 0x60, 0x1234, 0x00ABCDEF).to_bytes() == bytes.fromhex("0260123400abcdef")
    assert Ccw0(0x02, 0xABCDEF, 0x60, 0, 0x1234).to_bytes() == bytes.fromhex("02abcdef60001234")
    assert Ccw0(0x02, 0xABCDEF, 0x60, 0, 0x10).to_format1() == Ccw1(0x02, 0x60, 0x10, 0xABCDEF)


def test_ccw_flag_values() -> None:
    """spec A.6 flags: CD 80, CC 40, SLI 20, SKP 10, PCI 08, IDA 04, S 02, MIDA 01."""
    assert (ccw.CD, ccw.CC, ccw.SLI, ccw.SKP, ccw.PCI, ccw.IDA, ccw.S, ccw.MIDA) == (
        0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("cmd", "kind"),
    [
        (0x00, ccw.Kind.INVALID), (0xF0, ccw.Kind.INVALID), (0x08, ccw.Kind.TIC),
        (0x18, ccw.Kind.TIC), (0x04, ccw.Kind.SENSE), (0xE4, ccw.Kind.SENSE),
        (0x0C, ccw.Kind.READ_BACKWARD), (0x02, ccw.Kind.READ), (0x06, ccw.Kind.READ),
        (0x01, ccw.Kind.WRITE), (0x05, ccw.Kind.WRITE), (0x03, ccw.Kind.CONTROL),
        (0x07, ccw.Kind.CONTROL),
    ],
)  # fmt: skip
def test_command_kinds(cmd: int, kind: ccw.Kind) -> None:
    """spec A.6: command class by the low bits."""
    assert ccw.kind(cmd) is kind


def test_sid_rules() -> None:
    """spec B SID validity: bit 0x00010000 required; CSSID only with M."""
    assert sid.decode(0x00010005) == sid.Sid(0, 0, 5)
    assert sid.decode(0x00000005) is None
    assert sid.decode(0x01010005) is None  # CSSID without M
    assert sid.decode(0x010B0005) == sid.Sid(1, 1, 5)  # M set: CSSID 1, SSID 1
    assert sid.decode(0x00F10000) == sid.Sid(0, 0, 0)  # bits 8-11 ignored (spec G.18)
    assert sid.make(7, ssid=2) == 0x00050007


def test_decode_rejects_wrong_sizes() -> None:
    with pytest.raises(ValueError):
        Scsw.from_bytes(bytes(11))
    with pytest.raises(ValueError):
        Orb.from_bytes(bytes(13))
    with pytest.raises(ValueError):
        Scsw(fc=8).to_bytes()
