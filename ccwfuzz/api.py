"""What the command line does, as functions: run a program, replay a finding, and
minimize one (:func:`minimized`; ``ccwfuzz.minimize`` is the minimizer's package).
Re-exported from :mod:`ccwfuzz` (``ccwfuzz.replay(...)``); each starts the actor pools
it needs and closes them before it returns.

The searching engines are :func:`ccwfuzz.search` and :func:`ccwfuzz.stress` (they take
an executor, e.g. a :class:`ccwfuzz.Pool`); a test suite uses the pytest plugin
(:mod:`ccwfuzz.pytest_plugin`).
"""

from __future__ import annotations

from ccwfuzz.engines.reproduce import Reproducer, judge_once, make_reproducer, open_finding
from ccwfuzz.exec import Pool, Pools
from ccwfuzz.oracles import Finding
from ccwfuzz.program import Mode, Program, RunRequest, RunResult


def run(program: Program, *, mode: Mode = Mode.CONTROLLED, seed: int = 0,
        max_steps: int = 200_000) -> RunResult:  # fmt: skip
    """Run ``program`` once on its own target (as ``ccwfuzz run``) and return the run's
    plain data: outcome, history records, end states. :func:`ccwfuzz.check` judges it.

    Example:
        >>> from ccwfuzz import Open, Close, Program, check, view_of
        >>> p = Program(subchannels=1, workers=((Open(0), Close(0)),))
        >>> result = run(p)
        >>> result.outcome.name, check(view_of(result, p))
        ('DONE', [])
    """
    with Pool(program.target, program.subchannels, len(program.workers)) as pool:
        return pool.run(RunRequest(program, mode, max_steps=max_steps, seed=seed))


def replay(source: str, *, target: str | None = None, max_steps: int = 200_000) -> list[Finding]:
    """Replay a finding (a reproducer or program file, a ``ccw1.…`` replay token, or a
    libFuzzer input with its ``target``) once in controlled mode, as ``ccwfuzz replay``
    does, and return what the oracles found; an empty list means it no longer fails.
    Raises :class:`ccwfuzz.ProgramError` (one line) for anything that is not a finding.

    Example:
        >>> from ccwfuzz import search
        >>> with Pool("zoo:boxed-busy") as pool:
        ...     found = search(pool, "driver.retcode", budget=500, seed=1, max_steps=10_000)
        >>> [f.rule for f in replay(found.token)][:1]
        ['driver.retcode']
    """
    saved = open_finding(source, target=target)
    p = saved.program
    with Pools() as pools:
        judged = judge_once(pools(p.target, p.subchannels, len(p.workers)), p,
                            priors=saved.priors, max_steps=max_steps)  # fmt: skip
    return judged.findings if judged is not None else []


def minimized(source: str | Program, *, rule: str | None = None, seconds: float | None = 60.0,
             replays: int = 10) -> Reproducer | None:  # fmt: skip
    """Minimize a finding (a program, a program file or a replay token), as ``ccwfuzz
    minimize`` does: the smallest program that still fires the same finding (or the
    first ``rule`` finding), with its reliability over ``replays`` replays; None if the
    finding does not fire on replay.

    Example:
        >>> from ccwfuzz import search
        >>> with Pool("zoo:idle-on-intermediate") as pool:
        ...     found = search(pool, "driver.cp-free-final", budget=500, seed=1, max_steps=10_000)
        >>> small = minimized(found.token, replays=3)
        >>> small.program.op_count() <= 3, small.reliability.label
        (True, '3/3 deterministic')
    """
    from ccwfuzz.engines.reproduce import Saved

    if isinstance(source, Program):
        saved = Saved(source, None, None)
    else:
        saved = open_finding(source)
    with Pools() as pools:
        return make_reproducer(pools, saved, rule=rule, seconds=seconds, replays=replays)


__all__ = ["minimized", "replay", "run"]
