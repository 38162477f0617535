"""``reference`` -- today's upstream vfio-ccw design (spec D.1, D.4, with the newest
``io_todo`` of E18), the driver every oracle must find clean.

Each method names the kernel function it models. Scheduling points sit where the kernel
can be preempted or raced: every lock operation, each 32-byte chunk of a region copy,
every FSM state read and write, cp allocation and free, every instruction issued.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import ClassVar

from ccwfuzz.arch import ccw as C
from ccwfuzz.arch import orb as O
from ccwfuzz.arch import schib as P
from ccwfuzz.arch import scsw as S
from ccwfuzz.arch import sid as sid_mod
from ccwfuzz.arch.exceptions import ProgramInterruption
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import (
    CP_SLOT,
    D_CMD_REGION,
    D_CP_GEN,
    D_CP_GUEST,
    D_CP_HOST,
    D_CP_INIT,
    D_CP_LEN,
    D_CRW_HEAD,
    D_CRW_RING,
    D_CRW_TAIL,
    D_HALT_GEN,
    D_INFLIGHT,
    D_IO_REGION,
    D_IRB,
    D_IRB_AIM,
    D_IRB_VALID,
    D_NOTOPER_WORK,
    D_OPEN_COUNT,
    D_QUIESCING,
    D_REMOVED,
    D_STATE,
    POISON_WORD,
    Kernel,
)
from ccwfuzz.sync import Context
from ccwfuzz.sync.history import Ev

CHUNK = 32  # bytes copied between scheduling points
EBADF = 9
MAX_CCWS = 256  # vfio-ccw fetches at most 256 CCWs per chain (spec A.6)
VFIO_CCW_ISC = 3
REGION_SIZES = {
    K.IO_REGION: K.IO_REGION_SIZE,
    K.ASYNC_REGION: K.ASYNC_REGION_SIZE,
    K.SCHIB_REGION: K.SCHIB_REGION_SIZE,
    K.CRW_REGION: K.CRW_REGION_SIZE,
}
INSTR = {"ssch": 1, "hsch": 2, "csch": 3, "tsch": 4, "msch": 5, "stsch": 6, "xsch": 7}


def region_span(offset: int, n: int) -> tuple[int, int] | None:
    """(region index, offset within it) for a read of ``n`` bytes, or None (-EINVAL)."""
    index, off = offset >> K.REGION_SHIFT, offset & ((1 << K.REGION_SHIFT) - 1)
    size = REGION_SIZES.get(index)
    if size is None or off < 0 or n < 0 or off + n > size:
        return None
    return index, off


def irb_hash(irb: bytes) -> int:
    return zlib.crc32(irb) or 1  # 0 is kept for "no IRB"


class Reference:
    """The upstream driver. Subclasses (the zoo) override single steps."""

    name: ClassVar[str] = "reference"
    initial_state: ClassVar[State] = State.STANDBY
    #: For zoo members: the oracle rule that must catch the bug.
    expected_rule: ClassVar[str] = ""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.css = kernel.css
        self.w = kernel.w
        self._jump = self.jumptable()

    # ---- FSM (spec D.1) -----------------------------------------------------------
    def state(self, sch: int) -> State:
        raw = self.w[self.k.d(sch) + D_STATE]
        return State.NOT_OPER if raw == POISON_WORD else State(raw)

    def cp_live(self, sch: int) -> bool:
        return bool(self.w[self.k.d(sch) + D_CP_INIT])

    def get_state(self, ctx: Context, sch: int) -> State:
        ctx.point()
        raw = self.w[self.k.d(sch) + D_STATE]
        if raw == POISON_WORD:  # private state freed under us (E17)
            ctx.record(Ev.POISON_READ, sch, 4 * (self.k.d(sch) + D_STATE))
            return State.NOT_OPER
        return State(raw)

    def set_state(self, ctx: Context, sch: int, new: State, event: int = 0xFF) -> None:
        """Write the FSM state. NOT_OPER is terminal (spec D.1: only a fresh probe
        leaves it): a write that would leave it is dropped. Upstream's FSM dispatch is
        not atomic with ``sch_event``, so a racing request, open, close or bottom half
        can overwrite NOT_OPER there (README "reference", deviation 4)."""
        ctx.point()
        d = self.k.d(sch)
        with ctx.atomic():  # write and record as one step: the history order is true
            old = self.w[d + D_STATE]
            if old == State.NOT_OPER and new != State.NOT_OPER:
                return
            self.w[d + D_STATE] = new
            ctx.record(Ev.FSM, sch, old, new, event)

    def fsm_event(self, ctx: Context, sch: int, event: Event) -> None:
        """``vfio_ccw_fsm_event``: dispatch on (state, event), spec D.1 table. Requests
        record the state they met and the return code they left (``RET``)."""
        before = self.get_state(ctx, sch)
        action = self._jump[before][event]
        action(ctx, sch, event)
        if event == Event.IO_REQ:
            ctx.record(Ev.RET, event, sch, self.io_ret(sch), before, self.state(sch))
        elif event == Event.ASYNC_REQ:
            ctx.record(Ev.RET, event, sch, self.cmd_ret(sch), before, self.state(sch))

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
        w0 = int.from_bytes(self.k.bytes_at(sch, D_IRB, 4), "big")
        final = S.is_final(w0) and S.is_solicited(w0)
        if self.w[self.k.d(sch) + D_CP_INIT] and (final or disabled):
            self.fsm_notoper_again(ctx, sch, event)

    def fsm_notoper(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_notoper`` (L-new): NOT_OPER now; the cp is freed later by work that
        takes ``io_mutex`` (``notoper_work``, E18), never from IRQ or spin-lock context
        and never under a request that is still building it."""
        self.set_state(ctx, sch, State.NOT_OPER, event)
        if self.w[self.k.d(sch) + D_CP_INIT]:
            self.w[self.k.d(sch) + D_NOTOPER_WORK] = 1
            self.k.queue_work(ctx, sch)

    def fsm_notoper_again(self, ctx: Context, sch: int, event: Event) -> None:
        """NOT_OPER in NOT_OPER: a nop in D.1; here it also frees a cp that a start
        racing the first NOT_OPER left behind (possible only because NOT_OPER is
        terminal in the reference, deviation 4)."""
        if self.w[self.k.d(sch) + D_CP_INIT]:
            self.w[self.k.d(sch) + D_NOTOPER_WORK] = 1
            self.k.queue_work(ctx, sch)

    def fsm_io_request(self, ctx: Context, sch: int, event: Event) -> None:
        """``fsm_io_request`` (spec D.1)."""
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
        w, d = self.w, self.k.d(sch)
        _intparm, ctrl, _ = struct.unpack(">III", guest_orb)
        lock = self.k.sch_lock[sch]
        lock.lock(ctx)
        try:
            if not ctrl & O.LPM:
                ctrl |= (self.css.pmcw_word(sch, 2) & P.LPM) >> 16
            ctrl = (ctrl & ~(O.KEY | O.RESERVED | O.D)) | O.F
            host = struct.pack(">III", sch, ctrl, w[d + D_CP_HOST])
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

    def note_cancel(self, sch: int) -> None:
        """Remember which channel program a halt or clear was aimed at (E10 guard)."""
        d = self.k.d(sch)
        self.w[d + D_HALT_GEN] = self.w[d + D_CP_GEN] if self.w[d + D_CP_INIT] else 0

    def related(self, sch: int, w0: int) -> bool:
        """Whether a final solicited interruption belongs to the live channel program.
        A halt's or clear's status belongs to it only if that program was live when
        the halt or clear was issued (spec E10: never free a cp for an unrelated
        interrupt). Deviation from upstream, README "reference"."""
        if not w0 & (S.FC_HALT | S.FC_CLEAR):
            return True
        d = self.k.d(sch)
        # The generation the halt/clear was aimed at, as of when its status was taken.
        return bool(self.w[d + D_CP_INIT] and self.w[d + D_IRB_AIM] == self.w[d + D_CP_GEN])

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
        # Deviation from upstream (README, "reference"): a bottom half already queued
        # for the last interruption could otherwise free the cp and set IDLE after
        # STANDBY (it checked CP_PENDING under io_mutex, which close does not take).
        lock.unlock(ctx)
        self.k.flush_work(ctx)
        lock.lock(ctx)
        self.set_state(ctx, sch, State.STANDBY, event)  # (a NOT_OPER meanwhile sticks)
        lock.unlock(ctx)
        self.close_free_cp(ctx, sch)

    def close_free_cp(self, ctx: Context, sch: int) -> None:
        mutex = self.k.io_mutex[sch]
        mutex.lock(ctx)
        self.cp_free(ctx, sch)
        mutex.unlock(ctx)

    # ---- quiesce (spec D.1, E4, E5) ------------------------------------------------------
    def quiesce(self, ctx: Context, sch: int) -> int:
        """``vfio_ccw_sch_quiesce``, entered and left with the subchannel lock held."""
        lock, done = self.k.sch_lock[sch], self.k.quiesce[sch]
        ret = -K.EBUSY
        while ret == -K.EBUSY:
            ret = self.cancel_halt_clear(ctx, sch)
            if ret == -K.ENODEV:
                break
            self.w[self.k.d(sch) + D_QUIESCING] = 1
            done.reinit(ctx)
            lock.unlock(ctx)
            if ret == -K.EBUSY:
                done.wait(ctx, timeout=True)
            self.w[self.k.d(sch) + D_QUIESCING] = 0
            self.flush_and_relock(ctx, sch)
            ret = self.disable(ctx, sch)
        return ret

    def flush_and_relock(self, ctx: Context, sch: int) -> None:
        """Quiesce: flush the work queue, then retake the subchannel lock (cea5dde4:
        never flush while holding it, E4)."""
        self.k.flush_work(ctx)
        self.k.sch_lock[sch].lock(ctx)

    def cancel_halt_clear(self, ctx: Context, sch: int) -> int:
        """``cio_cancel_halt_clear``: XSCH, else HSCH, else CSCH. -EBUSY means "a
        function was started or status is pending: wait for the interruption"."""
        scsw = self.css.scsw(sch)
        if scsw.sc & S.SC_PENDING:
            return -K.EBUSY
        if not scsw.ac:
            return 0
        if self.instr(ctx, sch, "xsch") == 0:
            return 0
        if not scsw.fc & (S.FC_HALT >> 12):
            cc = self.instr(ctx, sch, "hsch")
            if cc == 0:
                self.note_cancel(sch)
            if cc != 2:
                return -K.EBUSY if cc in (0, 1) else -K.ENODEV
        if not scsw.fc & (S.FC_CLEAR >> 12):
            if self.instr(ctx, sch, "csch") == 0:
                self.note_cancel(sch)
                return -K.EBUSY
            return -K.ENODEV
        return -K.EBUSY

    def disable(self, ctx: Context, sch: int) -> int:
        """``cio_disable_subchannel``: MSCH with E=0; -EBUSY when cc 1 or 2."""
        return self.modify(ctx, sch, enable=False)

    def modify(self, ctx: Context, sch: int, enable: bool) -> int:
        with ctx.atomic():
            cc, raw = self.css.stsch(sid_mod.make(sch))
        if cc:
            return -K.ENODEV
        w1 = struct.unpack_from(">I", raw, 4)[0] & ~(P.ENABLED | P.ISC)
        if enable:
            w1 |= P.ENABLED | (VFIO_CCW_ISC << 27)
        raw = raw[:4] + struct.pack(">I", w1) + raw[8:]
        cc = self.instr(ctx, sch, "msch", raw)
        return {0: 0, 1: -K.EBUSY, 2: -K.EBUSY}.get(cc, -K.ENODEV)

    # ---- channel programs ------------------------------------------------------------------
    def cp_init(self, ctx: Context, sch: int, guest_orb: bytes) -> int:
        """``cp_init`` + ``cp_prefetch``: -EBUSY over a live cp (c6c82e0c, E11); copy the
        guest chain (format 0 converted to 1) into a fresh arena slot."""
        w, d = self.w, self.k.d(sch)
        if w[d + D_CP_INIT]:
            return -K.EBUSY
        _, ctrl, cpa = struct.unpack(">III", guest_orb)
        ret, chain = self.fetch_chain(cpa, bool(ctrl & O.F))
        if ret:
            return ret
        gen = w[d + D_CP_GEN] + 1
        host = self.k.slot_addr(sch, gen)
        ctx.point()
        translated = self.translate(chain, cpa, host)
        if translated is None:
            return -K.EINVAL
        self.css.memory.write(host, translated)
        w[d + D_CP_GEN] = gen
        w[d + D_CP_GUEST] = cpa
        w[d + D_CP_HOST] = host
        w[d + D_CP_LEN] = len(translated)
        w[d + D_CP_INIT] = 1
        ctx.record(Ev.CP_ALLOC, sch, gen, host)
        return 0

    def fetch_chain(self, cpa: int, fmt1: bool) -> tuple[int, list[C.Ccw1]]:
        mem = self.css.memory
        chain: list[C.Ccw1] = []
        addr = cpa
        while True:
            if len(chain) >= MAX_CCWS:
                return -K.EINVAL, []
            if addr & 7 or not mem.valid(addr, 8):
                return -K.EFAULT, []
            raw = mem.read(addr, 8)
            ccw1 = C.Ccw1.from_bytes(raw) if fmt1 else C.Ccw0.from_bytes(raw).to_format1()
            chain.append(ccw1)
            if ccw1.cmd & 0x0F == C.CMD_TIC:
                if ccw1.cda != addr + 8:  # a TIC back into the chain ends the fetch
                    return 0, chain
            elif not ccw1.flags & (C.CC | C.CD):
                return 0, chain
            addr += 8

    def translate(self, chain: list[C.Ccw1], guest: int, host: int) -> bytes | None:
        """Host copy of the chain: TIC targets moved into the arena (a TIC out of the
        fetched chain is not supported here: -EINVAL). Data addresses are identity
        mapped ("pinned")."""
        out = []
        end = guest + 8 * len(chain)
        for c in chain:
            if c.cmd & 0x0F == C.CMD_TIC:
                if not guest <= c.cda < end:
                    return None
                c = C.Ccw1(c.cmd, c.flags, c.count, host + (c.cda - guest))
            out.append(c.to_bytes())
        data = b"".join(out)
        return data if len(data) <= CP_SLOT else None

    def cp_free(self, ctx: Context, sch: int) -> None:
        """``cp_free``: idempotent on an empty cp (E7); the slot is poisoned."""
        w, d = self.w, self.k.d(sch)
        if not w[d + D_CP_INIT]:
            return
        ctx.point()
        w[d + D_CP_INIT] = 0
        self.k.poison(w[d + D_CP_HOST])
        ctx.record(Ev.CP_FREE, sch, w[d + D_CP_GEN], w[d + D_CP_HOST], w[d + D_STATE])

    def cp_update_scsw(self, sch: int, irb: bytearray) -> None:
        """Translate the SCSW CPA from the host program back to the guest's."""
        w, d = self.w, self.k.d(sch)
        cpa = struct.unpack_from(">I", irb, 4)[0]
        host, n = w[d + D_CP_HOST], w[d + D_CP_LEN]
        if w[d + D_CP_INIT] and host <= cpa <= host + n:
            struct.pack_into(">I", irb, 4, w[d + D_CP_GUEST] + (cpa - host))

    # ---- interrupt path ---------------------------------------------------------------------
    def irq(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_irq`` under ``sch->lock``: TSCH into the per-CPU IRB, then the
        INTERRUPT event; the IRB lands in the single private slot (spec D.4 H1)."""
        lock = self.k.sch_lock[sch]
        ctx.irq = True
        lock.lock(ctx)
        try:
            with ctx.atomic():  # the instruction and its records as one step
                before = self.css.scsw0(sch)
                w1 = self.css.pmcw_word(sch, 1)
                cc, irb = self.css.tsch(sid_mod.make(sch))
                after = self.css.scsw0(sch)
                operational = int(w1 & (P.V | P.ENABLED) == P.V | P.ENABLED)
                ctx.record(Ev.INSTR, INSTR["tsch"] | operational << 8, sch, cc, before, after)
                if cc == 0:
                    w0, w1, w2 = struct.unpack_from(">III", irb)
                    ctx.record(Ev.INTERRUPT, sch, w0, w1, w2, self.state(sch))
                d = self.k.d(sch)
                self.k.set_bytes(sch, D_IRB, 0, irb)
                self.w[d + D_IRB_AIM] = self.w[d + D_HALT_GEN]  # what a halt/clear aimed at
                self.w[d + D_IRB_VALID] = 1
                self.fsm_event(ctx, sch, Event.INTERRUPT)
        finally:
            lock.unlock(ctx)
            ctx.irq = False

    def todo(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_io_todo`` (L-new: steps 2-4 under ``io_mutex``); also runs
        the deferred cp free after NOT_OPER (``notoper_work``)."""
        if self.w[self.k.d(sch) + D_NOTOPER_WORK]:
            self.notoper_work(ctx, sch)
        # The IRB is taken under io_mutex (as upstream reads it after mutex_lock): no
        # request can start between taking it and acting on it.
        self.todo_lock(ctx, sch)
        irb = self.take_irb(ctx, sch)
        if irb is None:
            self.todo_unlock(ctx, sch)
            return
        w0 = struct.unpack_from(">I", irb)[0]
        before = self.get_state(ctx, sch)
        freed = False
        if S.is_solicited(w0):
            self.cp_update_scsw(sch, irb)
            if self.frees_cp(sch, w0, before):
                self.cp_free(ctx, sch)
                freed = True
        self.store_irb(ctx, sch, bytes(irb))
        if self.goes_idle(ctx, sch, w0, freed):
            self.set_state(ctx, sch, State.IDLE, Event.INTERRUPT)
        self.todo_unlock(ctx, sch)
        ctx.record(Ev.TODO, sch, w0, before, self.state(sch), freed)
        self.k.io_event[sch].signal(ctx)

    def todo_lock(self, ctx: Context, sch: int) -> None:
        self.k.io_mutex[sch].lock(ctx)

    def todo_unlock(self, ctx: Context, sch: int) -> None:
        self.k.io_mutex[sch].unlock(ctx)

    def frees_cp(self, sch: int, w0: int, state: State) -> bool:
        """Spec D.1 step 2: free only for a final interrupt in CP_PENDING (E1, E8), and
        only for the program the interrupt belongs to (E10 guard)."""
        # In NOT_OPER (terminal, deviation 4) no new program can start, so a final
        # interrupt there belongs to the program started just before the device went.
        return (
            S.is_final(w0) and state in (State.CP_PENDING, State.NOT_OPER) and self.related(sch, w0)
        )

    def goes_idle(self, ctx: Context, sch: int, w0: int, freed: bool) -> bool:
        """Spec D.1 step 4: IDLE only if this interrupt freed the cp (2af7a834, E13); a
        NOT_OPER that arrived meanwhile sticks (``set_state``)."""
        return freed

    def notoper_work(self, ctx: Context, sch: int) -> None:
        """The deferred cp free after NOT_OPER, under ``io_mutex``. Not while the
        program may still run: a start that raced NOT_OPER (the device came back) is
        freed when its final interruption arrives (``fsm_disabled_irq``)."""
        mutex = self.k.io_mutex[sch]
        mutex.lock(ctx)
        self.w[self.k.d(sch) + D_NOTOPER_WORK] = 0
        with ctx.atomic():
            running = self.css.scsw0(sch) & S.FC_START
        if not running:
            self.cp_free(ctx, sch)
        mutex.unlock(ctx)

    def sch_event(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_event`` (a machine check for the subchannel), under the
        subchannel lock: STSCH fails (device gone) -> NOT_OPER event; success -> no
        change (cffcc109, E14: NOT_OPER is left only through a fresh probe)."""
        lock = self.k.sch_lock[sch]
        lock.lock(ctx)
        try:
            with ctx.atomic():
                gone = not self.css.pmcw_word(sch, 1) & P.V
            if gone:
                self.fsm_event(ctx, sch, Event.NOT_OPER)
            else:
                self.sch_event_present(ctx, sch)
        finally:
            lock.unlock(ctx)

    def sch_event_present(self, ctx: Context, sch: int) -> None:
        """STSCH succeeded: no state change (cffcc109, E14)."""

    def take_irb(self, ctx: Context, sch: int) -> bytearray | None:
        """Take the IRB the top half left, once. Upstream reads the slot in place, so a
        work item re-queued while running processes the same final IRB twice and can
        free a channel program started in between (spec D.4 H1). Deviation from
        upstream, README "reference"."""
        lock, d = self.k.sch_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if not self.w[d + D_IRB_VALID]:
                return None
            self.w[d + D_IRB_VALID] = 0
            return bytearray(self.k.bytes_at(sch, D_IRB, 96))
        finally:
            lock.unlock(ctx)

    def store_irb(self, ctx: Context, sch: int, irb: bytes) -> None:
        self.copy_in(ctx, sch, D_IO_REGION, K.IRB_AREA, irb)
        ctx.record(Ev.IRB_STORE, sch, irb_hash(irb), struct.unpack_from(">I", irb)[0])

    # ---- region file (spec A.7, D.4) --------------------------------------------------------
    def region_write(self, ctx: Context, sch: int, offset: int, data: bytes) -> int:
        """pwrite(2) on the device file (vfio core: needs an open device)."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        if not self.io_enter(ctx, sch):
            return -EBADF
        try:
            return self.write_region(ctx, sch, offset, data)
        finally:
            self.io_exit(ctx, sch)

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        """pread(2) on the device file (vfio core: needs an open device)."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        if not self.io_enter(ctx, sch):
            return -EBADF
        try:
            return self.read_region(ctx, sch, offset, n)
        finally:
            self.io_exit(ctx, sch)

    def io_enter(self, ctx: Context, sch: int) -> bool:
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if not self.w[d + D_OPEN_COUNT]:
                return False
            with ctx.atomic():
                self.w[d + D_INFLIGHT] += 1
            return True
        finally:
            lock.unlock(ctx)

    def io_exit(self, ctx: Context, sch: int) -> None:
        with ctx.atomic():
            self.w[self.k.d(sch) + D_INFLIGHT] -= 1

    def drain_io(self, ctx: Context, sch: int) -> None:
        """Wait (holding the dev_set lock, so no new access starts) until no region
        access is in flight: close and reset are exclusive in the vfio core model."""
        d = self.k.d(sch)
        while self.w[d + D_INFLIGHT]:
            ctx.backoff(lambda: not self.w[d + D_INFLIGHT])

    def write_region(self, ctx: Context, sch: int, offset: int, data: bytes) -> int:
        index, off = offset >> K.REGION_SHIFT, offset & ((1 << K.REGION_SHIFT) - 1)
        if index == K.IO_REGION:
            return self.io_write(ctx, sch, off, data)
        if index == K.ASYNC_REGION:
            return self.async_write(ctx, sch, off, data)
        return -K.EINVAL

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        """``vfio_ccw_mdev_write_io_region``: trylock (-EAGAIN), copy, then IO_REQ."""
        if off + len(data) > K.IO_REGION_SIZE or off < 0:
            return -K.EINVAL
        mutex = self.k.io_mutex[sch]
        if not mutex.trylock(ctx):
            return -K.EAGAIN
        try:
            self.copy_in(ctx, sch, D_IO_REGION, off, data)
            self.fsm_event(ctx, sch, Event.IO_REQ)
            ret = self.io_ret(sch)
        finally:
            mutex.unlock(ctx)
        return ret if ret else len(data)

    def async_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        if off + len(data) > K.ASYNC_REGION_SIZE or off < 0:
            return -K.EINVAL
        mutex = self.k.io_mutex[sch]
        if not mutex.trylock(ctx):
            return -K.EAGAIN
        try:
            self.copy_in(ctx, sch, D_CMD_REGION, off, data)
            self.fsm_event(ctx, sch, Event.ASYNC_REQ)
            ret = self.cmd_ret(sch)
        finally:
            mutex.unlock(ctx)
        return ret if ret else len(data)

    def read_region(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        """``vfio_ccw_mdev_read``: any region read takes ``io_mutex`` (blocking)."""
        span = region_span(offset, n)
        if span is None:
            return -K.EINVAL
        mutex = self.k.io_mutex[sch]
        mutex.lock(ctx)
        try:
            return self.read_body(ctx, sch, span[0], span[1], n)
        finally:
            mutex.unlock(ctx)

    def read_body(self, ctx: Context, sch: int, index: int, off: int, n: int) -> bytes | int:
        if index == K.IO_REGION:
            data = self.copy_out(ctx, sch, D_IO_REGION, off, n)
            if off <= K.IRB_AREA and off + n >= K.IRB_AREA + 96:
                irb = data[K.IRB_AREA - off : K.IRB_AREA - off + 96]
                ctx.record(
                    Ev.IRB_READ,
                    sch,
                    irb_hash(irb) if any(irb) else 0,
                    struct.unpack_from(">I", irb)[0],
                )
            return data
        if index == K.ASYNC_REGION:
            return self.copy_out(ctx, sch, D_CMD_REGION, off, n)
        if index == K.SCHIB_REGION:
            with ctx.atomic():
                cc, raw = self.css.stsch(sid_mod.make(sch))
            return raw[off : off + n] if cc == 0 else -K.ENODEV
        return self.crw_pop(ctx, sch)[off : off + n]

    def crw_pop(self, ctx: Context, sch: int) -> bytes:
        w, d = self.w, self.k.d(sch)
        self.k.crw_lock.lock(ctx)
        try:
            if w[d + D_CRW_HEAD] == w[d + D_CRW_TAIL]:
                return bytes(8)
            crw = w[d + D_CRW_RING + w[d + D_CRW_HEAD] % 8]
            w[d + D_CRW_HEAD] += 1
            return struct.pack(">II", crw, 0)
        finally:
            self.k.crw_lock.unlock(ctx)

    # ---- lifecycle ----------------------------------------------------------------------------
    # The vfio core calls open_device on the first open of the device file and
    # close_device on the last close, under its dev_set lock; VFIO_DEVICE_RESET and mdev
    # remove come through the same core.
    def open(self, ctx: Context, sch: int) -> int:
        """open(2) of the device file; the driver's open on the first reference."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if self.w[d + D_OPEN_COUNT]:
                self.w[d + D_OPEN_COUNT] += 1
                return 0
            ret = self.open_device(ctx, sch)
            if ret == 0:
                self.w[d + D_OPEN_COUNT] = 1
            return ret
        finally:
            lock.unlock(ctx)

    def close(self, ctx: Context, sch: int) -> int:
        """close(2); the driver's close on the last reference (-EBADF if not open)."""
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if not self.w[d + D_OPEN_COUNT]:
                return -EBADF
            if self.w[d + D_OPEN_COUNT] == 1:
                self.drain_io(ctx, sch)
                self.close_device(ctx, sch)
            self.w[d + D_OPEN_COUNT] -= 1
            return 0
        finally:
            lock.unlock(ctx)

    def open_device(self, ctx: Context, sch: int) -> int:
        """``vfio_ccw_mdev_open_device``: -EINVAL when NOT_OPER, before or after OPEN."""
        if self.get_state(ctx, sch) == State.NOT_OPER:
            return -K.EINVAL
        self.fsm_event(ctx, sch, Event.OPEN)
        return -K.EINVAL if self.get_state(ctx, sch) == State.NOT_OPER else 0

    def close_device(self, ctx: Context, sch: int) -> None:
        self.fsm_event(ctx, sch, Event.CLOSE)

    def reset(self, ctx: Context, sch: int) -> int:
        """VFIO_DEVICE_RESET on an open device: CLOSE + OPEN, exclusive with region
        accesses and other resets (QEMU resets with the vCPUs stopped); -EINVAL if
        NOT_OPER afterwards."""
        if self.w[self.k.d(sch) + D_REMOVED]:
            return -K.ENODEV
        lock = self.k.open_lock[sch]
        lock.lock(ctx)
        try:
            if not self.w[self.k.d(sch) + D_OPEN_COUNT]:
                return -EBADF
            self.drain_io(ctx, sch)
            self.fsm_event(ctx, sch, Event.CLOSE)
            self.fsm_event(ctx, sch, Event.OPEN)
            return -K.EINVAL if self.get_state(ctx, sch) == State.NOT_OPER else 0
        finally:
            lock.unlock(ctx)

    def remove(self, ctx: Context, sch: int) -> int:
        """mdev remove. The kernel waits until the device is released; the model answers
        -EBUSY while it is open. Afterwards every access is -ENODEV."""
        lock, d = self.k.open_lock[sch], self.k.d(sch)
        lock.lock(ctx)
        try:
            if self.w[d + D_REMOVED]:
                return -K.ENODEV
            if self.w[d + D_OPEN_COUNT]:
                return -K.EBUSY
            self.w[d + D_REMOVED] = 1
            return 0
        finally:
            lock.unlock(ctx)

    # ---- helpers --------------------------------------------------------------------------------
    def instr(self, ctx: Context, sch: int, name: str, operand: bytes | None = None) -> int:
        """Issue an instruction to the channel subsystem (a scheduling point)."""
        ctx.point()
        sid = sid_mod.make(sch)
        css = self.css
        with ctx.atomic():  # the hardware interlock: instructions are atomic
            before = css.scsw0(sch)
            w1 = css.pmcw_word(sch, 1)
            operational = int(w1 & (P.V | P.ENABLED) == P.V | P.ENABLED)
            try:
                if name == "ssch":
                    assert operand is not None
                    cc = self.css.ssch(sid, operand)
                elif name == "msch":
                    assert operand is not None
                    cc = self.css.msch(sid, operand)
                else:
                    cc = getattr(self.css, name)(sid)
            except ProgramInterruption:
                cc = 0xFF
            after = css.scsw0(sch)
            ctx.record(Ev.INSTR, INSTR[name] | operational << 8, sch, cc, before, after)
        if cc == 0 and name in ("ssch", "hsch", "csch"):
            self.k.channel_waitq.kick(ctx)
        return cc

    def copy_in(self, ctx: Context, sch: int, area: int, off: int, data: bytes) -> None:
        for k in range(0, len(data), CHUNK):
            ctx.point()
            self.k.set_bytes(sch, area, off + k, data[k : k + CHUNK])

    def copy_out(self, ctx: Context, sch: int, area: int, off: int, n: int) -> bytes:
        out = b""
        for k in range(0, n, CHUNK):
            ctx.point()
            m = min(CHUNK, n - k)
            out += self.k.bytes_at(sch, area, off + k + m)[off + k :]
        return out

    def io_ret(self, sch: int) -> int:
        return int(struct.unpack(">i", self.k.bytes_at(sch, D_IO_REGION, 124)[K.RET_CODE :])[0])

    def set_io_ret(self, sch: int, ret: int) -> None:
        self.k.set_bytes(sch, D_IO_REGION, K.RET_CODE, struct.pack(">i", ret))

    def cmd_ret(self, sch: int) -> int:
        return int(struct.unpack(">i", self.k.bytes_at(sch, D_CMD_REGION, 8)[4:])[0])

    def set_cmd_ret(self, sch: int, ret: int) -> None:
        self.k.set_bytes(sch, D_CMD_REGION, 4, struct.pack(">i", ret))
