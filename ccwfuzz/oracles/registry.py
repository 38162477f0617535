"""Rules, findings and the view of a run every oracle reads.

An oracle is a pure function of a :class:`RunView` returning :class:`Finding` s. A
finding is keyed by (rule id, op kind, FSM state, target), not by stack frames, so the
same bug found twice is one finding and dedup is stable across code changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ccwfuzz.driver.contract import State
from ccwfuzz.program import Program
from ccwfuzz.program.ops import OPS
from ccwfuzz.program.run import RunResult
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Record


@dataclasses.dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    target: str
    op: str = "-"
    state: str = "-"
    sch: int = -1
    seq: int = -1
    actor: int = -1

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.rule, self.op, self.state, self.target)

    def line(self) -> str:
        where = f" at seq {self.seq}" if self.seq >= 0 else ""
        return f"[{self.rule}] {self.message} (op {self.op}, state {self.state}{where})"


@dataclasses.dataclass
class RunView:
    """A finished run as the oracles see it."""

    records: list[Record]
    outcome: Outcome
    target: str
    nworkers: int
    nsch: int
    contract: str = "upstream"
    states: list[State] = dataclasses.field(default_factory=list)
    cp_live: list[bool] = dataclasses.field(default_factory=list)
    deadlock_mask: int = 0
    lock_names: dict[int, str] = dataclasses.field(default_factory=dict)
    lock_graph: object | None = None  # a locking.LockGraph shared across runs
    #: Per worker, the op it was in when the run ended (kept outside the history ring).
    current_ops: list[tuple[int, int] | None] = dataclasses.field(default_factory=list)
    _walk: list[tuple[Record, str, tuple[State, ...]]] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    @property
    def channel_actor(self) -> int:
        return self.nworkers

    @property
    def workqueue_actor(self) -> int:
        return self.nworkers + 1

    def walk(self) -> list[tuple[Record, str, tuple[State, ...]]]:
        """Each record with the op its actor is running and the FSM states *before*
        the record; computed once per run and shared by every oracle."""
        if self._walk is None:
            op_of: dict[int, str] = {self.channel_actor: "irq", self.workqueue_actor: "todo"}
            states = [State.STANDBY] * self.nsch
            snap = tuple(states)
            out = []
            for r in self.records:
                kind = r[2]
                if kind == Ev.OP_BEGIN:
                    op_of[r[1]] = OPS[r[3] - 1]
                out.append((r, op_of.get(r[1], "-"), snap))
                if kind == Ev.FSM and r[3] < self.nsch:
                    states[r[3]] = State(r[5])
                    snap = tuple(states)
            self._walk = out
        return self._walk

    def finding(
        self,
        rule: str,
        message: str,
        r: Record | None = None,
        op: str = "-",
        state: State | str = "-",
        sch: int = -1,
    ) -> Finding:
        st = state.name if isinstance(state, State) else state
        if r is None:
            return Finding(rule, message, self.target, op, st, sch)
        return Finding(rule, message, self.target, op, st, sch, r.seq, r.actor)


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    spec: str
    statement: str
    check: Callable[[RunView], list[Finding]]
    #: The rule judges how the run ended (deadlock, step budget, a free run's clock),
    #: not what its history shows: it has nothing to say about an inconclusive run.
    judges_ending: bool = False

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


RULES: dict[str, Rule] = {}


def view_of(
    result: RunResult,
    program: Program,
    lock_names: dict[int, str] | None = None,
    lock_graph: object | None = None,
) -> RunView:
    """The oracles' view of a pool run. Pass the pool's lock names (readable findings;
    needed by the isolation and lock-order rules) and, to find lock-order inversions
    across runs, one :class:`~ccwfuzz.oracles.locking.LockGraph` for all of them."""
    return RunView(
        records=result.records,
        outcome=result.outcome,
        target=program.target,
        nworkers=len(program.workers),
        nsch=program.subchannels,
        contract=program.contract,
        states=result.states,
        cp_live=result.cp_live,
        deadlock_mask=result.deadlock_mask,
        lock_names=lock_names or {},
        lock_graph=lock_graph,
        current_ops=result.current_ops,
    )


def rule(
    rule_id: str, spec: str, statement: str, judges_ending: bool = False
) -> Callable[[Callable[[RunView], list[Finding]]], Callable[[RunView], list[Finding]]]:
    """Register an oracle under a stable id, with its spec section and one-line rule;
    ``judges_ending`` for a rule about how the run ended rather than what it did."""

    def register(fn: Callable[[RunView], list[Finding]]) -> Callable[[RunView], list[Finding]]:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        RULES[rule_id] = Rule(rule_id, spec, statement, fn, judges_ending)
        return fn

    return register


def check(view: RunView, rules: list[str] | None = None, endings: bool = True) -> list[Finding]:
    """Run the oracles (all, or the given ids) over one run; findings in seq order,
    one per key. ``endings=False`` leaves out the rules that judge how the run ended
    (for a run that ended for a reason outside the driver, e.g. a free run's clock)."""
    found: dict[tuple[str, str, str, str], Finding] = {}
    for rid, r in RULES.items():
        if (rules is not None and rid not in rules) or (r.judges_ending and not endings):
            continue
        for f in r.check(view):
            found.setdefault(f.key, f)
    return sorted(found.values(), key=lambda f: (f.seq, f.rule))
