"""An explicit choice list: at every decision among two or more runnable actors the
next choice ``c`` picks ``runnable[c % len(runnable)]``. This is the form every run's
recorded decisions take, so it replays any run; past the list's end the running
actor keeps running."""

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


class Choices(SchedulePolicy):
    policy = Policy.CHOICES

    def setup(self, w: memoryview, b: int, n: int, priorities: Sequence[int],
              changes: Sequence[int], choices: Sequence[int]) -> int:  # fmt: skip
        if not load_choices(w, b, choices):
            return 0
        w[b + W.S_CURSOR] = 1  # the first choice picks the first actor
        return choices[0] % n

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        c = next_choice(w, b)
        return fallback(me, runnable) if c is None else runnable[c % len(runnable)]


POLICY = Choices()
