"""Seeded search for a bug: random programs under PCT schedules (controlled) or free
runs, oracles after every run, until a given rule fires or the budget is spent."""

from __future__ import annotations

import dataclasses
import time

from ccwfuzz.exec import Pool
from ccwfuzz.oracles import Finding, LockGraph, check, view_of
from ccwfuzz.program import Program, RandomSource, random_program


@dataclasses.dataclass
class SearchResult:
    rule: str
    found: Finding | None
    program: Program | None
    runs: int
    seconds: float
    other: dict[str, int]  # other rules that fired on the way: rule -> runs

    @property
    def ok(self) -> bool:
        return self.found is not None


def search(
    pool: Pool,
    rule: str | None,
    budget: int,
    seed: int = 0,
    mode: str = "controlled",
    seconds: float | None = None,
    max_steps: int = 50_000,
) -> SearchResult:
    """Run up to ``budget`` random programs (or for ``seconds``) against the pool's
    target; stop at the first finding of ``rule`` (any rule when None). The lock-order
    graph is kept across the runs, as lockdep keeps it across a boot."""
    src = RandomSource(seed)
    names = pool.lock_names()
    graph = LockGraph()
    other: dict[str, int] = {}
    start = time.perf_counter()
    runs = 0
    while runs < budget and (seconds is None or time.perf_counter() - start < seconds):
        p = random_program(src, workers=pool.nworkers, subchannels=pool.nsch,
                           target=pool.target)  # fmt: skip
        r = pool.run(p, mode=mode, max_steps=max_steps)
        runs += 1
        for f in check(view_of(r, p, names, graph)):
            if rule is None or f.rule == rule:
                return SearchResult(f.rule, f, p, runs, time.perf_counter() - start, other)
            other.setdefault(f.rule, runs)
    return SearchResult(rule or "-", None, None, runs, time.perf_counter() - start, other)
