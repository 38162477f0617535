"""``zoo:irq-config-read`` -- the interrupt handler takes the lock it holds.

Bug: on unsolicited (attention) status the interrupt handler starts a configuration
read that takes the subchannel lock, which the handler already holds: a self-deadlock.
Interleaving: an attention interrupt arrives; ``irq`` holds ``sch->lock`` and calls the
config read, which spins on ``sch->lock`` forever.
Source: the virtio-ccw config-change thread (config read from interrupt context).
Caught by: ``lock.double-acquire`` (and ``sched.deadlock``).
Minimal: 2 ops (open; an interrupt (a SSCH or an unsolicited status)).
"""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.contract import Event
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class IrqConfigRead(Reference):
    name = "irq-config-read"
    expected_rule = "lock.double-acquire"

    def fsm_irq(self, ctx: Context, sch: int, event: Event) -> None:
        super().fsm_irq(ctx, sch, event)
        w0 = self.stashed_w0(sch)
        if not S.is_solicited(w0):
            self.read_config(ctx, sch)

    def read_config(self, ctx: Context, sch: int) -> None:
        lock = self.k.sch_lock[sch]
        lock.lock(ctx)  # already held by the interrupt handler
        try:
            self.css.stsch(sch | 0x10000)
        finally:
            lock.unlock(ctx)
