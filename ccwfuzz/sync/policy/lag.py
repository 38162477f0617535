"""A lagging walk: the sticky random walk, except that in each lag window one chosen
actor is not picked while anybody else can run.

The walk's stickiness is global: whoever runs tends to keep running, so an actor that
must fall behind through another actor's *whole* operation (a bottom half preempted
between its state check and its action while a close runs from start to end) needs
many unlikely decisions in a row. A lag window makes that one decision: from step
``start`` to step ``end`` the lagging actor runs only when it is the only runnable one
(it holds what the others wait for, or they are done), and resumes where it was.
Outside the windows this is :mod:`.walk`.

Schedule data: ``priorities[k]`` is the actor lagging in window ``k``, spanning steps
``[changes[2k], changes[2k + 1])``; ``choices`` are the walk's.
"""

from __future__ import annotations

from collections.abc import Sequence

from ccwfuzz.sync import words as W
from ccwfuzz.sync.policy.base import Policy, fallback, next_choice
from ccwfuzz.sync.policy.walk import Walk, walk_step

#: At most this many lag windows (two change-point words each).
MAX_WINDOWS = W.MAX_CHANGES // 2


class Lag(Walk):
    policy = Policy.LAG

    def setup(self, w: memoryview, b: int, n: int, priorities: Sequence[int],
              changes: Sequence[int], choices: Sequence[int]) -> int:  # fmt: skip
        windows = min(len(priorities), len(changes) // 2, MAX_WINDOWS)
        for k in range(windows):
            w[b + W.A_PRIO + k] = priorities[k] % n
            w[b + W.CHANGES + 2 * k] = changes[2 * k]
            w[b + W.CHANGES + 2 * k + 1] = changes[2 * k + 1]
        w[b + W.S_NCHANGES] = windows
        return super().setup(w, b, n, priorities, changes, choices)

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        steps = w[b + W.S_STEPS]
        for k in range(w[b + W.S_NCHANGES]):
            if w[b + W.CHANGES + 2 * k] <= steps < w[b + W.CHANGES + 2 * k + 1]:
                lagger = w[b + W.A_PRIO + k]
                if lagger in runnable and len(runnable) > 1:
                    runnable = [a for a in runnable if a != lagger]
        c = next_choice(w, b)
        return fallback(me, runnable) if c is None else walk_step(w, b, me, runnable, c)


POLICY = Lag()
