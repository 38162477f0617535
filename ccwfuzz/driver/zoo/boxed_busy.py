"""``zoo:boxed-busy`` (spec D.3) -- the v4.12..v5.1 design.

Bug: the write handler refuses any write outside IDLE with -EACCES before anything is
copied (the FSM never sees it), and there is no async command region, so HSCH and CSCH
cannot be issued at all, in particular not while a start is pending.
Interleaving: a start is pending (CP_PENDING, "BUSY"); another SSCH gets -EACCES where
the FSM would answer -EBUSY; an HSCH to recover gets -EINVAL (no such region).
Fix: "vfio-ccw: rework ssch state handling" and d5afd5d135c8 "add handling for async
channel instructions" (v5.2, spec E3, D.2).
Caught by: ``driver.retcode`` (requests answered outside the FSM).
Minimal: 3 ops (open; SSCH; a second SSCH while the first is pending).
"""

from __future__ import annotations

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import State
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class BoxedBusy(Reference):
    name = "boxed-busy"
    expected_rule = "driver.retcode"

    def write_region(self, ctx: Context, sch: int, offset: int, data: bytes) -> int:
        if offset >> K.REGION_SHIFT != K.IO_REGION:
            return -K.EINVAL  # no async command region before v5.2
        if self.get_state(ctx, sch) != State.IDLE:
            return -K.EACCES
        return super().write_region(ctx, sch, offset, data)
