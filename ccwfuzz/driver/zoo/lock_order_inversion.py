"""``zoo:lock-order-inversion`` -- two paths take two locks in opposite orders.

Bug: the region write takes the device-set lock while holding ``io_mutex`` (to check the
device is still open), while close and reset take ``io_mutex`` under the device-set lock.
Interleaving: any run that exercises both paths records io_mutex -> dev_set->lock and
dev_set->lock -> io_mutex: a lockdep cycle, whether or not the two ever meet; when they
do meet (close draining while a write waits), it is a real deadlock.
Source: the vfio-ap hot-plug thread (matrix_dev->mdevs_lock vs. kvm->lock ordering).
Caught by: ``lock.order``.
Minimal: 3 ops (open; a region write; close).
"""

from __future__ import annotations

from ccwfuzz.driver.contract import Event
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class LockOrderInversion(Reference):
    name = "lock-order-inversion"
    expected_rule = "lock.order"

    def fsm_event(self, ctx: Context, sch: int, event: Event) -> None:
        if event == Event.IO_REQ:  # called with io_mutex held
            lock = self.k.open_lock[sch]
            lock.lock(ctx)
            lock.unlock(ctx)
        super().fsm_event(ctx, sch, event)
