"""The interrupt and subchannel-event paths (upstream ``vfio_ccw_drv.c``): the top half,
the ``io_todo`` bottom half, quiesce, subchannel events, and the cio helpers they call
(``cio_cancel_halt_clear``, ``cio_disable_subchannel``)."""

from __future__ import annotations

import struct

from ccwfuzz.arch import schib as P
from ccwfuzz.arch import scsw as S
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import (
    D_CP_GEN,
    D_CP_INIT,
    D_HALT_GEN,
    D_IRB,
    D_IRB_AIM,
    D_IRB_VALID,
    D_IRBQ,
    D_IRBQ_HEAD,
    D_IRBQ_TAIL,
    D_NOTOPER_WORK,
    D_QUIESCING,
    IRB_SIZE,
    IRBQ_ENTRY,
    IRBQ_LEN,
)
from ccwfuzz.driver.reference.cp import ChannelPrograms
from ccwfuzz.sync import Context

VFIO_CCW_ISC = 3


class Subchannel(ChannelPrograms):
    # ---- quiesce (spec D.1, E4, E5) ------------------------------------------------
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
        cc, raw = self.k.store_subchannel(ctx, sch)
        if cc:
            return -K.ENODEV
        w1 = struct.unpack_from(">I", raw, 4)[0] & ~(P.ENABLED | P.ISC)
        if enable:
            w1 |= P.ENABLED | (VFIO_CCW_ISC << 27)
        raw = raw[:4] + struct.pack(">I", w1) + raw[8:]
        cc = self.instr(ctx, sch, "msch", raw)
        return {0: 0, 1: -K.EBUSY, 2: -K.EBUSY}.get(cc, -K.ENODEV)

    # ---- the top half --------------------------------------------------------------
    def irq(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_irq`` under ``sch->lock``: TSCH into the per-CPU IRB, then the
        INTERRUPT event, which keeps the IRB for the bottom half (``stash_irb``)."""
        lock = self.k.sch_lock[sch]
        with self.k.interrupt_context(ctx):
            lock.lock(ctx)
            try:
                with ctx.atomic():  # the instruction, its records and the stash as one step
                    cc, irb = self.k.test_subchannel(ctx, sch)
                    if cc == 0:  # an IRB with status (cc 1: nothing was pending)
                        self.stash_irb(ctx, sch, irb)
                    self.fsm_event(ctx, sch, Event.INTERRUPT)
            finally:
                lock.unlock(ctx)

    def stash_irb(self, ctx: Context, sch: int, irb: bytes) -> None:
        """Keep an IRB for the bottom half, with the channel program a halt or clear
        was aimed at. Upstream has one private slot that the next interruption
        overwrites (spec D.4 H1), so a final status overwritten by an attention before
        ``io_todo`` runs is never processed and the cp stays CP_PENDING until close.
        The reference queues them instead: deviation 5, README "reference"."""
        w, d = self.w, self.k.d(sch)
        head, tail = w[d + D_IRBQ_HEAD], w[d + D_IRBQ_TAIL]
        if tail - head >= IRBQ_LEN:
            w0 = int.from_bytes(irb[:4], "big")
            if self.irb_backlog(sch) >= IRBQ_LEN and not (S.is_final(w0) and S.is_solicited(w0)):
                return  # every queued status ends a function: this one is the least loss
            tail = self.drop_one_irb(sch, head, tail)
        e = D_IRBQ + (tail % IRBQ_LEN) * IRBQ_ENTRY
        self.k.set_bytes(sch, e, 0, irb)
        w[d + e + IRB_SIZE // 4] = w[d + D_HALT_GEN]
        w[d + D_IRBQ_TAIL] = tail + 1

    def irb_backlog(self, sch: int) -> int:
        """Queued statuses that end a function (final and solicited). A request is
        refused -EBUSY while IRBQ_LEN - 1 wait (:meth:`irb_queue_full`): with at most
        one function in flight per subchannel, the queue then never has to drop one."""
        w, d = self.w, self.k.d(sch)
        n = 0
        for k in range(w[d + D_IRBQ_HEAD], w[d + D_IRBQ_TAIL]):
            e = D_IRBQ + (k % IRBQ_LEN) * IRBQ_ENTRY
            w0 = int.from_bytes(self.k.bytes_at(sch, e, 4), "big")
            n += S.is_final(w0) and S.is_solicited(w0)
        return n

    def irb_queue_full(self, sch: int) -> bool:
        """A new start, halt or clear would risk a status the queue cannot keep (the
        bottom half is that far behind): the request answers -EBUSY, as for a busy
        subchannel, and userspace tries again later."""
        return self.irb_backlog(sch) >= IRBQ_LEN - 1

    def drop_one_irb(self, sch: int, head: int, tail: int) -> int:
        """The queue is full (a burst of PCIs before the bottom half ran): one entry
        goes, as a single slot would lose one. The oldest intermediate status goes (a
        later status supersedes it, spec C.3); with none, the oldest unsolicited one;
        with none, the newest. Returns the new tail."""
        w, d = self.w, self.k.d(sch)

        def at(k: int) -> int:
            return d + D_IRBQ + (k % IRBQ_LEN) * IRBQ_ENTRY

        def w0(k: int) -> int:
            return int.from_bytes(self.k.bytes_at(sch, at(k) - d, 4), "big")

        def ends_start(k: int) -> bool:
            return S.is_final(w0(k)) and S.is_solicited(w0(k))

        queued = range(head, tail)
        victim = next((k for k in queued if not S.is_final(w0(k))), None)
        if victim is None:  # then an unsolicited status: never the end of a function
            victim = next((k for k in queued if not ends_start(k)), tail - 1)
        for k in range(victim, tail - 1):
            w[at(k) : at(k) + IRBQ_ENTRY] = w[at(k + 1) : at(k + 1) + IRBQ_ENTRY]
        w[d + D_IRBQ_TAIL] = tail - 1
        return tail - 1

    def stashed_w0(self, sch: int) -> int:
        """SCSW word 0 of the newest IRB kept for the bottom half (0: none)."""
        w, d = self.w, self.k.d(sch)
        if w[d + D_IRBQ_HEAD] == w[d + D_IRBQ_TAIL]:
            return 0
        e = D_IRBQ + ((w[d + D_IRBQ_TAIL] - 1) % IRBQ_LEN) * IRBQ_ENTRY
        return int.from_bytes(self.k.bytes_at(sch, e, 4), "big")

    # ---- the bottom half -------------------------------------------------------------
    def todo(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_io_todo`` (L-new: steps 2-4 under ``io_mutex``), once per IRB
        the top half kept; also runs the deferred cp free after NOT_OPER
        (``notoper_work``)."""
        if self.w[self.k.d(sch) + D_NOTOPER_WORK]:
            self.notoper_work(ctx, sch)
        while self.todo_one(ctx, sch):
            pass

    def todo_one(self, ctx: Context, sch: int) -> bool:
        # The IRB is taken under io_mutex (as upstream reads it after mutex_lock): no
        # request can start between taking it and acting on it.
        self.todo_lock(ctx, sch)
        irb = self.take_irb(ctx, sch)
        if irb is None:
            self.todo_unlock(ctx, sch)
            return False
        w0 = struct.unpack_from(">I", irb)[0]
        before = self.get_state(ctx, sch)
        freed = False
        if S.is_solicited(w0):
            self.cp_update_scsw(sch, irb)
            if self.frees_cp(sch, w0, before):
                self.cp_free(ctx, sch)
                freed = True
        # Nothing reaches userspace for a device that is closed or gone (E16): upstream
        # delivers an IRB still queued when NOT_OPER came, with its CCW address left
        # pointing into the freed host program (README "reference", deviation 4).
        deliver = before not in (State.NOT_OPER, State.STANDBY)
        if deliver:
            self.store_irb(ctx, sch, bytes(irb))
        if self.goes_idle(ctx, sch, w0, freed):
            self.set_state(ctx, sch, State.IDLE, Event.INTERRUPT)
        self.todo_unlock(ctx, sch)
        self.k.processed(ctx, sch, w0, before, freed)
        if deliver:
            self.k.signal_io(ctx, sch)
        return True

    def todo_lock(self, ctx: Context, sch: int) -> None:
        self.k.io_mutex[sch].lock(ctx)

    def todo_unlock(self, ctx: Context, sch: int) -> None:
        self.k.io_mutex[sch].unlock(ctx)

    def take_irb(self, ctx: Context, sch: int) -> bytearray | None:
        """Take the oldest IRB the top half kept, once (under the subchannel lock, as
        the top half fills the queue under it); None when there is none. Upstream reads
        its single slot in place, so a work item re-queued while running processes the
        same final IRB twice and can free a program started in between (spec D.4 H1):
        deviation 3, README "reference"."""
        lock, w, d = self.k.sch_lock[sch], self.w, self.k.d(sch)
        lock.lock(ctx)
        try:
            head = w[d + D_IRBQ_HEAD]
            if head == w[d + D_IRBQ_TAIL]:
                return None
            e = D_IRBQ + (head % IRBQ_LEN) * IRBQ_ENTRY
            w[d + D_IRB_AIM] = w[d + e + IRB_SIZE // 4]  # what a halt/clear aimed at
            w[d + D_IRBQ_HEAD] = head + 1
            return bytearray(self.k.bytes_at(sch, e, IRB_SIZE))
        finally:
            lock.unlock(ctx)

    def store_irb(self, ctx: Context, sch: int, irb: bytes) -> None:
        self.k.deliver_irb(ctx, sch, irb)

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

    def related(self, sch: int, w0: int) -> bool:
        """Whether a final solicited interruption belongs to the live channel program.
        A halt's or clear's status belongs to it only if that program was live when
        the halt or clear was issued (spec E10: never free a cp for an unrelated
        interrupt). Deviation 2 from upstream, README "reference"."""
        if not w0 & (S.FC_HALT | S.FC_CLEAR):
            return True
        d = self.k.d(sch)
        # The generation the halt/clear was aimed at, as of when its status was taken.
        return bool(self.w[d + D_CP_INIT] and self.w[d + D_IRB_AIM] == self.w[d + D_CP_GEN])

    def note_cancel(self, sch: int) -> None:
        """Remember which channel program a halt or clear was aimed at (E10 guard)."""
        d = self.k.d(sch)
        self.w[d + D_HALT_GEN] = self.w[d + D_CP_GEN] if self.w[d + D_CP_INIT] else 0

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

    # ---- subchannel events ----------------------------------------------------------
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


__all__ = ["D_IRB", "D_IRB_VALID", "VFIO_CCW_ISC", "Subchannel"]
