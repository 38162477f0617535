"""``zoo:free-unrelated`` (spec E10) -- a halt/clear interrupt frees the new program.

Bug: the bottom half frees the cp on any final solicited interrupt in CP_PENDING, even
when that interrupt belongs to a halt or clear issued before the current program started.
Interleaving: CSCH on an idle subchannel; its interrupt is taken but ``io_todo`` is
delayed; a new SSCH reaches CP_PENDING; the clear's ``io_todo`` frees the new program
while the channel runs it (the dma-kmalloc corruption of the Jan-2020 report).
Source: Eric Farman, "vfio-ccw: Don't free channel programs for unrelated interrupts"
(Jan 2020 v1; evolved into E11-E13). The reference keeps its guard.
Caught by: ``driver.cp-free-final`` (and ``memory.poison-read``).
Minimal: 3 ops (open; HSCH; a new SSCH the halt's interrupt frees).
"""

from __future__ import annotations

from ccwfuzz.driver.reference import Reference


class FreeUnrelated(Reference):
    name = "free-unrelated"
    expected_rule = "driver.cp-free-final"

    def related(self, sch: int, w0: int) -> bool:
        return True
