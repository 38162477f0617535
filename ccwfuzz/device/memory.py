"""Guest memory: a byte arena inside the segment, addressed from 0."""

from __future__ import annotations


class GuestAddressError(ValueError):
    """A guest address range outside the arena."""


class GuestMemory:
    """Guest storage from which channel programs and data are fetched.

    Example:
        >>> from ccwfuzz.device import ChannelSubsystem
        >>> with ChannelSubsystem.create(subchannels=1) as css:
        ...     css.memory.write(0x100, b"abc")
        ...     css.memory.read(0x100, 3)
        b'abc'
    """

    __slots__ = ("_base", "_buf", "size")

    def __init__(self, buf: memoryview, base: int, size: int) -> None:
        self._buf = buf
        self._base = base
        self.size = size

    def valid(self, addr: int, n: int) -> bool:
        return addr >= 0 and n >= 0 and addr + n <= self.size

    def read(self, addr: int, n: int) -> bytes:
        if not self.valid(addr, n):
            raise GuestAddressError(f"guest read {addr:#x}+{n} outside 0..{self.size:#x}")
        b = self._base + addr
        return bytes(self._buf[b : b + n])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if not self.valid(addr, n):
            raise GuestAddressError(f"guest write {addr:#x}+{n} outside 0..{self.size:#x}")
        b = self._base + addr
        self._buf[b : b + n] = data

    def fill(self, addr: int, n: int, byte: int = 0) -> None:
        self.write(addr, bytes([byte]) * n)
