"""``zoo:remove-uaf`` (spec E17) -- remove frees the private state while it is used.

Bug: mdev remove frees the driver's private structure right away, while a request or an
interrupt may still be using it (upstream worked around it with a memset of the vfio
device and a ``release_comp`` wait, later fixed by splitting parent and private).
Interleaving: a worker is inside a region write (or the interrupt path runs) when
another removes the device; the private words are poisoned (0x6b) and the in-flight
path reads them.
Fix: 9e6f07cd1eaa, 008a011d6803, 06caaa27df8f, 3d62fe18b6a3, f4da83f7e3f0 (v6.2).
Caught by: ``memory.poison-read``.
Minimal: 3 ops (open; HSCH or SSCH; remove while it is in flight).
"""

from __future__ import annotations

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.kernel import D_REMOVED, DRV_WORDS, POISON_WORD
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class RemoveUaf(Reference):
    name = "remove-uaf"
    expected_rule = "memory.poison-read"

    def remove(self, ctx: Context, sch: int) -> int:
        d = self.k.d(sch)
        if self.w[d + D_REMOVED]:
            return -K.ENODEV
        ctx.point()
        for k in range(DRV_WORDS):  # kfree(private) with users in flight
            self.w[d + k] = POISON_WORD
        return 0
