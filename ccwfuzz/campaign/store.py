"""The findings store: one SQLite database (WAL mode) per output folder, or one path
shared by several campaigns, night after night.

What must stay true:

* **A finding is a key.** Rows are keyed by the finding key (rule, where, target), so
  the same bug found by two shards, two targets' runs or two nights is one row, with
  its first and last sighting and a count; *new* means first seen by this campaign.
* **Nothing reported is lost.** Every write is one transaction (SQLite commits
  atomically and, in WAL mode with ``synchronous=FULL``, durably), and the files a row
  points to (reproducer, timeline) are written with write, fsync, rename before the
  row names them. A kill at any moment leaves the store as of the last commit.
* **No pickles.** Values are text, numbers and JSON text; a store from another
  machine is data, never code.
* **Several writers.** Shards of several campaigns may share a store: every
  connection waits for the lock (``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, started REAL NOT NULL, ended REAL,
    exit_code INTEGER, settings TEXT NOT NULL, phase TEXT NOT NULL DEFAULT 'start');
CREATE TABLE IF NOT EXISTS findings (
    key TEXT PRIMARY KEY, rule TEXT NOT NULL, location TEXT NOT NULL, target TEXT NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, count INTEGER NOT NULL,
    first_campaign INTEGER NOT NULL, last_campaign INTEGER NOT NULL,
    mode TEXT NOT NULL, program TEXT, reproducer TEXT, timeline TEXT, reliability TEXT,
    ops INTEGER, from_ops INTEGER, triage TEXT NOT NULL DEFAULT 'pending');
CREATE TABLE IF NOT EXISTS samples (
    campaign INTEGER NOT NULL, t REAL NOT NULL, target TEXT NOT NULL, shard TEXT NOT NULL,
    execs INTEGER NOT NULL, exec_per_s REAL NOT NULL, features INTEGER NOT NULL,
    corpus INTEGER NOT NULL, findings INTEGER NOT NULL, rss_mb REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    campaign INTEGER NOT NULL, t REAL NOT NULL, kind TEXT NOT NULL, shard TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS phases (
    campaign INTEGER NOT NULL, target TEXT NOT NULL, phase TEXT NOT NULL,
    planned REAL NOT NULL, spent REAL NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, target, phase));
CREATE TABLE IF NOT EXISTS seen (
    campaign INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (campaign, key));
CREATE TABLE IF NOT EXISTS recorded (
    campaign INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (campaign, path));
CREATE TABLE IF NOT EXISTS figures (
    campaign INTEGER NOT NULL, target TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (campaign, target));
"""


#: Shard figures at one moment: (t, target, shard, execs, exec/s, features, corpus,
#: findings, resident MiB of the shard and its actors).
Sample = tuple[float, str, str, int, float, int, int, int, float]


def key_text(key: Sequence[str]) -> str:
    """A finding key as one string (its parts joined by `` | ``)."""
    return " | ".join(key)


@dataclasses.dataclass(frozen=True)
class FindingRow:
    key: str
    rule: str
    location: str
    target: str
    first_seen: float
    last_seen: float
    count: int
    first_campaign: int
    last_campaign: int
    mode: str
    program: str | None
    reproducer: str | None
    timeline: str | None
    reliability: str | None
    ops: int | None
    from_ops: int | None
    triage: str

    def new_in(self, campaign: int) -> bool:
        return self.first_campaign == campaign


