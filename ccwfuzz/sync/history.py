"""The run's history: a ring of fixed-size event records in shared memory.

Every actor appends to the same ring; the sequence number comes from one shared counter
(under the free-mode interlock), so events from all processes have a total order. Records
are eight 32-bit words: ``seq, actor, kind, a0..a4``. Nothing goes through pipes.
"""

from __future__ import annotations

import enum
import json
import operator
import re
import zlib
from collections.abc import Iterator
from typing import Any

RECORD_WORDS = 8
HEADER_WORDS = 4  # seq counter, capacity, dropped (overwritten) count, spare
H_SEQ, H_CAP, H_LOST = 0, 1, 2


class Ev(enum.IntEnum):
    """History event kinds. Arguments per kind are documented in :data:`ARGS`."""

    OP_BEGIN = 1
    OP_END = 2
    INSTR = 3
    INTERRUPT = 4
    FSM = 5
    LOCK_ACQUIRE = 6
    LOCK_RELEASE = 7
    LOCK_WAIT = 8
    CP_ALLOC = 9
    CP_FREE = 10
    POISON_READ = 11
    IRB_STORE = 12
    IRB_READ = 13
    CRASH = 15
    DEADLOCK = 16
    HW_EVENT = 17
    RET = 18
    GUEST_CC = 19
    TODO = 21
    LIMIT = 22
    SLEEP_IN_ATOMIC = 23
    DOUBLE_ACQUIRE = 24
    BAD_UNLOCK = 25
    TRYLOCK_FAIL = 26
    EVENTFD = 27
    SCHIB_READ = 28
    PIN = 29
    UNPIN = 30
    DMA = 31
    EXPECT = 32
    EXPECT_MEM = 33
    OUTCOME = 34


ARGS: dict[Ev, tuple[str, ...]] = {
    Ev.OP_BEGIN: ("op", "sch", "index"),
    Ev.OP_END: ("op", "sch", "index", "result"),
    Ev.INSTR: ("instr", "sch", "cc", "before", "after"),
    Ev.INTERRUPT: ("sch", "scsw0", "scsw1", "scsw2", "fsm"),
    Ev.FSM: ("sch", "old", "new", "event"),
    Ev.LOCK_ACQUIRE: ("lock",),
    Ev.LOCK_RELEASE: ("lock",),
    Ev.LOCK_WAIT: ("lock", "owner"),
    Ev.CP_ALLOC: ("sch", "gen", "addr", "guest", "length"),
    Ev.CP_FREE: ("sch", "gen", "addr", "fsm", "atomic"),
    Ev.POISON_READ: ("sch", "addr"),
    Ev.IRB_STORE: ("sch", "hash", "scsw0", "cpa", "scsw2"),
    Ev.IRB_READ: ("sch", "hash", "scsw0", "cpa"),
    Ev.CRASH: ("code",),
    Ev.DEADLOCK: ("blocked_mask",),
    Ev.HW_EVENT: ("event", "sch", "result"),
    Ev.RET: ("what", "sch", "ret", "fsm_before", "fsm_after"),
    Ev.GUEST_CC: ("instr", "sch", "cc", "ret", "pages"),
    Ev.TODO: ("sch", "scsw0", "fsm_before", "fsm_after", "freed"),
    Ev.LIMIT: ("steps",),
    Ev.SLEEP_IN_ATOMIC: ("lock", "spin"),
    Ev.DOUBLE_ACQUIRE: ("lock",),
    Ev.BAD_UNLOCK: ("lock", "owner"),
    Ev.TRYLOCK_FAIL: ("lock", "owner"),
    Ev.EVENTFD: ("sch",),
    Ev.SCHIB_READ: ("sch", "pmcw1", "scsw0", "ret"),
    Ev.PIN: ("sch", "gen", "frame", "page"),
    Ev.UNPIN: ("sch", "gen", "count"),
    Ev.DMA: ("sch", "addr", "length", "access", "why"),
    Ev.EXPECT: ("sch", "tag", "scsw0", "cpa", "scsw2"),
    Ev.EXPECT_MEM: ("sch", "tag", "crc", "pages", "verdict"),
    Ev.OUTCOME: ("sch", "tag", "crc"),
}

