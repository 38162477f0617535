"""A program: plain data saying what every actor does in one run (DESIGN section 4).

Workers run lists of :class:`Op`; the channel runs a list of :class:`HwEvent`; the
:class:`Schedule` says how the controlled scheduler interleaves them. Nothing here
executes anything: programs are built, mutated, minimized and encoded as values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

OPS = (
    "open", "close", "reset", "remove", "ssch", "hsch", "csch", "read_io", "read_async",
    "read_schib", "read_crw", "write", "read", "wait_irq", "yield",
)  # fmt: skip
HW_EVENTS = (
    "attention", "busy", "paths_offline", "paths_online", "late_de", "not_operational",
    "operational",
)  # fmt: skip
POLICIES = ("pct", "choices", "walk")
CONTRACTS = ("upstream", "strict")


@dataclasses.dataclass(frozen=True)
class Ccw:
    """A guest CCW (format 1 fields; written as format 0 when the ORB says so)."""

    cmd: int
    flags: int = 0
    count: int = 0
    addr: int = 0


@dataclasses.dataclass(frozen=True)
class Op:
    """One worker operation.

    ``ssch`` writes ``ccws`` into guest memory and the ORB (``intparm``, ``ctrl`` = ORB
    word 1) and SCSW (FC start) into the I/O region, as QEMU does (spec B.1
    "Passthrough"); ``retry`` repeats on -EAGAIN as QEMU does. ``write``/``read`` are
    raw region-file accesses at ``offset`` (region index << 10 | offset). ``yield``
    takes ``n`` bare scheduling points (DESIGN's ``yield_point``).
    """

    op: str
    sch: int = 0
    ccws: tuple[Ccw, ...] = ()
    intparm: int = 0
    ctrl: int = 0x0080FF00  # F=1, LPM=0xFF
    retry: bool = True
    offset: int = 0
    data: bytes = b""
    n: int = 0


@dataclasses.dataclass(frozen=True)
class HwEvent:
    """A hardware event the channel fires after ``after`` channel iterations."""

    event: str
    sch: int = 0
    after: int = 0
    mask: int = 0x80


@dataclasses.dataclass(frozen=True)
class Schedule:
    """PCT (seed, depth); an explicit list of choices (each picks a runnable actor);
    or a sticky random walk (a choice whose two low bits are not zero keeps the current
    actor, otherwise the rest of it picks one)."""

    policy: str = "pct"
    seed: int = 0
    depth: int = 3
    choices: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class Program:
    target: str = "reference"
    subchannels: int = 2
    workers: tuple[tuple[Op, ...], ...] = ((), (), ())
    channel: tuple[HwEvent, ...] = ()
    schedule: Schedule = Schedule()
    contract: str = "upstream"
    meta: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def op_count(self) -> int:
        return sum(len(w) for w in self.workers) + len(self.channel)
