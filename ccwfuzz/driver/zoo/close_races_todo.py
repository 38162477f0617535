"""``zoo:close-races-todo`` (spec E18, D.1) -- close does not wait for the bottom half.

Bug: ``fsm_close`` disables the subchannel, sets STANDBY and frees the channel program,
but does not wait for a bottom half already queued for the last interruption. That
bottom half checked CP_PENDING under ``io_mutex``, which close does not take for the
state change: it then frees the cp, delivers the IRB to a closed device and sets IDLE
after STANDBY, so a closed device accepts the next start.
Interleaving: a start ends; the top half stashes its final status and queues
``io_todo``; the bottom half takes ``io_mutex`` and reads CP_PENDING, and lags there
while a worker's close runs through disable and STANDBY; the bottom half then frees and
sets IDLE. A narrow window: one actor lagging through another's whole operation.
Fix: upstream closes the window with ``io_mutex`` around the whole bottom half and the
close path (E18); the reference also flushes the work queue before STANDBY.
Caught by: ``driver.lifecycle``.
Minimal: 3 ops (open; SSCH; close (or reset) while its interrupt is queued).
"""

from __future__ import annotations

from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class CloseRacesTodo(Reference):
    name = "close-races-todo"
    expected_rule = "driver.lifecycle"

    def close_flush(self, ctx: Context, sch: int) -> None:
        pass  # STANDBY right after disable, with the bottom half still queued
