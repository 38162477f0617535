"""What the command line does, as functions: run a program, replay a finding,
minimize one (:func:`minimized`; ``ccwfuzz.minimize`` is the minimizer's package), a
coverage-guided fuzz session (:func:`fuzz`) and a campaign (:func:`run_campaign`;
``ccwfuzz.campaign`` is the campaign's package).
Re-exported from :mod:`ccwfuzz` (``ccwfuzz.replay(...)``); each starts the actor pools
or processes it needs and stops them before it returns.

The searching engines are :func:`ccwfuzz.search` and :func:`ccwfuzz.stress` (they take
an executor, e.g. a :class:`ccwfuzz.Pool`); a test suite uses the pytest plugin
(:mod:`ccwfuzz.pytest_plugin`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a :func:`fuzz` session or a :func:`run_campaign` ended: its exit code (as the
    command's: 0 nothing new, 1 new findings, 3 the campaign failed, 130 interrupted),
    the finding files it saved (a campaign's: the reproducers of its new findings), and
    its output folder (a campaign's report is ``out / "index.html"``); ``summary`` is a
    campaign's ``summary.json``."""

    code: int
    findings: tuple[Path, ...]
    out: Path
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def fuzz(target: str = "reference", *, seconds: float = 60.0, out: str | os.PathLike[str],
         jobs: int = 1, corpus: str | os.PathLike[str] | None = None, seed: int = 0,
         stop_on: str = "", workers: int = 3, subchannels: int = 2, ops: int = 8,
         draw: str = "valid", quiet: bool = True) -> Outcome:  # fmt: skip
    """A coverage-guided fuzz session of ``seconds`` on ``target``, as ``ccwfuzz fuzz``
    runs it: ``jobs`` shards (one process each, libFuzzer through atheris), findings in
    ``out/findings/``, the corpus in ``corpus`` (default ``out/corpus``). ``stop_on``:
    stop at the first finding (``"*"``) or at the first of one rule. ``quiet``: print
    neither the progress line nor the summary. Raises ValueError for a target that
    cannot be loaded.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     done = fuzz("zoo:boxed-busy", seconds=20, out=d, stop_on="driver.retcode")
        ...     done.code, len(done.findings) >= 1, done.findings[0].parent.name
        (1, True, 'findings')
    """
    from ccwfuzz.driver import resolve
    from ccwfuzz.fuzzing import FuzzConfig, Supervisor

    resolve(target)
    cfg = FuzzConfig(target=target, time=seconds, out=Path(out), jobs=jobs,
                     corpus=Path(corpus) if corpus is not None else None,
                     stop_on_finding=stop_on, workers=workers, subchannels=subchannels,
                     ops=ops, draw=draw, seed=seed)  # fmt: skip
    sv = Supervisor(cfg)
    with _quiet(quiet):
        code = sv.run()
    return Outcome(code, tuple(sv.new_findings), Path(out))


def run_campaign(targets: str | Sequence[str] = ("reference",), *,
                 out: str | os.PathLike[str], profile: str = "dev", name: str | None = None,
                 quiet: bool = True, **settings: Any) -> Outcome:  # fmt: skip
    """A campaign over ``targets``, as ``ccwfuzz campaign`` runs it: regression
    replay, fuzzing and free stress per target, triage of the new findings, and the
    reports (``index.html``, ``summary.json``, ``junit.xml``) in ``out``. ``settings``
    are the campaign's settings by name (``time=600``, ``jobs=2``, ``minimize_time=20``
    ...; ``ccwfuzz campaign --help`` lists them) over ``profile``; unlike the command,
    the environment's ``CCWFUZZ_*`` variables are not read. Raises ValueError for an
    unknown setting, a value out of range or a target that cannot be loaded.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     done = run_campaign(["zoo:boxed-busy"], out=d, time=4, minimize_time=2,
        ...                         triage_limit=1)
        ...     done.code, done.summary["counts"]["new"] >= 1, (done.out / "index.html").is_file()
        (1, True, True)
    """
    from ccwfuzz.campaign.display import Display
    from ccwfuzz.campaign.run import Campaign
    from ccwfuzz.campaign.settings import BY_NAME, resolve
    from ccwfuzz.driver import resolve as resolve_target
    from ccwfuzz.fuzzing import slug

    cli: dict[str, Any] = {"targets": (targets,) if isinstance(targets, str) else tuple(targets)}
    for key, value in settings.items():
        if key not in BY_NAME or key == "targets":
            raise ValueError(f"campaign: unknown setting {key!r} ({', '.join(sorted(BY_NAME))})")
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        try:
            cli[key] = BY_NAME[key].parse(text)
        except ValueError as e:
            raise ValueError(f"campaign: {key}={value!r}: {e}") from None
    effective = resolve(profile, cli, env={})
    for t in effective.targets:
        resolve_target(t)
    name = name or "-".join(slug(t) for t in effective.targets)[:80]
    with _quiet(quiet):
        c = Campaign(effective, Path(out), name=name, display=Display(name, tty=False))
        code = c.run()
    doc = dict(c.doc)
    found = tuple(Path(out) / f["reproducer"] for f in doc.get("findings", ())
                  if f["new"] and f["reproducer"])  # fmt: skip
    return Outcome(code, found, Path(out), doc)


__all__ = ["Outcome", "fuzz", "minimized", "replay", "run", "run_campaign"]
