"""Minimization (DESIGN section 7): ``minimize(program, predicate)``, a pure function
from a program to the smallest program found for which ``predicate`` still holds.

The predicate runs a candidate (in controlled mode, so a candidate's verdict is the
same every time) and says whether the same finding fires; building one from an
executor is :func:`ccwfuzz.engines.reproduce.same_finding`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from ccwfuzz.minimize.passes import PASSES, to_order
from ccwfuzz.minimize.shrink import Predicate, Progress, Shrinker, Verdict, size
from ccwfuzz.program import Program

#: How many times one shrink may restate its schedule as an event order.
ORDER_RETRIES = 3


@dataclasses.dataclass(frozen=True)
class Minimized:
    """The result of :func:`minimize`: the smallest program, the predicate calls it
    took, the seconds spent, and the passes that kept a candidate (by name)."""

    program: Program
    calls: int
    seconds: float
    rounds: int
    kept_by: dict[str, int]


def minimize(program: Program, predicate: Predicate, *, max_calls: int = 5000,
             seconds: float | None = None, schedule_tries: int = 8,
             on_progress: Callable[[Progress], None] | None = None) -> Minimized:  # fmt: skip
    """Shrink ``program`` while ``predicate`` holds: rounds of the passes in
    :mod:`ccwfuzz.minimize.passes` until a round keeps nothing, or ``max_calls``
    predicate calls (or ``seconds``) are spent. A cut that loses the finding under the
    schedules adapted to it is also tried under ``schedule_tries`` fresh ones. Raises
    ValueError if the predicate does not hold for ``program`` itself.

    Example:
        >>> from ccwfuzz.program import Open, Yield
        >>> p = Program(workers=((Open(0), Yield(0, 5), Open(0)), (Yield(0, 2),), ()))
        >>> fires = lambda q: any(isinstance(o, Yield) and o.n >= 2 for w in q.workers for o in w)
        >>> m = minimize(p, fires)
        >>> m.program.workers
        ((Yield(sch=0, n=2),),)
    """
    s = Shrinker(program, predicate, max_calls=max_calls, seconds=seconds,
                 schedule_tries=schedule_tries, on_progress=on_progress)  # fmt: skip
    kept: dict[str, int] = {}
    rounds = 0
    while not s.spent():
        rounds += 1
        changed = False
        # Restating the schedule as an event order is not a shrink (:func:`to_order`
        # forces it), so it is bounded: once per round, at most ORDER_RETRIES times.
        if kept.get("to_order", 0) < ORDER_RETRIES:
            s.stage = "to_order"
            if to_order(s):
                kept["to_order"] = kept.get("to_order", 0) + 1
        for p in PASSES:
            s.stage = p.__name__
            if p(s):
                changed = True
                kept[p.__name__] = kept.get(p.__name__, 0) + 1
        if not changed:
            break
    return Minimized(s.best, s.calls, time.monotonic() - s.start, rounds, kept)


__all__ = ["Minimized", "Predicate", "Progress", "Verdict", "minimize", "size"]
