"""Memory, scheduling and crash oracles."""

from __future__ import annotations

from ccwfuzz.oracles.registry import Finding, RunView, rule
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev


@rule("memory.poison-read", "E1, E8, E10", "the channel never fetches freed (poisoned) memory")
def poison_read(view: RunView) -> list[Finding]:
    """The cp arena is poisoned with 0x6b on free; a CCW fetch of poison is a use after
    free by the channel."""
    return [
        view.finding(
            "memory.poison-read",
            f"channel fetched freed CCW memory at {r.arg('addr'):#x}",
            r,
            op,
            states[r.arg("sch")],
            r.arg("sch"),
            where="channel fetched freed CCW memory",
        )
        for r, op, states in view.of(Ev.POISON_READ)
        if r.kind == Ev.POISON_READ
    ]


@rule(
    "sched.deadlock",
    "DESIGN 3",
    "no run ends with live actors all waiting on each other",
    judges_ending=True,
)
def deadlock(view: RunView) -> list[Finding]:
    """The controlled scheduler found every live actor blocked on a lock or completion
    (or a free run made no progress): reported with who waits on what."""
    if view.outcome not in (Outcome.DEADLOCK, Outcome.HANG):
        return []
    waits: dict[int, str] = {}
    last_op: dict[int, str] = {}
    for r, op, _ in view.walk():
        last_op[r.actor] = op
        if r.kind == Ev.LOCK_WAIT:
            name = view.lock_names.get(r.arg("lock"), f"lock {r.arg('lock')}")
            waits[r.actor] = f"actor {r.actor} waits for {name} held by actor {r.arg('owner')}"
        elif r.kind == Ev.LOCK_ACQUIRE:
            waits.pop(r.actor, None)
    blocked = [a for a in range(16) if view.deadlock_mask >> a & 1]
    detail = "; ".join(waits.get(a, f"actor {a} blocked") for a in blocked) or "no progress"
    op = last_op.get(blocked[0], "-") if blocked else "-"
    kind = "deadlock" if view.outcome == Outcome.DEADLOCK else "hang"
    return [view.finding("sched.deadlock", f"{kind}: {detail}", op=op)]


@rule("actor.crash", "DESIGN 5", "no actor raises or dies")
def crash(view: RunView) -> list[Finding]:
    """An exception escaped an actor (driver code raised). The finding carries the
    last line of the formatted traceback; the full traceback is kept with the run
    (``RunResult.crashes``) and printed by ``ccwfuzz replay``. Keyed by the raising
    code location, so one bug met from several ops is one finding."""
    out = []
    for r, op, _ in view.of(Ev.CRASH):
        if r.kind == Ev.CRASH:
            text = view.crashes.get(r.actor, "").rstrip().splitlines()
            last = text[-1] if text else "an exception"
            site = _site(text) or f"site {r.arg('code'):04x}"
            out.append(view.finding("actor.crash", f"actor raised {last} in {site}", r, op,
                                    where=site))  # fmt: skip
    return out


def _site(lines: list[str]) -> str:
    """``file:function`` where the driver raised: the first line of the pool's crash
    text (``raised in ...``) names the innermost frame of driver code."""
    first = lines[0] if lines else ""
    return first[len("raised in ") :].strip() if first.startswith("raised in ") else ""


@rule(
    "sched.step-limit", "D.1 (E5)", "every run completes within the step budget", judges_ending=True
)
def step_limit(view: RunView) -> list[Finding]:
    """The controlled run exceeded its step budget: a livelock (e.g. a quiesce loop
    that never ends)."""
    if view.outcome != Outcome.LIMIT:
        return []
    last = view.records[-1] if view.records else None
    op = "-"
    for _, o, _ in view.walk():
        op = o
    return [view.finding("sched.step-limit", "run did not finish within the step budget", last, op)]
