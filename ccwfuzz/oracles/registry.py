"""Rules, findings and the view of a run every oracle reads.

An oracle is a pure function of a :class:`RunView` returning :class:`Finding` s. A
finding is keyed by (rule id, where, target): ``where`` is the clause of the rule that
was violated or, for a crash, the code location that raised. The op and FSM state it
happened in stay in the report, not in the key, so one bug met in four ops is one
finding, and dedup is stable across code changes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from ccwfuzz.driver.contract import Event, State
from ccwfuzz.program import Program
from ccwfuzz.program.ops import OPS
from ccwfuzz.program.run import RunResult
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import ARGS, NO_EVENT, Ev, Instr, Record


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
    where: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.where, self.target)

    def line(self) -> str:
        where = f" at seq {self.seq}" if self.seq >= 0 else ""
        return f"[{self.rule}] {self.message} (op {self.op}, state {self.state}{where})"


def _clause(message: str) -> str:
    cut = min((i for i in (message.find(":"), message.find(" (")) if i >= 0), default=-1)
    return message[:cut] if cut >= 0 else message


def _domains(nsch: int, nactors: int) -> dict[str, frozenset[int] | range]:
    states = frozenset(int(x) for x in State)
    return {
        "sch": range(nsch),
        "op": range(1, len(OPS) + 1),
        "fsm": states,
        "old": states,
        "new": states,
        "fsm_before": states,
        "fsm_after": states,
        "owner": range(-1, nactors),
    }


def well_formed(records: list[Record], nsch: int, nactors: int) -> tuple[list[Record], int]:
    """The records every oracle may rely on: known kind, a real actor, and each
    argument with a fixed domain (subchannel, op, FSM state) inside it. Others come
    from memory corruption or a driver writing records by hand; they are dropped and
    counted (the run is then judged on what is left)."""
    checks = _checks(nsch, nactors)
    keep = []
    for r in records:
        rule = checks.get(r[2])
        if rule is None or not 0 <= r[1] < nactors:
            continue
        for i, dom in rule:
            if r[i] not in dom:
                break
        else:
            if r[2] == _INSTR and r[3] & 0xFF not in _INSTRS:
                continue
            if r[2] == _FSM and r[6] not in _EVENTS:
                continue
            keep.append(r)
    return keep, len(records) - len(keep)


@functools.lru_cache(maxsize=64)
def _checks(nsch: int, nactors: int) -> dict[int, tuple[tuple[int, Any], ...]]:
    """Per record kind, (index, domain) of each argument that has a fixed domain."""
    domains: dict[str, Any] = dict(_domains(nsch, nactors))
    owners = domains.pop("owner")
    out = {}
    for k in Ev:
        rule = []
        for i, name in enumerate(ARGS[k]):
            if name == "owner":  # an actor, or 0xFFFFFFFF: nobody (BAD_UNLOCK)
                rule.append((3 + i, frozenset([*owners, 0xFFFFFFFF])))
            elif name in domains:
                rule.append((3 + i, domains[name]))
        out[int(k)] = tuple(rule)
    return out


_INSTRS = frozenset(int(i) for i in Instr)
_OP_BEGIN, _FSM, _INSTR = int(Ev.OP_BEGIN), int(Ev.FSM), int(Ev.INSTR)
_STATES = {int(s): s for s in State}
_EVENTS = frozenset({*(int(e) for e in Event), NO_EVENT})


@dataclasses.dataclass
class RunView:
    """A finished run as the oracles see it. Records that are not well formed
    (:func:`well_formed`) are dropped on construction and counted in ``malformed``."""

    records: list[Record]
    outcome: Outcome
    target: str
    nworkers: int
    nsch: int
    contract: str = "upstream"
    states: list[State] = dataclasses.field(default_factory=list)
    cp_live: list[bool] = dataclasses.field(default_factory=list)
    end_scsw: list[int] = dataclasses.field(default_factory=list)
    deadlock_mask: int = 0
    lock_names: dict[int, str] = dataclasses.field(default_factory=dict)
    lock_graph: object | None = None  # a locking.LockGraph shared across runs
    #: Per worker, the op it was in when the run ended (kept outside the history ring).
    current_ops: list[tuple[int, int] | None] = dataclasses.field(default_factory=list)
    #: The state each subchannel started in (default: STANDBY for all).
    initial_states: list[State] = dataclasses.field(default_factory=list)
    crashes: dict[int, str] = dataclasses.field(default_factory=dict)
    malformed: int = 0
    #: Record kinds the target is known to write (in the engines' probe runs,
    #: :func:`ccwfuzz.engines.loop.target_kinds`): a rule is judged when its records
    #: are written by the target, even in a run whose bug kept them from being written.
    seen_kinds: frozenset[int] = frozenset()
    #: Records lost to the ring wrapping: the history does not start at the run's start.
    lost: int = 0
    _walk: list[tuple[Record, str, tuple[State, ...]]] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    _of: dict[frozenset[int], list[tuple[Record, str, tuple[State, ...]]]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.records, bad = well_formed(self.records, self.nsch, self.nworkers + 2)
        self.malformed += bad

    @functools.cached_property
    def kinds(self) -> frozenset[int]:
        """The record kinds present in the run."""
        return frozenset(r[2] for r in self.records)

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
            init = list(self.initial_states)[: self.nsch]
            states = init + [State.STANDBY] * (self.nsch - len(init))
            snap = tuple(states)
            out: list[tuple[Record, str, tuple[State, ...]]] = []
            append, op, nsch = out.append, op_of.get, self.nsch
            for r in self.records:
                kind = r[2]
                if kind == _OP_BEGIN:
                    op_of[r[1]] = OPS[r[3] - 1]
                append((r, op(r[1], "-"), snap))
                if kind == _FSM and r[3] < nsch:
                    states[r[3]] = _STATES[r[5]]
                    snap = tuple(states)
            self._walk = out
        return self._walk

    def of(self, *kinds: Ev) -> list[tuple[Record, str, tuple[State, ...]]]:
        """The :meth:`walk` entries of the given record kinds only, in order (cached):
        a rule that reads three kinds skips the other records without looking."""
        key = frozenset(int(k) for k in kinds)
        got = self._of.get(key)
        if got is None:
            got = self._of[key] = [e for e in self.walk() if e[0][2] in key]
        return got

    def finding(
        self,
        rule: str,
        message: str,
        r: Record | None = None,
        op: str = "-",
        state: State | str = "-",
        sch: int = -1,
        where: str = "",
    ) -> Finding:
        """A finding of ``rule``; ``where`` names the violated clause (default: the
        message up to its first colon or parenthesis, which rules keep free of run
        specific values)."""
        st = state.name if isinstance(state, State) else state
        where = where or _clause(message)
        if r is None:
            return Finding(rule, message, self.target, op, st, sch, where=where)
        return Finding(rule, message, self.target, op, st, sch, r.seq, r.actor, where)


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    spec: str
    statement: str
    check: Callable[[RunView], list[Finding]]
    #: The rule judges how the run ended (deadlock, step budget, a free run's clock),
    #: not what its history shows: it has nothing to say about an inconclusive run.
    judges_ending: bool = False
    #: Record kinds the rule cannot judge without: in a run where one is absent the
    #: rule is "not judged" (never "clean"); a driver that skips the toolkit call that
    #: writes it is told so by ``check-driver``.
    needs: frozenset[Ev] = frozenset()
    #: The rule follows state from the run's start (not judged if the ring wrapped).
    whole_history: bool = False

    def judges(self, view: RunView) -> bool:
        """Whether this rule can judge the run: the target writes the records it needs
        (in this run or the target's probe runs), and, for a rule that follows state
        from the run's start, no record was lost to the ring wrapping."""
        if self.whole_history and view.lost:
            return False
        return self.needs <= view.kinds | view.seen_kinds

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


RULES: dict[str, Rule] = {}


def view_of(
    result: RunResult,
    program: Program,
    lock_names: dict[int, str] | None = None,
    lock_graph: object | None = None,
    seen_kinds: frozenset[int] = frozenset(),
) -> RunView:
    """The oracles' view of a pool run. Pass the pool's lock names (readable findings;
    needed by the isolation and lock-order rules), to find lock-order inversions across
    runs one :class:`~ccwfuzz.oracles.locking.LockGraph` for all of them, and the record
    kinds earlier runs of the same target wrote (``seen_kinds``)."""
    return RunView(
        records=result.records,
        outcome=result.outcome,
        target=program.target,
        nworkers=len(program.workers),
        nsch=program.subchannels,
        contract=program.contract,
        states=result.states,
        cp_live=result.cp_live,
        end_scsw=result.end_scsw,
        deadlock_mask=result.deadlock_mask,
        lock_names=lock_names or {},
        lock_graph=lock_graph,
        current_ops=result.current_ops,
        initial_states=result.initial_states,
        crashes=result.crashes,
        seen_kinds=seen_kinds,
        lost=result.lost,
    )


def rule(
    rule_id: str,
    spec: str,
    statement: str,
    judges_ending: bool = False,
    needs: tuple[Ev, ...] = (),
    whole_history: bool = False,
) -> Callable[[Callable[[RunView], list[Finding]]], Callable[[RunView], list[Finding]]]:
    """Register an oracle under a stable id, with its spec section and one-line rule;
    ``judges_ending`` for a rule about how the run ended rather than what it did;
    ``needs``: the record kinds without which it cannot judge a run; ``whole_history``
    for a rule that follows state from the run's start."""

    def register(fn: Callable[[RunView], list[Finding]]) -> Callable[[RunView], list[Finding]]:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        RULES[rule_id] = Rule(rule_id, spec, statement, fn, judges_ending, frozenset(needs),
                              whole_history)  # fmt: skip
        return fn

    return register


def check(view: RunView, rules: list[str] | None = None, endings: bool = True) -> list[Finding]:
    """Run the oracles (all, or the given ids) over one run; findings in seq order,
    one per key. ``endings=False`` leaves out the rules that judge how the run ended
    (for a run that ended for a reason outside the driver, e.g. a free run's clock)."""
    found: dict[tuple[str, str, str], Finding] = {}
    for rid, r in RULES.items():
        if (rules is not None and rid not in rules) or (r.judges_ending and not endings):
            continue
        if not r.judges(view):
            continue
        for f in r.check(view):
            found.setdefault(f.key, f)
    return sorted(found.values(), key=lambda f: (f.seq, f.rule))


def not_judged(view: RunView, rules: list[str] | None = None) -> list[str]:
    """The rules (all, or the given ids) that could not judge this run: a record kind
    they need is absent from its history."""
    return [rid for rid, r in RULES.items() if (rules is None or rid in rules)
            and not r.judges(view)]  # fmt: skip
