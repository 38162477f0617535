"""A sticky random walk: a choice whose two low bits are not zero keeps the running
actor, otherwise the rest of it picks among the runnable ones. Switches about one
decision in four, so one actor can lag behind the others for a while: the races that
need the bottom half to run late are found this way."""

from __future__ import annotations

from collections.abc import Sequence

from ccwfuzz.sync import words as W
from ccwfuzz.sync.policy.base import (
    Policy,
    SchedulePolicy,
    fallback,
    load_choices,
    next_choice,
)


class Walk(SchedulePolicy):
    policy = Policy.WALK

    def setup(self, w: memoryview, b: int, n: int, priorities: Sequence[int],
              changes: Sequence[int], choices: Sequence[int]) -> int:  # fmt: skip
        if not load_choices(w, b, choices):
            return 0
        w[b + W.S_CURSOR] = 1  # the first choice picks the first actor
        return (choices[0] >> 2) % n

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        c = next_choice(w, b)
        if c is None:
            return fallback(me, runnable)
        if c & 3 and me in runnable:
            return me
        return runnable[(c >> 2) % len(runnable)]


POLICY = Walk()
