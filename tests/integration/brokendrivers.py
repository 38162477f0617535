"""Tiny deliberately broken drivers for tests (loaded by ``module:Class``)."""

from __future__ import annotations

from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class ForgetsUnlock(Reference):
    """Returns from the I/O region write without releasing ``io_mutex``: the next read
    of the region waits forever (a deadlock the scheduler must report)."""

    name = "forgets-unlock"

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        mutex = self.k.io_mutex[sch]
        if not mutex.trylock(ctx):
            return -11
        self.copy_in(ctx, sch, 16, off, data)
        return len(data)


class CrashesOnRead(Reference):
    """Raises inside the region read handler (an actor crash)."""

    name = "crashes-on-read"

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        raise RuntimeError("boom")


class FreeOnAnyInterrupt(Reference):
    """E1 brought back: the bottom half frees the cp and goes IDLE on every solicited
    interrupt, intermediate ones included."""

    name = "free-on-any"

    def todo(self, ctx: Context, sch: int) -> None:
        from ccwfuzz.arch import scsw as S
        from ccwfuzz.driver.contract import State

        irb = self.take_irb(ctx, sch)
        if irb is None:
            return
        mutex = self.k.io_mutex[sch]
        mutex.lock(ctx)
        w0 = int.from_bytes(irb[:4], "big")
        if S.is_solicited(w0) and self.get_state(ctx, sch) == State.CP_PENDING:
            self.cp_free(ctx, sch)
            self.set_state(ctx, sch, State.IDLE)
        self.store_irb(ctx, sch, bytes(irb))
        mutex.unlock(ctx)
        self.k.io_event[sch].signal(ctx)


class IdleAfterStart(Reference):
    """The request path leaves IDLE (not CP_PENDING) after a successful start, and
    cp_init has no "already initialized" check (E11): a second start overwrites the
    live channel program."""

    name = "idle-after-start"

    def set_state(self, ctx: Context, sch: int, new, event: int = 0xFF) -> None:  # type: ignore[no-untyped-def]
        from ccwfuzz.driver.contract import State

        super().set_state(ctx, sch, State.IDLE if new == State.CP_PENDING else new, event)

    def cp_init(self, ctx: Context, sch: int, guest_orb: bytes) -> int:
        self.w[self.k.d(sch) + 1] = 0  # forget the live cp (D_CP_INIT)
        return super().cp_init(ctx, sch, guest_orb)


class WrongBusyCode(Reference):
    """IO_REQ in CP_PENDING answers -EAGAIN instead of -EBUSY (spec D.1)."""

    name = "wrong-busy-code"

    def fsm_io_busy(self, ctx: Context, sch: int, event) -> None:  # type: ignore[no-untyped-def]
        self.set_io_ret(sch, -11)


class UnlockedRegion(Reference):
    """E2 brought back: no io_mutex around region accesses and the IRB copy."""

    name = "unlocked-region"

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        if off + len(data) > 124:
            return -22
        self.copy_in(ctx, sch, 16, off, data)
        self.fsm_event(ctx, sch, __import__("ccwfuzz").driver.Event.IO_REQ)
        ret = self.io_ret(sch)
        return ret if ret else len(data)

    def read_region(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        return self.copy_out(ctx, sch, 16, 0, 124)[:n]

    def todo(self, ctx: Context, sch: int) -> None:
        irb = self.take_irb(ctx, sch)
        if irb is None:
            return
        self.store_irb(ctx, sch, bytes(irb))
        self.k.io_event[sch].signal(ctx)


class EndlessRead(Reference):
    """The region read never returns (a livelock: only the step budget ends it)."""

    name = "endless-read"

    def read_region(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        while True:
            ctx.point()


class ReadsTheClock(Reference):
    """Uncontrolled nondeterminism: every region read records a value taken from the
    clock, which no schedule controls, so a replay's history differs from the run it
    replays."""

    name = "reads-the-clock"

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        import time

        from ccwfuzz.sync.history import Ev

        ctx.record(Ev.TODO, sch, time.perf_counter_ns() & 0xFFFF)
        return super().region_read(ctx, sch, offset, n)


class FreeModeStall(Reference):
    """Sleeps (passing no scheduling point) in the region read handler while running
    free, until the run is stopped: a free run ends only at its wall-clock limit, as
    a run on an overloaded machine may."""

    name = "free-mode-stall"

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        import time

        while not ctx.controlled and not ctx.stopping():
            time.sleep(0.001)
        return super().region_read(ctx, sch, offset, n)


class FreeModeSpin(Reference):
    """Spins through scheduling points in the region read handler while running free:
    a livelock the free-mode step count must catch, whatever the machine's load."""

    name = "free-mode-spin"

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        while not ctx.controlled:
            ctx.point()
        return super().region_read(ctx, sch, offset, n)


class IgnoresRetCode(Reference):
    """The I/O region write returns the byte count whatever the FSM answered: a
    return code lost between the FSM and userspace (only the boundary sees it)."""

    name = "ignores-retcode"

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        super().io_write(ctx, sch, off, data)
        return len(data)


class RetAfterUnlock(Reference):
    """Reads ``ret_code`` after dropping ``io_mutex``: a racing request's answer can
    reach this request's caller (held out of the zoo: found only at the boundary)."""

    name = "ret-after-unlock"

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        from ccwfuzz.driver.contract import Event

        mutex = self.k.io_mutex[sch]
        if not mutex.trylock(ctx):
            return -11
        try:
            self.copy_in(ctx, sch, 16, off, data)
            self.fsm_event(ctx, sch, Event.IO_REQ)
        finally:
            mutex.unlock(ctx)
        ctx.point()
        ret = self.io_ret(sch)
        return ret if ret else len(data)


class UntranslatedCpa(Reference):
    """The bottom half leaves the status's CCW address pointing into the host
    program (``cp_update_scsw`` forgotten)."""

    name = "untranslated-cpa"

    def cp_update_scsw(self, sch: int, irb: bytearray) -> None:
        pass


class OpenLeavesStandby(Reference):
    """``fsm_open`` enables the subchannel and then puts the state back to STANDBY."""

    name = "open-leaves-standby"

    def fsm_open(self, ctx: Context, sch: int, event) -> None:  # type: ignore[no-untyped-def]
        from ccwfuzz.driver.contract import State

        super().fsm_open(ctx, sch, event)
        self.set_state(ctx, sch, State.STANDBY, event)