#: Who writes each record kind and what it means: the catalogue the oracles read
#: (``ccwfuzz records`` prints it; the driver guide is generated from it). "toolkit"
#: means a :class:`~ccwfuzz.driver.kernel.Kernel` method, so a driver that uses the
#: toolkit writes it without knowing the encoding.
DOCS: dict[Ev, tuple[str, str]] = {
    Ev.OP_BEGIN: ("worker", "a worker starts op ``index`` of its list (``op``: 1-based code)"),
    Ev.OP_END: ("worker", "the op returned ``result`` (a length, 0, or ``-errno`` as u32)"),
    Ev.INSTR: (
        "toolkit: issue, test_subchannel",
        "an instruction (:class:`Instr`, bit 8: the "
        "subchannel was valid and enabled) got condition code ``cc`` (0xFF: program "
        "interruption); SCSW word 0 before and after",
    ),
    Ev.INTERRUPT: (
        "toolkit: test_subchannel",
        "the top half took an interruption: the SCSW's three words and the FSM state",
    ),
    Ev.FSM: (
        "toolkit: set_state",
        "the FSM state of ``sch`` went ``old`` -> ``new`` on "
        "``event`` (:class:`~ccwfuzz.driver.contract.Event`, 0xFF: none)",
    ),
    Ev.LOCK_ACQUIRE: ("primitives", "the actor took lock slot ``lock``"),
    Ev.LOCK_RELEASE: ("primitives", "the actor released lock slot ``lock``"),
    Ev.LOCK_WAIT: ("primitives", "the actor waits for ``lock`` held by ``owner``"),
    Ev.CP_ALLOC: (
        "toolkit: cp_alloc",
        "channel program generation ``gen`` of ``sch`` built "
        "at host address ``addr`` from the guest program at ``guest`` "
        "(``length`` bytes of host CCWs)",
    ),
    Ev.CP_FREE: (
        "toolkit: cp_free",
        "generation ``gen`` freed (its memory poisoned) in FSM state ``fsm``; ``atomic``: "
        "in interrupt context or under a spin lock",
    ),
    Ev.POISON_READ: (
        "channel, toolkit: read_state",
        "freed memory was read: a CCW fetch by the channel, or freed driver state",
    ),
    Ev.IRB_STORE: (
        "toolkit: deliver_irb",
        "the bottom half put an IRB (``hash``; SCSW words 0-2) into the I/O region's "
        "``irb_area`` for userspace",
    ),
    Ev.IRB_READ: (
        "worker",
        "userspace read the whole ``irb_area``: its ``hash`` (0: all "
        "zeros), SCSW word 0 and CCW address, as received",
    ),
    Ev.CRASH: ("actor", "an exception escaped driver code (the traceback is kept apart)"),
    Ev.DEADLOCK: ("scheduler", "every live actor was blocked"),
    Ev.HW_EVENT: ("channel", "a hardware event of the program fired"),
    Ev.RET: (
        "toolkit: answer",
        "the FSM answered request ``what`` (an Event) with "
        "``ret``, in state ``fsm_before`` (now ``fsm_after``)",
    ),
    Ev.GUEST_CC: (
        "worker",
        "what the guest sees for its SSCH/HSCH/CSCH (QEMU's mapping of "
        "the region write's result ``ret``, spec B.1); ``pages``: the 4-KiB guest pages "
        "(bit n: page n) the op wrote its channel program into",
    ),
    Ev.TODO: (
        "toolkit: processed",
        "the bottom half acted on an IRB (SCSW word 0): FSM "
        "before and after, whether it freed the cp",
    ),
    Ev.LIMIT: ("scheduler", "the run used up its step budget"),
    Ev.SLEEP_IN_ATOMIC: ("primitives", "a sleeping lock or wait in atomic context"),
    Ev.DOUBLE_ACQUIRE: ("primitives", "a lock taken again by its holder"),
    Ev.BAD_UNLOCK: ("primitives", "a lock released by an actor that does not hold it"),
    Ev.TRYLOCK_FAIL: ("primitives", "a trylock found ``lock`` held by ``owner``"),
    Ev.EVENTFD: ("toolkit: signal_io", "the driver signalled the userspace I/O eventfd"),
    Ev.SCHIB_READ: (
        "worker",
        "userspace read the schib region: PMCW word 1 and SCSW word 0 as received, or ``ret`` < 0",
    ),
    Ev.PIN: (
        "toolkit: pin",
        "guest page ``page`` pinned into host frame ``frame`` for generation ``gen``",
    ),
    Ev.UNPIN: ("toolkit: unpin, cp_free", "the ``count`` pages pinned for ``gen`` unpinned"),
    Ev.DMA: (
        "channel",
        "the channel touched storage its running program may not: ``access`` "
        "(0 CCW, 1 IDAW, 2 data fetch, 3 data store) of ``length`` bytes at host address "
        "``addr``; ``why``: 1 outside the running program, 2 a frame not pinned for it",
    ),
    Ev.EXPECT: (
        "worker",
        "before its start request: what the architecture gives the guest for this "
        "program (the bare channel run on a copy of the subchannel, device and guest "
        "memory): SCSW words 0-2 of the final status; ``tag`` pairs it with "
        "EXPECT_MEM and OUTCOME",
    ),
    Ev.EXPECT_MEM: (
        "worker",
        "the same run's guest pages and device storage: ``crc`` of the pages it "
        "stored into and the device storage after it, ``pages`` the pages it touched, "
        "``verdict`` 1 when it ended cleanly (no program check, no alert)",
    ),
    Ev.OUTCOME: (
        "worker hook at toolkit: deliver_irb",
        "an IRB reached ``irb_area`` while expectation ``tag`` was armed: the ``crc`` of "
        "the same pages and device storage now",
    ),
}


