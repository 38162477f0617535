"""``zoo:notoper-resurrect`` (spec E14) -- a subchannel event revives NOT_OPER.

Bug: on a machine check whose STSCH succeeds, the subchannel event handler moves a
NOT_OPER device back to IDLE/STANDBY ("all is well again") without a fresh probe.
Interleaving: the device goes away (NOT_OPER, cp scheduled for freeing); it comes back;
the event handler sets IDLE while nothing was re-initialized.
Fix: cffcc109fd68 "vfio/ccw: Do not change FSM state in subchannel event" (v6.0).
Caught by: ``driver.notoper-final``.
Minimal: 2 ops (open; a not-operational event (then a subchannel event)).
"""

from __future__ import annotations

from ccwfuzz.driver.contract import State
from ccwfuzz.driver.kernel import D_OPEN_COUNT, D_STATE
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context
from ccwfuzz.sync.history import Ev


class NotoperResurrect(Reference):
    name = "notoper-resurrect"
    expected_rule = "driver.notoper-final"

    def sch_event_present(self, ctx: Context, sch: int) -> None:
        if self.get_state(ctx, sch) == State.NOT_OPER:
            d = self.k.d(sch)
            new = State.IDLE if self.w[d + D_OPEN_COUNT] else State.STANDBY
            ctx.point()
            self.w[d + D_STATE] = new  # "all is well again" (bypasses the FSM)
            ctx.record(Ev.FSM, sch, State.NOT_OPER, new, 0xFF)
