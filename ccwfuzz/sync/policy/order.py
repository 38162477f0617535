"""Follow a recorded event order: ``choices[k]`` is the actor that appended history
record ``k`` (what a free run's sequence stamps say). At each decision the actor of
the next record runs if it can; otherwise the running actor keeps running. This turns
a free run's interleaving into a controlled one as closely as the scheduling points
allow."""

from __future__ import annotations

from collections.abc import Sequence

from ccwfuzz.sync import words as W
from ccwfuzz.sync.policy.base import Policy, SchedulePolicy, fallback, load_choices


class Order(SchedulePolicy):
    policy = Policy.ORDER

    def setup(self, w: memoryview, b: int, n: int, priorities: Sequence[int],
              changes: Sequence[int], choices: Sequence[int]) -> int:  # fmt: skip
        load_choices(w, b, choices)
        return choices[0] % n if choices else 0

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        if seq < w[b + W.S_NCHOICES]:
            want = w[b + W.CHOICES + seq]
            if want in runnable:
                return int(want)
        return fallback(me, runnable)


POLICY = Order()
