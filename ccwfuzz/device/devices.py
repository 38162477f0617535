"""Devices behind the subchannels. State lives in the subchannel record and the
device-storage arena; this module is behaviour only.

The storage device is a block of bytes with a cursor. Commands (spec A.6 codes):
READ 0x02 and READ BACKWARD 0x0C move bytes at the cursor, WRITE 0x01 stores them,
CONTROL 0x07 (seek) takes a 4-byte big-endian cursor, NOP 0x03 is immediate, SENSE 0x04
returns 32 sense bytes, SENSE ID 0xE4 returns ``FF cu-type cu-model dev-type dev-model``.
Any other command is rejected with unit check and sense byte 0 = command reject.
Reads and writes are variable-length records ending at the end of the block; SENSE,
SENSE ID and seek are fixed-length records, so a count that differs is an incorrect
length unless the CCW suppresses it (spec A.6, C.2).
"""

from __future__ import annotations

import dataclasses
import struct

from ccwfuzz.arch import ccw, scsw
from ccwfuzz.device import layout as L

SENSE_COMMAND_REJECT = 0x80
SENSE_INTERVENTION_REQUIRED = 0x40
SENSE_ID_LENGTH = 7


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What sits behind one subchannel. ``kind`` is ``"storage"`` or ``"none"`` (no
    device: the subchannel exists but its device number is not valid, PMCW V=0)."""

    kind: str = "storage"
    cu_type: int = 0x3990
    cu_model: int = 0xE9
    dev_type: int = 0x3390
    dev_model: int = 0x0C

    def type_id(self) -> int:
        try:
            return {"storage": L.DEV_STORAGE, "none": L.DEV_NONE}[self.kind]
        except KeyError:
            raise ValueError(f"unknown device kind {self.kind!r} (storage, none)") from None


@dataclasses.dataclass(slots=True)
class Transfer:
    """Outcome of one CCW at the device."""

    moved: int = 0  # bytes transferred
    data: bytes = b""  # bytes for the channel to store (input commands)
    more: bool = False  # a fixed-length record has bytes beyond this transfer
    dstat: int = 0  # extra device status (unit check)
    immediate: bool = False  # no data transfer at all (count is not checked)


class StorageDevice:
    """Behaviour of the storage device over the segment (stateless object)."""

    def __init__(self, w: memoryview, buf: memoryview, dev_offset: int, block: int) -> None:
        self._w = w
        self._buf = buf
        self._dev_offset = dev_offset
        self.block = block

    def _storage(self, index: int) -> int:
        return self._dev_offset + index * self.block

    def sense(self, index: int) -> bytes:
        o = 4 * (L.sch_base(index) + L.DEV_SENSE)
        return bytes(self._buf[o : o + L.SENSE_BYTES])

    def set_sense(self, index: int, data: bytes) -> None:
        o = 4 * (L.sch_base(index) + L.DEV_SENSE)
        self._buf[o : o + L.SENSE_BYTES] = data.ljust(L.SENSE_BYTES, b"\0")[: L.SENSE_BYTES]

    def reset(self, index: int) -> None:
        """Selective reset (clear function): sense, cursor, owed busy."""
        b = L.sch_base(index)
        self.set_sense(index, b"")
        self._w[b + L.DEV_CURSOR] = 0
        self._w[b + L.DEV_BUSY] = 0

    def _reject(self, index: int) -> Transfer:
        self.set_sense(index, bytes([SENSE_COMMAND_REJECT]))
        return Transfer(dstat=scsw.DEV_UNIT_CHECK, immediate=True)

    def execute(self, index: int, cmd: int, offset: int, count: int, out: bytes) -> Transfer:
        """Run command ``cmd`` for ``count`` bytes at record ``offset`` (non-zero when
        data chaining continues the command); ``out`` is the data for output commands."""
        b = L.sch_base(index)
        w = self._w
        if cmd == ccw.CMD_SENSE:
            return self._fixed(self.sense(index), offset, count)
        # Spec: sense information is reset by the next command that is not SENSE.
        if offset == 0:
            self.set_sense(index, b"")
        if cmd == ccw.CMD_SENSE_ID:
            ident = struct.pack(
                ">BHBHB",
                0xFF,
                w[b + L.DEV_ID0] >> 16,
                (w[b + L.DEV_ID0] >> 8) & 0xFF,
                w[b + L.DEV_ID1] >> 16,
                (w[b + L.DEV_ID1] >> 8) & 0xFF,
            )
            return self._fixed(ident, offset, count)
        if cmd == ccw.CMD_NOP:
            return Transfer(immediate=True)
        cursor = w[b + L.DEV_CURSOR]
        base = self._storage(index)
        if cmd == ccw.CMD_READ:
            n = min(count, self.block - cursor)
            w[b + L.DEV_CURSOR] = cursor + n
            return Transfer(moved=n, data=bytes(self._buf[base + cursor : base + cursor + n]))
        if cmd == ccw.CMD_READ_BACKWARD:
            n = min(count, cursor)
            w[b + L.DEV_CURSOR] = cursor - n
            # The device sends its bytes last-first (the channel stores them downward).
            data = bytes(self._buf[base + cursor - n : base + cursor])[::-1]
            return Transfer(moved=n, data=data)
        if cmd == ccw.CMD_WRITE:
            n = min(count, self.block - cursor)
            self._buf[base + cursor : base + cursor + n] = out[:n]
            w[b + L.DEV_CURSOR] = cursor + n
            return Transfer(moved=n)
        if cmd == ccw.CMD_CONTROL:  # seek: 4-byte big-endian cursor, fixed record
            n = min(count, 4 - offset) if offset < 4 else 0
            if offset == 0 and n == 4:
                target = int.from_bytes(out[:4], "big")
                if target > self.block:
                    return self._reject(index)
                w[b + L.DEV_CURSOR] = target
            return Transfer(moved=n, more=offset + n < 4)
        return self._reject(index)

    @staticmethod
    def _fixed(record: bytes, offset: int, count: int) -> Transfer:
        chunk = record[offset : offset + count]
        return Transfer(moved=len(chunk), data=chunk, more=offset + len(chunk) < len(record))
