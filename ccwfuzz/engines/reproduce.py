"""Reproducers: the predicate a finding is minimized under, and how often it replays.

What must stay true:

* **The same finding, not any finding.** :func:`same_finding` holds only when a
  finding with the same key (rule, where, target) fires, so a minimized reproducer
  shows the bug it was made for and never drifts to another one found on the way.
* **Only the driver is judged.** A candidate whose run is inconclusive (a lost actor,
  the step budget) does not hold: the shrinker then keeps the bigger program, which
  did show the finding.
* **Deterministic where it can be.** Candidates run in controlled mode, so a verdict
  is a function of the candidate; :func:`reliability` measures what that promise is
  worth on this machine (k replays, counted).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ccwfuzz.choices import RandomSource, derive
from ccwfuzz.engines.fuzz import MAX_INPUT
from ccwfuzz.engines.fuzz import decode as decode_input
from ccwfuzz.engines.loop import Judged, Session, as_ran
from ccwfuzz.minimize import Progress, Verdict, minimize
from ccwfuzz.program import (
    Executor,
    Mode,
    Policy,
    Program,
    ProgramError,
    RequestError,
    RunResult,
)
from ccwfuzz.program.encoding import loads, printable, read_bounded
from ccwfuzz.program.generate import expected_steps, schedule
from ccwfuzz.program.replay import PREFIX, Fingerprint, decode
from ccwfuzz.sync.history import Ev


@dataclasses.dataclass(frozen=True)
class Saved:
    """A finding as saved: the program (schedule included), the finding key it was
    saved for (None for a plain program), the history fingerprint its replay must
    reproduce, the earlier runs a lock-order cycle needs, and what it was read from."""

    program: Program
    key: tuple[str, ...] | None
    history: Fingerprint | None
    priors: tuple[Program, ...] = ()
    source: str = "program file"


def open_finding(arg: str, *, target: str | None = None, workers: int = 3,
                 subchannels: int = 2, ops: int = 8, draw: str = "valid") -> Saved:  # fmt: skip
    """Read a finding from a program file, a replay token (``ccw1.…``, earlier runs
    joined by ``+``) or a libFuzzer input (decoded as ``ccwfuzz fuzz`` with these
    options decodes it; ``target`` is then required). Nothing is ever unpickled or
    evaluated; :class:`~ccwfuzz.program.ProgramError` with one line for anything else.
    """
    if arg.startswith(PREFIX + "."):
        runs = [decode(t) for t in arg.split("+")]
        program, history = runs[-1]
        return Saved(program, _key(program), history, tuple(p for p, _ in runs[:-1]),
                     "replay token")  # fmt: skip
    where = printable(arg, 200)
    data = read_bounded(arg)
    if data.lstrip()[:1] == b"{":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProgramError(f"{where}: not UTF-8 (byte {e.start})") from None
        program = loads(text, where)
        h = program.meta.get("history")
        return Saved(program, _key(program), Fingerprint.from_dict(h) if h else None)
    if data.startswith(PREFIX.encode() + b"."):
        return open_finding(data.decode("ascii", "replace").strip(), target=target)
    if target is None:
        raise ProgramError(f"{where}: not a program file or replay token; a libFuzzer input "
                           "needs --target (the target it was fuzzed on)")  # fmt: skip
    if len(data) > MAX_INPUT:
        raise ProgramError(f"{where}: {len(data)} bytes, more than a fuzz input has "
                           f"({MAX_INPUT})")  # fmt: skip
    program, _ = decode_input(data, workers=workers, subchannels=subchannels, ops=ops,
                              target=target, draw=draw)  # fmt: skip
    return Saved(program, None, None, (), f"libFuzzer input {Path(arg).name}")


def _key(program: Program) -> tuple[str, ...] | None:
    key = program.meta.get("key")
    if isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key):
        return tuple(key)
    return None


#: The executor a program of this shape runs on: (target, subchannels, workers) ->
#: executor; the caller keeps and closes them.
Executors = Callable[[str, int, int], Executor]


def trace(result: RunResult, workers: int) -> tuple[tuple[int, int], ...]:
    """Per history record: the actor, and the worker op (index in its list) it was
    written in; for the channel's HW_EVENT records the index of the hardware event that
    fired (they fire in list order); otherwise -1."""
    current = [-1] * workers
    fired = 0
    out = []
    for r in result.records:
        a = r.actor
        if a < workers:
            if r.kind == Ev.OP_BEGIN:
                current[a] = r.arg("index")
            out.append((a, current[a]))
            if r.kind == Ev.OP_END:
                current[a] = -1
        elif r.kind == Ev.HW_EVENT:
            out.append((a, fired))
            fired += 1
        else:
            out.append((a, -1))
    return tuple(out)


def judge_once(executor: Executor, program: Program, *, priors: Sequence[Program] = (),
               max_steps: int = 50_000) -> Judged | None:  # fmt: skip
    """One controlled run of ``program`` after ``priors`` (earlier runs whose lock-order
    edges a cycle needs), judged on a fresh session: the :class:`~.loop.Judged`, or
    None if the run was inconclusive."""
    session = Session(executor, max_steps=max_steps, contract=program.contract)
    for p in priors:
        with contextlib.suppress(RequestError):
            session.judge(p)
    try:
        return session.judge(program, Mode.CONTROLLED)
    except RequestError:
        return None


def same_finding(executors: Executors, key: Sequence[str], *,
                 priors: Sequence[Program] = (), max_steps: int = 50_000,
                 ) -> Callable[[Program], Verdict]:  # fmt: skip
    """The predicate "a finding with ``key`` fires" over programs, each run in
    controlled mode on ``executors(target, subchannels, workers)``.

    Example:
        >>> from ccwfuzz.exec import Pool
        >>> from ccwfuzz.engines import search
        >>> with Pool("zoo:boxed-busy") as pool:
        ...     r = search(pool, "driver.retcode", budget=500, seed=1, max_steps=10_000)
        ...     holds = same_finding(lambda t, s, w: pool, r.found.key, max_steps=10_000)
        ...     holds(r.program).holds
        True
    """
    want = tuple(key)

    def predicate(p: Program) -> Verdict:
        ex = executors(p.target, p.subchannels, len(p.workers))
        judged = judge_once(ex, p, priors=priors, max_steps=max_steps)
        if judged is None or not any(f.key == want for f in judged.findings):
            return Verdict(False)
        ran = as_ran(p, judged.result, Mode.CONTROLLED).schedule
        return Verdict(True, trace(judged.result, len(p.workers)), ran, judged.result.steps)

    return predicate


@dataclasses.dataclass(frozen=True)
class Reliability:
    """``hits`` of ``runs`` replays fired the finding."""

    hits: int
    runs: int

    @property
    def label(self) -> str:
        word = "deterministic" if self.hits == self.runs else "flaky"
        return f"{self.hits}/{self.runs} {word}" if self.hits else f"0/{self.runs} not reproduced"


def reliability(predicate: Callable[[Program], Verdict], program: Program,
                k: int = 10) -> Reliability:  # fmt: skip
    """Replay ``program`` ``k`` times under ``predicate`` and count the hits."""
    return Reliability(sum(predicate(program).holds for _ in range(k)), k)


#: A minimizing candidate's step budget: this many times the steps the finding's own
#: run took, at least MIN_STEPS. A candidate is smaller than the program, so it needs
#: no more; one that livelocks then costs a bounded number of steps, not the budget.
STEP_FACTOR, MIN_STEPS = 4, 5000


@dataclasses.dataclass(frozen=True)
class Reproducer:
    """A minimized finding: the program (its meta says the rule, key, reliability and
    history fingerprint), and what it took."""

    program: Program
    key: tuple[str, ...]
    from_ops: int
    calls: int
    seconds: float
    reliability: Reliability


def make_reproducer(executors: Executors, saved: Saved, *, rule: str | None = None,
                    max_steps: int = 200_000, max_calls: int = 5000,
                    seconds: float | None = None, replays: int = 10,
                    on_progress: Callable[[Progress], None] | None = None,
                    ) -> Reproducer | None:  # fmt: skip
    """Minimize a saved finding for its own key (or the first ``rule`` finding, or the
    first finding of a plain program) and measure the result's reliability over
    ``replays`` replays; None if that finding does not fire on replay.

    Example:
        >>> from ccwfuzz.exec import Pool
        >>> from ccwfuzz.engines import search
        >>> with Pool("zoo:idle-on-intermediate") as pool:
        ...     r = search(pool, "driver.cp-free-final", budget=500, seed=1, max_steps=10_000)
        ...     found = Saved(r.program, r.found.key, None)
        ...     rep = make_reproducer(lambda t, s, w: pool, found, replays=3)
        >>> rep.program.op_count() <= 3, rep.reliability.label
        (True, '3/3 deterministic')
    """
    program = saved.program
    ex = executors(program.target, program.subchannels, len(program.workers))
    judged = judge_once(ex, program, priors=saved.priors, max_steps=max_steps)
    hits = [f for f in (judged.findings if judged else [])
            if (rule is None or f.rule == rule)
            and (rule is not None or saved.key is None or f.key == saved.key)]  # fmt: skip
    if judged is None or not hits:
        return None
    key = hits[0].key
    steps = min(max_steps, max(MIN_STEPS, STEP_FACTOR * judged.result.steps))
    holds = same_finding(executors, key, priors=saved.priors, max_steps=steps)
    try:
        done = minimize(program, holds, max_calls=max_calls, seconds=seconds,
                        on_progress=on_progress)  # fmt: skip
    except ValueError:  # fires only past the candidates' step budget: keep it as it is
        return None
    small = done.program
    rel = reliability(holds, small, replays)
    last = judge_once(executors(small.target, small.subchannels, len(small.workers)), small,
                      priors=saved.priors, max_steps=steps)  # fmt: skip
    meta: dict[str, Any] = {
        "rule": key[0], "key": list(key), "mode": "controlled", "reliability": rel.label,
        "minimized": {"from_ops": program.op_count(), "ops": small.op_count(),
                      "runs": done.calls, "seconds": round(done.seconds, 2)},
    }  # fmt: skip
    if last is not None and last.history is not None:
        meta["history"] = last.history.to_dict()
    return Reproducer(dataclasses.replace(small, meta=meta), key, program.op_count(),
                      done.calls, done.seconds, rel)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Deterministic:
    """What making a finding deterministic came to: the controlled program (None if
    none was found), how (``"as saved"``, ``"event order"``, ``"schedule search"``),
    the schedules tried, and, when none fired, the finding's rate over free runs."""

    program: Program | None
    how: str
    tried: int
    free_rate: Reliability | None = None


