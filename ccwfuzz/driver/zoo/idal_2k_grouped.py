"""``zoo:idal-2k-grouped`` -- 2K IDAWs pinned as if each began a new 4K page.

Bug: pinning grouped the guest IDAWs into runs of contiguous pages assuming one IDAW
per 4-KiB page; with 2K IDAWs (format-1 IDAWs, or ORB H=1 with T=1, spec A.1) two IDAWs
share a page, so every IDAW after the first was mapped to the wrong page and the
channel's data landed in (or came from) the wrong guest memory.
Interleaving: none needed, but a specific input: an ORB with 2K IDAWs and a data CCW
whose bytes cross a 2K boundary (IDA or direct: a direct CCW gets a 2K IDAL too).
Fix: b5a73e8eb225 "vfio/ccw: don't group contiguous pages on 2K IDAWs" (v6.3).
Caught by: ``driver.translation-equivalence``.
Minimal: 2 ops (open; SSCH of an IDA chain).
"""

from __future__ import annotations

from ccwfuzz.driver.kernel import PAGE
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class Idal2kGrouped(Reference):
    name = "idal-2k-grouped"
    expected_rule = "driver.translation-equivalence"

    def pin_idal(
        self, ctx: Context, sch: int, idaws: list[int], block: int
    ) -> tuple[int, list[int]]:
        if block == PAGE or not idaws:
            return super().pin_idal(ctx, sch, idaws, block)
        first = idaws[0] // PAGE
        out = []
        for i, a in enumerate(idaws):  # IDAW i taken to be in page first + i
            host = self.k.pin(ctx, sch, (first + i) * PAGE)
            if host < 0:
                return host, []
            out.append(host + a % PAGE)
        return 0, out
