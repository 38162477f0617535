"""``zoo:idle-outside-fsm`` (spec E12) -- error path sets IDLE in the write handler.

Bug: when a request fails, the write handler sets IDLE after the FSM returned, outside
the FSM and racing the interrupt path.
Interleaving: a start fails (e.g. -EBUSY); the FSM stays in CP_PROCESSING until the
handler gets around to setting IDLE, and a concurrent request meets CP_PROCESSING
(-EAGAIN) or the interrupt path meets a state the FSM did not set.
Fix: 6c02ac4c9211 "vfio-ccw: Reset FSM state to IDLE inside FSM" (v5.13-rc).
Caught by: ``driver.retcode`` (a failed request did not return the FSM to IDLE itself).
Minimal: 2 ops (open; a failing SSCH).
"""

from __future__ import annotations

from ccwfuzz.driver.contract import State
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class IdleOutsideFsm(Reference):
    name = "idle-outside-fsm"
    expected_rule = "driver.retcode"

    def io_request_error(self, ctx: Context, sch: int) -> None:
        pass  # the FSM leaves the state alone...

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        ret = super().io_write(ctx, sch, off, data)
        if ret < 0 and self.state(sch) == State.CP_PROCESSING:
            self.set_state(ctx, sch, State.IDLE)  # ...and the handler sets it, late
        return ret
