"""Interruption response block (spec A.5): SCSW, ESW, ECW, EMW; and the ERW."""

from __future__ import annotations

import dataclasses

from ccwfuzz.arch._fields import ControlBlock, Field, check_fields
from ccwfuzz.arch.scsw import Scsw

SIZE = 96
ESW_OFFSET = 12
ECW_OFFSET = 32
EMW_OFFSET = 64

# ERW, word 1 of the ESW (spec A.5; Linux ``struct erw`` bit positions, see spec G.12).
ERW_AUTHORIZATION_CHECK = 0x10000000
ERW_PATH_VERIFICATION = 0x08000000
ERW_CHANNEL_PATH_TIMEOUT = 0x04000000
ERW_FSA_VALID = 0x02000000
ERW_CONCURRENT_SENSE = 0x01000000
ERW_SCCW_VALID = 0x00800000
ERW_FSA_FORMAT = 0x00400000
ERW_SENSE_COUNT = 0x003F0000
#: Format-1 ESW word 0 with LPUM 0x80 (spec A.5, QEMU ``build_irb_virtual``).
ESW1_LPUM_0x80 = 0x00800000


@check_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Erw(ControlBlock):
    """Extended-report word (spec A.5)."""

    reserved0: int = 0
    a: int = 0
    p: int = 0
    t: int = 0
    f: int = 0
    s: int = 0
    c: int = 0
    r: int = 0
    scnt: int = 0
    reserved: int = 0

    WORDS = 1
    FIELDS = (
        Field("reserved0", 0, 0xE0000000),
        Field("a", 0, ERW_AUTHORIZATION_CHECK),
        Field("p", 0, ERW_PATH_VERIFICATION),
        Field("t", 0, ERW_CHANNEL_PATH_TIMEOUT),
        Field("f", 0, ERW_FSA_VALID),
        Field("s", 0, ERW_CONCURRENT_SENSE),
        Field("c", 0, ERW_SCCW_VALID),
        Field("r", 0, ERW_FSA_FORMAT),
        Field("scnt", 0, ERW_SENSE_COUNT),
        Field("reserved", 0, 0x0000FFFF),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Irb:
    """IRB (spec A.5). ``esw`` is the five raw ESW words; ``ecw``/``emw`` are 32 bytes."""

    scsw: Scsw = dataclasses.field(default_factory=Scsw)
    esw: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    ecw: bytes = bytes(32)
    emw: bytes = bytes(32)

    @property
    def erw(self) -> Erw:
        return Erw.from_words([self.esw[1]])

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Irb:
        if len(data) not in (64, SIZE):
            raise ValueError(f"an IRB is 64 or {SIZE} bytes, got {len(data)}")
        data = bytes(data).ljust(SIZE, b"\0")
        esw = tuple(int.from_bytes(data[o : o + 4], "big") for o in range(12, 32, 4))
        return cls(
            Scsw.from_bytes(data[:12]),
            (esw[0], esw[1], esw[2], esw[3], esw[4]),
            data[ECW_OFFSET:EMW_OFFSET],
            data[EMW_OFFSET:SIZE],
        )

    def to_bytes(self) -> bytes:
        if len(self.ecw) != 32 or len(self.emw) != 32:
            raise ValueError("ECW and EMW are 32 bytes each")
        esw = b"".join(w.to_bytes(4, "big") for w in self.esw)
        return self.scsw.to_bytes() + esw + self.ecw + self.emw
