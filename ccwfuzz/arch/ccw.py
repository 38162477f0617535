"""Channel command words, formats 0 and 1, and command-code classes (spec A.6)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

from ccwfuzz.arch._fields import ControlBlock, Field, check_fields

# Flags, same values in both formats (spec A.6).
CD = 0x80
CC = 0x40
SLI = 0x20
SKP = 0x10
PCI = 0x08
IDA = 0x04
S = 0x02
MIDA = 0x01

# Command codes used by the simulated devices (spec A.6).
CMD_WRITE = 0x01
CMD_READ = 0x02
CMD_NOP = 0x03
CMD_SENSE = 0x04
CMD_CONTROL = 0x07
CMD_TIC = 0x08
CMD_READ_BACKWARD = 0x0C
CMD_SENSE_ID = 0xE4

SIZE = 8


class Kind(enum.Enum):
    """What a command code asks for, decided by its low bits (spec A.6)."""

    INVALID = "invalid"
    TIC = "tic"
    SENSE = "sense"
    READ_BACKWARD = "read-backward"
    READ = "read"
    WRITE = "write"
    CONTROL = "control"


def kind(cmd: int) -> Kind:
    """Classify a command code by its low bits, as spec A.6 lists them."""
    low = cmd & 0x0F
    if low == 0:
        return Kind.INVALID
    if low == 0x08:
        return Kind.TIC
    if low == 0x04:
        return Kind.SENSE
    if low == 0x0C:
        return Kind.READ_BACKWARD
    return (Kind.CONTROL, Kind.WRITE, Kind.READ, Kind.CONTROL)[cmd & 0x03]


@check_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Ccw1(ControlBlock):
    """Format-1 CCW: command, flags, count, 31-bit data address (bit 0 must be 0)."""

    cmd: int = CMD_NOP
    flags: int = 0
    count: int = 0
    cda: int = 0

    WORDS = 2
    FIELDS = (
        Field("cmd", 0, 0xFF000000),
        Field("flags", 0, 0x00FF0000),
        Field("count", 0, 0x0000FFFF),
        Field("cda", 1, 0xFFFFFFFF),
    )


@check_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Ccw0(ControlBlock):
    """Format-0 CCW: command, 24-bit data address, flags, reserved byte, count."""

    cmd: int = CMD_NOP
    cda: int = 0
    flags: int = 0
    reserved: int = 0
    count: int = 0

    WORDS = 2
    FIELDS = (
        Field("cmd", 0, 0xFF000000),
        Field("cda", 0, 0x00FFFFFF),
        Field("flags", 1, 0xFF000000),
        Field("reserved", 1, 0x00FF0000),
        Field("count", 1, 0x0000FFFF),
    )

    def to_format1(self) -> Ccw1:
        """The format-1 equivalent, as Linux ``convert_ccw0_to_ccw1`` builds it."""
        return Ccw1(self.cmd, self.flags, self.count, self.cda)


def chain(ccws: Iterable[Ccw0 | Ccw1]) -> bytes:
    """Concatenate CCWs into the bytes of a channel program.

    Example:
        >>> len(chain([Ccw1(CMD_NOP, CC, 1), Ccw1(CMD_NOP, 0, 1)]))
        16
    """
    return b"".join(c.to_bytes() for c in ccws)
