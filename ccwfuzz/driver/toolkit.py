"""The driver toolkit: the kernel services a vfio-ccw driver calls, each writing the
history records the oracles judge (:data:`ccwfuzz.sync.history.DOCS`). A driver that
uses them is judged without knowing any record encoding; one that bypasses them is
told so by ``ccwfuzz check-driver``. :class:`~ccwfuzz.driver.kernel.Kernel` is a
:class:`Toolkit` with the environment around it (locks, work queue, layout)."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Iterator

from ccwfuzz.arch import schib as P
from ccwfuzz.arch import sid as sid_mod
from ccwfuzz.arch.exceptions import ProgramInterruption
from ccwfuzz.device import ChannelSubsystem
from ccwfuzz.driver.contract import (
    ASYNC_REGION_SIZE,
    EFAULT,
    ENOMEM,
    IO_REGION_SIZE,
    IRB_AREA,
    RET_CODE,
    Event,
    State,
)
from ccwfuzz.driver.layout import (
    CHUNK,
    CP_SLOT,
    D_CMD_REGION,
    D_CP_GEN,
    D_CP_GUEST,
    D_CP_HOST,
    D_CP_INIT,
    D_CP_LEN,
    D_IO_REGION,
    D_PINNED,
    D_STATE,
    DRV_WORDS,
    FRAMES_PER_CP,
    GLOBAL_WORDS,
    PAGE,
    POISON,
    POISON_WORD,
    SLOTS_PER_SCH,
    STARTS,
)
from ccwfuzz.sync import Context, EventCounter, WaitQueue
from ccwfuzz.sync.history import NO_CC, NO_EVENT, OPERATIONAL, Ev, Instr, irb_hash


class Toolkit:
    """Addressing and the toolkit services over the driver words of one segment."""

    css: ChannelSubsystem
    w: memoryview
    buf: memoryview
    base: int
    arena: int
    channel_waitq: WaitQueue
    io_event: list[EventCounter]
    #: Called as ``on_deliver(ctx, sch, irb)`` after an IRB reached ``irb_area`` (the
    #: executor uses it to note the guest's memory then, for the differential check).
    on_deliver: Callable[[Context, int, bytes], None] | None = None

    # ---- addressing ------------------------------------------------------------------
    def d(self, sch: int) -> int:
        """Word index of subchannel ``sch``'s driver words."""
        return self.base + GLOBAL_WORDS + sch * DRV_WORDS

    def bytes_at(self, sch: int, word: int, n: int) -> bytes:
        o = 4 * (self.d(sch) + word)
        return bytes(self.buf[o : o + n])

    def set_bytes(self, sch: int, word: int, offset: int, data: bytes) -> None:
        o = 4 * (self.d(sch) + word) + offset
        self.buf[o : o + len(data)] = data

    # ---- toolkit: the FSM state (spec D) ------------------------------------------------
    def state(self, sch: int) -> State:
        """The FSM state now (no scheduling point; freed private state reads NOT_OPER)."""
        raw = self.w[self.d(sch) + D_STATE]
        return State(raw) if raw in _STATES else State.NOT_OPER

    def read_state(self, ctx: Context, sch: int) -> State:
        """Read the FSM state at a scheduling point; reading freed private state (E17)
        is recorded as a use after free and reads NOT_OPER."""
        ctx.point(hot=1)  # an FSM state access: where windows open
        raw = self.w[self.d(sch) + D_STATE]
        self.freed(ctx, sch, D_STATE)
        return State(raw) if raw in _STATES else State.NOT_OPER

    def set_state(
        self, ctx: Context, sch: int, new: State, event: int = NO_EVENT,
        sticky: frozenset[State] = frozenset(),
    ) -> bool:  # fmt: skip
        """Write the FSM state and record the transition, as one step (so the history
        order is the true order). A state in ``sticky`` is not left: the write is
        dropped and False returned."""
        ctx.point(hot=1)
        d = self.d(sch)
        with ctx.atomic():
            old = self.w[d + D_STATE]
            if old in sticky and new != old:
                return False
            self.w[d + D_STATE] = new
            ctx.record(Ev.FSM, sch, old, new, event)
        return True

    def answer(self, ctx: Context, event: Event, sch: int, ret: int, before: State) -> None:
        """Record the FSM's answer to a request (IO_REQ or ASYNC_REQ): the return code
        it leaves for userspace and the state it met (spec D.1)."""
        ctx.record(Ev.RET, event, sch, ret, before, self.state(sch))

    # ---- toolkit: instructions (spec B) -----------------------------------------------
    def issue(self, ctx: Context, sch: int, instr: Instr, operand: bytes | None = None) -> int:
        """Issue an instruction on the host subchannel (a scheduling point), atomically,
        as the hardware interlocks it; record it; kick the channel when a function was
        started. A program interruption (a bad operand) gives :data:`NO_CC`."""
        ctx.point()
        css, sid = self.css, sid_mod.make(sch)
        with ctx.atomic():
            before = css.scsw0(sch)
            w1 = css.pmcw_word(sch, 1)
            flags = OPERATIONAL if w1 & (P.V | P.ENABLED) == P.V | P.ENABLED else 0
            try:
                if instr in (Instr.SSCH, Instr.MSCH):
                    if operand is None:
                        raise ProgramInterruption(instr.name.lower(), "no operand")
                    cc = css.ssch(sid, operand) if instr == Instr.SSCH else css.msch(sid, operand)
                elif instr == Instr.TSCH:
                    raise ValueError("TSCH goes through test_subchannel(), which records it")
                elif instr == Instr.STSCH:  # (the SCHIB itself: store_subchannel)
                    cc = css.stsch(sid)[0]
                else:
                    cc = getattr(css, instr.name.lower())(sid)
            except ProgramInterruption:
                cc = NO_CC
            ctx.record(Ev.INSTR, instr | flags, sch, cc, before, css.scsw0(sch))
        if cc == 0 and instr in STARTS:
            self.channel_waitq.kick(ctx)
        return int(cc)

    def store_subchannel(self, ctx: Context, sch: int) -> tuple[int, bytes]:
        """STSCH: the SCHIB (no state change, not a scheduling point of its own)."""
        with ctx.atomic():
            return self.css.stsch(sid_mod.make(sch))

    def test_subchannel(self, ctx: Context, sch: int) -> tuple[int, bytes]:
        """TSCH in the top half: take the pending interruption (cc 0) into a 96-byte
        IRB, recording the instruction and the interruption."""
        css = self.css
        with ctx.atomic():
            before = css.scsw0(sch)
            w1 = css.pmcw_word(sch, 1)
            flags = OPERATIONAL if w1 & (P.V | P.ENABLED) == P.V | P.ENABLED else 0
            cc, irb = css.tsch(sid_mod.make(sch))
            ctx.record(Ev.INSTR, Instr.TSCH | flags, sch, cc, before, css.scsw0(sch))
            if cc == 0:
                w0, cpa, w2 = struct.unpack_from(">III", irb)
                ctx.record(Ev.INTERRUPT, sch, w0, cpa, w2, self.state(sch))
        return cc, irb

    @contextlib.contextmanager
    def interrupt_context(self, ctx: Context) -> Iterator[None]:
        """Run the block as the interrupt top half (atomic context: no sleeping)."""
        ctx.irq = True
        try:
            yield
        finally:
            ctx.irq = False

    # ---- toolkit: channel programs ----------------------------------------------------
    def cp_live(self, sch: int) -> bool:
        """A channel program is initialized (freed private state holds none, E17)."""
        raw = self.w[self.d(sch) + D_CP_INIT]
        return bool(raw) and raw != POISON_WORD

    def cp_gen(self, sch: int) -> int:
        """Generation of the live (or last) channel program of ``sch`` (1, 2, ...)."""
        return int(self.w[self.d(sch) + D_CP_GEN])

    def cp_host(self, sch: int) -> int:
        return int(self.w[self.d(sch) + D_CP_HOST])

    def cp_guest(self, sch: int) -> int:
        return int(self.w[self.d(sch) + D_CP_GUEST])

    def cp_len(self, sch: int) -> int:
        return int(self.w[self.d(sch) + D_CP_LEN])

    def next_cp_slot(self, sch: int) -> int:
        """Host address where the next channel program of ``sch`` is to be built."""
        return self.slot_addr(sch, self.cp_gen(sch) + 1)

    def cp_alloc(self, ctx: Context, sch: int, guest: int, host_ccws: bytes) -> int:
        """Put a translated channel program into its arena slot (a scheduling point)
        and make it the live one; returns its host address. Raises ``ValueError`` for
        a program that does not fit a slot (check ``len`` first: -EINVAL)."""
        if len(host_ccws) > CP_SLOT:
            raise ValueError("translated channel program exceeds its slot")
        w, d = self.w, self.d(sch)
        gen = w[d + D_CP_GEN] + 1
        host = self.slot_addr(sch, gen)
        ctx.point()
        self.css.memory.write(host, host_ccws)
        w[d + D_CP_GEN] = gen
        w[d + D_CP_GUEST] = guest
        w[d + D_CP_HOST] = host
        w[d + D_CP_LEN] = len(host_ccws)
        w[d + D_CP_INIT] = 1
        ctx.record(Ev.CP_ALLOC, sch, gen, host, guest, len(host_ccws))
        return host

    def cp_free(self, ctx: Context, sch: int, unpin: bool = True) -> bool:
        """``cp_free``: a no-op on an empty cp (E7); else the guest pages the program
        pinned are unpinned (``unpin=False`` leaves them pinned: only a buggy driver
        wants that), the slot is poisoned and the free recorded. Returns whether a
        program was freed."""
        w, d = self.w, self.d(sch)
        if not w[d + D_CP_INIT]:
            return False
        if self.freed(ctx, sch, D_CP_INIT):  # E17: no program to free in freed state
            return False
        ctx.point()
        w[d + D_CP_INIT] = 0
        if unpin:
            self.unpin(ctx, sch, w[d + D_CP_GEN])
        self.poison(w[d + D_CP_HOST])
        atomic = int(ctx.irq or ctx.spin_depth > 0)
        ctx.record(Ev.CP_FREE, sch, w[d + D_CP_GEN], w[d + D_CP_HOST], self.state(sch), atomic)
        return True

    # ---- toolkit: pinning guest pages (vfio pin_pages / unpin_pages) -------------------
    def pin(self, ctx: Context, sch: int, guest: int) -> int:
        """Pin the guest page holding guest address ``guest`` for the channel program
        being built (the next generation of ``sch``): map it into the next host frame
        of that program's window and return the host address of ``guest``. -EFAULT
        for an address outside guest memory, -ENOMEM when the window is full.
        Recorded as ``PIN`` (not a scheduling point of its own: the translation around
        it has them)."""
        if not 0 <= guest < self.arena:
            return -EFAULT
        gen = self.cp_gen(sch) + 1
        slot = gen % SLOTS_PER_SCH
        w, d = self.w, self.d(sch)
        n = w[d + D_PINNED + slot]
        if n >= FRAMES_PER_CP:
            return -ENOMEM
        frame = (sch * SLOTS_PER_SCH + slot) * FRAMES_PER_CP + n
        mem = self.css.memory
        mem.map_frame(frame, guest // PAGE)
        w[d + D_PINNED + slot] = n + 1
        ctx.record(Ev.PIN, sch, gen, frame, guest // PAGE)
        return mem.frame_address(frame) + guest % PAGE

    def unpin(self, ctx: Context, sch: int, gen: int | None = None) -> int:
        """Unpin every page pinned for generation ``gen`` of ``sch`` (default: the
        program being built, after a translation error); returns how many. Recorded
        as ``UNPIN`` when there were any."""
        gen = self.cp_gen(sch) + 1 if gen is None else gen
        slot = gen % SLOTS_PER_SCH
        w, d = self.w, self.d(sch)
        n = w[d + D_PINNED + slot]
        if not n or self.freed(ctx, sch, D_PINNED + slot):
            return 0
        first = (sch * SLOTS_PER_SCH + slot) * FRAMES_PER_CP
        for frame in range(first, first + n):
            self.css.memory.unmap_frame(frame)
        w[d + D_PINNED + slot] = 0
        ctx.record(Ev.UNPIN, sch, gen, n)
        return int(n)

    def freed(self, ctx: Context, sch: int, word: int) -> bool:
        """Whether private word ``word`` of ``sch`` holds the slab poison: the path
        reading it runs on freed private state (spec E17). The read is recorded as a
        use after free, and the caller must not go on with the value: a poisoned count
        or address drives a loop or a copy nowhere a kernel would survive."""
        addr = self.d(sch) + word
        if self.w[addr] != POISON_WORD:
            return False
        ctx.record(Ev.POISON_READ, sch, 4 * addr)
        return True

    def pinned(self, sch: int, gen: int | None = None) -> int:
        """Pages pinned for generation ``gen`` of ``sch`` (default: the one being built)."""
        gen = self.cp_gen(sch) + 1 if gen is None else gen
        return int(self.w[self.d(sch) + D_PINNED + gen % SLOTS_PER_SCH])

    def slot_addr(self, sch: int, gen: int) -> int:
        return self.arena + (sch * SLOTS_PER_SCH + gen % SLOTS_PER_SCH) * CP_SLOT

    def poison(self, addr: int, n: int = CP_SLOT) -> None:
        self.css.memory.fill(addr, n, POISON)

    # ---- toolkit: the regions (spec A.7, D.4) -------------------------------------------
    def copy_in(self, ctx: Context, sch: int, area: int, off: int, data: bytes) -> None:
        """Copy bytes into a region area (``D_IO_REGION``, ``D_CMD_REGION``) in 32-byte
        chunks, each a scheduling point (a racing copy can interleave, spec E2). Raises
        ``ValueError`` for a copy past the end of a region area."""
        _bounds(area, off, len(data))
        for k in range(0, len(data), CHUNK):
            ctx.point()
            self.set_bytes(sch, area, off + k, data[k : k + CHUNK])

    def copy_out(self, ctx: Context, sch: int, area: int, off: int, n: int) -> bytes:
        _bounds(area, off, n)
        out = b""
        for k in range(0, n, CHUNK):
            ctx.point()
            m = min(CHUNK, n - k)
            out += self.bytes_at(sch, area, off + k + m)[off + k :]
        return out

    def io_ret(self, sch: int) -> int:
        raw = self.bytes_at(sch, D_IO_REGION, IO_REGION_SIZE)
        return int(struct.unpack_from(">i", raw, RET_CODE)[0])

    def set_io_ret(self, sch: int, ret: int) -> None:
        self.set_bytes(sch, D_IO_REGION, RET_CODE, struct.pack(">i", ret))

    def cmd_ret(self, sch: int) -> int:
        return int(
            struct.unpack_from(">i", self.bytes_at(sch, D_CMD_REGION, ASYNC_REGION_SIZE), 4)[0]
        )

    def set_cmd_ret(self, sch: int, ret: int) -> None:
        self.set_bytes(sch, D_CMD_REGION, 4, struct.pack(">i", ret))

    def deliver_irb(self, ctx: Context, sch: int, irb: bytes) -> None:
        """Copy an IRB into the I/O region's ``irb_area`` for userspace (chunked) and
        record the delivery; signal userspace with :meth:`signal_io` afterwards."""
        self.copy_in(ctx, sch, D_IO_REGION, IRB_AREA, irb)
        w0, w1, w2 = struct.unpack_from(">III", irb)
        ctx.record(Ev.IRB_STORE, sch, irb_hash(irb), w0, w1, w2)
        if self.on_deliver is not None:
            self.on_deliver(ctx, sch, irb)

    def processed(self, ctx: Context, sch: int, w0: int, before: State, freed: bool) -> None:
        """Record what the bottom half did with an IRB (SCSW word 0 ``w0``): the state
        it met and whether it freed the channel program."""
        ctx.record(Ev.TODO, sch, w0, before, self.state(sch), int(freed))

    def signal_io(self, ctx: Context, sch: int) -> None:
        """Signal the userspace I/O eventfd (workers in ``wait_irq`` wait on it)."""
        ctx.record(Ev.EVENTFD, sch)
        self.io_event[sch].signal(ctx)


_STATES = frozenset(int(s) for s in State)
_AREAS = {D_IO_REGION: IO_REGION_SIZE, D_CMD_REGION: ASYNC_REGION_SIZE}


def _bounds(area: int, off: int, n: int) -> None:
    size = _AREAS.get(area)
    if size is not None and (off < 0 or n < 0 or off + n > size):
        raise ValueError(f"copy of {n} bytes at {off} overruns a {size}-byte region area")
