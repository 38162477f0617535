"""A campaign as pytest tests, so pytest-xdist runs its shards across cores (``-n``) and
hosts (``--tx``), as libFuzzer's ``-reload`` and AFL's ``-M/-S`` share a directory:

* each test is one shard: one target, a one-job campaign of its own under
  ``ROOT/workers/<worker>-<target>-<shard>/`` (its runs, reproducers, timelines);
* every shard reads and grows the same corpus, ``ROOT/corpus/<target>/`` (libFuzzer
  names an input by its content hash, so two hosts writing one input write one file);
* each xdist worker keeps its own findings store, ``ROOT/stores/findings-<worker>.db``:
  SQLite's WAL needs one host's shared memory, so a store is never shared across
  hosts, only the directory is;
* ``ccwfuzz campaign --merge ROOT`` (after the pytest run, anywhere that sees ROOT)
  folds the workers' stores into ``ROOT/findings.db``, where a finding is new the first
  night any worker saw it, and writes the one report in ``ROOT``.

Shared-memory segments stay host-local and carry the owner's pid, so two workers on one
host cannot collide. A test module::

    from ccwfuzz.campaign.shards import shard_tests
    test_nightly = shard_tests(["reference", "mypkg.drv:MyDriver"], shards=4,
                               time=3600, root="reports/nightly")
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ccwfuzz.campaign.run import Campaign, Figures
from ccwfuzz.campaign.settings import Settings, resolve
from ccwfuzz.campaign.store import Store
from ccwfuzz.choices import derive
from ccwfuzz.fuzzing import slug


def worker_id() -> str:
    """The pytest-xdist worker running this process (``gw0``...), or ``main``."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def run_shard(target: str, shard: int, *, root: Path, seconds: float, shards: int = 1,
              seed: int = 0, profile: str = "dev") -> dict[str, Any]:  # fmt: skip
    """Shard ``shard`` of ``shards`` of a campaign across hosts (see the module
    docstring): its summary. It replays its share of the corpus (every ``shards``-th
    input)."""
    from ccwfuzz.campaign.display import Display

    w = worker_id()
    cli = {"targets": (target,), "time": seconds, "jobs": 1,
           "seed": derive(seed, target, shard) % (1 << 32)}  # fmt: skip
    settings = resolve(profile, cli)  # the other settings: CCWFUZZ_ variables, the profile
    name = f"{w}-{slug(target)}-{shard}"
    c = Campaign(settings, root / "workers" / name, name=name, display=Display(name, tty=False),
                 store=root / "stores" / f"findings-{w}.db", corpus=root / "corpus",
                 regression=(shard, shards))  # fmt: skip
    c.run()
    return c.doc


def shard_tests(targets: Sequence[str], *, shards: int, time: float, root: str | Path,
                seed: int = 0) -> Callable[..., None]:  # fmt: skip
    """A pytest test function, parametrized over ``targets`` x ``shards``: each call
    runs one shard for ``time`` seconds and fails on a new finding (or when the shard
    itself failed), naming each finding and its reproducer."""
    import pytest

    base = Path(root)
    params = [(t, k) for t in targets for k in range(shards)]

    @pytest.mark.parametrize(("target", "shard"), params, ids=[f"{t}#{k}" for t, k in params])
    def test_campaign_shard(target: str, shard: int) -> None:
        doc = run_shard(target, shard, root=base, seconds=time, shards=shards, seed=seed)
        if doc.get("failure"):
            pytest.fail(f"the shard itself failed: {doc['failure']}", pytrace=False)
        new = [f for f in doc["findings"] if f["new"]]
        if new:
            lines = [f"[{f['rule']}] {f['location']} ({f['triage']}; reproducer: "
                     f"{f['reproducer'] or '-'})" for f in new]  # fmt: skip
            pytest.fail(f"{len(new)} new finding(s) on {target}:\n" + "\n".join(lines),
                        pytrace=False)  # fmt: skip

    return test_campaign_shard


# ---- the controller's side: one report from every worker's store ---------------------------
#: Figures the shards share rather than add up (one corpus; coverage overlaps).
SHARED = frozenset({"features", "corpus"})


