"""The FSM (upstream ``vfio_ccw_fsm.c``): the (state, event) table of spec D.1 and its
actions: requests from the regions, interruptions, open and close."""

from __future__ import annotations

import struct
from collections.abc import Callable

from ccwfuzz.arch import orb as O
from ccwfuzz.arch import schib as P
from ccwfuzz.arch import scsw as S
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import D_CMD_REGION, D_IO_REGION, D_NOTOPER_WORK, D_QUIESCING, Kernel
from ccwfuzz.driver.reference.drv import Subchannel
from ccwfuzz.sync import Context

Action = Callable[[Context, int, Event], None]


class Fsm(Subchannel):
    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self._jump = self.jumptable()

    def fsm_event(self, ctx: Context, sch: int, event: Event) -> None:
        """``vfio_ccw_fsm_event``: dispatch on (state, event), spec D.1 table. Requests
        record the state they met and the return code they left (``RET``)."""
        before = self.get_state(ctx, sch)
        action = self._jump[before][event]
        action(ctx, sch, event)
        if event == Event.IO_REQ:
            self.k.answer(ctx, event, sch, self.io_ret(sch), before)
        elif event == Event.ASYNC_REQ:
            self.k.answer(ctx, event, sch, self.cmd_ret(sch), before)

    def jumptable(self) -> dict[State, dict[Event, Callable[[Context, int, Event], None]]]:
        nop, notoper = self.fsm_nop, self.fsm_notoper
        return {
            State.NOT_OPER: {Event.NOT_OPER: self.fsm_notoper_again,
                             Event.IO_REQ: self.fsm_io_error,
                             Event.ASYNC_REQ: self.fsm_async_error,
                             Event.INTERRUPT: self.fsm_disabled_irq, Event.OPEN: nop,
                             Event.CLOSE: nop},
            State.STANDBY: {Event.NOT_OPER: notoper, Event.IO_REQ: self.fsm_io_error,
                            Event.ASYNC_REQ: self.fsm_async_error,
                            Event.INTERRUPT: self.fsm_disabled_irq, Event.OPEN: self.fsm_open,
                            Event.CLOSE: notoper},
            State.IDLE: {Event.NOT_OPER: notoper, Event.IO_REQ: self.fsm_io_request,
                         Event.ASYNC_REQ: self.fsm_async_request, Event.INTERRUPT: self.fsm_irq,
                         Event.OPEN: notoper, Event.CLOSE: self.fsm_close},
            State.CP_PROCESSING: {Event.NOT_OPER: notoper, Event.IO_REQ: self.fsm_io_retry,
                                  Event.ASYNC_REQ: self.fsm_async_retry,
                                  Event.INTERRUPT: self.fsm_irq, Event.OPEN: notoper,
                                  Event.CLOSE: self.fsm_close},
            State.CP_PENDING: {Event.NOT_OPER: notoper, Event.IO_REQ: self.fsm_io_busy,
                               Event.ASYNC_REQ: self.fsm_async_request,
                               Event.INTERRUPT: self.fsm_irq, Event.OPEN: notoper,
                               Event.CLOSE: self.fsm_close},
        }  # fmt: skip

    def fsm_nop(self, ctx: Context, sch: int, event: Event) -> None:
        pass

    def fsm_io_error(self, ctx: Context, sch: int, event: Event) -> None:
        self.set_io_ret(sch, -K.EIO)

    def fsm_io_busy(self, ctx: Context, sch: int, event: Event) -> None:
        self.set_io_ret(sch, -K.EBUSY)

    def fsm_io_retry(self, ctx: Context, sch: int, event: Event) -> None:
        self.set_io_ret(sch, -K.EAGAIN)

    def fsm_async_error(self, ctx: Context, sch: int, event: Event) -> None:
        self.set_cmd_ret(sch, -K.EIO)

    def fsm_async_retry(self, ctx: Context, sch: int, event: Event) -> None:
        self.set_cmd_ret(sch, -K.EAGAIN)

    def fsm_disabled_irq(self, ctx: Context, sch: int, event: Event) -> None:
        """An interruption while not open: disable the subchannel again (E16); nothing
        reaches userspace. A program still allocated (a start that raced NOT_OPER,
        deviation 4) is freed by the deferred work once it ended: a final interruption,
        or the subchannel is disabled and can present nothing more."""
        disabled = self.disable(ctx, sch) == 0  # nothing more can be presented
        w0 = self.stashed_w0(sch)
        final = S.is_final(w0) and S.is_solicited(w0)
        if self.k.cp_live(sch) and (final or disabled):
            self.fsm_notoper_again(ctx, sch, event)

    def fsm_notoper(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_notoper`` (L-new): NOT_OPER now; the cp is freed later by work that
        takes ``io_mutex`` (``notoper_work``, E18), never from IRQ or spin-lock context
        and never under a request that is still building it."""
        self.set_state(ctx, sch, State.NOT_OPER, event)
        if self.k.cp_live(sch):
            self.w[self.k.d(sch) + D_NOTOPER_WORK] = 1
            self.k.queue_work(ctx, sch)

    def fsm_notoper_again(self, ctx: Context, sch: int, event: Event) -> None:
        """NOT_OPER in NOT_OPER: a nop in D.1; here it also frees a cp that a start
        racing the first NOT_OPER left behind (possible only because NOT_OPER is
        terminal in the reference, deviation 4)."""
        if self.k.cp_live(sch):
            self.w[self.k.d(sch) + D_NOTOPER_WORK] = 1
            self.k.queue_work(ctx, sch)

    def fsm_io_request(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_io_request`` (spec D.1)."""
        if self.irb_queue_full(sch):  # deviation 5: never more final statuses than kept
            self.set_io_ret(sch, -K.EBUSY)
            return
        self.set_state(ctx, sch, State.CP_PROCESSING, event)
        region = self.k.bytes_at(sch, D_IO_REGION, K.IO_REGION_SIZE)
        scsw0 = struct.unpack_from(">I", region, K.SCSW_AREA)[0]
        ret = -K.EOPNOTSUPP
        if scsw0 & S.FC_START:
            orb = region[K.ORB_AREA : K.ORB_AREA + 12]
            ctrl = struct.unpack_from(">I", orb, 4)[0]
            if ctrl & O.B:
                ret = -K.EOPNOTSUPP
            else:
                ret = self.cp_init(ctx, sch, orb)
                if ret == 0:
                    ret = self.fsm_io_helper(ctx, sch, orb)
                    if ret:
                        self.cp_free(ctx, sch)
                    else:
                        self.set_io_ret(sch, 0)
                        return
        elif not scsw0 & (S.FC_HALT | S.FC_CLEAR):
            # No function: nothing is done, and ret_code keeps what userspace wrote
            # (spec D.1, hazard H4); the error path below still restores IDLE.
            ret = self.io_ret(sch)
        self.set_io_ret(sch, ret)
        self.io_request_error(ctx, sch)

    def io_request_error(self, ctx: Context, sch: int) -> None:
        """Every error path ends with IDLE inside the FSM (since 6c02ac4c, E12); a
        NOT_OPER that arrived meanwhile sticks (``set_state``, deviation 4)."""
        self.set_state(ctx, sch, State.IDLE, Event.IO_REQ)

    def fsm_io_helper(self, ctx: Context, sch: int, guest_orb: bytes) -> int:
        """``fsm_io_helper``: issue SSCH under the subchannel lock; CP_PENDING before the
        lock is released (E19)."""
        _intparm, ctrl, _ = struct.unpack(">III", guest_orb)
        lock = self.k.sch_lock[sch]
        lock.lock(ctx)
        try:
            host = struct.pack(">III", sch, self.cp_get_orb(sch, ctrl), self.k.cp_host(sch))
            cc = self.instr(ctx, sch, "ssch", host)
            if cc == 0:
                self.set_state(ctx, sch, State.CP_PENDING, Event.IO_REQ)
                return 0
            if cc in (1, 2):
                return -K.EBUSY
            return -K.ENODEV if not self.css.pmcw_word(sch, 1) & P.V else -K.EACCES
        finally:
            lock.unlock(ctx)

    def fsm_async_request(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_async_request``: HSCH/CSCH under the subchannel lock; state unchanged."""
        if self.irb_queue_full(sch):  # deviation 5, as in fsm_io_request
            self.set_cmd_ret(sch, -K.EBUSY)
            return
        cmd = struct.unpack(">I", self.k.bytes_at(sch, D_CMD_REGION, 4))[0]
        lock = self.k.sch_lock[sch]
        lock.lock(ctx)
        try:
            if cmd == K.ASYNC_CMD_HSCH:
                cc = self.instr(ctx, sch, "hsch")
                ret = {0: 0, 1: -K.EBUSY, 2: -K.EBUSY}.get(cc, -K.ENODEV)
            elif cmd == K.ASYNC_CMD_CSCH:
                cc = self.instr(ctx, sch, "csch")
                ret = 0 if cc == 0 else -K.ENODEV
            else:
                cc, ret = -1, -K.EINVAL
            if cc == 0:
                self.note_cancel(sch)
        finally:
            lock.unlock(ctx)
        self.set_cmd_ret(sch, ret)

    def fsm_irq(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_irq``: keep the IRB in the single private slot (H1), queue the bottom
        half, complete a waiting quiesce."""
        self.k.queue_work(ctx, sch)
        if self.w[self.k.d(sch) + D_QUIESCING]:
            self.k.quiesce[sch].complete(ctx)

    def fsm_open(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_open``: enable with the vfio ISC; IDLE, or NOT_OPER on failure."""
        lock = self.k.sch_lock[sch]
        lock.lock(ctx)
        try:
            if self.get_state(ctx, sch) != State.STANDBY:  # NOT_OPER arrived meanwhile
                return
            ok = self.modify(ctx, sch, enable=True) == 0
            if ok:
                self.set_state(ctx, sch, State.IDLE, event)
        finally:
            lock.unlock(ctx)
        if not ok:
            self.fsm_event(ctx, sch, Event.NOT_OPER)

    def fsm_close(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_close`` (L-new): disable, quiescing if busy; STANDBY and cp freed under
        ``io_mutex``; NOT_OPER if the subchannel is gone."""
        lock = self.k.sch_lock[sch]
        lock.lock(ctx)
        w1 = self.css.pmcw_word(sch, 1)
        if not w1 & P.ENABLED or not w1 & P.V:
            lock.unlock(ctx)
            self.fsm_event(ctx, sch, Event.NOT_OPER)
            return
        ret = self.disable(ctx, sch)
        if ret == -K.EBUSY:
            ret = self.quiesce(ctx, sch)
        if ret:
            lock.unlock(ctx)
            self.fsm_event(ctx, sch, Event.NOT_OPER)
            return
        self.close_flush(ctx, sch)
        self.set_state(ctx, sch, State.STANDBY, event)  # (a NOT_OPER meanwhile sticks)
        lock.unlock(ctx)
        self.close_free_cp(ctx, sch)

    def close_flush(self, ctx: Context, sch: int) -> None:
        """Let a bottom half already queued for the last interruption finish before
        STANDBY (entered and left with the subchannel lock held). Deviation from
        upstream (README, "reference"): otherwise that bottom half, which checked
        CP_PENDING under ``io_mutex`` (which close does not take), frees the cp and
        sets IDLE after STANDBY (``zoo:close-races-todo``)."""
        lock = self.k.sch_lock[sch]
        lock.unlock(ctx)
        self.k.flush_work(ctx)
        lock.lock(ctx)

    def close_free_cp(self, ctx: Context, sch: int) -> None:
        mutex = self.k.io_mutex[sch]
        mutex.lock(ctx)
        self.cp_free(ctx, sch)
        mutex.unlock(ctx)
