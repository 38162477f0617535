"""Random programs from a choice source (:mod:`ccwfuzz.choices`): every decision is one
``draw``, so a program is a function of its choices, and the schedule is drawn from
the same source and materialized in the program (PCT priorities and change points
included), so dropping an op moves no change point."""

from __future__ import annotations

from ccwfuzz.arch import ccw as C
from ccwfuzz.choices import ChoiceSource, RandomSource, increasing, permutation
from ccwfuzz.program.ops import (
    ORB_CTRL_DEFAULT,
    Ccw,
    HwEvent,
    Op,
    Policy,
    Program,
    Schedule,
    Ssch,
    make_op,
)

DATA = 0x10000  # guest data area used by generated programs
#: Steps a random program's run takes per op, roughly: PCT change points are drawn
#: within ``STEPS_PER_OP * ops`` steps (measured: ~330 points for 3 x 8 ops).
STEPS_PER_OP = 40


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
            ctrl = ORB_CTRL_DEFAULT | (0x00200000 if src.draw(6) == 0 else 0)  # sometimes ORB I
            ops.append(Ssch(sch, channel_program(src), intparm=src.draw(1 << 16), ctrl=ctrl,
                            retry=src.draw(4) != 0))  # fmt: skip
        else:
            ops.append(make_op(kind, sch=sch))
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
        opening = tuple(make_op("open", sch=s) for s in range(subchannels) if src.draw(3) != 0)
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
        schedule=schedule(src, workers + 2, STEPS_PER_OP * (sum(map(len, ws)) + len(hw))),
    )


def schedule(src: ChoiceSource, actors: int, expected_steps: int,
             walk_length: int = 512) -> Schedule:  # fmt: skip
    """Half PCT, half sticky random walk. PCT (Burckhardt et al.): distinct priorities
    above the depth, and ``depth - 1`` change points within ``expected_steps``; it finds
    bugs of small depth in any program. The walk finds the races that need one actor
    (typically the bottom half) to lag behind the others for a while, which PCT reaches
    only by luck."""
    if src.draw(2):
        return pct(src, actors, 1 + src.draw(4), expected_steps)
    return Schedule(Policy.WALK, choices=tuple(src.draw(1 << 16) for _ in range(walk_length)))


def pct(src: ChoiceSource, actors: int, depth: int, expected_steps: int) -> Schedule:
    """A materialized PCT schedule of ``depth``: priorities 0..actors-1 in a drawn order
    and ``depth - 1`` change points in ``[1, expected_steps)``."""
    return Schedule(
        Policy.PCT,
        priorities=tuple(permutation(src, range(actors))),
        changes=tuple(increasing(src, 1, max(expected_steps, depth + 1), depth - 1)),
    )


def seeded_pct(seed: int, depth: int, workers: int, expected_steps: int = 400) -> Schedule:
    """A PCT schedule of ``depth`` drawn from ``seed``, for a program of ``workers``
    workers (the channel and the work queue are the two other actors).

    Example:
        >>> s = seeded_pct(1, 3, workers=1)
        >>> len(s.priorities), len(s.changes)
        (3, 2)
    """
    return pct(RandomSource(seed), workers + 2, depth, expected_steps)
