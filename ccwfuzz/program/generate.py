"""Random programs from a choice source (seeded PRNG now; atheris and Hypothesis plug in
under the same :class:`ChoiceSource` surface later)."""

from __future__ import annotations

import random
from typing import Protocol

from ccwfuzz.arch import ccw as C
from ccwfuzz.program.ops import Ccw, HwEvent, Op, Program, Schedule

DATA = 0x10000  # guest data area used by generated programs


class ChoiceSource(Protocol):
    """Every random decision goes through ``draw``: an integer in ``[0, n)``."""

    def draw(self, n: int) -> int: ...


class RandomSource:
    """A seeded PRNG choice source."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def draw(self, n: int) -> int:
        return self._rng.randrange(n) if n > 1 else 0


def _pick(src: ChoiceSource, items: list[str] | tuple[str, ...]) -> str:
    return items[src.draw(len(items))]


def channel_program(src: ChoiceSource) -> tuple[Ccw, ...]:
    n = 1 + src.draw(4)
    out = []
    for k in range(n):
        last = k == n - 1
        kind = src.draw(10)
        flags = 0 if last else C.CC
        if src.draw(5) == 0:
            flags |= C.PCI
        if kind < 3:
            out.append(Ccw(C.CMD_NOP, flags | C.SLI, 1, 0))
        elif kind < 5:
            out.append(Ccw(C.CMD_READ, flags, 16, DATA + 0x100 * src.draw(8)))
        elif kind < 7:
            out.append(Ccw(C.CMD_WRITE, flags, 16, DATA + 0x100 * src.draw(8)))
        elif kind < 8:
            out.append(Ccw(C.CMD_SENSE_ID, flags | C.SLI, 8, DATA + 0x800))
        elif kind < 9:
            out.append(Ccw(C.CMD_SENSE, flags, 32, DATA + 0x900))
        else:
            out.append(Ccw(0x0B, flags, 0, 0))  # rejected: unit check
    return tuple(out)


def worker_ops(src: ChoiceSource, nsch: int, count: int) -> tuple[Op, ...]:
    ops: list[Op] = []
    weights = ["ssch"] * 6 + ["wait_irq"] * 4 + ["read_io"] * 3 + [
        "hsch", "csch", "read_schib", "read_crw", "close", "open", "reset", "read_async",
        "remove",
    ]  # fmt: skip
    for _ in range(count):
        sch = src.draw(nsch)
        kind = _pick(src, weights)
        if kind == "ssch":
            ctrl = 0x0080FF00 | (0x00200000 if src.draw(6) == 0 else 0)  # sometimes ORB I
            ops.append(Op("ssch", sch, channel_program(src), intparm=src.draw(1 << 16),
                          ctrl=ctrl, retry=src.draw(4) != 0))  # fmt: skip
        else:
            ops.append(Op(kind, sch))
    return tuple(ops)


def random_program(
    src: ChoiceSource,
    *,
    workers: int = 3,
    ops: int = 8,
    subchannels: int = 2,
    events: int = 2,
    target: str = "reference",
) -> Program:
    """A random program: every worker opens its subchannels first, then ``ops``
    random operations; the channel fires ``events`` hardware events."""
    ws = []
    for _ in range(workers):
        opening = tuple(Op("open", s) for s in range(subchannels) if src.draw(3) != 0)
        ws.append(opening + worker_ops(src, subchannels, ops))
    kinds = ("attention", "attention", "busy", "late_de", "paths_offline", "paths_online",
             "not_operational", "operational")  # fmt: skip
    hw: list[HwEvent] = []
    for _ in range(events):
        kind, sch = _pick(src, kinds), src.draw(subchannels)
        hw.append(HwEvent(kind, sch, src.draw(20)))
        if kind == "not_operational" and src.draw(2):  # a flap: gone, then back
            hw.append(HwEvent("operational", sch, src.draw(20)))
    return Program(
        target=target,
        subchannels=subchannels,
        workers=tuple(ws),
        channel=tuple(hw),
        schedule=schedule(src),
    )


def schedule(src: ChoiceSource, walk_length: int = 512, walk: str = "walk") -> Schedule:
    """Half PCT (random priorities, 0-3 change points), half random walk (a fresh
    choice at every scheduling point). PCT finds bugs of small depth in any program;
    the random walk finds the races that need one actor (typically the bottom half) to
    lag behind the others for a while, which PCT reaches only by luck."""
    if src.draw(2):
        return Schedule("pct", src.draw(1 << 30), 1 + src.draw(4))
    return Schedule(walk, choices=tuple(src.draw(1 << 16) for _ in range(walk_length)))
