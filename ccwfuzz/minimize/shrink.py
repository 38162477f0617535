"""The shrinker: the smallest program for which a predicate still holds.

What must stay true:

* **Pure.** The shrinker sees programs and what the predicate says of them, nothing
  else: it runs nothing itself (the predicate does, in controlled mode, where the same
  program gives the same run), so the same program, predicate and budget give the same
  result on any machine. A wall-clock limit, when given, only stops it early.
* **Never bigger, never another bug.** A candidate is kept only if the predicate holds
  for it (for a finding: the same finding key fires, so shrinking never drifts to
  another bug) and it is smaller by :func:`size`, an order every pass strictly
  descends, so shrinking ends. The one exception, :meth:`Shrinker.attempt` with
  ``force``, restates the schedule in another form once.
* **Each candidate is run once.** Candidates are deduplicated by content hash.

The schedule is the awkward part. A run's recorded decisions (``choices``) index the
runnable actors at each decision, so removing an op shifts every later decision and
the interleaving that mattered is lost. The predicate may therefore also return the
run's *trace* (which actor wrote each history record, inside which of its ops): the
shrinker restates the schedule as an event order (``order`` policy: the actor of each
next record runs when it can), and when it removes an op it removes that op's records
from the order, so the rest of the interleaving keeps its shape.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence

from ccwfuzz.choices import RandomSource, derive
from ccwfuzz.program import Policy, Program, Schedule, digest
from ccwfuzz.program.generate import expected_steps, schedule
from ccwfuzz.program.ops import Ccw, Op, specs


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the predicate says of one candidate: whether it holds, and optionally the
    run's ``trace`` (per history record: the actor, and the index of the worker op it
    was written in, or for the channel's HW_EVENT record the index of the hardware
    event, else -1), the ``recorded`` schedule (the decisions the run took, which
    replay it exactly) and the scheduling ``steps`` it took."""

    holds: bool
    trace: tuple[tuple[int, int], ...] = ()
    recorded: Schedule | None = None
    steps: int = 0


Predicate = Callable[[Program], "Verdict | bool"]


@dataclasses.dataclass
class Progress:
    """Where a shrink stands: the best program's op count and :func:`size`, the
    predicate calls made, seconds spent, and the pass running."""

    ops: int
    size: tuple[int, ...]
    calls: int
    seconds: float
    stage: str


def _cost(value: object, default: object) -> int:
    if value == default:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 1 + value.bit_length()
    if isinstance(value, (bytes, bytearray)):
        return 1 + 2 * len(value) + sum(1 for b in value if b)
    if isinstance(value, tuple):  # CCWs
        return 1 + sum(4 + _cost(c.flags, 0) + _cost(c.count, 0) + _cost(c.addr, 0)
                       for c in value if isinstance(c, Ccw))  # fmt: skip
    return 1


def _op_cost(op: Op) -> int:
    return sum(_cost(getattr(op, name), default) for name, _, default in specs(type(op)))


def size(p: Program) -> tuple[int, ...]:
    """The order shrinking descends: ops and hardware events first, then workers, then
    how far fields are from their defaults (CCWs, data, values), then the schedule's
    length and magnitude, then subchannels.

    Example:
        >>> from ccwfuzz.program import Open, Yield
        >>> size(Program(workers=((Open(0),),))) < size(Program(workers=((Open(0), Yield(0, 3)),)))
        True
    """
    fields = sum(_op_cost(o) for w in p.workers for o in w)
    fields += sum(sum(_cost(getattr(e, n), d) for n, _, d in specs(type(e))) for e in p.channel)
    s = p.schedule
    return (p.op_count(), len(p.workers), fields, len(s.choices) + len(s.changes),
            sum(s.choices) + sum(s.changes), p.subchannels)  # fmt: skip


