"""Free mode's doorbells: a wake rings exactly the waiters' bells, and a worker's timed
wait ends early only when nobody else can run (sync.sched design notes)."""

from __future__ import annotations

import array
import threading

from ccwfuzz.sync import words as W
from ccwfuzz.sync.sched import Context
from ccwfuzz.sync.words import Mode, Status


class Bell:
    def __init__(self) -> None:
        self.rings = 0

    def release(self) -> None:
        self.rings += 1

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        if self.rings:
            self.rings -= 1
            return True
        return False


def free_context(
    me: int, nact: int = 5, workers: int = 3
) -> tuple[Context, memoryview, list[Bell]]:
    w = memoryview(array.array("I", bytes(4 * W.WORDS))).cast("B").cast("I")
    w[W.S_MODE] = Mode.FREE.code
    w[W.S_NACT] = nact
    w[W.S_WORKERS] = (1 << workers) - 1
    for a in range(nact):
        w[W.A_STATUS + a] = Status.RUNNABLE
    bells = [Bell() for _ in range(nact)]
    ctx = Context(me, w, 0, None, [], None, threading.RLock(), bells, Bell())  # type: ignore[arg-type]
    ctx.controlled = False
    return ctx, w, bells


def test_wake_rings_only_the_waiters_and_marks_them_awake() -> None:
    ctx, w, bells = free_context(0)
    w[W.S_ASLEEP] = 0b10110
    w[W.S_SOFTWAIT] = 0b00110
    ctx.wake(0b00110)
    assert [b.rings for b in bells] == [0, 1, 1, 0, 0]
    assert w[W.S_ASLEEP] == 0b10000 and w[W.S_SOFTWAIT] == 0


def test_nudge_times_out_the_lowest_soft_waiter_when_all_sleep() -> None:
    ctx, w, bells = free_context(4)  # the work queue, about to sleep
    w[W.S_ASLEEP] = 0b11110
    w[W.S_SOFTWAIT] = 0b00110
    w[W.A_STATUS + 0] = Status.FINISHED
    ctx._nudge()
    assert w[W.A_TIMEDOUT + 1] == 1 and w[W.A_TIMEDOUT + 2] == 0
    assert bells[1].rings == 1 and bells[2].rings == 0
    assert w[W.S_ASLEEP] == 0b11100 and w[W.S_SOFTWAIT] == 0b00100


def test_nudge_leaves_waiters_alone_while_someone_is_awake() -> None:
    ctx, w, bells = free_context(4)
    w[W.S_ASLEEP] = 0b10110  # worker 0 and the channel are awake
    w[W.S_SOFTWAIT] = 0b00110
    ctx._nudge()
    assert not any(b.rings for b in bells)
    assert w[W.A_TIMEDOUT + 1] == 0 and w[W.S_SOFTWAIT] == 0b00110


def test_a_soft_wait_alone_in_the_run_times_out_at_once() -> None:
    ctx, w, _ = free_context(0)
    w[W.S_ASLEEP] = 0b11110  # everybody else sleeps
    assert ctx.wait(7, lambda: False, soft=True) is False
    assert w[W.S_ASLEEP] == 0b11110 and w[W.S_SOFTWAIT] == 0  # its own bits are gone


def test_a_rung_wait_returns_for_its_caller_to_look_again() -> None:
    ctx, w, bells = free_context(0)
    bells[0].rings = 1
    assert ctx.wait(7, lambda: False, soft=False) is True
    assert w[W.S_ASLEEP] == 0
