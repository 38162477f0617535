"""``zoo:global-serialize`` -- one write lock for all devices.

Bug: the I/O region write takes a single lock shared by every vfio-ccw device and
answers -EBUSY when any device is writing, so a start on subchannel B fails because
subchannel A is busy.
Interleaving: worker 0 is inside a region write on subchannel 0 (holding the lock);
worker 1's SSCH write on subchannel 1 finds the lock taken and gets -EBUSY (guest cc 2).
Source: the "global write serialization across devices" seed thread; fixed upstream by
making ``io_mutex`` per device (4f76617378ee "vfio-ccw: protect the I/O region").
Caught by: ``isolation.cross-subchannel``.
Minimal: 3 ops (open; SSCHs on two subchannels at once).
"""

from __future__ import annotations

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class GlobalSerialize(Reference):
    name = "global-serialize"
    expected_rule = "isolation.cross-subchannel"

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        lock = self.k.global_write
        if not lock.trylock(ctx):
            return -K.EBUSY
        try:
            return super().io_write(ctx, sch, off, data)
        finally:
            lock.unlock(ctx)
