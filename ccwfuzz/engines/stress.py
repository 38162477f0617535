"""Stress: random programs (free mode by default) through the shared loop, every new
finding (by key) reported once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from ccwfuzz.engines.loop import Session, Stats
from ccwfuzz.oracles import Finding
from ccwfuzz.program import Executor, Mode, Program, RunResult


@dataclasses.dataclass
class Hit:
    finding: Finding
    program: Program  # as it ran, with the finding in meta
    result: RunResult
    token: str
    mode: Mode  # the mode of the run that found it (a free hang is judged controlled)


def stress(executor: Executor, seconds: float, seed: int = 0, mode: Mode = Mode.FREE,
           ops: int = 8, on_progress: Callable[[Stats], None] | None = None,
           max_steps: int = 200_000, contract: str = "upstream",
           draw: str = "valid") -> Iterator[Hit]:  # fmt: skip
    """Run random programs (generator mode ``draw``) for ``seconds``; yield every new
    finding (by key). The programs are judged under ``contract`` (``upstream`` or
    ``strict``, spec D.4); ``ccwfuzz stress`` is this on a :class:`ccwfuzz.Pool`.

    Example:
        >>> from ccwfuzz.exec import Pool
        >>> with Pool("zoo:boxed-busy") as pool:
        ...     hit = next(stress(pool, seconds=30, seed=1))
        >>> hit.finding.rule, hit.token.startswith("ccw1.")
        ('driver.retcode', True)
    """
    session = Session(executor, mode=mode, seed=seed, seconds=seconds, ops=ops,
                      max_steps=max_steps, contract=contract, draw=draw)  # fmt: skip
    seen: set[tuple[str, str, str]] = set()
    for judged in session:
        for f in judged.findings:
            if f.key not in seen:
                seen.add(f.key)
                session.stats.findings += 1
                yield Hit(f, judged.replay_program(f), judged.result, judged.token(f),
                          judged.mode)  # fmt: skip
        if on_progress is not None:
            on_progress(session.stats)


__all__ = ["Hit", "stress"]
