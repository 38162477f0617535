"""The "kernel" a driver model runs in, and the toolkit every driver uses.

The environment: the driver's shared words, its locks, the single-threaded work queue and
the channel-program arena, all inside the run segment, so any actor process can run any
driver entry point. The toolkit: the kernel services a vfio-ccw driver calls (issue an
instruction, test the subchannel in the top half, change the FSM state, allocate and
free a channel program, copy region bytes, deliver an IRB to userspace, signal the
eventfd, queue work). Each service writes the history records the oracles judge
(:data:`ccwfuzz.sync.history.DOCS` lists them), so a driver that uses the toolkit is
judged without knowing any record encoding, and cannot get one wrong.

Layout of the driver words (a words view, from ``base``): a few global words (the work
queue ring), then :data:`DRV_WORDS` per subchannel, then the words a driver declares for
itself (``private_words``, reached by :meth:`Kernel.private`). Byte areas that have an
ABI layout (the I/O region, the async command region, IRBs) are big-endian bytes as on
s390, at fixed word offsets.

The cp arena is the top half of the channel subsystem's memory ("host memory"): two
4-KiB slots per subchannel, used alternately, filled with the slab poison byte 0x6b when
freed, so a channel still fetching a freed program reads poison (spec E1, E8, E10).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from typing import Any

from ccwfuzz.arch import schib as P
from ccwfuzz.arch import sid as sid_mod
from ccwfuzz.arch.exceptions import ProgramInterruption
from ccwfuzz.device import ChannelSubsystem
from ccwfuzz.driver.contract import (
    ASYNC_REGION_SIZE,
    IO_REGION_SIZE,
    IRB_AREA,
    RET_CODE,
    Event,
    State,
)
from ccwfuzz.sync import Completion, Context, EventCounter, Kind, Mutex, SpinLock, Table, WaitQueue
from ccwfuzz.sync.history import NO_CC, NO_EVENT, OPERATIONAL, Ev, Instr, irb_hash

POISON = 0x6B
POISON_WORD = 0x6B6B6B6B  # a driver word of freed private state
CP_SLOT = 4096
SLOTS_PER_SCH = 2
CHUNK = 32  # bytes copied between scheduling points
IRB_SIZE = 96

# Global driver words.
G_WQ_HEAD, G_WQ_TAIL, G_WQ_COUNT, G_WQ_RUNNING = 0, 1, 2, 3
G_WQ_RING = 8
WQ_RING = 64
GLOBAL_WORDS = G_WQ_RING + WQ_RING

# Per-subchannel driver words.
D_STATE = 0
D_CP_INIT = 1  # a channel program is initialized (cp->initialized)
D_CP_SLOT = 2
D_CP_GUEST = 3  # guest address of the channel program
D_CP_HOST = 4  # host (arena) address of the translated program
D_CP_LEN = 5
D_CP_GEN = 6
D_WORK_QUEUED = 7
D_REMOVED = 8
D_QUIESCING = 9
D_OPEN_COUNT = 10  # vfio core: open file references
D_HALT_GEN = 11  # cp generation live when the last HSCH/CSCH was accepted (0: none)
D_IRB_VALID = 12  # the private IRB slot holds an IRB not yet taken by the bottom half
D_INFLIGHT = 13  # vfio core: region accesses in progress
D_NOTOPER_WORK = 14  # a deferred cp free after NOT_OPER (E18 notoper_work) is queued
D_IRB_AIM = 15  # D_HALT_GEN when the top half stored the private IRB
D_IO_REGION = 16  # 31 words: 124 bytes
D_CMD_REGION = 48  # 2 words
D_IRB = 52  # 24 words: the private IRB slot (spec D.4 H1)
D_CRW_HEAD, D_CRW_TAIL = 80, 81
D_CRW_RING = 82  # 8 CRWs
D_IRBQ_HEAD, D_IRBQ_TAIL = 90, 91  # the reference's queue of IRBs from the top half
D_IRBQ = 96  # IRBQ_LEN entries of IRBQ_ENTRY words: the IRB, then its D_HALT_GEN
IRBQ_LEN, IRBQ_ENTRY = 8, 25
DRV_WORDS = D_IRBQ + IRBQ_LEN * IRBQ_ENTRY

# Primitive slots.
P_WQ, P_WQ_IDLE, P_CHANNEL, P_CRW_LOCK, P_GLOBAL_WRITE = 0, 1, 2, 3, 4
P_GLOBAL = 8
P_PER_SCH = 6
P_IO_MUTEX, P_SCH_LOCK, P_IO_EVENT, P_CRW_EVENT, P_QUIESCE, P_OPEN_LOCK = 0, 1, 2, 3, 4, 5
#: Instructions that start a function the channel then performs (it is kicked).
STARTS = frozenset({Instr.SSCH, Instr.HSCH, Instr.CSCH, Instr.RSCH})


def words_needed(nsch: int, private_words: int = 0) -> int:
    return GLOBAL_WORDS + nsch * (DRV_WORDS + private_words)


def slots_needed(nsch: int, private_locks: int = 0) -> int:
    return P_GLOBAL + nsch * (P_PER_SCH + private_locks)


def arena_size(nsch: int) -> int:
    return nsch * SLOTS_PER_SCH * CP_SLOT


class Kernel:
    """Shared driver environment over one run segment, and the driver toolkit.

    ``private_words`` words per subchannel and ``private_locks`` (name, kind) per
    subchannel are what a driver class declares for itself (its ``private_words`` and
    ``private_locks`` attributes); the lock names become lock classes for ``lock.order``.
    """

    def __init__(
        self, css: ChannelSubsystem, w: memoryview, buf: memoryview, base: int, table: Table,
        arena: int, private_words: int = 0, private_locks: tuple[tuple[str, Kind], ...] = (),
    ) -> None:  # fmt: skip
        self.css = css
        self.nsch = css.subchannels
        self.w = w
        self.buf = buf  # the same words as bytes (for the ABI byte areas)
        self.base = base
        self.table = table
        self.arena = arena
        self.private_words = private_words
        self.private_locks = private_locks
        self.wq_waitq = WaitQueue(table, P_WQ)
        self.wq_idle = WaitQueue(table, P_WQ_IDLE)
        self.channel_waitq = WaitQueue(table, P_CHANNEL)
        self.crw_lock = SpinLock(table, P_CRW_LOCK)
        self.global_write = Mutex(table, P_GLOBAL_WRITE)  # used only by a zoo member
        self.io_mutex = [Mutex(table, self._slot(s, P_IO_MUTEX)) for s in range(self.nsch)]
        self.sch_lock = [SpinLock(table, self._slot(s, P_SCH_LOCK)) for s in range(self.nsch)]
        self.io_event = [EventCounter(table, self._slot(s, P_IO_EVENT)) for s in range(self.nsch)]
        self.crw_event = [EventCounter(table, self._slot(s, P_CRW_EVENT)) for s in range(self.nsch)]
        self.quiesce = [Completion(table, self._slot(s, P_QUIESCE)) for s in range(self.nsch)]
        self.open_lock = [Mutex(table, self._slot(s, P_OPEN_LOCK)) for s in range(self.nsch)]
        factory = {Kind.MUTEX: Mutex, Kind.SPIN: SpinLock, Kind.COMPLETION: Completion,
                   Kind.EVENT: EventCounter, Kind.WAITQ: WaitQueue}  # fmt: skip
        self._private_prims = [
            {name: factory[kind](table, self._private_slot(s, i))
             for i, (name, kind) in enumerate(private_locks)}
            for s in range(self.nsch)
        ]  # fmt: skip

    @staticmethod
    def _slot(sch: int, k: int) -> int:
        return P_GLOBAL + sch * P_PER_SCH + k

    def _private_slot(self, sch: int, i: int) -> int:
        return slots_needed(self.nsch) + sch * len(self.private_locks) + i

    def lock(self, sch: int, name: str) -> Any:
        """A primitive the driver declared in ``private_locks``, for subchannel ``sch``."""
        return self._private_prims[sch][name]

    def private(self, sch: int) -> int:
        """Word index of the first of subchannel ``sch``'s ``private_words``."""
        return self.base + words_needed(self.nsch) + sch * self.private_words

    def primitive_kinds(self) -> dict[int, Kind]:
        kinds = {P_WQ: Kind.WAITQ, P_WQ_IDLE: Kind.WAITQ, P_CHANNEL: Kind.WAITQ,
                 P_CRW_LOCK: Kind.SPIN, P_GLOBAL_WRITE: Kind.MUTEX}  # fmt: skip
        for s in range(self.nsch):
            for k, kind in ((P_IO_MUTEX, Kind.MUTEX), (P_SCH_LOCK, Kind.SPIN),
                            (P_IO_EVENT, Kind.EVENT), (P_CRW_EVENT, Kind.EVENT),
                            (P_QUIESCE, Kind.COMPLETION), (P_OPEN_LOCK, Kind.MUTEX)):  # fmt: skip
                kinds[self._slot(s, k)] = kind
            for i, (_, kind) in enumerate(self.private_locks):
                kinds[self._private_slot(s, i)] = kind
        return kinds

    def lock_names(self) -> dict[int, str]:
        names = {P_WQ: "wq", P_WQ_IDLE: "wq_idle", P_CHANNEL: "channel", P_CRW_LOCK: "crw_lock",
                 P_GLOBAL_WRITE: "write_lock"}  # fmt: skip
        for s in range(self.nsch):
            for k, n in ((P_IO_MUTEX, "io_mutex"), (P_SCH_LOCK, "sch->lock"),
                         (P_IO_EVENT, "io_trigger"), (P_CRW_EVENT, "crw_trigger"),
                         (P_QUIESCE, "completion"), (P_OPEN_LOCK, "dev_set->lock")):  # fmt: skip
                names[self._slot(s, k)] = f"{n}[{s}]"
            for i, (n, _) in enumerate(self.private_locks):
                names[self._private_slot(s, i)] = f"{n}[{s}]"
        return names

    def format(self, initial_state: int) -> None:
        """Zero the driver words; every subchannel starts in ``initial_state``."""
        w, b = self.w, self.base
        n = words_needed(self.nsch, self.private_words)
        w[b : b + n] = memoryview(bytes(4 * n)).cast("I")
        for s in range(self.nsch):
            w[self.d(s) + D_STATE] = initial_state
        self.table.format(self.primitive_kinds())

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
        ctx.point()
        raw = self.w[self.d(sch) + D_STATE]
        if raw == POISON_WORD:
            ctx.record(Ev.POISON_READ, sch, 4 * (self.d(sch) + D_STATE))
        return State(raw) if raw in _STATES else State.NOT_OPER

    def set_state(
        self, ctx: Context, sch: int, new: State, event: int = NO_EVENT,
        sticky: frozenset[State] = frozenset(),
    ) -> bool:  # fmt: skip
        """Write the FSM state and record the transition, as one step (so the history
        order is the true order). A state in ``sticky`` is not left: the write is
        dropped and False returned."""
        ctx.point()
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
                elif instr == Instr.STSCH:
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
        return bool(self.w[self.d(sch) + D_CP_INIT])

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

    def cp_free(self, ctx: Context, sch: int) -> bool:
        """``cp_free``: a no-op on an empty cp (E7); else the slot is poisoned and the
        free recorded. Returns whether a program was freed."""
        w, d = self.w, self.d(sch)
        if not w[d + D_CP_INIT]:
            return False
        ctx.point()
        w[d + D_CP_INIT] = 0
        self.poison(w[d + D_CP_HOST])
        ctx.record(Ev.CP_FREE, sch, w[d + D_CP_GEN], w[d + D_CP_HOST], self.state(sch))
        return True

    def slot_addr(self, sch: int, gen: int) -> int:
        return self.arena + (sch * SLOTS_PER_SCH + gen % SLOTS_PER_SCH) * CP_SLOT

    def poison(self, addr: int, n: int = CP_SLOT) -> None:
        self.css.memory.fill(addr, n, POISON)

    # ---- toolkit: the regions (spec A.7, D.4) -------------------------------------------
    def copy_in(self, ctx: Context, sch: int, area: int, off: int, data: bytes) -> None:
        """Copy bytes into a region area (``D_IO_REGION``, ``D_CMD_REGION``) in 32-byte
        chunks, each a scheduling point (a racing copy can interleave, spec E2)."""
        for k in range(0, len(data), CHUNK):
            ctx.point()
            self.set_bytes(sch, area, off + k, data[k : k + CHUNK])

    def copy_out(self, ctx: Context, sch: int, area: int, off: int, n: int) -> bytes:
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
        ctx.record(Ev.IRB_STORE, sch, irb_hash(irb), struct.unpack_from(">I", irb)[0])

    def processed(self, ctx: Context, sch: int, w0: int, before: State, freed: bool) -> None:
        """Record what the bottom half did with an IRB (SCSW word 0 ``w0``): the state
        it met and whether it freed the channel program."""
        ctx.record(Ev.TODO, sch, w0, before, self.state(sch), int(freed))

    def signal_io(self, ctx: Context, sch: int) -> None:
        """Signal the userspace I/O eventfd (workers in ``wait_irq`` wait on it)."""
        ctx.record(Ev.EVENTFD, sch)
        self.io_event[sch].signal(ctx)

    # ---- the work queue (single threaded, as vfio_ccw_work_q) ---------------------------
    def queue_work(self, ctx: Context, sch: int) -> bool:
        """``queue_work``: a no-op if this subchannel's item is already queued."""
        w, b = self.w, self.base
        with ctx.atomic():
            if w[self.d(sch) + D_WORK_QUEUED]:
                return False
            w[self.d(sch) + D_WORK_QUEUED] = 1
            tail = w[b + G_WQ_TAIL]
            w[b + G_WQ_RING + tail % WQ_RING] = sch
            w[b + G_WQ_TAIL] = tail + 1
            w[b + G_WQ_COUNT] += 1
        self.wq_waitq.kick(ctx)
        return True

    def next_work(self, ctx: Context) -> int | None:
        """Take the next queued item (work-queue actor); marks the queue running."""
        w, b = self.w, self.base
        with ctx.atomic():
            if not w[b + G_WQ_COUNT]:
                return None
            head = w[b + G_WQ_HEAD]
            sch = w[b + G_WQ_RING + head % WQ_RING]
            w[b + G_WQ_HEAD] = head + 1
            w[b + G_WQ_COUNT] -= 1
            w[self.d(sch) + D_WORK_QUEUED] = 0
            w[b + G_WQ_RUNNING] = 1
        return int(sch)

    def work_done(self, ctx: Context) -> None:
        with ctx.atomic():
            self.w[self.base + G_WQ_RUNNING] = 0
        self.wq_idle.kick(ctx)

    def work_pending(self) -> bool:
        return bool(self.w[self.base + G_WQ_COUNT] or self.w[self.base + G_WQ_RUNNING])

    def flush_work(self, ctx: Context) -> None:
        """``flush_workqueue``: wait until the queue is empty and idle. A sleeping
        wait: calling it in atomic context is recorded (spec E4)."""
        if ctx.spin_depth or ctx.irq:
            ctx.record(Ev.SLEEP_IN_ATOMIC, P_WQ_IDLE, ctx.spin_depth)
        while self.work_pending():
            self.wq_idle.idle(ctx)
            ctx.point()


_STATES = frozenset(int(s) for s in State)
