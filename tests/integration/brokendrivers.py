"""Tiny deliberately broken drivers for tests (loaded by ``module:Class``)."""

from __future__ import annotations

from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class ForgetsUnlock(Reference):
    """Returns from the I/O region write without releasing ``io_mutex``: the next read
    of the region waits forever (a deadlock the scheduler must report)."""

    name = "forgets-unlock"

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        mutex = self.k.io_mutex[sch]
        if not mutex.trylock(ctx):
            return -11
        self.copy_in(ctx, sch, 16, off, data)
        return len(data)


class CrashesOnRead(Reference):
    """Raises inside the region read handler (an actor crash)."""

    name = "crashes-on-read"

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        raise RuntimeError("boom")
