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

from typing import Any

from ccwfuzz.device import ChannelSubsystem
from ccwfuzz.driver.layout import *  # noqa: F403 - the layout names are the kernel's API
from ccwfuzz.driver.layout import (
    D_STATE,
    D_WORK_QUEUED,
    G_WQ_COUNT,
    G_WQ_HEAD,
    G_WQ_RING,
    G_WQ_RUNNING,
    G_WQ_TAIL,
    P_CHANNEL,
    P_CRW_EVENT,
    P_CRW_LOCK,
    P_GLOBAL,
    P_GLOBAL_WRITE,
    P_IO_EVENT,
    P_IO_MUTEX,
    P_OPEN_LOCK,
    P_PER_SCH,
    P_QUIESCE,
    P_SCH_LOCK,
    P_WQ,
    P_WQ_IDLE,
    WQ_RING,
    slots_needed,
    words_needed,
)
from ccwfuzz.driver.toolkit import Toolkit
from ccwfuzz.sync import Completion, Context, EventCounter, Kind, Mutex, SpinLock, Table, WaitQueue
from ccwfuzz.sync.history import Ev


class Kernel(Toolkit):
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
