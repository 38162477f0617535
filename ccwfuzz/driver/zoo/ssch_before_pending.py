"""``zoo:ssch-before-pending`` (spec E19) -- SSCH before the state shows CP_PENDING.

Bug: the start is issued without the subchannel lock held across "SSCH + state :=
CP_PENDING", so the interrupt for the start can be handled while the FSM still says
CP_PROCESSING: the bottom half does not recognise it as the end of the program.
Interleaving: SSCH cc 0; the channel completes the (short) program; the top and bottom
halves run; only then the request sets CP_PENDING, which nothing will ever end.
Fix: "vfio: ccw: process ssch with interrupts disabled" (2018; id not verified).
Caught by: ``driver.pending-before-irq``.
Minimal: 2 ops (open; SSCH).
"""

from __future__ import annotations

import struct

from ccwfuzz.arch import orb as O
from ccwfuzz.arch import schib as P
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import D_CP_HOST
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class SschBeforePending(Reference):
    name = "ssch-before-pending"
    expected_rule = "driver.pending-before-irq"

    def fsm_io_helper(self, ctx: Context, sch: int, guest_orb: bytes) -> int:
        _, ctrl, _ = struct.unpack(">III", guest_orb)
        if not ctrl & O.LPM:
            ctrl |= (self.css.pmcw_word(sch, 2) & P.LPM) >> 16
        ctrl = (ctrl & ~(O.KEY | O.RESERVED | O.D)) | O.F
        host = struct.pack(">III", sch, ctrl, self.w[self.k.d(sch) + D_CP_HOST])
        cc = self.instr(ctx, sch, "ssch", host)  # the bug: no sch->lock around it
        if cc == 0:
            self.set_state(ctx, sch, State.CP_PENDING, Event.IO_REQ)
            return 0
        return -K.EBUSY if cc in (1, 2) else -K.ENODEV
