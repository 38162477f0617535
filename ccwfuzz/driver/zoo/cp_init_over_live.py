"""``zoo:cp-init-over-live`` (spec E11) -- a second cp_init over a live program.

Bug: ``cp_init`` has no "already initialized" check, and (as before 2af7a834) the bottom
half goes IDLE on any final interrupt, so state and cp can disagree: IDLE with a live
program, and the next request builds a second program over it.
Interleaving: CSCH on an idle subchannel, a new SSCH reaches CP_PENDING, the clear's
``io_todo`` sets IDLE without freeing the new program; another SSCH then runs
``cp_init`` over the live one.
Fix: c6c82e0cd812 "vfio-ccw: Check initialized flag in cp_init()" (v5.13-rc).
Caught by: ``driver.one-cp``.
Minimal: 4 ops (open; SSCH; CSCH; SSCH after the clear).
"""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.kernel import D_CP_INIT
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class CpInitOverLive(Reference):
    name = "cp-init-over-live"
    expected_rule = "driver.one-cp"

    def goes_idle(self, ctx: Context, sch: int, w0: int, freed: bool) -> bool:
        return S.is_final(w0) and S.is_solicited(w0)

    def cp_init(self, ctx: Context, sch: int, guest_orb: bytes) -> int:
        self.w[self.k.d(sch) + D_CP_INIT] = 0  # no initialized check: overwrite
        return super().cp_init(ctx, sch, guest_orb)
