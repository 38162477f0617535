"""``zoo:scsw-end-of-chain`` -- the CCW address just past the chain is not translated.

Bug: ``cp_update_scsw`` looked for the status CCW address among the host CCWs
themselves, not one past the last: after a program ends normally the address is the
last CCW + 8 (spec A.2 word 1), so the guest got a host address.
Interleaving: none needed; any start that ends at the last CCW of a segment.
Fix: "s390/cio: Update SCSW if it points to the end of the chain" (Eric Farman, v5.3;
commit id not verified).
Caught by: ``driver.translation-equivalence`` (and ``driver.irb-translated``).
Minimal: 2 ops (open; SSCH of the chain).
"""

from __future__ import annotations

import struct

from ccwfuzz.driver.reference import Reference


class ScswEndOfChain(Reference):
    name = "scsw-end-of-chain"
    expected_rule = "driver.translation-equivalence"

    def cp_update_scsw(self, sch: int, irb: bytearray) -> None:
        if not self.k.cp_live(sch):
            return
        cpa = struct.unpack_from(">I", irb, 4)[0]
        for guest, host, count in self.segments(sch):
            if host <= cpa < host + 8 * count:  # the end is left out
                struct.pack_into(">I", irb, 4, guest + (cpa - host))
                return