def make_deterministic(executors: Executors, saved: Saved, *, tries: int = 200,
                       free_runs: int = 10, seed: int = 0,
                       max_steps: int = 50_000) -> Deterministic:  # fmt: skip
    """A controlled program that fires the saved finding's key: the program as saved
    (a free finding carries its recorded event order as an ``order`` schedule), else
    one of ``tries`` schedules for the same program (PCT, walk and lagging walk drawn
    from ``seed``). If none fires, the finding's rate over ``free_runs`` free runs of
    the program says how flaky it is.

    The schedules are searched in controlled mode, so the answer does not depend on
    the machine's load; only the free-run rate does, and it is labelled as such.
    """
    if saved.key is None:
        raise ValueError("a finding without a key (a plain program) has nothing to reproduce")
    program = saved.program
    holds = same_finding(executors, saved.key, priors=saved.priors, max_steps=max_steps)
    v = holds(program)
    if v.holds:
        how = "event order" if program.schedule.policy == Policy.ORDER else "as saved"
        return Deterministic(_recorded(program, v), how, 1)
    src = RandomSource(seed)
    steps = expected_steps(program)
    for i in range(tries):
        sched = schedule(src, program.actors, steps)
        cand = dataclasses.replace(program, schedule=sched)
        v = holds(cand)
        if v.holds:
            return Deterministic(_recorded(cand, v), "schedule search", i + 2)
    ex = executors(program.target, program.subchannels, len(program.workers))
    hits = 0
    for k in range(free_runs):
        session = Session(ex, mode=Mode.FREE, seed=derive(seed, k), max_steps=max_steps,
                          contract=program.contract)  # fmt: skip
        judged = session.judge(program, Mode.FREE)
        hits += judged is not None and any(f.key == saved.key for f in judged.findings)
    return Deterministic(None, "not found", tries + 1, Reliability(hits, free_runs))


