"""Locks, completions and eventfd-like counters that live in shared memory.

Each primitive is a slot of :data:`SLOT_WORDS` words in a table: kind, owner (actor + 1,
0 when free), a counter, the waiters' bitmask and statistics. Because owner and waiters
are in the segment, the scheduler and the oracles see who holds what and who waits.

Every acquire, release and wait is a scheduling point, and each is recorded in the
history. Misuse is recorded, not raised, so the oracles can report it with context:
taking a sleeping lock or waiting while a spin lock is held (``SLEEP_IN_ATOMIC``), taking
a lock the same actor already holds (``DOUBLE_ACQUIRE``, then a real self-deadlock), and
releasing a lock one does not hold (``BAD_UNLOCK``).
"""

from __future__ import annotations

import enum

from ccwfuzz.sync.history import Ev
from ccwfuzz.sync.sched import Context

SLOT_WORDS = 8
K_KIND, K_OWNER, K_COUNT, K_WAITERS, K_ACQUIRED, K_CONTENDED = range(6)


class Kind(enum.IntEnum):
    MUTEX = 1
    SPIN = 2
    COMPLETION = 3
    EVENT = 4
    WAITQ = 5


class Table:
    """The primitive table: ``count`` slots of words starting at ``base``."""

    def __init__(self, w: memoryview, base: int, count: int) -> None:
        self.w = w
        self.base = base
        self.count = count

    def slot_base(self, slot: int) -> int:
        return self.base + slot * SLOT_WORDS

    def format(self, kinds: dict[int, Kind]) -> None:
        w = self.w
        w[self.base : self.base + self.count * SLOT_WORDS] = memoryview(
            bytes(4 * self.count * SLOT_WORDS)
        ).cast("I")
        for slot, kind in kinds.items():
            w[self.slot_base(slot) + K_KIND] = kind


class _Prim:
    kind: Kind

    def __init__(self, table: Table, slot: int) -> None:
        self.t = table
        self.slot = slot
        self._o = table.slot_base(slot)
        self.w = table.w

    def _post(self, ctx: Context) -> None:
        """Count one event and wake everybody waiting for it."""
        w, o = self.w, self._o
        with ctx.atomic():
            w[o + K_COUNT] += 1
            ctx.wake(w[o + K_WAITERS])  # under the lock: no sleeper misses it
            w[o + K_WAITERS] = 0


class Mutex(_Prim):
    """A sleeping lock (kernel ``struct mutex``) with ``trylock``."""

    kind = Kind.MUTEX

    def lock(self, ctx: Context) -> None:
        w, o, me = self.w, self._o, ctx.id
        ctx.point(hot=1)  # a lock acquire: where windows open
        self._check_context(ctx)
        if w[o + K_OWNER] == me + 1:
            ctx.record(Ev.DOUBLE_ACQUIRE, self.slot)
        while True:
            with ctx.atomic():
                if w[o + K_OWNER] == 0:
                    w[o + K_OWNER] = me + 1
                    w[o + K_ACQUIRED] += 1
                    break
                w[o + K_WAITERS] |= 1 << me
                w[o + K_CONTENDED] += 1
                owner = w[o + K_OWNER] - 1
            ctx.record(Ev.LOCK_WAIT, self.slot, owner)
            ctx.wait(self.slot, lambda: w[o + K_OWNER] == 0)
        self._acquired(ctx)
        ctx.record(Ev.LOCK_ACQUIRE, self.slot)

    def _check_context(self, ctx: Context) -> None:
        """A sleeping lock must not be taken in atomic context (spin lock held, IRQ)."""
        if ctx.spin_depth or ctx.irq:
            ctx.record(Ev.SLEEP_IN_ATOMIC, self.slot, ctx.spin_depth)

    def _acquired(self, ctx: Context) -> None:
        pass

    def trylock(self, ctx: Context) -> bool:
        w, o = self.w, self._o
        ctx.point(hot=1)
        with ctx.atomic():
            owner = w[o + K_OWNER]
            if not owner:
                w[o + K_OWNER] = ctx.id + 1
        if owner:
            ctx.record(Ev.TRYLOCK_FAIL, self.slot, owner - 1)
            return False
        with ctx.atomic():
            w[o + K_ACQUIRED] += 1
        ctx.record(Ev.LOCK_ACQUIRE, self.slot)
        return True

    def unlock(self, ctx: Context) -> None:
        w, o = self.w, self._o
        with ctx.atomic():
            owner = w[o + K_OWNER]
            if owner != ctx.id + 1:
                ctx.record(Ev.BAD_UNLOCK, self.slot, owner - 1 if owner else 0xFFFFFFFF)
                return
            w[o + K_OWNER] = 0
            ctx.wake(w[o + K_WAITERS])  # under the lock: no sleeper misses it
            w[o + K_WAITERS] = 0
        ctx.record(Ev.LOCK_RELEASE, self.slot)
        ctx.point()


