"""Free-running stress: random programs in free mode, oracles after every run."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

from ccwfuzz.exec import Pool, RunResult
from ccwfuzz.oracles import Finding, LockGraph, check, view_of
from ccwfuzz.program import Program, RandomSource, random_program


@dataclasses.dataclass
class Progress:
    runs: int = 0
    ops: int = 0
    elapsed: float = 0.0
    findings: int = 0

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.elapsed if self.elapsed else 0.0


@dataclasses.dataclass
class Hit:
    finding: Finding
    program: Program
    result: RunResult


def stress(
    pool: Pool,
    seconds: float,
    seed: int = 0,
    mode: str = "free",
    ops: int = 8,
    on_progress: Callable[[Progress], None] | None = None,
) -> Iterator[Hit]:
    """Run random programs for ``seconds``; yield every new finding (by key)."""
    prog = Progress()
    seen: set[tuple[str, str, str, str]] = set()
    names = pool.lock_names()
    graph = LockGraph()  # lock order is judged across all runs, as lockdep does
    start = time.perf_counter()
    src = RandomSource(seed)
    while time.perf_counter() - start < seconds:
        p = random_program(src, workers=pool.nworkers, subchannels=pool.nsch, ops=ops,
                           target=pool.target)  # fmt: skip
        r = pool.run(p, mode=mode)
        prog.runs += 1
        prog.ops += sum(len(w) for w in p.workers)
        prog.elapsed = time.perf_counter() - start
        for f in check(view_of(r, p, names, graph)):
            if f.key not in seen:
                seen.add(f.key)
                prog.findings += 1
                yield Hit(f, dataclasses.replace(p, meta={"mode": mode, "rule": f.rule}), r)
        if on_progress is not None:
            on_progress(prog)