@dataclasses.dataclass(frozen=True)
class Triaged:
    """What :func:`triage_finding` made of a finding. ``outcome`` is ``minimized``,
    ``flaky (free runs k/n)`` (no schedule made it fire; ``program`` is None) or ``not
    reproduced`` (it fired deterministically, but not once minimized; ``program`` is
    the deterministic one). A minimized one carries its :class:`Reproducer` and one
    controlled run of it (``judged``, on ``executor``: the timeline's data)."""

    outcome: str
    program: Program | None
    reproducer: Reproducer | None = None
    free_rate: str | None = None
    judged: Judged | None = None
    executor: Any = None


def triage_finding(executors: Executors, saved: Saved, *, tries: int, seconds: float | None,
                   replays: int, max_steps: int = 50_000, seed: int = 0) -> Triaged:  # fmt: skip
    """A saved finding made deterministic (``tries`` schedules), minimized (for
    ``seconds``), measured over ``replays`` replays and run once more for its timeline:
    what a campaign's triage and the pytest plugin do with a new finding."""
    det = make_deterministic(executors, saved, tries=tries, seed=seed, max_steps=max_steps)
    if det.program is None:
        rate = det.free_rate.label if det.free_rate else "-"
        return Triaged(f"flaky (free runs {rate})", None, free_rate=rate)
    saved = dataclasses.replace(saved, program=det.program)
    rep = make_reproducer(executors, saved, max_steps=max_steps, seconds=seconds,
                          replays=replays)  # fmt: skip
    if rep is None:
        return Triaged("not reproduced", det.program)
    small = rep.program
    ex = executors(small.target, small.subchannels, len(small.workers))
    judged = judge_once(ex, small, priors=saved.priors, max_steps=max_steps)
    return Triaged("minimized", small, rep, judged=judged, executor=ex)


def _recorded(program: Program, v: Verdict) -> Program:
    """The program with the decisions its run took: an exact replay."""
    return program if v.recorded is None else dataclasses.replace(program, schedule=v.recorded)
