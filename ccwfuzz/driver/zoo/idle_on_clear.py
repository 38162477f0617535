"""``zoo:idle-on-clear`` (spec E13) -- IDLE on any final interrupt.

Bug: the bottom half goes IDLE on every final interrupt, also when it did not free the
channel program (the final interrupt of a clear or halt issued earlier).
Interleaving: CPU1: CSCH, clear interrupt, ``io_todo`` pending; CPU2: a new SSCH reaches
CP_PENDING with a live cp; CPU1's ``io_todo`` sets IDLE: FSM and cp out of sync, and a
second SSCH would be accepted.
Fix: 2af7a834a435 "vfio-ccw: Serialize FSM IDLE state with I/O completion" (v5.13-rc3).
Caught by: ``driver.idle-no-cp``.
Minimal: 3 ops (open; SSCH; CSCH).
"""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class IdleOnClear(Reference):
    name = "idle-on-clear"
    expected_rule = "driver.idle-no-cp"

    def goes_idle(self, ctx: Context, sch: int, w0: int, freed: bool) -> bool:
        return S.is_final(w0) and S.is_solicited(w0)
