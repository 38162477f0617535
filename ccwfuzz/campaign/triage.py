"""Triage of a new finding: made deterministic (a free one), minimized, its reliability
measured, its timeline drawn; the reproducer and the timeline are written durably
before the store names them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ccwfuzz.campaign.store import FindingRow, Store, write_durably
from ccwfuzz.engines.reproduce import Executors, open_finding, triage_finding
from ccwfuzz.program import ProgramError, RequestError, dumps
from ccwfuzz.timeline import timeline_html


def file_slug(row: FindingRow) -> str:
    """A file name for a finding: its rule and a short hash of its key."""
    return f"{row.rule}-{hashlib.sha1(row.key.encode()).hexdigest()[:10]}"


def triage(store: Store, row: FindingRow, pools: Executors, *, out: Path, seconds: float,
           max_steps: int = 50_000) -> str:  # fmt: skip
    """Make ``row``'s finding a minimized, measured reproducer with a timeline under
    ``out`` (``reproducers/``, ``timelines/``) and record it; returns what it came to
    (``minimized``, ``flaky (rate)``, ``not reproduced``, ``unreadable``)."""
    key = tuple(row.key.split(" | "))
    if row.program is None:
        store.triaged(key, triage="unreadable")
        return "unreadable"
    try:
        saved = open_finding(row.program)
    except (ProgramError, ValueError, OSError):
        store.triaged(key, triage="unreadable")
        return "unreadable"
    try:
        t = triage_finding(pools, saved, tries=200, seconds=seconds, replays=10,
                           max_steps=max_steps)  # fmt: skip
    except RequestError:
        store.triaged(key, triage="not reproduced")
        return "not reproduced"
    if t.reproducer is None or t.program is None:
        store.triaged(key, triage=t.outcome, reliability=t.free_rate)
        return t.outcome
    small, rep, judged = t.program, t.reproducer, t.judged
    slug = file_slug(row)
    repro = out / "reproducers" / f"{slug}.json"
    write_durably(repro, dumps(small).encode())
    timeline: Path | None = None
    if judged is not None:
        marked = [f for f in judged.findings if f.key == rep.key]
        timeline = out / "timelines" / f"{slug}.html"
        html = timeline_html(judged.result.records, marked, nworkers=len(small.workers),
                             target=small.target, title=f"{rep.key[0]} on {small.target}",
                             source=str(repro), steps=judged.result.steps,
                             locks=t.executor.lock_names(),
                             reliability=rep.reliability.label)  # fmt: skip
        write_durably(timeline, html.encode())
    store.triaged(key, triage="minimized", reproducer=str(repro.relative_to(out)),
                  timeline=str(timeline.relative_to(out)) if timeline else None,
                  reliability=rep.reliability.label, ops=small.op_count(),
                  from_ops=rep.from_ops)  # fmt: skip
    return "minimized"


__all__ = ["file_slug", "triage"]
