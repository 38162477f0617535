"""Guest memory: a byte arena inside the segment, addressed from 0, and the host page
frames a pass-through driver maps guest pages into.

The frames model what vfio ``pin_pages`` gives a mediated driver: a host address for a
guest page. They sit above guest memory (from ``frames_base``, 4 KiB each) and hold no
bytes of their own: each is either unmapped or maps one guest page, and an access to a
mapped frame *is* an access to that guest page, as DMA into a pinned page is. So a
channel running a translated program reaches guest data only through the frames its
driver pinned, a wrong IDAW lands in the wrong guest page, and an access to an unmapped
frame (never pinned, or unpinned) reads the slab poison byte and writes nowhere.
"""

from __future__ import annotations

import struct

from ccwfuzz.device.layout import FRAME

_ENTRY = struct.Struct("=I")
UNMAPPED_BYTE = 0x6B


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

    __slots__ = ("_base", "_buf", "_table", "frames", "frames_base", "frames_end", "size")

    def __init__(
        self, buf: memoryview, base: int, size: int, frames_base: int = 0, frames: int = 0,
        table: int = 0,
    ) -> None:  # fmt: skip
        self._buf = buf
        self._base = base
        self.size = size
        self.frames_base = frames_base
        self.frames = frames
        self.frames_end = frames_base + frames * FRAME
        self._table = table

    # ---- host page frames -----------------------------------------------------------
    def frame_address(self, frame: int) -> int:
        """Host address of frame ``frame``."""
        return self.frames_base + frame * FRAME

    def frame_of(self, addr: int) -> int | None:
        """The frame holding host address ``addr``, or None outside the frame window."""
        if self.frames_base <= addr < self.frames_end:
            return (addr - self.frames_base) // FRAME
        return None

    def mapped(self, frame: int) -> int | None:
        """The guest page number frame ``frame`` maps, or None if it is unmapped."""
        entry = _ENTRY.unpack_from(self._buf, self._table + 4 * frame)[0]
        return entry - 1 if entry else None

    def map_frame(self, frame: int, guest_page: int) -> None:
        """Map frame ``frame`` to guest page ``guest_page`` (vfio ``pin_pages``)."""
        if not 0 <= frame < self.frames:
            raise GuestAddressError(f"frame {frame} outside 0..{self.frames - 1}")
        if not 0 <= guest_page * FRAME < self.size:
            raise GuestAddressError(f"guest page {guest_page:#x} outside guest memory")
        _ENTRY.pack_into(self._buf, self._table + 4 * frame, guest_page + 1)

    def unmap_frame(self, frame: int) -> None:
        """Unmap frame ``frame`` (vfio ``unpin_pages``)."""
        if 0 <= frame < self.frames:
            _ENTRY.pack_into(self._buf, self._table + 4 * frame, 0)

    # ---- access ---------------------------------------------------------------------
    def valid(self, addr: int, n: int) -> bool:
        """Whether ``addr..addr+n`` is storage: guest memory, or the frame window."""
        if addr >= 0 and n >= 0 and addr + n <= self.size:
            return True
        return self.frames_base <= addr and addr + n <= self.frames_end and n >= 0

    def _pieces(self, addr: int, n: int) -> list[tuple[int | None, int]]:
        """``(guest address or None if unmapped, length)`` for a frame-window range."""
        out: list[tuple[int | None, int]] = []
        while n:
            frame, off = divmod(addr - self.frames_base, FRAME)
            k = min(n, FRAME - off)
            page = self.mapped(frame)
            out.append((None if page is None else page * FRAME + off, k))
            addr, n = addr + k, n - k
        return out

    def read(self, addr: int, n: int) -> bytes:
        if addr >= 0 and n >= 0 and addr + n <= self.size:
            b = self._base + addr
            return bytes(self._buf[b : b + n])
        if not self.valid(addr, n):
            raise GuestAddressError(f"guest read {addr:#x}+{n} outside 0..{self.size:#x}")
        return b"".join(
            bytes([UNMAPPED_BYTE]) * k if g is None else self.read(g, k)
            for g, k in self._pieces(addr, n)
        )

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if addr >= 0 and addr + n <= self.size:
            b = self._base + addr
            self._buf[b : b + n] = data
            return
        if not self.valid(addr, n):
            raise GuestAddressError(f"guest write {addr:#x}+{n} outside 0..{self.size:#x}")
        pos = 0
        for g, k in self._pieces(addr, n):
            if g is not None:  # a write to an unmapped frame goes nowhere
                self.write(g, data[pos : pos + k])
            pos += k

    def fill(self, addr: int, n: int, byte: int = 0) -> None:
        self.write(addr, bytes([byte]) * n)