class SpinLock(Mutex):
    """A spin lock (kernel ``spinlock_t``, taken irqsave): while held, the holder is
    in atomic context and must not sleep."""

    kind = Kind.SPIN

    def _check_context(self, ctx: Context) -> None:
        pass  # spinning is allowed in atomic context

    def _acquired(self, ctx: Context) -> None:
        ctx.spin_depth += 1

    def trylock(self, ctx: Context) -> bool:
        if super().trylock(ctx):
            ctx.spin_depth += 1
            return True
        return False

    def unlock(self, ctx: Context) -> None:
        if self.w[self._o + K_OWNER] == ctx.id + 1:
            ctx.spin_depth -= 1
        super().unlock(ctx)


class Completion(_Prim):
    """A kernel ``struct completion``: ``complete`` once, ``wait`` until completed."""

    kind = Kind.COMPLETION

    def reinit(self, ctx: Context) -> None:
        with ctx.atomic():
            self.w[self._o + K_COUNT] = 0

    def complete(self, ctx: Context) -> None:
        self._post(ctx)
        ctx.point()

    def wait(self, ctx: Context, timeout: bool = True) -> bool:
        """Wait for completion; with ``timeout`` the wait is bounded (as
        ``wait_for_completion_timeout``) and returns False when it times out."""
        w, o = self.w, self._o
        ctx.point()
        if ctx.spin_depth or ctx.irq:
            ctx.record(Ev.SLEEP_IN_ATOMIC, self.slot, ctx.spin_depth)
        while True:
            with ctx.atomic():
                if w[o + K_COUNT]:
                    w[o + K_COUNT] -= 1
                    return True
                w[o + K_WAITERS] |= 1 << ctx.id
            if not ctx.wait(self.slot, lambda: bool(w[o + K_COUNT]), soft=timeout):
                with ctx.atomic():
                    w[o + K_WAITERS] &= ~(1 << ctx.id)
                return False


class EventCounter(_Prim):
    """An eventfd: ``signal`` adds one, ``wait`` blocks (bounded) until non-zero,
    ``read`` returns the count and clears it. Signals coalesce (spec D.4 hazard H2)."""

    kind = Kind.EVENT

    def signal(self, ctx: Context) -> None:
        self._post(ctx)
        ctx.point()

    def wait(self, ctx: Context) -> bool:
        w, o = self.w, self._o
        ctx.point()
        while True:
            with ctx.atomic():
                if w[o + K_COUNT]:
                    return True
                w[o + K_WAITERS] |= 1 << ctx.id
            if not ctx.wait(self.slot, lambda: bool(w[o + K_COUNT]), soft=True):
                with ctx.atomic():
                    w[o + K_WAITERS] &= ~(1 << ctx.id)
                return False

    def read(self, ctx: Context) -> int:
        w, o = self.w, self._o
        with ctx.atomic():
            n = int(w[o + K_COUNT])
            w[o + K_COUNT] = 0
        return n


class WaitQueue(_Prim):
    """Where a daemon (the channel, the work queue) idles until kicked."""

    kind = Kind.WAITQ

    def kick(self, ctx: Context) -> None:
        self._post(ctx)

    def idle(self, ctx: Context) -> None:
        """Wait for a kick (consumes all kicks so far). Returns early in free mode
        when the run winds down."""
        w, o = self.w, self._o
        with ctx.atomic():
            if w[o + K_COUNT]:
                w[o + K_COUNT] = 0
                return
            w[o + K_WAITERS] |= 1 << ctx.id
        ctx.wait(self.slot, lambda: bool(w[o + K_COUNT]) or ctx.stopping(), soft=True)
        with ctx.atomic():
            w[o + K_COUNT] = 0
            w[o + K_WAITERS] &= ~(1 << ctx.id)
