"""Locking, lifecycle, memory and isolation oracles (DESIGN section 5, spec E4, E5, E6,
E14, E17, E19, and the seed threads: virtio-ccw config read, vfio-ap lock order,
global write serialization)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.contract import State
from ccwfuzz.oracles.registry import Finding, RunView, rule
from ccwfuzz.oracles.translation import pinned_leaks
from ccwfuzz.program.ops import OPS
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Record, signed

_INDEX = re.compile(r"^(.*)\[(\d+)\]$")
LIFECYCLE_OPS = {"close", "reset", "remove"}
REQUEST_OPS = {"ssch", "hsch", "csch"}
EAGAIN, EBUSY = -11, -16


def lock_class(view: RunView, slot: int) -> str:
    """The lock's class (lockdep): its name without the per-subchannel index."""
    return _split(view.lock_names.get(slot, f"lock#{slot}"))[0]


def lock_sch(view: RunView, slot: int) -> int | None:
    """The subchannel a lock belongs to (None: a global lock, or unnamed)."""
    return _split(view.lock_names.get(slot, ""))[1]


@functools.lru_cache(maxsize=4096)
def _split(name: str) -> tuple[str, int | None]:
    m = _INDEX.match(name)
    return (m.group(1), int(m.group(2))) if m else (name, None)


@rule("lock.sleep-in-atomic", "E4", "no sleeping lock or wait while a spin lock is held")
def sleep_in_atomic(view: RunView) -> list[Finding]:
    """Taking a mutex, waiting for a completion or flushing the work queue while holding
    a spin lock or in interrupt context ("scheduling while atomic")."""
    out = []
    for r, op, _states in view.of(Ev.SLEEP_IN_ATOMIC):
        if r.kind == Ev.SLEEP_IN_ATOMIC:
            name = view.lock_names.get(r.arg("lock"), f"#{r.arg('lock')}")
            out.append(
                view.finding(
                    "lock.sleep-in-atomic",
                    f"sleeping on {name} in atomic context",
                    r,
                    op,
                    where=lock_class(view, r.arg("lock")),
                )
            )
    return out


@rule(
    "lock.double-acquire",
    "DESIGN 5 (virtio-ccw config read)",
    "no context takes a lock it already holds",
)
def double_acquire(view: RunView) -> list[Finding]:
    """An actor acquired a lock it already held: a self-deadlock (e.g. an interrupt
    handler starting a config read that needs the subchannel lock it holds)."""
    return [
        view.finding(
            "lock.double-acquire",
            f"re-acquired {view.lock_names.get(r.arg('lock'), r.arg('lock'))}",
            r,
            op,
            where=lock_class(view, r.arg("lock")),
        )
        for r, op, _ in view.of(Ev.DOUBLE_ACQUIRE)
        if r.kind == Ev.DOUBLE_ACQUIRE
    ]


@rule("lock.bad-unlock", "DESIGN 5", "only the owner releases a lock")
def bad_unlock(view: RunView) -> list[Finding]:
    """A lock released by an actor that does not hold it."""
    return [
        view.finding("lock.bad-unlock", "released a lock it does not hold", r, op)
        for r, op, _ in view.of(Ev.BAD_UNLOCK)
        if r.kind == Ev.BAD_UNLOCK
    ]


@dataclasses.dataclass
class LockGraph:
    """Lock-class order edges, kept across runs (lockdep): pass the same graph in every
    run's :class:`RunView` to find an inversion even when no run deadlocked."""

    edges: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    #: The run being judged (set by the caller), and the run each edge first came from,
    #: so a cycle can name the runs a replay needs.
    run: int = -1
    origin: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    #: Runs whose edges the last cycle found is made of, and per finding (the seq of
    #: the record that closed the cycle, in the run being judged) the same.
    cycle_runs: set[int] = dataclasses.field(default_factory=set)
    cycles: dict[int, set[int]] = dataclasses.field(default_factory=dict)
    #: Edges added by the current run (set by ``add``; the caller resets it).
    added: int = 0

    def add(self, a: str, b: str) -> list[str] | None:
        """Add a -> b; return the cycle it closes (b ... a, b) if any."""
        if a == b or b in self.edges.get(a, set()):
            return None
        path = self._path(b, a)
        self.edges.setdefault(a, set()).add(b)
        self.origin[(a, b)] = self.run
        self.added += 1
        if not path:
            return None
        cycle = [*path, b]
        self.cycle_runs = {self.origin.get(e, self.run) for e in itertools.pairwise(cycle)}
        return cycle

    def _path(self, src: str, dst: str) -> list[str] | None:
        stack, seen = [(src, [src])], {src}
        while stack:
            node, path = stack.pop()
            if node == dst:
                return path
            for nxt in self.edges.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None