class Shrinker:
    """One shrink of one program (see the module docstring)."""

    def __init__(self, program: Program, predicate: Predicate, *, max_calls: int = 5000,
                 seconds: float | None = None, schedule_tries: int = 8,
                 on_progress: Callable[[Progress], None] | None = None) -> None:  # fmt: skip
        self.predicate = predicate
        self.max_calls = max_calls
        self.start = time.monotonic()
        self.deadline = None if seconds is None else self.start + seconds
        self.on_progress = on_progress
        self.schedule_tries = schedule_tries
        self.calls = 0
        self.stage = "start"
        self.seen: set[str] = {digest(program)}
        first = self._ask(program)
        if not first.holds:
            raise ValueError("the predicate does not hold for the program to shrink")
        self.best = program
        self.verdict = first

    def _ask(self, p: Program) -> Verdict:
        self.calls += 1
        v = self.predicate(p)
        return v if isinstance(v, Verdict) else Verdict(bool(v))

    def spent(self) -> bool:
        return self.calls >= self.max_calls or (
            self.deadline is not None and time.monotonic() >= self.deadline
        )

    def attempt(self, candidate: Program, force: bool = False) -> bool:
        """Keep ``candidate`` if it is smaller (or ``force``) and the predicate holds."""
        if self.spent() or (not force and size(candidate) >= size(self.best)):
            return False
        h = digest(candidate)
        if h in self.seen:
            return False
        self.seen.add(h)
        v = self._ask(candidate)
        if not v.holds:
            return False
        self.best, self.verdict = candidate, v
        self.report()
        return True

    def report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(self.best.op_count(), size(self.best), self.calls,
                                      time.monotonic() - self.start, self.stage))  # fmt: skip

    # ---- schedule bookkeeping ---------------------------------------------------------
    @property
    def trace(self) -> tuple[tuple[int, int], ...]:
        return self.verdict.trace

    def cut(self, program: Program, drop: Callable[[int, int], bool],
            renumber: Callable[[int], int] | None = None) -> list[Program]:  # fmt: skip
        """Candidates for ``program``, a cut of the best one: with the best's schedule
        (an event order is replaced by the decisions the best's run took), and with the
        event order of the best's run minus the records for which ``drop(actor, op)``
        holds, actors renumbered. The first keeps every decision before the cut, the
        second the shape of the interleaving after it.

        Hardware events timed by step (``at``) move earlier by the steps the cut
        removed before them, estimated from the records it removed (a run takes about
        as many steps as it writes records), so they still land where they did."""
        trace = self.trace
        if trace:
            program = self._shift_events(program, trace, drop)
        out = [program]
        if program.schedule.policy == Policy.ORDER:  # the decisions the best's run took
            rec = self.verdict.recorded
            out = [] if rec is None else [dataclasses.replace(program, schedule=rec)]
        if trace:
            kept = [a for a, op in trace if not drop(a, op)]
            if renumber is not None:
                kept = [renumber(a) for a in kept]
            order = Schedule(Policy.ORDER, choices=tuple(kept))
            out.append(dataclasses.replace(program, schedule=order))
        return out or [program]

    def fresh(self, program: Program, tries: int) -> Iterator[Program]:
        """``program`` under ``tries`` fresh schedules (PCT, walk, lagging
        walk), drawn from a seed derived from the program's digest: a cut that loses
        the interleaving under both of :meth:`cut`'s schedules often has a small enough
        program that a few random interleavings find it again. Deterministic: the same
        program gets the same schedules."""
        src = RandomSource(derive(0, digest(program)))
        steps = expected_steps(program)
        for _ in range(tries):
            yield dataclasses.replace(program, schedule=schedule(src, program.actors, steps))

    def _shift_events(self, program: Program, trace: Sequence[tuple[int, int]],
                      drop: Callable[[int, int], bool]) -> Program:  # fmt: skip
        if not any(e.at for e in program.channel):
            return program
        channel = len(self.best.workers)  # the channel's actor number in the trace
        per_record = self.verdict.steps / len(trace) if self.verdict.steps else 1.0
        fired_at: dict[int, int] = {}
        dropped = 0
        dropped_before: list[int] = []
        for a, op in trace:
            dropped_before.append(dropped)
            dropped += drop(a, op)
        for i, (a, op) in enumerate(trace):
            if a >= channel and op >= 0:
                fired_at.setdefault(op, i)
        events = []
        for i, e in enumerate(program.channel):
            if e.at and i in fired_at:
                shift = round(dropped_before[fired_at[i]] * per_record)
                e = dataclasses.replace(e, at=max(1, e.at - shift))
            events.append(e)
        return dataclasses.replace(program, channel=tuple(events))

    def attempt_any(self, candidates: Sequence[Program], tries: int | None = None) -> bool:
        """:meth:`attempt` each candidate until one is kept; then, if the candidates
        are cuts (smaller programs), each under ``tries`` (default
        :attr:`schedule_tries`) :meth:`fresh` schedules."""
        if any(self.attempt(c) for c in candidates):
            return True
        if not candidates or size(candidates[0])[:2] >= size(self.best)[:2]:
            return False  # not fewer ops or workers: not a cut
        fresh = self.fresh(candidates[0], self.schedule_tries if tries is None else tries)
        return any(self.attempt(c) for c in fresh)


def replace_worker(p: Program, w: int, ops: Sequence[Op]) -> Program:
    workers = list(p.workers)
    workers[w] = tuple(ops)
    return dataclasses.replace(p, workers=tuple(workers))
