"""A complete vfio-ccw-like driver model, written from scratch.

Written from the documentation alone (``docs/writing-a-driver.md``, ``docs/records.md``, the
README and the spec ``ccw-rules.md``), without reading or subclassing the reference driver,
and kept running in CI as the example of a driver model that every ccwfuzz rule can judge.
Each method names the upstream function (``drivers/s390/cio/vfio_ccw_*.c``, spec D.1, D.4)
it models.

All mutable state lives in the kernel's shared words: the toolkit's (FSM state, channel
program, region areas) and this driver's ``private_words`` (open count, in-flight region
accesses, halt/clear aim, deferred NOT_OPER free, and a queue of IRBs, since a single slot
loses status, spec D.4 H1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from ccwfuzz.arch import ccw, orb, schib, scsw
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import CP_SLOT, D_CMD_REGION, D_IO_REGION, Kernel
from ccwfuzz.sync import Context
from ccwfuzz.sync.history import Instr

STICKY = frozenset({State.NOT_OPER})
ACTIVE = frozenset({State.IDLE, State.CP_PROCESSING, State.CP_PENDING})
GONE = frozenset({State.STANDBY, State.NOT_OPER})
SIZES = {
    K.IO_REGION: K.IO_REGION_SIZE,
    K.ASYNC_REGION: K.ASYNC_REGION_SIZE,
    K.SCHIB_REGION: K.SCHIB_REGION_SIZE,
    K.CRW_REGION: K.CRW_REGION_SIZE,
}
OFF_MASK = (1 << K.REGION_SHIFT) - 1
MAX_CCWS = 256

# Private words of one subchannel.
P_OPEN = 0  # vfio core: open count
P_REMOVED = 1  # mdev removed
P_INFLIGHT = 2  # region accesses in flight
P_GATE = 3  # a reset excludes new region accesses
P_QUIESCING = 4  # close waits on quiesce[sch]
P_AIM = 5  # cp generation the last accepted HSCH/CSCH aimed at (0: none was live)
P_NOTOPER = 6  # a deferred NOT_OPER cp free is due (notoper_work)
P_HEAD = 7  # IRB queue: entries taken by the bottom half
P_TAIL = 8  # IRB queue: entries added by the top half
P_QUEUE = 9  # IRB queue: QLEN entries of a 96-byte IRB (24 words) and its aim
ENTRY = 25
#: Rules this driver fails by design: it was written before pinning was part of the
#: contract and identity-maps data, which they flag (its tests leave them out).
PRE_PINNING = frozenset({"memory.dma-bounds", "driver.translation-equivalence"})
QLEN = 32

# Outcomes of the cancel step of quiesce.
WAIT, DONE, NODEV = 0, 1, 2


@contextmanager
def held(ctx: Context, lock: Any) -> Iterator[None]:
    """Hold a mutex or spin lock for the block."""
    lock.lock(ctx)
    try:
        yield
    finally:
        lock.unlock(ctx)


class ScratchDriver:
    """vfio-ccw with the bit of the vfio core around it (open count, in-flight accesses)."""

    name: ClassVar[str] = "scratch"
    initial_state: ClassVar[State] = State.STANDBY
    private_words: ClassVar[int] = P_QUEUE + QLEN * ENTRY

    def __init__(self, kernel: Kernel) -> None:
        """Keep the kernel; every mutable thing lives in its words."""
        self.kernel = kernel

    # ---- private words ------------------------------------------------------------------

    def _get(self, sch: int, word: int) -> int:
        return int(self.kernel.w[self.kernel.private(sch) + word])

    def _put(self, sch: int, word: int, value: int) -> None:
        self.kernel.w[self.kernel.private(sch) + word] = value

    def _add(self, ctx: Context, sch: int, word: int, delta: int) -> int:
        with ctx.atomic():
            value = self._get(sch, word) + delta
            self._put(sch, word, value)
        return value

    def _area(self, sch: int, word: int) -> int:
        """A private word as a byte-area word for ``bytes_at``/``set_bytes``."""
        return self.kernel.private(sch) - self.kernel.d(sch) + word

    # ---- helpers ----------------------------------------------------------------------

    def _enter(self, ctx: Context, sch: int) -> int:
        """vfio core: refuse an access to a removed, closed or resetting device, else count it."""
        with ctx.atomic():
            if self._get(sch, P_REMOVED):
                return -K.ENODEV
            if not self._get(sch, P_OPEN):
                return -K.EBADF
            if self._get(sch, P_GATE):
                return -K.EAGAIN
            self._put(sch, P_INFLIGHT, self._get(sch, P_INFLIGHT) + 1)
        return 0

    def _drain(self, ctx: Context, sch: int) -> None:
        """vfio core: wait until no region access is in flight."""
        if self._get(sch, P_INFLIGHT):
            ctx.backoff(lambda: self._get(sch, P_INFLIGHT) == 0)

    def _msch(self, ctx: Context, sch: int, enable: bool) -> int:
        """``cio_enable_subchannel`` (ISC 3) / ``cio_disable_subchannel``: STSCH, MSCH."""
        cc, raw = self.kernel.store_subchannel(ctx, sch)
        if cc:
            return 3
        w1 = int.from_bytes(raw[4:8], "big") & ~schib.ENABLED
        if enable:
            w1 = (w1 & ~schib.ISC) | schib.ENABLED | (3 << 27)
        return self.kernel.issue(ctx, sch, Instr.MSCH, raw[:4] + w1.to_bytes(4, "big") + raw[8:])

    def _notoper(self, ctx: Context, sch: int) -> None:
        """``fsm_notoper`` (under ``sch_lock``): NOT_OPER; defer the cp free (E18)."""
        self.kernel.set_state(ctx, sch, State.NOT_OPER, Event.NOT_OPER, sticky=STICKY)
        self._defer_free(ctx, sch)

    def _defer_free(self, ctx: Context, sch: int) -> None:
        """Queue ``notoper_work`` if a cp is live: no ``cp_free`` in atomic context."""
        if self.kernel.cp_live(sch):
            self._put(sch, P_NOTOPER, 1)
            self.kernel.queue_work(ctx, sch)

    def _aim(self, sch: int) -> None:
        """Note the program an accepted HSCH/CSCH aims at (spec E10)."""
        k = self.kernel
        self._put(sch, P_AIM, k.cp_gen(sch) if k.cp_live(sch) else 0)

    # ---- regions ----------------------------------------------------------------------

    def region_write(self, ctx: Context, sch: int, offset: int, data: bytes) -> int:
        """``vfio_ccw_mdev_write``: the I/O or async region, under ``io_mutex`` (trylock)."""
        index, off = offset >> K.REGION_SHIFT, offset & OFF_MASK
        err = self._enter(ctx, sch)
        if err:
            return err
        try:
            if index not in (K.IO_REGION, K.ASYNC_REGION) or off + len(data) > SIZES[index]:
                return -K.EINVAL
            mutex = self.kernel.io_mutex[sch]
            if not mutex.trylock(ctx):
                return -K.EAGAIN
            try:
                if index == K.IO_REGION:
                    return self._io_write(ctx, sch, off, data)
                return self._async_write(ctx, sch, off, data)
            finally:
                mutex.unlock(ctx)
        finally:
            self._add(ctx, sch, P_INFLIGHT, -1)

    def _io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        """``vfio_ccw_mdev_write_io_region`` + ``fsm_io_request``."""
        k = self.kernel
        k.copy_in(ctx, sch, D_IO_REGION, off, data)  # before the FSM (H3)
        before = k.read_state(ctx, sch)
        if before in GONE:
            k.set_io_ret(sch, -K.EIO)
        elif before == State.CP_PROCESSING:
            k.set_io_ret(sch, -K.EAGAIN)
        elif before == State.CP_PENDING:
            k.set_io_ret(sch, -K.EBUSY)
        else:
            k.set_state(ctx, sch, State.CP_PROCESSING, Event.IO_REQ, sticky=STICKY)
            region = k.bytes_at(sch, D_IO_REGION, K.IO_REGION_SIZE)
            fc = int.from_bytes(region[12:16], "big") & scsw.FC
            if fc & scsw.FC_START:
                err = self._start(ctx, sch, region)
            else:  # halt/clear belong to the async region; no FC bit: ret_code as written (H4)
                err = -K.EOPNOTSUPP if fc else k.io_ret(sch)
            if err or not fc & scsw.FC_START:
                k.set_io_ret(sch, err)
                k.set_state(ctx, sch, State.IDLE, Event.IO_REQ, sticky=STICKY)  # E12
        ret = k.io_ret(sch)
        k.answer(ctx, Event.IO_REQ, sch, ret, before)
        return ret if ret else len(data)

    def _fetch(self, sch: int, cpa: int, fmt1: bool) -> bytes | int:
        """``cp_init``: fetch the chain, convert it to format 1 and relocate in-chain TICs.

        Returns:
            The host CCWs, or ``-errno``.
        """
        memory = self.kernel.css.memory
        chain: list[ccw.Ccw1] = []
        while True:
            addr = cpa + 8 * len(chain)
            if len(chain) == MAX_CCWS:
                return -K.EINVAL  # longer than 255 CCWs
            if addr % 8 or not memory.valid(addr, 8) or addr + 8 > self.kernel.arena:
                return -K.EFAULT  # guest memory ends where the kernel's arena begins
            raw = memory.read(addr, 8)
            one = ccw.Ccw1.from_bytes(raw) if fmt1 else ccw.Ccw0.from_bytes(raw).to_format1()
            chain.append(one)
            if one.cmd & 0x0F == ccw.CMD_TIC or not one.flags & (ccw.CC | ccw.CD):
                break
        slot, end = self.kernel.next_cp_slot(sch), cpa + 8 * len(chain)
        if any(c.cmd & 0x0F == ccw.CMD_TIC and not cpa <= c.cda < end for c in chain):
            return -K.EINVAL  # a TIC out of the fetched chain: not supported here
        return b"".join(
            ccw.Ccw1(c.cmd, c.flags, c.count, slot + c.cda - cpa).to_bytes()
            if c.cmd & 0x0F == ccw.CMD_TIC and cpa <= c.cda < end
            else c.to_bytes()
            for c in chain
        )

    def _start(self, ctx: Context, sch: int, region: bytes) -> int:
        """``cp_init`` + ``fsm_io_helper``: translate, then SSCH under ``sch_lock``."""
        k = self.kernel
        intparm, ctrl, cpa = (int.from_bytes(region[i : i + 4], "big") for i in (0, 4, 8))
        if ctrl & orb.B:
            return -K.EOPNOTSUPP
        if k.cp_live(sch):
            return -K.EBUSY  # E11
        host_ccws = self._fetch(sch, cpa, bool(ctrl & orb.F))
        if isinstance(host_ccws, int):
            return host_ccws
        if len(host_ccws) > CP_SLOT:
            return -K.EINVAL
        host = k.cp_alloc(ctx, sch, cpa, host_ccws)
        with held(ctx, k.sch_lock[sch]):
            ctrl = (ctrl | orb.F) & ~(orb.KEY | orb.D | orb.RESERVED | orb.X)
            if not ctrl & orb.LPM:
                ctrl |= (k.css.pmcw_word(sch, 2) & schib.LPM) >> 16
            block = b"".join(v.to_bytes(4, "big") for v in (intparm, ctrl, host))
            cc = k.issue(ctx, sch, Instr.SSCH, block)
            if cc == 0:
                k.set_state(ctx, sch, State.CP_PENDING, Event.IO_REQ, sticky=STICKY)  # E19
                k.set_io_ret(sch, 0)
                return 0
            v = k.css.pmcw_word(sch, 1) & schib.V
            err = -K.EBUSY if cc in (1, 2) else -K.EACCES if v else -K.ENODEV
        k.cp_free(ctx, sch)  # after sch_lock: never free in atomic context
        return err

    def _async_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        """``vfio_ccw_async_region_write`` + ``fsm_async_request``."""
        k = self.kernel
        k.copy_in(ctx, sch, D_CMD_REGION, off, data)
        before = k.read_state(ctx, sch)
        if before in GONE:
            ret = -K.EIO
        elif before == State.CP_PROCESSING:
            ret = -K.EAGAIN
        else:
            command = int.from_bytes(k.bytes_at(sch, D_CMD_REGION, 4), "big")
            with held(ctx, k.sch_lock[sch]):
                if command == K.ASYNC_CMD_HSCH:
                    cc = k.issue(ctx, sch, Instr.HSCH)
                    ret = 0 if cc == 0 else -K.EBUSY if cc in (1, 2) else -K.ENODEV
                elif command == K.ASYNC_CMD_CSCH:
                    cc = k.issue(ctx, sch, Instr.CSCH)
                    ret = 0 if cc == 0 else -K.ENODEV
                else:
                    cc, ret = -1, -K.EINVAL
                if cc == 0:
                    self._aim(sch)
        k.set_cmd_ret(sch, ret)
        k.answer(ctx, Event.ASYNC_REQ, sch, ret, before)
        return ret if ret else len(data)

    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        """``vfio_ccw_mdev_read``: copy a region out under ``io_mutex``."""
        k = self.kernel
        index, off = offset >> K.REGION_SHIFT, offset & OFF_MASK
        err = self._enter(ctx, sch)
        if err:
            return err
        try:
            if index not in SIZES or n < 0 or off + n > SIZES[index]:
                return -K.EINVAL
            with held(ctx, k.io_mutex[sch]):
                if index in (K.IO_REGION, K.ASYNC_REGION):
                    area = D_IO_REGION if index == K.IO_REGION else D_CMD_REGION
                    return k.copy_out(ctx, sch, area, off, n)
                if index == K.SCHIB_REGION:
                    cc, raw = k.store_subchannel(ctx, sch)
                    return bytes(raw[off : off + n]) if cc == 0 else -K.ENODEV
                return bytes(n)  # crw: CRWs are not modelled
        finally:
            self._add(ctx, sch, P_INFLIGHT, -1)

    # ---- interrupts -------------------------------------------------------------------

    def irq(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_irq`` + ``fsm_irq`` / ``fsm_disabled_irq``: the top half."""
        k = self.kernel
        with k.interrupt_context(ctx), held(ctx, k.sch_lock[sch]):
            cc, irb = k.test_subchannel(ctx, sch)
            if cc:
                return
            if k.read_state(ctx, sch) in ACTIVE:
                self._stash(sch, irb)
                k.queue_work(ctx, sch)
            else:
                self._msch(ctx, sch, enable=False)  # E16: userspace gets nothing
                self._defer_free(ctx, sch)
            if self._get(sch, P_QUIESCING):
                k.quiesce[sch].complete(ctx)

    def _stash(self, sch: int, irb: bytes) -> None:
        """Queue an IRB with the current halt/clear aim (under ``sch_lock``)."""
        tail, head = self._get(sch, P_TAIL), self._get(sch, P_HEAD)
        if tail - head >= QLEN:  # full (a PCI storm): the oldest intermediate goes
            k = self.kernel

            def w0(i: int) -> int:
                return int.from_bytes(
                    k.bytes_at(sch, self._area(sch, P_QUEUE + (i % QLEN) * ENTRY), 4), "big"
                )

            busy = scsw.AC_SUBCHANNEL_ACTIVE | scsw.AC_DEVICE_ACTIVE
            victim = next((i for i in range(head, tail) if w0(i) & busy), tail - 1)
            for i in range(victim, tail - 1):
                src, dst = (self._area(sch, P_QUEUE + (j % QLEN) * ENTRY) for j in (i + 1, i))
                k.set_bytes(sch, dst, 0, k.bytes_at(sch, src, 4 * ENTRY))
            tail -= 1
        entry = P_QUEUE + (tail % QLEN) * ENTRY
        self.kernel.set_bytes(sch, self._area(sch, entry), 0, bytes(irb))
        self._put(sch, entry + 24, self._get(sch, P_AIM))
        self._put(sch, P_TAIL, tail + 1)

    def _take(self, sch: int) -> tuple[bytes, int] | None:
        """Dequeue the oldest IRB and its aim (under ``sch_lock``)."""
        head = self._get(sch, P_HEAD)
        if head == self._get(sch, P_TAIL):
            return None
        entry = P_QUEUE + (head % QLEN) * ENTRY
        self._put(sch, P_HEAD, head + 1)
        return self.kernel.bytes_at(sch, self._area(sch, entry), 96), self._get(sch, entry + 24)

    def _translate(self, sch: int, irb: bytes) -> bytes:
        """``cp_update_scsw``: the SCSW's CCW address back into the guest program."""
        k = self.kernel
        cpa, host = int.from_bytes(irb[4:8], "big"), k.cp_host(sch)
        if not k.cp_live(sch) or not host <= cpa <= host + k.cp_len(sch):
            return irb
        return irb[:4] + (k.cp_guest(sch) + cpa - host).to_bytes(4, "big") + irb[8:]

    def _frees_cp(self, sch: int, w0: int, before: State, aim: int) -> bool:
        """``io_todo`` step 2: whether this IRB ends the live program (E1, E8, E10).

        Args:
            sch: The subchannel.
            w0: SCSW word 0 of the IRB.
            before: The FSM state the bottom half met.
            aim: The cp generation the last halt/clear aimed at when the IRB was taken.
        """
        related = not w0 & (scsw.FC_HALT | scsw.FC_CLEAR) or aim == self.kernel.cp_gen(sch)
        return (
            scsw.is_solicited(w0)
            and scsw.is_final(w0)
            and related
            and self.kernel.cp_live(sch)
            and before in (State.CP_PENDING, State.NOT_OPER)
        )

    def _goes_idle(self, w0: int, before: State, freed: bool) -> bool:
        """``io_todo`` step 4: IDLE only when this IRB freed the program (E13)."""
        return freed

    def todo(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_io_todo`` and ``notoper_work``: the bottom half."""
        k = self.kernel
        mutex = k.io_mutex[sch]
        if self._get(sch, P_NOTOPER):
            with held(ctx, mutex):
                if not k.css.scsw0(sch) & scsw.FC_START:  # else a start still runs
                    self._put(sch, P_NOTOPER, 0)
                    k.cp_free(ctx, sch)
        while True:
            with held(ctx, mutex):
                with held(ctx, k.sch_lock[sch]):
                    taken = self._take(sch)
                if taken is None:
                    return
                irb, aim = taken
                before = k.read_state(ctx, sch)
                w0 = int.from_bytes(irb[:4], "big")
                if scsw.is_solicited(w0):
                    irb = self._translate(sch, irb)
                freed = self._frees_cp(sch, w0, before, aim) and k.cp_free(ctx, sch)
                delivered = before not in GONE  # E16
                if delivered:
                    k.deliver_irb(ctx, sch, irb)
                if self._goes_idle(w0, before, freed):
                    k.set_state(ctx, sch, State.IDLE, Event.INTERRUPT, sticky=STICKY)
            k.processed(ctx, sch, w0, before, freed)
            if delivered:
                k.signal_io(ctx, sch)

    def sch_event(self, ctx: Context, sch: int) -> None:
        """``vfio_ccw_sch_event``: NOT_OPER once the device is gone, else nothing (E14)."""
        k = self.kernel
        with held(ctx, k.sch_lock[sch]):
            if not k.css.pmcw_word(sch, 1) & schib.V:
                self._notoper(ctx, sch)

    # ---- lifecycle --------------------------------------------------------------------

    def _fsm_open(self, ctx: Context, sch: int) -> None:
        """``fsm_open``: from STANDBY, enable the subchannel; IDLE, or NOT_OPER."""
        k = self.kernel
        with held(ctx, k.sch_lock[sch]):
            if k.read_state(ctx, sch) != State.STANDBY:
                return
            if self._msch(ctx, sch, enable=True) == 0:
                k.set_state(ctx, sch, State.IDLE, Event.OPEN, sticky=STICKY)
            else:
                self._notoper(ctx, sch)

    def _cancel(self, ctx: Context, sch: int) -> int:
        """``cio_cancel_halt_clear`` (under ``sch_lock``): XSCH, else HSCH, else CSCH."""
        k = self.kernel
        w0 = k.css.scsw0(sch)
        if w0 & scsw.SC_PENDING:
            return WAIT
        if not w0 & scsw.FC or k.issue(ctx, sch, Instr.XSCH) == 0:
            return DONE
        if not w0 & scsw.FC_HALT:
            cc = k.issue(ctx, sch, Instr.HSCH)
            if cc == 0:
                self._aim(sch)
            if cc != 2:
                return NODEV if cc == 3 else WAIT
        if k.issue(ctx, sch, Instr.CSCH) != 0:
            return NODEV
        self._aim(sch)
        return WAIT

    def _fsm_close(self, ctx: Context, sch: int) -> None:
        """``fsm_close`` + ``vfio_ccw_sch_quiesce``: disable, STANDBY, then free the cp."""
        k = self.kernel
        if k.read_state(ctx, sch) == State.NOT_OPER:
            return
        lock, locked = k.sch_lock[sch], True
        lock.lock(ctx)
        try:
            pmcw1 = k.css.pmcw_word(sch, 1)
            usable = pmcw1 & schib.ENABLED and pmcw1 & schib.V
            cc = self._msch(ctx, sch, enable=False) if usable else 3
            while cc in (1, 2):
                action = self._cancel(ctx, sch)
                if action == NODEV:
                    cc = 3
                    break
                if action == WAIT:
                    self._put(sch, P_QUIESCING, 1)
                    k.quiesce[sch].reinit(ctx)
                lock.unlock(ctx)
                locked = False
                if action == WAIT:
                    k.quiesce[sch].wait(ctx)
                k.flush_work(ctx)
                lock.lock(ctx)
                locked = True
                self._put(sch, P_QUIESCING, 0)
                cc = self._msch(ctx, sch, enable=False)  # E5: retry the disable first
            if cc:
                self._notoper(ctx, sch)
                return
            lock.unlock(ctx)
            locked = False
            k.flush_work(ctx)  # an io_todo past its state check must not follow STANDBY
            lock.lock(ctx)
            locked = True
            k.set_state(ctx, sch, State.STANDBY, Event.CLOSE, sticky=STICKY)
        finally:
            if locked:
                lock.unlock(ctx)
        with held(ctx, k.io_mutex[sch]):
            k.cp_free(ctx, sch)  # E6, E18

    def open(self, ctx: Context, sch: int) -> int:
        """``vfio_ccw_mdev_open_device``: the first open sends OPEN."""
        k = self.kernel
        with held(ctx, k.open_lock[sch]):
            if self._get(sch, P_REMOVED):
                return -K.ENODEV
            if not self._get(sch, P_OPEN):
                if k.read_state(ctx, sch) == State.NOT_OPER:
                    return -K.EINVAL
                self._fsm_open(ctx, sch)
                if k.read_state(ctx, sch) == State.NOT_OPER:
                    return -K.EINVAL
            self._add(ctx, sch, P_OPEN, 1)
            return 0

    def close(self, ctx: Context, sch: int) -> int:
        """``vfio_ccw_mdev_close_device``: the last close drains and sends CLOSE."""
        with held(ctx, self.kernel.open_lock[sch]):
            if not self._get(sch, P_OPEN):
                return -K.EBADF
            if self._add(ctx, sch, P_OPEN, -1) == 0:  # new accesses now get -EBADF
                self._drain(ctx, sch)
                self._fsm_close(ctx, sch)
            return 0

    def reset(self, ctx: Context, sch: int) -> int:
        """``vfio_ccw_mdev_reset`` (VFIO_DEVICE_RESET): drain, CLOSE, then OPEN."""
        k = self.kernel
        if self._get(sch, P_REMOVED):
            return -K.ENODEV
        with held(ctx, k.open_lock[sch]):
            if not self._get(sch, P_OPEN):
                return -K.EBADF
            self._add(ctx, sch, P_GATE, 1)
            try:
                self._drain(ctx, sch)
                self._fsm_close(ctx, sch)
                self._fsm_open(ctx, sch)
            finally:
                self._add(ctx, sch, P_GATE, -1)
            return -K.EINVAL if k.read_state(ctx, sch) == State.NOT_OPER else 0

    def remove(self, ctx: Context, sch: int) -> int:
        """``vfio_ccw_mdev_remove``: refused while open; every later access -ENODEV."""
        with held(ctx, self.kernel.open_lock[sch]):
            if self._get(sch, P_REMOVED):
                return -K.ENODEV
            if self._get(sch, P_OPEN):
                return -K.EBUSY
            self._put(sch, P_REMOVED, 1)
            return 0

    # ---- read by the pool after a run -------------------------------------------------

    def state(self, sch: int) -> State:
        """The FSM state (``private->state``)."""
        return self.kernel.state(sch)

    def cp_live(self, sch: int) -> bool:
        """Whether a channel program is initialized (``cp->initialized``)."""
        return self.kernel.cp_live(sch)
