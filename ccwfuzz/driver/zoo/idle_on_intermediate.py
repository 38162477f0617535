"""``zoo:idle-on-intermediate`` (spec E1) -- cp freed on any interrupt.

Bug: the bottom half frees the translated channel program and goes IDLE on every
solicited interrupt, intermediate ones included.
Interleaving: a CCW with the PCI flag raises intermediate status while the channel still
runs the program; ``io_todo`` frees the cp and sets IDLE; the channel fetches the next
CCW from freed (poisoned) memory, and a second SSCH is accepted meanwhile.
Fix: 50b7f1b7236b "vfio: ccw: only free cp on final interrupt" (2019, stable v4.12+).
Caught by: ``driver.cp-free-final`` (and ``memory.poison-read``).
Minimal: 2 ops (open; SSCH of a chain with a PCI CCW).
"""

from __future__ import annotations

from ccwfuzz.driver.contract import State
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class IdleOnIntermediate(Reference):
    name = "idle-on-intermediate"
    expected_rule = "driver.cp-free-final"

    def frees_cp(self, sch: int, w0: int, state: State) -> bool:
        return state == State.CP_PENDING

    def goes_idle(self, ctx: Context, sch: int, w0: int, freed: bool) -> bool:
        return freed
