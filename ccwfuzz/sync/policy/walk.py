"""A sticky random walk: a choice whose two low bits are not zero keeps the running
actor, otherwise the rest of it picks among the runnable ones. Switches about one
decision in four, so one actor can lag behind the others for a while: the races that
need the bottom half to run late are found this way."""

from __future__ import annotations

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
        if c & 3 and me in runnable:
            return me
        return runnable[(c >> 2) % len(runnable)]


POLICY = Walk()
