"""Helpers for tests that replay ccwfuzz programs: :func:`check` says what the oracles
found, :func:`assert_clean` fails with the finding and a replay token (an exported
regression test and a Hypothesis property use them)."""

from __future__ import annotations

from typing import Any

from ccwfuzz.oracles import Finding
from ccwfuzz.program import Program


def _judged(program: Program, pool: Any, max_steps: int) -> Any:
    from ccwfuzz.engines.reproduce import judge_once
    from ccwfuzz.exec import Pool

    if pool is not None:
        judged = judge_once(pool, program, max_steps=max_steps)
    else:
        with Pool(program.target, program.subchannels, len(program.workers)) as own:
            judged = judge_once(own, program, max_steps=max_steps)
    if judged is None:
        raise RuntimeError("the run was inconclusive (a lost actor or the step budget)")
    return judged


def check(program: Program, *, max_steps: int = 200_000, pool: Any = None) -> list[Finding]:
    """Run ``program`` once in controlled mode on its own target and return what the
    oracles found (an inconclusive run raises RuntimeError: it says nothing).

    ``pool``: an actor pool (:class:`ccwfuzz.Pool`) of the program's shape to run it on;
    without one, a pool is started and closed for this one run (about 50 ms: pass one
    when checking many programs, e.g. in a Hypothesis test).

    Example:
        >>> from ccwfuzz.program import Open, Close
        >>> check(Program(subchannels=1, workers=((Open(0), Close(0)),)))
        []
    """
    return list(_judged(program, pool, max_steps).findings)


def assert_clean(program: Program, *, rule: str | None = None, max_steps: int = 200_000,
                 pool: Any = None) -> None:  # fmt: skip
    """Run ``program`` as :func:`check` does and raise AssertionError if a finding (of
    ``rule``, when given) fired. The message names the rule, the finding's key and the
    program's size, and gives a ``ccwfuzz replay`` token that holds the program and its
    schedule, so a Hypothesis failure is one command away from a timeline.

    Example:
        >>> from ccwfuzz import Pool, search
        >>> with Pool("zoo:boxed-busy") as pool:
        ...     found = search(pool, "driver.retcode", budget=500, seed=1, max_steps=10_000)
        ...     try:
        ...         assert_clean(found.program, pool=pool)
        ...     except AssertionError as e:
        ...         print(str(e).splitlines()[0][:32], "ccwfuzz replay ccw1." in str(e))
        [driver.retcode] on zoo:boxed-bu True
    """
    judged = _judged(program, pool, max_steps)
    hits = [f for f in judged.findings if rule is None or f.rule == rule]
    if hits:
        f = hits[0]
        more = f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""
        raise AssertionError(
            f"[{f.rule}] on {program.target}: {' | '.join(f.key[1:])}{more}, "
            f"{program.op_count()} ops\n  replay: ccwfuzz replay {judged.token(f)}"
        )


__all__ = ["assert_clean", "check"]
