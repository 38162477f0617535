"""PCT (Burckhardt et al., ASPLOS 2010): the runnable actor with the highest priority
runs; at each change point the running actor drops below every initial priority (the
k-th change point to k + 1). The schedule carries its priorities and change points,
materialized when it was drawn, so it does not depend on the program's length."""

from __future__ import annotations

from collections.abc import Sequence

from ccwfuzz.sync import words as W
from ccwfuzz.sync.policy.base import Policy, SchedulePolicy


class Pct(SchedulePolicy):
    policy = Policy.PCT
    decides_every_point = False  # the choice changes only when priorities or runnables do

    def setup(self, w: memoryview, b: int, n: int, priorities: Sequence[int],
              changes: Sequence[int], choices: Sequence[int]) -> int:  # fmt: skip
        base = W.MAX_CHANGES + 1  # initial priorities sit above every change-point one
        for a in range(n):
            w[b + W.A_PRIO + a] = base + (priorities[a] if a < len(priorities) else 0)
        cps = sorted(set(changes))[: W.MAX_CHANGES]  # a repeated step would stall the rest
        for k, c in enumerate(cps):
            w[b + W.CHANGES + k] = c
        w[b + W.S_NCHANGES] = len(cps)
        w[b + W.S_NEXTCHANGE] = cps[0] if cps else 0
        return max(range(n), key=lambda a: w[b + W.A_PRIO + a])

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        return max(runnable, key=lambda a: w[b + W.A_PRIO + a])

    def step(self, w: memoryview, b: int, me: int, steps: int) -> None:
        if steps != w[b + W.S_NEXTCHANGE]:
            return
        k = w[b + W.S_CHANGE_IDX]
        w[b + W.A_PRIO + me] = k + 1
        w[b + W.S_CHANGE_IDX] = k + 1
        w[b + W.S_NEXTCHANGE] = w[b + W.CHANGES + k + 1] if k + 1 < w[b + W.S_NCHANGES] else 0
        w[b + W.S_DIRTY] = 1


POLICY = Pct()
