"""A sticky random walk: a choice whose two low bits are not zero keeps the running
actor, otherwise the rest of it picks among the runnable ones. Switches about one
decision in four, so one actor can lag behind the others for a while: the races that
need the bottom half to run late are found this way. At a hot point (a lock acquire, an
FSM state access: where check-then-act windows open) only the lowest bit keeps it, so
the walk switches there one time in two."""

from __future__ import annotations

from ccwfuzz.sync import words as W
from ccwfuzz.sync.policy.base import (
    ChoiceListPolicy,
    Policy,
    fallback,
    next_choice,
)


class Walk(ChoiceListPolicy):
    policy = Policy.WALK

    def first(self, choice: int, n: int) -> int:
        return (choice >> 2) % n

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        c = next_choice(w, b)
        if c is None:
            return fallback(me, runnable)
        return walk_step(w, b, me, runnable, c)


def walk_step(w: memoryview, b: int, me: int, runnable: list[int], c: int) -> int:
    """One walk decision from choice ``c``: keep ``me`` or pick among ``runnable``."""
    if c & (1 if w[b + W.S_HOT] else 3) and me in runnable:
        return me
    return runnable[(c >> 2) % len(runnable)]


POLICY = Walk()
