"""Operation request block, command mode (spec A.1).

The ORB is 12 bytes, or 32 bytes when the X bit (ORB-extension control) is one. Bit 13
(B) selects transport mode, which no implementation we model supports.
"""

from __future__ import annotations

import dataclasses

from ccwfuzz.arch._fields import ControlBlock, Field, check_fields

# Word 1 masks (spec A.1 table).
KEY = 0xF0000000
S = 0x08000000
C = 0x04000000
M = 0x02000000
Y = 0x01000000
F = 0x00800000
P = 0x00400000
I = 0x00200000  # noqa: E741 - the architecture's name for the bit
A = 0x00100000
U = 0x00080000
B = 0x00040000
H = 0x00020000
T = 0x00010000
LPM = 0x0000FF00
L = 0x00000080
D = 0x00000040
RESERVED = 0x0000003E
X = 0x00000001

#: Bits whose presence makes SSCH raise an operand exception (spec A.1, QEMU
#: ``ioinst_orb_valid``): B (transport mode), D (MIDAW), bits 26-30.
INVALID_CTRL = B | D | RESERVED
#: CPA bit 0 must be zero (spec A.1 word 2).
CPA_INVALID = 0x80000000

SHORT_SIZE = 12
LONG_SIZE = 32


@check_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Orb(ControlBlock):
    """Command-mode ORB (spec A.1). ``to_bytes`` gives 12 bytes, or 32 when ``x`` = 1."""

    intparm: int = 0
    key: int = 0
    s: int = 0
    c: int = 0
    m: int = 0
    y: int = 0
    f: int = 1
    p: int = 1
    i: int = 0
    a: int = 0
    u: int = 0
    b: int = 0
    h: int = 0
    t: int = 0
    lpm: int = 0xFF
    l: int = 0  # noqa: E741
    d: int = 0
    reserved: int = 0
    x: int = 0
    cpa: int = 0
    css_priority: int = 0
    reserved3a: int = 0
    cu_priority: int = 0
    reserved3b: int = 0
    reserved4: int = 0
    reserved5: int = 0
    reserved6: int = 0
    reserved7: int = 0

    WORDS = 8
    FIELDS = (
        Field("intparm", 0, 0xFFFFFFFF),
        Field("key", 1, KEY),
        Field("s", 1, S),
        Field("c", 1, C),
        Field("m", 1, M),
        Field("y", 1, Y),
        Field("f", 1, F),
        Field("p", 1, P),
        Field("i", 1, I),
        Field("a", 1, A),
        Field("u", 1, U),
        Field("b", 1, B),
        Field("h", 1, H),
        Field("t", 1, T),
        Field("lpm", 1, LPM),
        Field("l", 1, L),
        Field("d", 1, D),
        Field("reserved", 1, RESERVED),
        Field("x", 1, X),
        Field("cpa", 2, 0xFFFFFFFF),
        Field("css_priority", 3, 0xFF000000),
        Field("reserved3a", 3, 0x00FF0000),
        Field("cu_priority", 3, 0x0000FF00),
        Field("reserved3b", 3, 0x000000FF),
        Field("reserved4", 4, 0xFFFFFFFF),
        Field("reserved5", 5, 0xFFFFFFFF),
        Field("reserved6", 6, 0xFFFFFFFF),
        Field("reserved7", 7, 0xFFFFFFFF),
    )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Orb:
        """Decode a 12-byte ORB, or a 32-byte one (then X should be 1)."""
        if len(data) == SHORT_SIZE:
            data = bytes(data) + bytes(LONG_SIZE - SHORT_SIZE)
        if len(data) != LONG_SIZE:
            raise ValueError(f"an ORB is 12 or 32 bytes, got {len(data)}")
        return super(Orb, cls).from_bytes(data)

    def to_bytes(self) -> bytes:
        raw = ControlBlock.to_bytes(self)
        return raw if self.x else raw[:SHORT_SIZE]