@rule(
    "lock.order",
    "DESIGN 5 (vfio-ap hot-plug thread)",
    "lock classes are always taken in one order (no cycle, lockdep-style)",
)
def lock_order(view: RunView) -> list[Finding]:
    """Builds the graph "class A held while class B taken" over mutexes and spin locks
    (across runs when the view carries a shared :class:`LockGraph`) and reports the
    edge that closes a cycle, even if no run deadlocked."""
    graph = view.lock_graph if isinstance(view.lock_graph, LockGraph) else LockGraph()
    held: dict[int, list[int]] = {}
    out = []
    for r, op, _ in view.of(Ev.LOCK_ACQUIRE, Ev.LOCK_RELEASE):
        if r.kind == Ev.LOCK_ACQUIRE:
            slot = r.arg("lock")
            new = lock_class(view, slot)
            for h in held.get(r.actor, []):
                cycle = graph.add(lock_class(view, h), new)
                if cycle:
                    graph.cycles.setdefault(r.seq, set()).update(graph.cycle_runs)
                    out.append(
                        view.finding(
                            "lock.order",
                            "lock order cycle: " + " -> ".join(cycle),
                            r,
                            op,
                            where=" ".join(sorted(set(cycle))),
                        )
                    )
            held.setdefault(r.actor, []).append(slot)
        elif r.kind == Ev.LOCK_RELEASE:
            stack = held.get(r.actor, [])
            if r.arg("lock") in stack:
                stack.remove(r.arg("lock"))
    return out


@rule(
    "driver.close-liveness",
    "E5",
    "close, reset and remove finish in bounded steps",
    judges_ending=True,
)
def close_liveness(view: RunView) -> list[Finding]:
    """The run ran out of its step budget (controlled) or time (free) while an actor was
    inside close, reset or remove (e.g. a quiesce loop that keeps cancelling a device
    that keeps completing)."""
    if view.outcome not in (Outcome.LIMIT, Outcome.HANG):
        return []
    current: dict[int, tuple[str, Record]] = {}
    for r, _op, _ in view.of(Ev.OP_BEGIN, Ev.OP_END):
        if r.kind == Ev.OP_BEGIN:
            current[r.actor] = (OPS[r.arg("op") - 1], r)
        elif r.kind == Ev.OP_END:
            current.pop(r.actor, None)
    out = [
        view.finding("driver.close-liveness", f"{name} did not finish", r, name, sch=r.arg("sch"))
        for name, r in current.values()
        if name in LIFECYCLE_OPS
    ]
    if not out:  # the ring may have wrapped: the op each worker was in is kept apart
        for cur in view.current_ops:
            if cur and OPS[cur[0] - 1] in LIFECYCLE_OPS:
                name = OPS[cur[0] - 1]
                out.append(
                    view.finding(
                        "driver.close-liveness", f"{name} did not finish", op=name, sch=cur[1]
                    )
                )
    return out


@rule("driver.notoper-final", "E14", "NOT_OPER is left only through a fresh probe", needs=(Ev.FSM,))
def notoper_final(view: RunView) -> list[Finding]:
    """Once NOT_OPER, a subchannel stays NOT_OPER (no machine check or event brings it
    back to IDLE or STANDBY)."""
    return [
        view.finding(
            "driver.notoper-final",
            f"left NOT_OPER for {State(r.arg('new')).name}",
            r,
            op,
            State.NOT_OPER,
            r.arg("sch"),
        )
        for r, op, _ in view.of(Ev.FSM)
        if r.kind == Ev.FSM and r.arg("old") == State.NOT_OPER and r.arg("new") != State.NOT_OPER
    ]


