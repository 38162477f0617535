"""The run's history: a ring of fixed-size event records in shared memory.

Every actor appends to the same ring; the sequence number comes from one shared counter
(under the free-mode interlock), so events from all processes have a total order. Records
are eight 32-bit words: ``seq, actor, kind, a0..a4``. Nothing goes through pipes.
"""

from __future__ import annotations

import enum
import json
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


ARGS: dict[Ev, tuple[str, ...]] = {
    Ev.OP_BEGIN: ("op", "sch", "index"),
    Ev.OP_END: ("op", "sch", "index", "result"),
    Ev.INSTR: ("instr", "sch", "cc", "before", "after"),
    Ev.INTERRUPT: ("sch", "scsw0", "scsw1", "scsw2", "fsm"),
    Ev.FSM: ("sch", "old", "new", "event"),
    Ev.LOCK_ACQUIRE: ("lock",),
    Ev.LOCK_RELEASE: ("lock",),
    Ev.LOCK_WAIT: ("lock", "owner"),
    Ev.CP_ALLOC: ("sch", "slot", "addr"),
    Ev.CP_FREE: ("sch", "slot", "addr", "fsm"),
    Ev.POISON_READ: ("sch", "addr"),
    Ev.IRB_STORE: ("sch", "hash", "scsw0"),
    Ev.IRB_READ: ("sch", "hash", "scsw0"),
    Ev.CRASH: ("code",),
    Ev.DEADLOCK: ("blocked_mask",),
    Ev.HW_EVENT: ("event", "sch", "result"),
    Ev.RET: ("what", "sch", "ret", "fsm_before", "fsm_after"),
    Ev.GUEST_CC: ("instr", "sch", "cc", "ret"),
    Ev.TODO: ("sch", "scsw0", "fsm_before", "fsm_after", "freed"),
    Ev.LIMIT: ("steps",),
    Ev.SLEEP_IN_ATOMIC: ("lock", "spin"),
    Ev.DOUBLE_ACQUIRE: ("lock",),
    Ev.BAD_UNLOCK: ("lock", "owner"),
    Ev.TRYLOCK_FAIL: ("lock", "owner"),
}


_EV: dict[int, Ev] = {e.value: e for e in Ev}


def words_for(capacity: int) -> int:
    return HEADER_WORDS + capacity * RECORD_WORDS


class Record(tuple[int, ...]):
    """One event: ``(seq, actor, kind, a0, a1, a2, a3, a4)``."""

    @property
    def seq(self) -> int:
        return self[0]

    @property
    def actor(self) -> int:
        return self[1]

    @property
    def kind(self) -> Ev:
        return _EV[self[2]]

    @property
    def args(self) -> tuple[int, ...]:
        return tuple(self[3:8])

    def arg(self, name: str) -> int:
        return self[3 + ARGS[self.kind].index(name)]

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
