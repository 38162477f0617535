"""Triage of a new finding: made deterministic (a free one), minimized, its reliability
measured, its timeline drawn; the reproducer and the timeline are written durably
before the store names them."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from ccwfuzz.campaign.store import FindingRow, Store, write_durably
from ccwfuzz.engines.reproduce import (
    Executors,
    judge_once,
    make_deterministic,
    make_reproducer,
    open_finding,
)
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
        det = make_deterministic(pools, saved, tries=200, max_steps=max_steps)
        if det.program is None:
            rate = det.free_rate.label if det.free_rate else "-"
            what = f"flaky (free runs {rate})"
            store.triaged(key, triage=what, reliability=rate)
            return what
        saved = dataclasses.replace(saved, program=det.program)
        rep = make_reproducer(pools, saved, max_steps=max_steps, seconds=seconds, replays=10)
        if rep is None:
            store.triaged(key, triage="not reproduced")
            return "not reproduced"
        small = rep.program
        ex = pools(small.target, small.subchannels, len(small.workers))
        judged = judge_once(ex, small, priors=saved.priors, max_steps=max_steps)
    except RequestError:
        store.triaged(key, triage="not reproduced")
        return "not reproduced"
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
                             locks=ex.lock_names(), reliability=rep.reliability.label)  # fmt: skip
        write_durably(timeline, html.encode())
    store.triaged(key, triage="minimized", reproducer=str(repro.relative_to(out)),
                  timeline=str(timeline.relative_to(out)) if timeline else None,
                  reliability=rep.reliability.label, ops=small.op_count(),
                  from_ops=rep.from_ops)  # fmt: skip
    return "minimized"


__all__ = ["file_slug", "triage"]