@rule(
    "driver.pending-before-irq",
    "E19",
    "a start's interruption is never seen before the FSM shows CP_PENDING",
    needs=(Ev.INSTR, Ev.FSM, Ev.INTERRUPT),
)
def pending_before_irq(view: RunView) -> list[Finding]:
    """After a host SSCH is accepted, the FSM reaches CP_PENDING before the
    interruption for that start is handled."""
    out = []
    waiting: dict[int, Record] = {}
    for r, op, states in view.of(Ev.INSTR, Ev.FSM, Ev.INTERRUPT):
        if r.kind == Ev.INSTR and r.arg("instr") & 0xFF == 1 and r.arg("cc") == 0:
            waiting[r.arg("sch")] = r
        elif r.kind == Ev.FSM and r.arg("new") == State.CP_PENDING:
            waiting.pop(r.arg("sch"), None)
        elif r.kind == Ev.INTERRUPT and r.arg("sch") in waiting and S.is_solicited(r.arg("scsw0")):
            sch = r.arg("sch")
            waiting.pop(sch)
            if states[sch] == State.NOT_OPER:
                continue  # the device went away: the start is moot
            out.append(
                view.finding(
                    "driver.pending-before-irq",
                    "interruption for a start handled before CP_PENDING",
                    r,
                    op,
                    states[sch],
                    sch,
                )
            )
    return out


@rule("memory.leak", "E6, E9", "no channel program or pinned page left behind")
def leak(view: RunView) -> list[Finding]:
    """At the end of a completed run, a subchannel in STANDBY or NOT_OPER (closed)
    holds no channel program; and no guest page stays pinned for a program that failed
    to translate, was freed, or belongs to a closed device (``pinned_leaks``)."""
    out = pinned_leaks(view, ended=view.outcome == Outcome.DONE)
    if view.outcome != Outcome.DONE:
        return out
    return out + [
        view.finding(
            "memory.leak", "closed device still holds a channel program", state=st, sch=sch
        )
        for sch, (st, cp) in enumerate(zip(view.states, view.cp_live, strict=False))
        if cp and st in (State.STANDBY, State.NOT_OPER)
    ]


@rule(
    "memory.double-free",
    "E9",
    "a channel program is freed once",
    needs=(Ev.CP_FREE,),
    whole_history=True,
)
def double_free(view: RunView) -> list[Finding]:
    """A cp generation freed twice (or one never allocated)."""
    live: set[tuple[int, int]] = set()
    out = []
    for r, op, states in view.of(Ev.CP_ALLOC, Ev.CP_FREE):
        key = (r.arg("sch"), r.arg("gen")) if r.kind in (Ev.CP_ALLOC, Ev.CP_FREE) else None
        if r.kind == Ev.CP_ALLOC and key:
            live.add(key)
        elif r.kind == Ev.CP_FREE and key:
            if key not in live:
                out.append(
                    view.finding(
                        "memory.double-free",
                        "freed a channel program that is not live",
                        r,
                        op,
                        states[key[0]],
                        key[0],
                    )
                )
            live.discard(key)
    return out


@rule(
    "isolation.cross-subchannel",
    "DESIGN 5 (global write serialization thread)",
    "a request on one subchannel never fails because of activity on another",
)
def cross_subchannel(view: RunView) -> list[Finding]:
    """A start, halt or clear that ended -EBUSY or -EAGAIN after failing to take a lock
    that does not belong to its own subchannel."""
    if not view.lock_names:
        return []
    failed: dict[int, list[int]] = {}
    out = []
    for r, op, states in view.of(Ev.OP_BEGIN, Ev.TRYLOCK_FAIL, Ev.OP_END):
        if r.kind == Ev.OP_BEGIN:
            failed[r.actor] = []
        elif r.kind == Ev.TRYLOCK_FAIL:
            failed.setdefault(r.actor, []).append(r.arg("lock"))
        elif (
            r.kind == Ev.OP_END and op in REQUEST_OPS and signed(r.arg("result")) in (EAGAIN, EBUSY)
        ):
            sch = r.arg("sch")
            foreign = [s for s in failed.get(r.actor, []) if lock_sch(view, s) != sch]
            if foreign:
                name = view.lock_names.get(foreign[0], str(foreign[0]))
                out.append(
                    view.finding(
                        "isolation.cross-subchannel",
                        f"{op} on subchannel {sch} failed on {name}",
                        r,
                        op,
                        states[sch],
                        sch,
                        where=lock_class(view, foreign[0]),
                    )
                )
    return out
