"""``zoo:flush-under-spinlock`` (spec E4) -- ``flush_workqueue`` under ``sch->lock``.

Bug: the quiesce loop of close/remove waits for the work queue while still holding the
subchannel spin lock ("scheduling while atomic"); the bottom half it waits for may need
that very lock.
Interleaving: close while a start is running: disable fails (busy), quiesce halts the
I/O and waits, then calls ``flush_workqueue`` with ``sch->lock`` held.
Fix: cea5dde42a83 "vfio-ccw: Do not call flush_workqueue while holding the spinlock"
(v5.2, stable 4.14/4.19/5.0).
Caught by: ``lock.sleep-in-atomic``.
Minimal: 3 ops (open; SSCH; close while it runs).
"""

from __future__ import annotations

from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class FlushUnderSpinlock(Reference):
    name = "flush-under-spinlock"
    expected_rule = "lock.sleep-in-atomic"

    def flush_and_relock(self, ctx: Context, sch: int) -> None:
        self.k.sch_lock[sch].lock(ctx)
        self.k.flush_work(ctx)  # the bug: holding sch->lock
