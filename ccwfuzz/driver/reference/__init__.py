"""``reference`` -- today's upstream vfio-ccw design (spec D.1, D.4, with the newest
``io_todo`` of E18), the driver every oracle must find clean.

The class is split as upstream splits the driver, so a kernel developer finds each
function where upstream keeps it:

================  ==============================  =====================================
module            upstream                        what
================  ==============================  =====================================
``cp``            ``vfio_ccw_cp.c``               fetch, translate, free channel programs
``drv``           ``vfio_ccw_drv.c``              top half, ``io_todo``, quiesce, events
``fsm``           ``vfio_ccw_fsm.c``              the spec D.1 table and its actions
``ops``           ``vfio_ccw_ops.c``              region reads/writes, open/close/reset
this module       the vfio core                   file references, exclusive close/reset
================  ==============================  =====================================

Each method names the kernel function it models. Scheduling points sit where the kernel
can be preempted or raced: every lock operation, each 32-byte chunk of a region copy,
every FSM state read and write, cp allocation and free, every instruction issued. All
history records come from the toolkit (:class:`~ccwfuzz.driver.kernel.Kernel`).
"""

from __future__ import annotations

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import D_INFLIGHT, D_OPEN_COUNT, D_REMOVED
from ccwfuzz.driver.reference.base import Base
from ccwfuzz.driver.reference.cp import MAX_CCWS
from ccwfuzz.driver.reference.drv import VFIO_CCW_ISC
from ccwfuzz.driver.reference.ops import EBADF, REGION_SIZES, Ops, region_span
from ccwfuzz.sync import Context


class Reference(Ops):
    """The upstream driver. Subclasses (the zoo) override single steps; the override
    points are the methods of this class and its bases (``ccwfuzz.driver.zoo``
    lists which member overrides which)."""

    # ---- the vfio core: file references, exclusive close and reset -----------------------
    def region_write(self, ctx: Context, sch: int, offset: int, data: bytes) -> int:
        """pwrite(2) on the device file (vfio core: needs an open device)."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        if not self.io_enter(ctx, sch):
            return -EBADF
        try:
            return self.write_region(ctx, sch, offset, data)
        finally:
            self.io_exit(ctx, sch)

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        """pread(2) on the device file (vfio core: needs an open device)."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        if not self.io_enter(ctx, sch):
            return -EBADF
        try:
            return self.read_region(ctx, sch, offset, n)
        finally:
            self.io_exit(ctx, sch)

    def io_enter(self, ctx: Context, sch: int) -> bool:
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if not self.w[d + D_OPEN_COUNT]:
                return False
            with ctx.atomic():
                self.w[d + D_INFLIGHT] += 1
            return True
        finally:
            lock.unlock(ctx)

    def io_exit(self, ctx: Context, sch: int) -> None:
        with ctx.atomic():
            self.w[self.k.d(sch) + D_INFLIGHT] -= 1

    def drain_io(self, ctx: Context, sch: int) -> None:
        """Wait (holding the dev_set lock, so no new access starts) until no region
        access is in flight: close and reset are exclusive in the vfio core model."""
        d = self.k.d(sch)
        while self.w[d + D_INFLIGHT]:
            ctx.backoff(lambda: not self.w[d + D_INFLIGHT])

    def open(self, ctx: Context, sch: int) -> int:
        """open(2) of the device file; the driver's open on the first reference."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if self.w[d + D_OPEN_COUNT]:
                self.w[d + D_OPEN_COUNT] += 1
                return 0
            ret = self.open_device(ctx, sch)
            if ret == 0:
                self.w[d + D_OPEN_COUNT] = 1
            return ret
        finally:
            lock.unlock(ctx)

    def close(self, ctx: Context, sch: int) -> int:
        """close(2); the driver's close on the last reference (-EBADF if not open)."""
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if not self.w[d + D_OPEN_COUNT]:
                return -EBADF
            if self.w[d + D_OPEN_COUNT] == 1:
                self.drain_io(ctx, sch)
                self.close_device(ctx, sch)
            self.w[d + D_OPEN_COUNT] -= 1
            return 0
        finally:
            lock.unlock(ctx)

    def remove(self, ctx: Context, sch: int) -> int:
        """mdev remove. The kernel waits until the device is released; the model answers
        -EBUSY while it is open. Afterwards every access is -ENODEV."""
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if self.w[d + D_REMOVED]:
                return -K.ENODEV
            if self.w[d + D_OPEN_COUNT]:
                return -K.EBUSY
            self.w[d + D_REMOVED] = 1
            return 0
        finally:
            lock.unlock(ctx)

    def reset(self, ctx: Context, sch: int) -> int:
        """VFIO_DEVICE_RESET on an open device: CLOSE + OPEN, exclusive with region
        accesses and other resets (QEMU resets with the vCPUs stopped); -EINVAL if
        NOT_OPER afterwards."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        lock = self.k.open_lock[sch]
        lock.lock(ctx)
        try:
            if not self.w[self.k.d(sch) + D_OPEN_COUNT]:
                return -EBADF
            self.drain_io(ctx, sch)
            self.fsm_event(ctx, sch, Event.CLOSE)
            self.fsm_event(ctx, sch, Event.OPEN)
            return -K.EINVAL if self.get_state(ctx, sch) == State.NOT_OPER else 0
        finally:
            lock.unlock(ctx)


__all__ = ["EBADF", "MAX_CCWS", "REGION_SIZES", "VFIO_CCW_ISC", "Base", "Reference", "region_span"]
