"""The region file operations and device callbacks (upstream ``vfio_ccw_ops.c``):
region reads and writes (spec A.7, D.4), ``open_device``/``close_device`` and
VFIO_DEVICE_RESET."""

from __future__ import annotations

import struct

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import (
    D_CMD_REGION,
    D_CRW_HEAD,
    D_CRW_RING,
    D_CRW_TAIL,
    D_IO_REGION,
)
from ccwfuzz.driver.reference.fsm import Fsm
from ccwfuzz.sync import Context

EBADF = K.EBADF
REGION_SIZES = {
    K.IO_REGION: K.IO_REGION_SIZE,
    K.ASYNC_REGION: K.ASYNC_REGION_SIZE,
    K.SCHIB_REGION: K.SCHIB_REGION_SIZE,
    K.CRW_REGION: K.CRW_REGION_SIZE,
}


def region_span(offset: int, n: int) -> tuple[int, int] | None:
    """(region index, offset within it) for a read of ``n`` bytes, or None (-EINVAL)."""
    index, off = offset >> K.REGION_SHIFT, offset & ((1 << K.REGION_SHIFT) - 1)
    size = REGION_SIZES.get(index)
    if size is None or off < 0 or n < 0 or off + n > size:
        return None
    return index, off


class Ops(Fsm):
    def write_region(self, ctx: Context, sch: int, offset: int, data: bytes) -> int:
        index, off = offset >> K.REGION_SHIFT, offset & ((1 << K.REGION_SHIFT) - 1)
        if index == K.IO_REGION:
            return self.io_write(ctx, sch, off, data)
        if index == K.ASYNC_REGION:
            return self.async_write(ctx, sch, off, data)
        return -K.EINVAL

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        """``vfio_ccw_mdev_write_io_region``: trylock (-EAGAIN), copy, then IO_REQ."""
        if off + len(data) > K.IO_REGION_SIZE or off < 0:
            return -K.EINVAL
        mutex = self.k.io_mutex[sch]
        if not mutex.trylock(ctx):
            return -K.EAGAIN
        try:
            self.copy_in(ctx, sch, D_IO_REGION, off, data)
            self.fsm_event(ctx, sch, Event.IO_REQ)
            ret = self.io_ret(sch)
        finally:
            mutex.unlock(ctx)
        return ret if ret else len(data)

    def async_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        if off + len(data) > K.ASYNC_REGION_SIZE or off < 0:
            return -K.EINVAL
        mutex = self.k.io_mutex[sch]
        if not mutex.trylock(ctx):
            return -K.EAGAIN
        try:
            self.copy_in(ctx, sch, D_CMD_REGION, off, data)
            self.fsm_event(ctx, sch, Event.ASYNC_REQ)
            ret = self.cmd_ret(sch)
        finally:
            mutex.unlock(ctx)
        return ret if ret else len(data)

    def read_region(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        """``vfio_ccw_mdev_read``: any region read takes ``io_mutex`` (blocking)."""
        span = region_span(offset, n)
        if span is None:
            return -K.EINVAL
        mutex = self.k.io_mutex[sch]
        mutex.lock(ctx)
        try:
            return self.read_body(ctx, sch, span[0], span[1], n)
        finally:
            mutex.unlock(ctx)

    def read_body(self, ctx: Context, sch: int, index: int, off: int, n: int) -> bytes | int:
        if index == K.IO_REGION:
            return self.copy_out(ctx, sch, D_IO_REGION, off, n)
        if index == K.ASYNC_REGION:
            return self.copy_out(ctx, sch, D_CMD_REGION, off, n)
        if index == K.SCHIB_REGION:
            cc, raw = self.k.store_subchannel(ctx, sch)
            return raw[off : off + n] if cc == 0 else -K.ENODEV
        return self.crw_pop(ctx, sch)[off : off + n]

    def crw_pop(self, ctx: Context, sch: int) -> bytes:
        w, d = self.w, self.k.d(sch)
        self.k.crw_lock.lock(ctx)
        try:
            if w[d + D_CRW_HEAD] == w[d + D_CRW_TAIL]:
                return bytes(8)
            crw = w[d + D_CRW_RING + w[d + D_CRW_HEAD] % 8]
            w[d + D_CRW_HEAD] += 1
            return struct.pack(">II", crw, 0)
        finally:
            self.k.crw_lock.unlock(ctx)

    def open_device(self, ctx: Context, sch: int) -> int:
        """``vfio_ccw_mdev_open_device``: -EINVAL when NOT_OPER, before or after OPEN."""
        if self.get_state(ctx, sch) == State.NOT_OPER:
            return -K.EINVAL
        self.fsm_event(ctx, sch, Event.OPEN)
        return -K.EINVAL if self.get_state(ctx, sch) == State.NOT_OPER else 0

    def close_device(self, ctx: Context, sch: int) -> None:
        self.fsm_event(ctx, sch, Event.CLOSE)
