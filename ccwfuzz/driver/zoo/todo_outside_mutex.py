"""``zoo:todo-outside-mutex`` (spec E18, D.2) -- the bottom half sets IDLE unlocked.

Bug: the v5.x ``io_todo`` reads the state, frees the channel program and, after
copying the IRB under ``io_mutex``, writes IDLE straight into ``private->state``,
outside the FSM and outside any lock. A NOT_OPER that arrived in between is
overwritten: a device that went away is IDLE again and takes requests.
Interleaving: a start ends and the bottom half reads CP_PENDING; before it writes IDLE,
the device goes not operational and the subchannel event sets NOT_OPER; the bottom
half then writes IDLE. The hardware event must fire inside the bottom half's window.
Fix: E18 (newest upstream): ``io_todo`` entirely under ``io_mutex``, state changes
only through the FSM; the reference keeps NOT_OPER terminal (README deviation 4).
Caught by: ``driver.notoper-final``.
Minimal: 3 ops (open; SSCH; not-operational while its interrupt is processed).
"""

from __future__ import annotations

import struct

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.contract import State
from ccwfuzz.driver.kernel import D_STATE
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context
from ccwfuzz.sync.history import NO_EVENT, Ev


class TodoOutsideMutex(Reference):
    name = "todo-outside-mutex"
    expected_rule = "driver.notoper-final"

    def todo_one(self, ctx: Context, sch: int) -> bool:
        irb = self.take_irb(ctx, sch)
        if irb is None:
            return False
        w0 = struct.unpack_from(">I", irb)[0]
        before = self.get_state(ctx, sch)  # unlocked (v5.x)
        freed = False
        if S.is_solicited(w0):
            self.cp_update_scsw(sch, irb)
            if S.is_final(w0) and before == State.CP_PENDING and self.related(sch, w0):
                self.cp_free(ctx, sch)
                freed = True
        deliver = before not in (State.NOT_OPER, State.STANDBY)
        if deliver:
            self.todo_lock(ctx, sch)  # io_mutex only around the copy to the region
            self.store_irb(ctx, sch, bytes(irb))
            self.todo_unlock(ctx, sch)
        if self.goes_idle(ctx, sch, w0, freed):
            ctx.point()
            with ctx.atomic():  # private->state = VFIO_CCW_STATE_IDLE
                old = self.w[self.k.d(sch) + D_STATE]
                self.w[self.k.d(sch) + D_STATE] = State.IDLE
                ctx.record(Ev.FSM, sch, old, State.IDLE, NO_EVENT)
        self.k.processed(ctx, sch, w0, before, freed)
        if deliver:
            self.k.signal_io(ctx, sch)
        return True