@dataclasses.dataclass
class Merged:
    """What :func:`ccwfuzz.campaign.reports.write_reports` needs of a campaign, for the
    merged one."""

    name: str
    out: Path
    cid: int
    settings: Settings
    figures: dict[str, Figures]
    failed: str | None = None


def merge(root: Path, *, since: float | None = None) -> tuple[Merged, Store]:
    """Fold the campaigns that every worker store under ``root/stores`` began at or after
    ``since`` (default: after the last merge) into ``root/findings.db`` as one new
    campaign (the store is left open for the report; close it). Raises ValueError if
    there is nothing to merge."""
    stores = sorted((root / "stores").glob("findings-*.db"))
    merged = Store(root / "findings.db")
    if since is None:
        done = [c["ended"] for c in merged.campaigns() if c["ended"] is not None]
        since = max(done, default=0.0)
    opened = [Store(path) for path in stores]
    try:
        return _merge(root, merged, opened, since)
    except BaseException:
        merged.close()
        raise
    finally:
        for st in opened:
            st.close()


def _merge(root: Path, merged: Store, stores: list[Store], since: float) -> tuple[Merged, Store]:
    runs = [(st, c) for st in stores for c in st.campaigns() if c["started"] >= since]
    if not runs:
        raise ValueError(f"no shard campaign to merge under {root / 'stores'}")
    settings = Settings.from_dict(json.loads(runs[0][1]["settings"]))
    cid = merged.begin(root.name or "campaign", {**settings.to_dict(), "shards": len(runs)})
    with merged.tx() as db:  # the merged campaign spans its shards
        db.execute("UPDATE campaigns SET started=? WHERE id=?",
                   (min(c["started"] for _, c in runs), cid))  # fmt: skip
    figures: dict[str, Figures] = {}
    failed = [c["name"] for _, c in runs if c["exit_code"] == 3]
    for st, c in runs:
        names = {x["id"]: x["name"] for x in st.campaigns()}
        for t, d in st.figures(c["id"]).items():
            f, g = figures.setdefault(t, Figures()), Figures.load(d)
            for field in dataclasses.fields(Figures):  # work adds up; coverage does not
                both = (getattr(f, field.name), getattr(g, field.name))
                setattr(f, field.name, max(both) if field.name in SHARED else sum(both))
        seen = st.seen_by(c["id"])
        for row in st.findings():
            if row.key not in seen:
                continue
            key = tuple(row.key.split(" | "))
            merged.sighting(cid, key, row.mode)  # one per shard that saw it
            if row.triage != "pending":  # its files are in the folder of the shard that triaged it
                shard_out = root / "workers" / names[row.first_campaign]
                rel = [None if p is None else str((shard_out / p).relative_to(root))
                       for p in (row.reproducer, row.timeline)]  # fmt: skip
                merged.triaged(key, triage=row.triage, reproducer=rel[0], timeline=rel[1],
                               reliability=row.reliability, ops=row.ops,
                               from_ops=row.from_ops)  # fmt: skip
        merged.sample(cid, [(s["t"], s["target"], f"{c['name']}:{s['shard'].split('#')[-1]}",
                             s["execs"], s["exec_per_s"], s["features"], s["corpus"],
                             s["findings"], s["rss_mb"]) for s in st.samples(c["id"])])  # fmt: skip
        for e in st.events(c["id"]):
            merged.event(cid, e["kind"], f"{c['name']}:{e['shard']}", e["detail"], t=e["t"])
    for t, f in figures.items():
        merged.set_figures(cid, t, f.saved())
    m = Merged(root.name or "campaign", root, cid, settings, figures,
               f"shard(s) failed: {', '.join(failed)}" if failed else None)  # fmt: skip
    return m, merged


def merge_report(root: Path, *, since: float | None = None) -> tuple[int, dict[str, Any]]:
    """:func:`merge`, then the report in ``root``: (exit code, summary)."""
    from ccwfuzz.campaign.reports import write_reports

    m, store = merge(root, since=since)
    try:
        new = [r for r in store.findings() if r.new_in(m.cid)]
        code = 3 if m.failed else (1 if new else 0)
        store.end(m.cid, code)
        doc = write_reports(m, store)
    finally:
        store.close()
    return code, doc


__all__ = ["Merged", "merge", "merge_report", "run_shard", "shard_tests", "worker_id"]
