"""Our driver model: upstream's vfio-ccw design with one change of our own.

``EarlyFree`` frees the channel program on *any* solicited interruption while a start
is pending, to give the guest memory back sooner. That is the planted bug: an
intermediate interruption (a CCW with the PCI flag, spec C) is solicited but not final,
so the channel is still fetching CCWs from the program it just lost (spec E1).
ccwfuzz reports it as ``driver.cp-free-final``.
"""

from __future__ import annotations

from ccwfuzz.arch import scsw
from ccwfuzz.driver.contract import State
from ccwfuzz.driver.reference import Reference


class EarlyFree(Reference):
    """The reference driver, freeing the channel program as early as it can."""

    name = "early-free"
    expected_rule = "driver.cp-free-final"

    def frees_cp(self, sch: int, w0: int, state: State) -> bool:
        # Bug: no scsw.is_final(w0) check; intermediate status frees the program too.
        return scsw.is_solicited(w0) and state == State.CP_PENDING and self.related(sch, w0)


class Fixed(EarlyFree):
    """The fix: free on a final interruption only."""

    name = "early-free-fixed"

    def frees_cp(self, sch: int, w0: int, state: State) -> bool:
        return scsw.is_final(w0) and super().frees_cp(sch, w0, state)
