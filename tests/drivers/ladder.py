"""A bug behind six worker-side branches: the coverage bridge's test target.

Bug: the I/O region write climbs a ladder on the ORB's interruption parameter (spec
A.1 word 0), one nibble per rung: four rungs on one start, two more on a later start
on the same subchannel; at the top the driver raises. Each rung is its own branch in
the *worker's* process, so only coverage measured inside the actors shows the fuzzer
that it climbed one: a random program reaches the top about once in 16^6 (17 million)
starts, and libFuzzer without the bridge sees nothing change until it does.

Caught by: ``actor.crash``.
"""

from __future__ import annotations

from typing import ClassVar

from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class Ladder(Reference):
    name: ClassVar[str] = "ladder"
    expected_rule: ClassVar[str] = "actor.crash"
    private_words: ClassVar[int] = 1

    def io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        if off == 0 and len(data) >= 4:
            self.climb(sch, int.from_bytes(data[:4], "big"))
        return super().io_write(ctx, sch, off, data)

    def climb(self, sch: int, intparm: int) -> None:
        # Nested on purpose: each rung is its own branch (block) for the coverage.
        w, k = self.k.w, self.k.private(sch)
        if w[k] == 0:
            if intparm >> 12 & 0xF == 0xC:  # noqa: SIM102
                if intparm >> 8 & 0xF == 0xA:  # noqa: SIM102
                    if intparm >> 4 & 0xF == 0x5:  # noqa: SIM102
                        if intparm & 0xF == 0x3:
                            w[k] = 1
        elif w[k] == 1:  # noqa: SIM102
            if intparm >> 12 & 0xF == 0x9:  # noqa: SIM102
                if intparm >> 8 & 0xF == 0x6:
                    raise RuntimeError("planted: the top of the ladder")