class Instr(enum.IntEnum):
    """Instruction codes in :attr:`Ev.INSTR` and :attr:`Ev.GUEST_CC` records."""

    SSCH = 1
    HSCH = 2
    CSCH = 3
    TSCH = 4
    MSCH = 5
    STSCH = 6
    XSCH = 7
    RSCH = 8


#: ``cc`` of an :attr:`Ev.INSTR` record whose instruction raised a program interruption.
NO_CC = 0xFF
#: Flag in an :attr:`Ev.INSTR` record's ``instr``: the subchannel was valid and enabled.
OPERATIONAL = 1 << 8
#: ``event`` of an :attr:`Ev.FSM` record written outside any FSM event.
NO_EVENT = 0xFF


def irb_hash(irb: bytes) -> int:
    """The hash of an IRB in IRB_STORE and IRB_READ records (0 is kept for "all zeros")."""
    return (zlib.crc32(irb) or 1) if any(irb) else 0


def catalogue() -> str:
    """The record catalogue as a Markdown page (``docs/records.md`` is this output)."""
    rows = [
        "# History records",
        "",
        "Generated by `ccwfuzz records` from `ccwfuzz/sync/history.py`; do not edit. Every",
        "record is eight 32-bit words: `seq, actor, kind, a0..a4`. A driver that uses the",
        'kernel toolkit writes the records marked "toolkit" without knowing this layout.',
        "",
        "| kind | arguments | written by | meaning |",
        "|---|---|---|---|",
    ]
    for ev in Ev:
        who, what = DOCS[ev]
        args = ", ".join(f"``{a}``" for a in ARGS[ev]) or "-"
        line = f"| ``{ev.name}`` | {args} | {who} | {what} |"
        rows.append(re.sub(r":\w+:`~?(?:[\w]+\.)*(\w+)`", r"`\1`", line).replace("``", "`"))
    return "\n".join(rows) + "\n"


_EV: dict[int, Ev] = {e.value: e for e in Ev}
#: Per record kind, each argument's index in the record (oracles read thousands of
#: arguments per run: one dict lookup each, not a scan of ``ARGS``).
_ARG_AT: dict[int, dict[str, int]] = {
    e.value: {name: 3 + i for i, name in enumerate(ARGS[e])} for e in Ev
}


