"""``zoo:empty-transfer-pinned`` -- guest pages pinned for CCWs that move no data.

Bug: every CCW with a count had its pages pinned, also a NOP and a skip on an input
command, which move no data (spec A.6); when such a CCW names an address outside guest
memory, pinning fails and the start is refused with -EFAULT, though the channel would
never have touched that address.
Interleaving: none needed; a NOP, or a READ/SENSE with SKP, with a count and a data
address beyond guest memory.
Fix: "s390/cio: Don't pin vfio pages for empty transfers" (Eric Farman, v5.3; commit
id not verified).
Caught by: ``driver.translation-equivalence`` (a false -EFAULT).
Minimal: 2 ops (open; SSCH of the chain).
"""

from __future__ import annotations

from ccwfuzz.arch import ccw as C
from ccwfuzz.driver.reference import Reference


class EmptyTransferPinned(Reference):
    name = "empty-transfer-pinned"
    expected_rule = "driver.translation-equivalence"

    def moves_data(self, c: C.Ccw1, performs: set[int]) -> bool:
        return c.count > 0
