"""The "kernel" a driver model runs in: its shared words, locks, work queue and the
channel-program arena, all inside the run segment.

Layout of the driver words (a words view, from ``base``): a few global words (the work
queue ring), then :data:`DRV_WORDS` per subchannel. Byte areas that have an ABI layout
(the I/O region, the async command region, the private IRB) are kept as big-endian bytes
as on s390, at fixed word offsets.

The cp arena is the top half of the channel subsystem's memory ("host memory"): two
4-KiB slots per subchannel, used alternately, filled with the slab poison byte 0x6b when
freed, so a channel still fetching a freed program reads poison (spec E1, E8, E10).
"""

from __future__ import annotations

from ccwfuzz.device import ChannelSubsystem
from ccwfuzz.sync import Completion, Context, EventCounter, Kind, Mutex, SpinLock, Table, WaitQueue
from ccwfuzz.sync.history import Ev

POISON = 0x6B
POISON_WORD = 0x6B6B6B6B  # a driver word of freed private state
CP_SLOT = 4096
SLOTS_PER_SCH = 2

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
DRV_WORDS = 96

# Primitive slots.
P_WQ, P_WQ_IDLE, P_CHANNEL, P_CRW_LOCK, P_GLOBAL_WRITE = 0, 1, 2, 3, 4
P_GLOBAL = 8
P_PER_SCH = 6
P_IO_MUTEX, P_SCH_LOCK, P_IO_EVENT, P_CRW_EVENT, P_QUIESCE, P_OPEN_LOCK = 0, 1, 2, 3, 4, 5


def words_needed(nsch: int) -> int:
    return GLOBAL_WORDS + nsch * DRV_WORDS


def slots_needed(nsch: int) -> int:
    return P_GLOBAL + nsch * P_PER_SCH


def arena_size(nsch: int) -> int:
    return nsch * SLOTS_PER_SCH * CP_SLOT


class Kernel:
    """Shared driver environment over one run segment."""

    def __init__(
        self, css: ChannelSubsystem, w: memoryview, buf: memoryview, base: int, table: Table,
        arena: int,
    ) -> None:  # fmt: skip
        self.css = css
        self.nsch = css.subchannels
        self.w = w
        self.buf = buf  # the same words as bytes (for the ABI byte areas)
        self.base = base
        self.table = table
        self.arena = arena
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

    @staticmethod
    def _slot(sch: int, k: int) -> int:
        return P_GLOBAL + sch * P_PER_SCH + k

    def primitive_kinds(self) -> dict[int, Kind]:
        kinds = {P_WQ: Kind.WAITQ, P_WQ_IDLE: Kind.WAITQ, P_CHANNEL: Kind.WAITQ,
                 P_CRW_LOCK: Kind.SPIN, P_GLOBAL_WRITE: Kind.MUTEX}  # fmt: skip
        for s in range(self.nsch):
            for k, kind in ((P_IO_MUTEX, Kind.MUTEX), (P_SCH_LOCK, Kind.SPIN),
                            (P_IO_EVENT, Kind.EVENT), (P_CRW_EVENT, Kind.EVENT),
                            (P_QUIESCE, Kind.COMPLETION), (P_OPEN_LOCK, Kind.MUTEX)):  # fmt: skip
                kinds[self._slot(s, k)] = kind
        return kinds

    def lock_names(self) -> dict[int, str]:
        names = {P_WQ: "wq", P_WQ_IDLE: "wq_idle", P_CHANNEL: "channel", P_CRW_LOCK: "crw_lock",
                 P_GLOBAL_WRITE: "write_lock"}  # fmt: skip
        for s in range(self.nsch):
            for k, n in ((P_IO_MUTEX, "io_mutex"), (P_SCH_LOCK, "sch->lock"),
                         (P_IO_EVENT, "io_trigger"), (P_CRW_EVENT, "crw_trigger"),
                         (P_QUIESCE, "completion"), (P_OPEN_LOCK, "dev_set->lock")):  # fmt: skip
                names[self._slot(s, k)] = f"{n}[{s}]"
        return names

    def format(self, initial_state: int) -> None:
        """Zero the driver words; every subchannel starts in ``initial_state``."""
        w, b = self.w, self.base
        n = words_needed(self.nsch)
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

    # ---- cp arena ------------------------------------------------------------------------
    def slot_addr(self, sch: int, gen: int) -> int:
        return self.arena + (sch * SLOTS_PER_SCH + gen % SLOTS_PER_SCH) * CP_SLOT

    def poison(self, addr: int, n: int = CP_SLOT) -> None:
        self.css.memory.fill(addr, n, POISON)