def words_for(capacity: int) -> int:
    return HEADER_WORDS + capacity * RECORD_WORDS


class Record(tuple[int, ...]):
    """One event: ``(seq, actor, kind, a0, a1, a2, a3, a4)``."""

    __slots__ = ()

    #: The global sequence number and the actor that wrote the record.
    seq = property(operator.itemgetter(0))
    actor = property(operator.itemgetter(1))

    @property
    def kind(self) -> Ev:
        return _EV[self[2]]

    @property
    def args(self) -> tuple[int, ...]:
        return tuple(self[3:8])

    def arg(self, name: str) -> int:
        return self[_ARG_AT[self[2]][name]]

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"seq": self.seq, "actor": self.actor, "kind": self.kind.name}
        for name, value in zip(ARGS.get(self.kind, ()), self.args, strict=False):
            d[name] = value
        return d


class History:
    """Append and read event records in a words view (``w``, starting at ``base``)."""

    __slots__ = ("_base", "_cap", "_w")

    def __init__(self, w: memoryview, base: int) -> None:
        self._w = w
        self._base = base
        self._cap = w[base + H_CAP]

    @staticmethod
    def format(w: memoryview, base: int, capacity: int) -> None:
        w[base + H_SEQ] = 0
        w[base + H_CAP] = capacity
        w[base + H_LOST] = 0

    def reset(self) -> None:
        self._w[self._base + H_SEQ] = 0
        self._w[self._base + H_LOST] = 0

    def append(self, actor: int, kind: int, a0: int = 0, a1: int = 0, a2: int = 0,
               a3: int = 0, a4: int = 0) -> int:  # fmt: skip
        """Append one record (the caller holds the free-mode interlock); returns seq."""
        w, b = self._w, self._base
        seq = w[b + H_SEQ]
        w[b + H_SEQ] = seq + 1
        r = b + HEADER_WORDS + (seq % self._cap) * RECORD_WORDS
        w[r] = seq
        w[r + 1] = actor
        w[r + 2] = kind
        w[r + 3] = a0 & 0xFFFFFFFF
        w[r + 4] = a1 & 0xFFFFFFFF
        w[r + 5] = a2 & 0xFFFFFFFF
        w[r + 6] = a3 & 0xFFFFFFFF
        w[r + 7] = a4 & 0xFFFFFFFF
        return seq

    def __len__(self) -> int:
        return min(self._w[self._base + H_SEQ], self._cap)

    @property
    def total(self) -> int:
        """Events appended in this run (more than ``len`` if the ring wrapped)."""
        return int(self._w[self._base + H_SEQ])

    def records(self) -> list[Record]:
        """The retained records, oldest first."""
        w, b, cap = self._w, self._base, self._cap
        total = w[b + H_SEQ]
        start = max(0, total - cap)
        out = []
        for seq in range(start, total):
            r = b + HEADER_WORDS + (seq % cap) * RECORD_WORDS
            out.append(Record(w[r : r + RECORD_WORDS].tolist()))
        return out

    def raw(self) -> bytes:
        """The retained records, oldest first, as bytes (one copy, no decoding)."""
        w, b, cap = self._w, self._base, self._cap
        total = w[b + H_SEQ]
        ring = b + HEADER_WORDS
        if total <= cap:
            return w[ring : ring + total * RECORD_WORDS].tobytes()
        cut = (total % cap) * RECORD_WORDS
        return (w[ring + cut : ring + cap * RECORD_WORDS].tobytes()
                + w[ring : ring + cut].tobytes())  # fmt: skip

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records())


def signed(value: int) -> int:
    """A 32-bit word read back as a signed int (return codes are stored that way)."""
    return value - (1 << 32) if value & 0x80000000 else value


def to_jsonl(records: list[Record]) -> str:
    return "".join(json.dumps(r.as_dict(), sort_keys=True) + "\n" for r in records)
