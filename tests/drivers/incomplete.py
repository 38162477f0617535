"""Deliberately incomplete drivers: ``check-driver`` must name what each lacks."""

from __future__ import annotations

import struct

from ccwfuzz.arch import scsw
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class NoInitialState:
    """Declares nothing but two entry points (an author's first draft)."""

    name = "no-initial-state"

    def __init__(self, kernel: object) -> None:
        self.k = kernel

    def region_write(self, ctx: Context, sch: int, offset: int, data: bytes) -> int:
        return len(data)

    def todo(self, ctx: Context, sch: int) -> None:
        pass


class QuietDriver(Reference):
    """Works, but reports nothing: no FSM answers, and the bottom half signals the
    eventfd directly instead of through the toolkit (no ``RET``, ``TODO``, ``EVENTFD``
    records, so several rules cannot judge it)."""

    name = "quiet"

    def fsm_event(self, ctx: Context, sch: int, event: Event) -> None:
        before = self.get_state(ctx, sch)
        self._jump[before][event](ctx, sch, event)

    def todo_one(self, ctx: Context, sch: int) -> bool:
        self.todo_lock(ctx, sch)
        irb = self.take_irb(ctx, sch)
        if irb is None:
            self.todo_unlock(ctx, sch)
            return False
        w0 = struct.unpack_from(">I", irb)[0]
        before = self.get_state(ctx, sch)
        solicited = scsw.is_solicited(w0)
        if solicited:
            self.cp_update_scsw(sch, irb)
        freed = solicited and self.frees_cp(sch, w0, before)
        if freed:
            self.cp_free(ctx, sch)
        self.store_irb(ctx, sch, bytes(irb))
        if freed:
            self.set_state(ctx, sch, State.IDLE, Event.INTERRUPT)
        self.todo_unlock(ctx, sch)
        self.k.io_event[sch].signal(ctx)
        return True


class NeverKicks(Reference):
    """Issues SSCH on the channel subsystem directly, not through ``kernel.issue``:
    no instruction is recorded and the channel is never kicked, so the start is
    accepted and never completes."""

    name = "never-kicks"

    def instr(self, ctx: Context, sch: int, name: str, operand: bytes | None = None) -> int:
        from ccwfuzz.arch import sid

        ctx.point()
        with ctx.atomic():
            if name in ("ssch", "msch"):
                return int(getattr(self.css, name)(sid.make(sch), operand))
            return int(getattr(self.css, name)(sid.make(sch)))


class FailsToConstruct(Reference):
    """Its constructor raises (a bug in the driver's own set-up code)."""

    name = "fails-to-construct"

    def __init__(self, kernel: object) -> None:
        raise RuntimeError("no such device table")


class OverrunsTheRegion(Reference):
    """Copies the async command one word past the end of its region area."""

    name = "overruns-the-region"

    def async_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        from ccwfuzz.driver.kernel import D_CMD_REGION

        self.k.copy_in(ctx, sch, D_CMD_REGION, off, data + bytes(4))  # the bug
        return len(data)


class BadEvent(Reference):
    """Passes a made-up FSM event to ``set_state``: its records are dropped."""

    name = "bad-event"

    def set_state(self, ctx: Context, sch: int, new: State, event: int = 0xFF) -> None:
        super().set_state(ctx, sch, new, 77)
