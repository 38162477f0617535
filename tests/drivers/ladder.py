"""A bug behind six worker-side branches: the coverage bridge's test target.

Bug: the driver climbs a ladder on the region reads userspace makes on a subchannel:
the SCHIB, CRW, async, I/O, SCHIB and async regions (spec A.7), in that order and in a
row (any other read starts it over); at the top it raises. Each rung is its own
branch, taken in the *worker's* process, so only coverage measured inside the actors
tells the fuzzer it climbed one. A random program of one worker makes six such reads
in a row about once in 10^8 runs; libFuzzer without the bridge sees nothing change
until it does.

Caught by: ``actor.crash``.
"""

from __future__ import annotations

from typing import ClassVar

from ccwfuzz.driver import contract as K
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context

SCHIB, CRW, ASYNC, IO = K.SCHIB_REGION, K.CRW_REGION, K.ASYNC_REGION, K.IO_REGION


class Ladder(Reference):
    name: ClassVar[str] = "ladder"
    expected_rule: ClassVar[str] = "actor.crash"
    private_words: ClassVar[int] = 1

    def read_region(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int:
        self.climb(sch, offset >> K.REGION_SHIFT)
        return super().read_region(ctx, sch, offset, n)

    def climb(self, sch: int, region: int) -> None:
        # One branch per rung, on purpose: each is a block of its own for the coverage.
        w, k = self.k.w, self.k.private(sch)
        rung = w[k]
        if rung == 0 and region == SCHIB:
            w[k] = 1
        elif rung == 1 and region == CRW:
            w[k] = 2
        elif rung == 2 and region == ASYNC:
            w[k] = 3
        elif rung == 3 and region == IO:
            w[k] = 4
        elif rung == 4 and region == SCHIB:
            w[k] = 5
        elif rung == 5 and region == ASYNC:
            raise RuntimeError("planted: the top of the ladder")
        else:
            w[k] = 1 if region == SCHIB else 0
