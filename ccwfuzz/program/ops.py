"""A program: plain data saying what every actor does in one run (DESIGN section 4).

Workers run lists of typed ops (:class:`Op` subclasses, one per kind); the channel runs
a list of :class:`HwEvent`; the :class:`Schedule` says how the controlled scheduler
interleaves them. Nothing here executes anything: programs are built, mutated,
minimized and encoded as values.

Each op kind declares its fields once, as dataclass fields carrying a :class:`Spec`
(``field(spec, default)``). That one declaration drives the JSON schema, validation, the
JSON and flat encodings (:mod:`ccwfuzz.program.encoding`), and the minimizer's
simplifiers and the strategies that come later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from ccwfuzz.arch import orb
from ccwfuzz.sync.policy import Policy as Policy
from ccwfuzz.sync.words import MAX_CHANGES as MAX_CHANGES
from ccwfuzz.sync.words import MAX_CHOICES as MAX_CHOICES

#: ORB word 1 of a generated start: format-1 CCWs, all paths (spec A.1).
ORB_CTRL_DEFAULT = orb.F | 0xFF00
MAX_SUBCHANNELS = 64
MAX_CCWS = 300  # past vfio-ccw's 256 per chain segment (spec A.6), to reach the limit
MAX_DATA = 256
MAX_IDAL = 1024
MAX_YIELD = 100_000
MAX_AFTER = 10_000
MAX_AT = 1 << 20  # a step number: beyond any step budget
CONTRACTS = ("upstream", "strict")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What one field holds: ``int`` (``lo..hi``), ``bool``, ``bytes`` (at most ``hi``
    bytes, hex in JSON), ``ccws`` (at most ``hi`` CCWs) or ``enum`` (one of ``names``)."""

    kind: str
    lo: int = 0
    hi: int = 0xFFFFFFFF
    names: tuple[str, ...] = ()


U8, U16, U32 = Spec("int", 0, 0xFF), Spec("int", 0, 0xFFFF), Spec("int", 0, 0xFFFFFFFF)
SCH = Spec("int", 0, MAX_SUBCHANNELS - 1)
BOOL = Spec("bool", 0, 1)


def field(spec: Spec, default: Any) -> Any:
    """A dataclass field with its :class:`Spec`."""
    return dataclasses.field(default=default, metadata={"spec": spec})


def specs(cls: type) -> list[tuple[str, Spec, Any]]:
    """``(name, spec, default)`` of every declared field of an op or event class."""
    return [(f.name, f.metadata["spec"], f.default) for f in dataclasses.fields(cls)]


@dataclasses.dataclass(frozen=True)
class Ccw:
    """A guest CCW (format-1 fields; written as format 0 when the ORB says so)."""

    cmd: int
    flags: int = 0
    count: int = 0
    addr: int = 0


# ---- worker ops ----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Op:
    """One worker operation on subchannel ``sch``; ``kind`` names it in files and
    histories, ``code`` (1-based, stable) in the history ring."""

    kind: ClassVar[str] = ""
    code: ClassVar[int] = 0
    sch: int = field(SCH, 0)


OP_KINDS: dict[str, type[Op]] = {}


_O = TypeVar("_O", bound=type[Op])


def _kind(name: str) -> Callable[[_O], _O]:
    def register(cls: _O) -> _O:
        cls.kind = name
        cls.code = len(OP_KINDS) + 1
        OP_KINDS[name] = cls
        return cls

    return register


@_kind("open")
@dataclasses.dataclass(frozen=True)
class Open(Op):
    """Open the device file (the driver's open on the first opener)."""


@_kind("close")
@dataclasses.dataclass(frozen=True)
class Close(Op):
    """Close the device file (the driver's close on the last closer)."""


@_kind("reset")
@dataclasses.dataclass(frozen=True)
class Reset(Op):
    """VFIO_DEVICE_RESET: close and open (spec D.1 lifecycle wrappers)."""


@_kind("remove")
@dataclasses.dataclass(frozen=True)
class Remove(Op):
    """Remove the mediated device (E17)."""


@_kind("ssch")
@dataclasses.dataclass(frozen=True)
class Ssch(Op):
    """Start: write ``ccws`` (format 0 or 1 as ORB F says) at guest address ``at`` and
    the bytes ``idal`` right after them, then the ORB (``intparm``, ``ctrl`` = ORB word
    1, CPA = ``at + cpa`` modulo 2**32) and an FC-start SCSW into the I/O region, as QEMU
    does (spec B.1 "Passthrough"); ``retry`` repeats on -EAGAIN as QEMU does.

    ``at`` = 0 places the program in a slot the worker picks for the op (programs
    written before ``at`` existed); generated programs always give it, so CCW data
    addresses and TIC targets can point into the program's own IDAL and CCWs."""

    ccws: tuple[Ccw, ...] = field(Spec("ccws", 0, MAX_CCWS), ())
    intparm: int = field(U32, 0)
    ctrl: int = field(U32, ORB_CTRL_DEFAULT)
    retry: bool = field(BOOL, True)
    at: int = field(U32, 0)
    cpa: int = field(U32, 0)
    idal: bytes = field(Spec("bytes", 0, MAX_IDAL), b"")


