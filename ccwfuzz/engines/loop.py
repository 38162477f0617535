"""The one search loop every engine shares: generate or take a program, hand it to the
executor, judge the result, and say what was found.

What must stay true:

* **Only the driver is judged.** How an inconclusive run ended never becomes a
  finding. The pool lost an actor process: the tool's fault, the whole run is
  discarded and the request run again on the restarted pool. A free run hit its
  wall-clock limit (machine load alone can do that): what its history shows is still
  judged (a lock taken twice is taken twice however the run ended), but not its
  ending; with nothing found, the same program is run again in controlled mode (its
  own schedule: following the free run's event order found the quiesce livelock less
  often), where a livelock is a step-budget verdict, not a clock reading.
* **Every finding replays.** A finding carries the program with the schedule that ran
  (the recorded decisions of a controlled run, the event order of a free one), the
  fingerprint of its history, and a replay token holding both; a lock-order finding
  also carries the earlier runs whose edges close the cycle.
* **A verdict is a function of the program and the target.** A rule is judged in a
  run that lacks the records it needs when the target is known to write them (a bug
  can keep them from being written); what the target writes is learnt from a fixed
  set of probe runs (:func:`target_kinds`), never from the session's earlier runs,
  so a finding of the thousandth run fires the same in a fresh replay.
* **Time is kept.** No run may push the session past its deadline by more than one
  run's step budget: free runs get the time that is left as their wall-clock limit.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator
from typing import Any

from ccwfuzz.choices import RandomSource, derive
from ccwfuzz.oracles import RULES, Finding, LockGraph, check, not_judged, view_of
from ccwfuzz.program import (
    Executor,
    Mode,
    Policy,
    Program,
    RequestError,
    RunRequest,
    RunResult,
    Schedule,
    random_program,
)
from ccwfuzz.program.chains import MODES as DRAW_MODES
from ccwfuzz.program.ops import CONTRACTS
from ccwfuzz.program.replay import Fingerprint, encode, fingerprint
from ccwfuzz.sync import Outcome

#: The longest wall-clock limit of one free run, in seconds (a controlled run's grows
#: with its step budget).
RUN_TIMEOUT = 10.0
#: The probe runs that learn which history records a target writes (seeded programs,
#: controlled mode): a fixed set, so the answer is the same in every process.
PROBES = 6
_KINDS: dict[tuple[str, int, int], frozenset[int]] = {}


def target_kinds(executor: Executor, stats: Stats | None = None) -> frozenset[int]:
    """The history record kinds the executor's target writes in the probe runs
    (cached per target and shape): rules whose records these include are judged even
    in a run whose bug kept those records from being written. A probe run that is
    inconclusive (a lost actor) is counted in ``stats``, as any other run would be."""
    k = (executor.target, executor.nsch, executor.nworkers)
    if k not in _KINDS:
        kinds: set[int] = set()
        for n in range(PROBES):
            src = RandomSource(derive(0, "probe", n))
            mode = "valid" if n % 3 else "mixed"
            program = random_program(src, workers=executor.nworkers, subchannels=executor.nsch,
                                     target=executor.target, mode=mode)  # fmt: skip
            try:
                result = executor.run(RunRequest(program, Mode.CONTROLLED, max_steps=20_000))
            except RequestError:
                continue
            if not result.inconclusive:
                kinds.update(r[2] for r in result.records)
            elif stats is not None:
                stats.inconclusive += 1
                stats.lost += result.outcome == Outcome.LOST
        _KINDS[k] = frozenset(kinds)
    return _KINDS[k]


@dataclasses.dataclass
class Stats:
    runs: int = 0
    ops: int = 0
    inconclusive: int = 0  # runs that said nothing about the driver (see the docstring)
    lost: int = 0  # of which: the pool lost an actor
    elapsed: float = 0.0
    findings: int = 0
    #: Rules that judged at least one run (the others lacked the records they need).
    judged: set[str] = dataclasses.field(default_factory=set)
    #: Coverage features the runs reached (empty unless the executor records them).
    features: set[int] = dataclasses.field(default_factory=set)

    def never_judged(self) -> list[str]:
        """Rules no run could judge: "0 findings" says nothing about them."""
        return sorted(set(RULES) - self.judged)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.elapsed if self.elapsed else 0.0


@dataclasses.dataclass
class Judged:
    """One judged run: the program as it ran, its result, what the oracles found."""

    program: Program
    result: RunResult
    findings: list[Finding]
    mode: Mode
    #: Per lock-order finding (by seq), the earlier runs whose edges close its cycle.
    priors: dict[int, tuple[Program, ...]] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def history(self) -> Fingerprint | None:
        """The fingerprint a replay must reproduce (controlled runs only)."""
        return fingerprint(self.result.raw) if self.mode == Mode.CONTROLLED else None

    def replay_program(self, finding: Finding) -> Program:
        """The program with its recorded schedule and the finding in ``meta``."""
        meta: dict[str, Any] = {"mode": self.mode.value, "rule": finding.rule,
                                "key": list(finding.key)}  # fmt: skip
        if self.history is not None:
            meta["history"] = self.history.to_dict()
        return dataclasses.replace(as_ran(self.program, self.result, self.mode), meta=meta)

    def token(self, finding: Finding) -> str:
        """The replay token(s) of ``finding``: earlier runs first, joined by ``+``."""
        prior = self.priors.get(finding.seq, ()) if finding.rule == "lock.order" else ()
        last = encode(self.replay_program(finding), self.history)
        return "+".join([*(encode(q) for q in prior), last])


class Session:
    """Runs programs through one executor and judges each (see the module docstring).

    The lock-order graph is kept across the session's runs, as lockdep keeps it across a
    boot; the programs of runs that added an edge are kept for lock-order replays.
    """

    def __init__(self, executor: Executor, *, mode: Mode = Mode.CONTROLLED, seed: int = 0,
                 max_steps: int = 50_000, seconds: float | None = None,
                 budget: int | None = None, ops: int = 8,
                 contract: str = "upstream", draw: str = "valid") -> None:  # fmt: skip
        if not isinstance(mode, Mode):
            raise TypeError(f"mode must be a Mode, not {mode!r}")
        self.executor = executor
        self.mode = mode
        self.seed = seed
        self.max_steps = max_steps
        self.ops = ops
        self.budget = budget
        if contract not in CONTRACTS:
            raise ValueError(f"contract must be one of {', '.join(CONTRACTS)}, not {contract!r}")
        self.contract = contract
        if draw not in DRAW_MODES:
            raise ValueError(f"draw must be one of {', '.join(DRAW_MODES)}, not {draw!r}")
        self.draw = draw
        self.start = time.monotonic()
        self.deadline = None if seconds is None else self.start + seconds
        self.stats = Stats()
        self.graph = LockGraph()
        self._names = executor.lock_names()
        self._edge_programs: dict[int, Program] = {}
        self._src = RandomSource(seed)
        self._kinds = target_kinds(executor, self.stats)  # record kinds the target writes

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def more(self) -> bool:
        return (self.budget is None or self.stats.runs < self.budget) and self.left() > 0

    def generate(self) -> Program:
        ex = self.executor
        program = random_program(self._src, workers=ex.nworkers, subchannels=ex.nsch,
                                 ops=self.ops, target=ex.target, mode=self.draw)  # fmt: skip
        if self.contract != program.contract:
            program = dataclasses.replace(program, contract=self.contract)
        return program

    def __iter__(self) -> Iterator[Judged]:
        """Judge random programs until the budget or the time is spent."""
        while self.more():
            judged = self.judge(self.generate())
            if judged is not None:
                yield judged

    def judge(self, program: Program, mode: Mode | None = None) -> Judged | None:
        """Run and judge one program; None if every attempt was inconclusive."""
        mode = mode or self.mode
        result = self._run(program, mode)
        if result.outcome == Outcome.LOST and self.left() > 0:  # the tool's fault: again
            result = self._run(program, mode)
        if result.outcome == Outcome.HANG:  # a clock verdict: judge only the history
            judged = self._judge(program, result, mode, endings=False)
            if judged.findings or mode == Mode.CONTROLLED or self.left() <= 0:
                return judged if judged.findings else None
            mode = Mode.CONTROLLED  # ask the deterministic scheduler about the ending
            try:
                result = self._run(program, mode)
            except RequestError:  # longer than the step budget: nothing to judge
                return None
        self.stats.elapsed = time.monotonic() - self.start
        if result.inconclusive:
            return None
        return self._judge(program, result, mode)

    def _judge(self, program: Program, result: RunResult, mode: Mode,
               endings: bool = True) -> Judged:  # fmt: skip
        run = self.stats.runs
        self.graph.run, self.graph.added = run, 0
        self.graph.cycles.clear()
        view = view_of(result, program, self._names, self.graph, self._kinds)
        findings = check(view, endings=endings)
        if len(self.stats.judged) < len(RULES):
            self.stats.judged |= set(RULES) - set(not_judged(view))
        if self.graph.added:
            self._edge_programs[run] = as_ran(program, result, mode)
        priors = {
            seq: tuple(self._edge_programs[k] for k in sorted(runs)
                       if k != run and k in self._edge_programs)
            for seq, runs in self.graph.cycles.items()
        }  # fmt: skip
        return Judged(program, result, findings, mode, priors)

    def _run(self, program: Program, mode: Mode) -> RunResult:
        timeout = None if mode == Mode.CONTROLLED else max(0.2, min(RUN_TIMEOUT, self.left()))
        request = RunRequest(program, mode, timeout=timeout, max_steps=self.max_steps,
                             seed=derive(self.seed, self.stats.runs))  # fmt: skip
        result = self.executor.run(request)
        self.stats.runs += 1
        self.stats.ops += sum(len(w) for w in program.workers)
        if result.signal:
            self.stats.features.update(result.signal)
        if result.inconclusive:
            self.stats.inconclusive += 1
            self.stats.lost += result.outcome == Outcome.LOST
        return result


def as_ran(program: Program, result: RunResult, mode: Mode) -> Program:
    """The program with the schedule its run took: the recorded decisions (controlled),
    the recorded event order (free), or its own schedule when the decision log
    overflowed (a schedule is self-contained: it replays the same)."""
    if mode == Mode.FREE:
        sched = Schedule(Policy.ORDER, choices=result.decisions)
    elif result.decisions_truncated:
        return program
    else:
        sched = Schedule(Policy.CHOICES, choices=result.decisions)
    return dataclasses.replace(program, schedule=sched)