class Store:
    """The findings store at ``path`` (created when missing).

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d, Store(pathlib.Path(d) / "f.db") as st:
        ...     night1 = st.begin("nightly", {})
        ...     _ = st.sighting(night1, ("driver.retcode", "ssch in IDLE", "zoo:x"), "controlled")
        ...     night2 = st.begin("nightly", {})
        ...     _ = st.sighting(night2, ("driver.retcode", "ssch in IDLE", "zoo:x"), "free")
        ...     (row,) = st.findings()
        ...     row.count, row.new_in(night1), row.new_in(night2)
        (2, True, False)
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")
        with self.tx():
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                self.db.execute(stmt)
            got = self.db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            if got is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif got[0] != str(SCHEMA_VERSION):
                raise ValueError(f"findings store {path} has schema {got[0]}, this ccwfuzz "
                                 f"reads {SCHEMA_VERSION}")  # fmt: skip

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on an exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- campaigns ----------------------------------------------------------------------
    def begin(self, name: str, settings: dict[str, Any]) -> int:
        with self.tx() as db:
            cur = db.execute("INSERT INTO campaigns (name, started, settings) VALUES (?, ?, ?)",
                             (name, time.time(), json.dumps(settings)))  # fmt: skip
            return int(cur.lastrowid or 0)

    def phase(self, campaign: int, phase: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE campaigns SET phase=? WHERE id=?", (phase, campaign))

    def end(self, campaign: int, exit_code: int) -> None:
        with self.tx() as db:
            db.execute("UPDATE campaigns SET ended=?, exit_code=?, phase='done' WHERE id=?",
                       (time.time(), exit_code, campaign))  # fmt: skip

    def campaign(self, campaign: int) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM campaigns WHERE id=?", (campaign,)).fetchone()
        return dict(row) if row else {}

    def campaigns(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM campaigns ORDER BY id")]

    def unfinished(self) -> dict[str, Any] | None:
        """The last campaign if it did not finish (killed: never ended; interrupted:
        exit 130), else None."""
        row = self.db.execute("SELECT * FROM campaigns ORDER BY id DESC LIMIT 1").fetchone()
        if row is None or (row["ended"] is not None and row["exit_code"] != 130):
            return None
        return dict(row)

    def reopen(self, campaign: int) -> None:
        with self.tx() as db:
            db.execute("UPDATE campaigns SET ended=NULL, exit_code=NULL WHERE id=?", (campaign,))

    # ---- phases: what a resumed campaign skips, and what is left of the one it was in ---
    def phase_state(self, campaign: int, target: str,
                    phase: str) -> tuple[float, float, bool] | None:  # fmt: skip
        """(planned seconds, spent seconds, done) of a phase begun before, or None."""
        q = "SELECT planned, spent, done FROM phases WHERE campaign=? AND target=? AND phase=?"
        row = self.db.execute(q, (campaign, target, phase)).fetchone()
        return None if row is None else (float(row[0]), float(row[1]), bool(row[2]))

    def phase_progress(self, campaign: int, target: str, phase: str, planned: float,
                       spent: float, done: bool = False) -> None:  # fmt: skip
        with self.tx() as db:
            db.execute("INSERT INTO phases VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(campaign,"
                       " target, phase) DO UPDATE SET spent=excluded.spent,"
                       " done=excluded.done",
                       (campaign, target, phase, planned, spent, int(done)))  # fmt: skip

    def figures(self, campaign: int) -> dict[str, dict[str, Any]]:
        q = "SELECT target, data FROM figures WHERE campaign=? ORDER BY rowid"
        return {t: json.loads(d) for t, d in self.db.execute(q, (campaign,))}

    def set_figures(self, campaign: int, target: str, data: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO figures VALUES (?, ?, ?)",
                       (campaign, target, json.dumps(data)))  # fmt: skip

    # ---- findings -----------------------------------------------------------------------
    def sighting(self, campaign: int, key: Sequence[str], mode: str,
                 program: str | None = None) -> str:  # fmt: skip
        """Count one sighting of ``key`` by ``campaign``: ``"new"`` (first ever),
        ``"again"`` (first seen by this campaign) or ``"known"`` (from an earlier one);
        ``""`` if the file ``program`` was counted before (a resumed campaign scans its
        folders again). ``program``: the path of the saved finding (kept from the
        first sighting)."""
        k, now = key_text(key), time.time()
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (campaign, k))
            if program is not None:
                try:
                    db.execute("INSERT INTO recorded VALUES (?, ?)", (campaign, program))
                except sqlite3.IntegrityError:
                    return ""
            got = db.execute("SELECT count, first_campaign FROM findings WHERE key=?",
                             (k,)).fetchone()  # fmt: skip
            if got is None:
                db.execute(
                    "INSERT INTO findings (key, rule, location, target, first_seen, last_seen,"
                    " count, first_campaign, last_campaign, mode, program)"
                    " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                    (k, key[0], key[1], key[2], now, now, campaign, campaign, mode, program),
                )  # fmt: skip
                return "new"
            db.execute("UPDATE findings SET last_seen=?, count=count+1, last_campaign=?,"
                       " program=COALESCE(program, ?) WHERE key=?",
                       (now, campaign, program, k))  # fmt: skip
            return "again" if got[1] == campaign else "known"

    def seen_by(self, campaign: int) -> set[str]:
        """The finding keys (as text) ``campaign`` saw."""
        q = "SELECT key FROM seen WHERE campaign=?"
        return {k for (k,) in self.db.execute(q, (campaign,))}

    def triaged(self, key: Sequence[str], *, triage: str, reproducer: str | None = None,
                timeline: str | None = None, reliability: str | None = None,
                ops: int | None = None, from_ops: int | None = None) -> None:  # fmt: skip
        with self.tx() as db:
            db.execute("UPDATE findings SET triage=?, reproducer=?, timeline=?, reliability=?,"
                       " ops=?, from_ops=? WHERE key=?",
                       (triage, reproducer, timeline, reliability, ops, from_ops,
                        key_text(key)))  # fmt: skip

    def findings(self) -> list[FindingRow]:
        rows = self.db.execute("SELECT * FROM findings ORDER BY first_seen, key")
        return [FindingRow(**dict(r)) for r in rows]

    # ---- figures ------------------------------------------------------------------------
    def sample(self, campaign: int, rows: Sequence[Sample]) -> None:
        """Shard figures at one moment (:data:`Sample` each)."""
        with self.tx() as db:
            db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(campaign, *r) for r in rows])  # fmt: skip

    def samples(self, campaign: int) -> list[dict[str, Any]]:
        q = "SELECT * FROM samples WHERE campaign=? ORDER BY t"
        return [dict(r) for r in self.db.execute(q, (campaign,))]

    def event(self, campaign: int, kind: str, shard: str, detail: str,
              t: float | None = None) -> None:  # fmt: skip
        with self.tx() as db:
            when = time.time() if t is None else t
            db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                       (campaign, when, kind, shard, detail))  # fmt: skip

    def events(self, campaign: int) -> list[dict[str, Any]]:
        q = "SELECT * FROM events WHERE campaign=? ORDER BY t"
        return [dict(r) for r in self.db.execute(q, (campaign,))]


def write_durably(path: Path, data: bytes) -> None:
    """Write ``path`` so that a kill at any moment leaves the old file or the new one:
    a temporary file beside it, fsync, rename, fsync of the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["SCHEMA_VERSION", "FindingRow", "Store", "key_text", "write_durably"]
