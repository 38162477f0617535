"""``zoo:flush-under-spinlock`` (spec E4) -- ``flush_workqueue`` under ``sch->lock``.

Bug: the quiesce loop of close/remove waits for the work queue while still holding the
subchannel spin lock ("scheduling while atomic"); the bottom half it waits for may need
that very lock.
Interleaving: close while a start is running: disable fails (busy), quiesce halts the
I/O and waits, then calls ``flush_workqueue`` with ``sch->lock`` held.
Fix: cea5dde42a83 "vfio-ccw: Do not call flush_workqueue while holding the spinlock"
(v5.2, stable 4.14/4.19/5.0).
Caught by: ``lock.sleep-in-atomic``.
"""

from __future__ import annotations

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.kernel import D_QUIESCING
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class FlushUnderSpinlock(Reference):
    name = "flush-under-spinlock"
    expected_rule = "lock.sleep-in-atomic"

    def quiesce(self, ctx: Context, sch: int) -> int:
        lock, done = self.k.sch_lock[sch], self.k.quiesce[sch]
        ret = -K.EBUSY
        while ret == -K.EBUSY:
            ret = self.cancel_halt_clear(ctx, sch)
            if ret == -K.ENODEV:
                break
            self.w[self.k.d(sch) + D_QUIESCING] = 1
            done.reinit(ctx)
            lock.unlock(ctx)
            if ret == -K.EBUSY:
                done.wait(ctx, timeout=True)
            lock.lock(ctx)
            self.w[self.k.d(sch) + D_QUIESCING] = 0
            self.k.flush_work(ctx)  # the bug: still holding sch->lock
            ret = self.disable(ctx, sch)
        return ret