@_kind("hsch")
@dataclasses.dataclass(frozen=True)
class Hsch(Op):
    """Halt through the async command region (spec D.1 ``fsm_async_request``)."""

    retry: bool = field(BOOL, True)


@_kind("csch")
@dataclasses.dataclass(frozen=True)
class Csch(Op):
    """Clear through the async command region."""

    retry: bool = field(BOOL, True)


@_kind("read_io")
@dataclasses.dataclass(frozen=True)
class ReadIo(Op):
    """Read the whole I/O region (spec A.7)."""


@_kind("read_async")
@dataclasses.dataclass(frozen=True)
class ReadAsync(Op):
    """Read the async command region."""


@_kind("read_schib")
@dataclasses.dataclass(frozen=True)
class ReadSchib(Op):
    """Read the schib region (STSCH on the host)."""


@_kind("read_crw")
@dataclasses.dataclass(frozen=True)
class ReadCrw(Op):
    """Read the crw region (pops one CRW)."""


@_kind("write")
@dataclasses.dataclass(frozen=True)
class Write(Op):
    """A raw region-file write of ``data`` at ``offset`` (region index << 10 | offset)."""

    offset: int = field(Spec("int", 0, 0xFFF), 0)
    data: bytes = field(Spec("bytes", 0, MAX_DATA), b"")


@_kind("read")
@dataclasses.dataclass(frozen=True)
class Read(Op):
    """A raw region-file read of ``n`` bytes at ``offset``."""

    offset: int = field(Spec("int", 0, 0xFFF), 0)
    n: int = field(Spec("int", 0, 0xFFF), 0)


@_kind("wait_irq")
@dataclasses.dataclass(frozen=True)
class WaitIrq(Op):
    """Wait for the I/O eventfd of ``sch`` (timed), then read the I/O region."""


@_kind("yield")
@dataclasses.dataclass(frozen=True)
class Yield(Op):
    """Take ``n`` bare scheduling points (DESIGN's ``yield_point``)."""

    n: int = field(Spec("int", 0, MAX_YIELD), 0)


OPS: tuple[str, ...] = tuple(OP_KINDS)


def make_op(kind: str, **fields: Any) -> Op:
    """An op by kind name (``make_op("yield", n=3)``); unknown kinds raise ValueError."""
    try:
        cls = OP_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown op {kind!r}") from None
    return cls(**fields)


# ---- channel events -------------------------------------------------------------------
HW_EVENTS = (
    "attention", "busy", "paths_offline", "paths_online", "late_de", "not_operational",
    "operational",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class HwEvent:
    """A hardware event the channel fires after ``after`` channel iterations (counted
    from the previous event) or, when ``at`` is set, at the run's scheduling step
    ``at``: wherever the other actors are then, as a device that goes away in the
    middle of a request does; ``mask`` is the path mask of
    ``paths_offline``/``paths_online``. Events fire in list order."""

    event: str = field(Spec("enum", names=HW_EVENTS), "attention")
    sch: int = field(SCH, 0)
    after: int = field(Spec("int", 0, MAX_AFTER), 0)
    mask: int = field(U8, 0x80)
    at: int = field(Spec("int", 0, MAX_AT), 0)

    @property
    def code(self) -> int:
        return HW_EVENTS.index(self.event) + 1


# ---- schedules (the policies are in ccwfuzz.sync.policy) ------------------------------
@dataclasses.dataclass(frozen=True)
class Schedule:
    """A self-contained schedule: everything the scheduler needs is in here.

    ``pct``: ``priorities`` (one per actor, highest runs) and ``changes`` (steps at
    which the running actor drops below every initial priority). ``choices``, ``walk``
    and ``order``: the ``choices`` list. The empty ``choices`` schedule keeps the
    running actor until it blocks.
    """

    policy: Policy = Policy.CHOICES
    priorities: tuple[int, ...] = ()
    changes: tuple[int, ...] = ()
    choices: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class Program:
    """Workers' ops, the channel's events and the schedule of one run."""

    target: str = "reference"
    subchannels: int = 2
    workers: tuple[tuple[Op, ...], ...] = ((), (), ())
    channel: tuple[HwEvent, ...] = ()
    schedule: Schedule = Schedule()
    contract: str = "upstream"
    meta: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def op_count(self) -> int:
        return sum(len(w) for w in self.workers) + len(self.channel)

    @property
    def actors(self) -> int:
        """Actor processes a run of this program has: the workers, channel, work queue."""
        return len(self.workers) + 2

    def min_steps(self) -> int:
        """A lower bound of the scheduling points a run takes: every op one, every
        ``yield`` its ``n``, every channel event its ``after`` delay."""
        yields = sum(o.n for w in self.workers for o in w if isinstance(o, Yield))
        return self.op_count() + yields + sum(e.after for e in self.channel)
