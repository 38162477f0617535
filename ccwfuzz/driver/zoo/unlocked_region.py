"""``zoo:unlocked-region`` (spec E2) -- no ``io_mutex``.

Bug: nothing serializes userspace reads and writes of the I/O region with the bottom
half's IRB copy: a read can see half of one IRB and half of another (or of the zeros a
racing SSCH write put there), and two writers interleave ORB and SCSW bytes.
Interleaving: the bottom half copies a new IRB into ``irb_area`` in 32-byte chunks while
a worker's region read copies it out chunk by chunk.
Fix: 4f76617378ee "vfio-ccw: protect the I/O region" (v5.2).
Caught by: ``driver.irb-integrity`` (a read IRB that was never delivered).
Minimal: 3 ops
(open; SSCH (or an unsolicited status); a region read during its IRB copy).
"""

from __future__ import annotations

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event
from ccwfuzz.driver.kernel import D_IO_REGION
from ccwfuzz.driver.reference import Reference, region_span
from ccwfuzz.sync import Context


class UnlockedRegion(Reference):
    name = "unlocked-region"
    expected_rule = "driver.irb-integrity"

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        if off + len(data) > K.IO_REGION_SIZE or off < 0:
            return -K.EINVAL
        self.copy_in(ctx, sch, D_IO_REGION, off, data)
        self.fsm_event(ctx, sch, Event.IO_REQ)
        ret = self.io_ret(sch)
        return ret if ret else len(data)

    def read_region(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        span = region_span(offset, n)
        if span is None:
            return -K.EINVAL
        return self.read_body(ctx, sch, span[0], span[1], n)

    def todo_lock(self, ctx: Context, sch: int) -> None:
        pass

    def todo_unlock(self, ctx: Context, sch: int) -> None:
        pass
