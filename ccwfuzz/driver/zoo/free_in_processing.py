"""``zoo:free-in-processing`` (spec E8) -- cp freed whatever the state.

Bug: the bottom half frees the cp (and goes IDLE) on any final interrupt, even while
another thread is building a new channel program in CP_PROCESSING.
Interleaving: a clear or halt ends; before its ``io_todo`` runs, a new request moves to
CP_PROCESSING and allocates its cp; ``io_todo`` frees that cp under the request, which
then issues SSCH on freed memory.
Fix: f4c9939433bd "vfio-ccw: Don't call cp_free if we are processing a channel program"
(v5.3).
Caught by: ``driver.cp-free-final``.
Minimal: 3 ops (open; HSCH; SSCH built while the halt completes).
"""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.contract import State
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class FreeInProcessing(Reference):
    name = "free-in-processing"
    expected_rule = "driver.cp-free-final"

    def frees_cp(self, sch: int, w0: int, state: State) -> bool:
        return S.is_final(w0)

    def goes_idle(self, ctx: Context, sch: int, w0: int, freed: bool) -> bool:
        return S.is_final(w0)
