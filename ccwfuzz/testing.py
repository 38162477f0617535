"""Helpers for tests that replay ccwfuzz programs (an exported regression test uses
:func:`check`)."""

from __future__ import annotations

from typing import Any

from ccwfuzz.oracles import Finding
from ccwfuzz.program import Program


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
    from ccwfuzz.engines.reproduce import judge_once
    from ccwfuzz.exec import Pool

    if pool is not None:
        judged = judge_once(pool, program, max_steps=max_steps)
        if judged is None:
            raise RuntimeError("the run was inconclusive (a lost actor or the step budget)")
        return judged.findings
    with Pool(program.target, program.subchannels, len(program.workers)) as pool:
        judged = judge_once(pool, program, max_steps=max_steps)
    if judged is None:
        raise RuntimeError("the run was inconclusive (a lost actor or the step budget)")
    return judged.findings
