"""Seeded search: random programs through the shared loop (:mod:`.loop`) until a given
rule fires or the budget is spent."""

from __future__ import annotations

import dataclasses

from ccwfuzz.engines.loop import Judged, Session, Stats
from ccwfuzz.oracles import Finding
from ccwfuzz.program import Executor, Mode, Program


@dataclasses.dataclass
class SearchResult:
    rule: str
    found: Finding | None
    program: Program | None  # as it ran (recorded schedule), with the finding in meta
    runs: int
    seconds: float
    other: dict[str, int]  # other rules that fired on the way: rule -> runs
    token: str = ""
    stats: Stats = dataclasses.field(default_factory=Stats)

    @property
    def ok(self) -> bool:
        return self.found is not None


def search(executor: Executor, rule: str | None, budget: int, seed: int = 0,
           mode: Mode = Mode.CONTROLLED, seconds: float | None = None,
           max_steps: int = 50_000, contract: str = "upstream",
           draw: str = "valid") -> SearchResult:  # fmt: skip
    """Run up to ``budget`` random programs (or for ``seconds``) against the executor's
    target; stop at the first finding of ``rule`` (any rule when None). ``draw`` is
    the generator's mode: ``valid`` (mostly programs the device accepts), ``anything``
    or ``mixed`` (:func:`ccwfuzz.program.generate.random_program`).

    Example:
        >>> from ccwfuzz.exec import Pool
        >>> with Pool("zoo:boxed-busy") as pool:
        ...     r = search(pool, "driver.retcode", budget=500, seed=1, max_steps=10_000)
        >>> r.ok, r.found.rule, r.token.startswith("ccw1.")
        (True, 'driver.retcode', True)
    """
    session = Session(executor, mode=mode, seed=seed, max_steps=max_steps, seconds=seconds,
                      budget=budget, contract=contract, draw=draw)  # fmt: skip
    other: dict[str, int] = {}
    for judged in session:
        for f in judged.findings:
            if rule is None or f.rule == rule:
                return SearchResult(f.rule, f, judged.replay_program(f), session.stats.runs,
                                    session.stats.elapsed, other, judged.token(f),
                                    session.stats)  # fmt: skip
            other.setdefault(f.rule, session.stats.runs)
    return SearchResult(rule or "-", None, None, session.stats.runs, session.stats.elapsed,
                        other, "", session.stats)  # fmt: skip


__all__ = ["Judged", "SearchResult", "Session", "Stats", "search"]
