"""``zoo:single-irb-slot`` (spec D.4 H1) -- upstream's one private IRB slot.

Bug: the top half copies every interruption's IRB into the single ``private->irb`` slot
and queues ``io_todo``, a no-op when it is already queued. When an attention (or any
second status) arrives after a start's or halt's final status but before the bottom
half ran, the final IRB is overwritten: ``io_todo`` sees only the unsolicited status,
frees nothing and leaves the FSM in CP_PENDING with the channel program live, until
close. Every later start answers -EBUSY.
Interleaving: SSCH accepted (CP_PENDING); the channel presents the final status and the
top half stores it; an attention interruption arrives and the top half overwrites the
slot; the work queue runs ``io_todo`` once, on the attention.
Source: upstream ``vfio_ccw_sch_irq``/``fsm_irq`` (L-cur); a candidate upstream race, the
reference's deviation 5 (README "reference").
Caught by: ``driver.final-delivered``.
Minimal: 3 ops (open; SSCH; a second interrupt before the first IRB is read).
"""

from __future__ import annotations

from ccwfuzz.driver.kernel import D_HALT_GEN, D_IRB, D_IRB_AIM, D_IRB_VALID, IRB_SIZE
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class SingleIrbSlot(Reference):
    name = "single-irb-slot"
    expected_rule = "driver.final-delivered"

    def stash_irb(self, ctx: Context, sch: int, irb: bytes) -> None:
        d = self.k.d(sch)
        self.k.set_bytes(sch, D_IRB, 0, irb)  # overwrites an IRB not yet processed
        self.w[d + D_IRB_AIM] = self.w[d + D_HALT_GEN]
        self.w[d + D_IRB_VALID] = 1

    def stashed_w0(self, sch: int) -> int:
        return int.from_bytes(self.k.bytes_at(sch, D_IRB, 4), "big")

    def take_irb(self, ctx: Context, sch: int) -> bytearray | None:
        lock, d = self.k.sch_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if not self.w[d + D_IRB_VALID]:
                return None
            self.w[d + D_IRB_VALID] = 0
            return bytearray(self.k.bytes_at(sch, D_IRB, IRB_SIZE))
        finally:
            lock.unlock(ctx)
