"""Text rendering of findings and histories, for terminals and logs."""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.contract import Event, State, errno_name
from ccwfuzz.oracles import Finding
from ccwfuzz.program.ops import HW_EVENTS, OPS
from ccwfuzz.sync.history import ARGS, Ev, Instr, Record, signed

INSTR_NAMES = {int(i): i.name.lower() for i in Instr}


def actor_name(actor: int, nworkers: int) -> str:
    if actor < nworkers:
        return f"worker{actor}"
    return "channel" if actor == nworkers else "workqueue"


def describe(r: Record, nworkers: int, locks: dict[int, str] | None = None) -> str:
    """One history record as a line a person can read."""
    locks = locks or {}
    who = actor_name(r.actor, nworkers)
    k = r.kind
    a = r.args
    if k in (Ev.OP_BEGIN, Ev.OP_END):
        name = OPS[a[0] - 1] if 0 < a[0] <= len(OPS) else str(a[0])
        tail = f" -> {errno_name(signed(a[3]))}" if k == Ev.OP_END else ""
        return f"{r.seq:6} {who:9} {'op ' if k == Ev.OP_BEGIN else 'end'} {name} sch {a[1]}{tail}"
    if k == Ev.INSTR:
        name = INSTR_NAMES.get(a[0] & 0xFF, str(a[0]))
        return f"{r.seq:6} {who:9} {name} sch {a[1]} cc {a[2]}  [{S.describe(a[4])}]"
    if k == Ev.INTERRUPT:
        scsw = S.describe(a[1], a[2], a[3] >> 24, a[3] >> 16 & 0xFF, a[3] & 0xFFFF)
        return f"{r.seq:6} {who:9} interrupt sch {a[0]}  [{scsw}]"
    if k == Ev.FSM:
        ev = Event(a[3]).name if a[3] < len(Event) else "-"
        return f"{r.seq:6} {who:9} fsm sch {a[0]} {State(a[1]).name} -> {State(a[2]).name} ({ev})"
    if k in (Ev.LOCK_ACQUIRE, Ev.LOCK_RELEASE, Ev.LOCK_WAIT):
        verb = {Ev.LOCK_ACQUIRE: "lock", Ev.LOCK_RELEASE: "unlock", Ev.LOCK_WAIT: "wait"}[k]
        return f"{r.seq:6} {who:9} {verb} {locks.get(a[0], f'#{a[0]}')}"
    if k == Ev.RET:
        return (f"{r.seq:6} {who:9} {Event(a[0]).name} sch {a[1]} in {State(a[3]).name}: "
                f"{errno_name(signed(a[2]))}")  # fmt: skip
    if k == Ev.HW_EVENT:
        return f"{r.seq:6} {who:9} hw {HW_EVENTS[a[0] - 1]} sch {a[1]}"
    if k in (Ev.CP_ALLOC, Ev.CP_FREE):
        verb = "cp alloc" if k == Ev.CP_ALLOC else "cp free"
        return f"{r.seq:6} {who:9} {verb} sch {a[0]} gen {a[1]} at {a[2]:#x}"
    if k in (Ev.IRB_STORE, Ev.IRB_READ):
        verb = "irb delivered" if k == Ev.IRB_STORE else "irb read"
        cpa = f" CPA={a[3]:#x}" if k == Ev.IRB_READ else ""
        return f"{r.seq:6} {who:9} {verb} sch {a[0]} hash {a[1]:08x}  [{S.describe(a[2])}]{cpa}"
    names = ARGS.get(k, ("a0", "a1", "a2", "a3", "a4"))
    return f"{r.seq:6} {who:9} {k.name.lower()} " + " ".join(
        f"{n}={v:#x}" if v > 9 else f"{n}={v}" for n, v in zip(names, a, strict=False) if v
    )


def window(records: list[Record], seq: int, nworkers: int, locks: dict[int, str] | None = None,
           before: int = 12, after: int = 4) -> list[str]:  # fmt: skip
    """The history lines around ``seq`` (the finding marked with ``>>``)."""
    idx = next((i for i, r in enumerate(records) if r.seq == seq), len(records) - 1)
    lines = []
    for r in records[max(0, idx - before) : idx + after + 1]:
        mark = ">>" if r.seq == seq else "  "
        lines.append(f"{mark}{describe(r, nworkers, locks)}")
    return lines


def finding_block(f: Finding, records: list[Record], nworkers: int,
                  locks: dict[int, str] | None = None) -> str:  # fmt: skip
    head = f"FINDING {f.line()}\n  key: {' / '.join(f.key)}"
    return head + "\n" + "\n".join(window(records, f.seq, nworkers, locks))


def divergence_block(at: int, expected_events: int, records: list[Record], nworkers: int,
                     locks: dict[int, str] | None = None, block: int = 16) -> str:  # fmt: skip
    """The report of a replay whose history differs from the recorded one: uncontrolled
    nondeterminism (the driver model read something the scheduler does not control),
    with the replay's records from the first differing block."""
    head = (f"UNCONTROLLED NONDETERMINISM: the replay's history differs from the recorded "
            f"one from event {at} on (events {at}..{at + block - 1}; recorded "
            f"{expected_events} events, replay {len(records)})")  # fmt: skip
    shown = [f"  {describe(r, nworkers, locks)}" for r in records[at : at + block]]
    return "\n".join([head, *shown])
