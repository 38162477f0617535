"""An explicit choice list: at every decision among two or more runnable actors the
next choice ``c`` picks ``runnable[c % len(runnable)]``. This is the form every run's
recorded decisions take, so it replays any run; past the list's end the running
actor keeps running."""

from __future__ import annotations

from ccwfuzz.sync.policy.base import (
    ChoiceListPolicy,
    Policy,
    fallback,
    next_choice,
)


class Choices(ChoiceListPolicy):
    policy = Policy.CHOICES

    def first(self, choice: int, n: int) -> int:
        return choice % n

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        c = next_choice(w, b)
        return fallback(me, runnable) if c is None else runnable[c % len(runnable)]


POLICY = Choices()
