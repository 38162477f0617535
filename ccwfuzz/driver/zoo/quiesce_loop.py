"""``zoo:quiesce-loop`` (spec E5) -- quiesce never tries to disable.

Bug: after waiting for a halt/clear, the quiesce loop restarts at cancel/halt instead of
first trying to disable; each retry issues a new HSCH, whose completion clears the
activity again, so close ping-pongs cancel and halt forever.
Interleaving: close while a start is running; disable fails; HSCH, its interrupt; the
loop issues HSCH again on the now idle subchannel, and again...
Fix: d1ffa760d22a "vfio-ccw: Prevent quiesce function going into an infinite loop"
(v5.2, stable).
Caught by: ``driver.close-liveness``.
Minimal: 3 ops (open; SSCH; close while it runs).
"""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.kernel import D_QUIESCING
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class QuiesceLoop(Reference):
    name = "quiesce-loop"
    expected_rule = "driver.close-liveness"

    def quiesce(self, ctx: Context, sch: int) -> int:
        lock, done = self.k.sch_lock[sch], self.k.quiesce[sch]
        ret = self.halt_again(ctx, sch)
        while ret == -K.EBUSY:
            self.w[self.k.d(sch) + D_QUIESCING] = 1
            done.reinit(ctx)
            lock.unlock(ctx)
            done.wait(ctx, timeout=True)
            self.w[self.k.d(sch) + D_QUIESCING] = 0
            self.k.flush_work(ctx)
            lock.lock(ctx)
            ret = self.halt_again(ctx, sch)  # the bug: no disable attempt in between
        return self.disable(ctx, sch)

    def halt_again(self, ctx: Context, sch: int) -> int:
        if self.instr(ctx, sch, "xsch") == 0:
            return 0
        if not self.css.scsw0(sch) & S.FC_HALT:
            cc = self.instr(ctx, sch, "hsch")
            if cc == 0:
                self.note_cancel(sch)
            return -K.EBUSY if cc in (0, 1, 2) else -K.ENODEV
        return -K.EBUSY
