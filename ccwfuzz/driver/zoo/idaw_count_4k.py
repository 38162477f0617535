"""``zoo:idaw-count-4k`` -- IDAWs counted in 4K steps for a 2K IDAL.

Bug: ``ccw_count_idaws`` sized every IDAL as format-2 4K IDAWs; with 2K IDAWs (format-1
IDAWs, or ORB T=1, spec A.1) a transfer that crosses a 2K boundary inside one page
needs one IDAW more than that, so the host IDAL is short and the channel takes the next
IDAW from whatever follows it: another CCW's IDAL, or zeros.
Interleaving: none needed, but a specific input: an ORB with 2K IDAWs and a data CCW
that crosses a 2K boundary without crossing as many 4K ones (e.g. 0x200 bytes from
page + 0x700).
Fix: 6a6dc14ac847 "vfio/ccw: calculate number of IDAWs regardless of format" (v6.3).
Caught by: ``memory.dma-bounds`` (and ``driver.translation-equivalence``).
Minimal: 2 ops (open; SSCH of an IDA chain).
"""

from __future__ import annotations

from ccwfuzz.driver.kernel import PAGE
from ccwfuzz.driver.reference import Reference


class IdawCount4k(Reference):
    name = "idaw-count-4k"
    expected_rule = "memory.dma-bounds"

    def idaw_count(self, first: int, count: int, block: int) -> int:
        return super().idaw_count(first, count, PAGE)
