"""``ccwfuzz campaign``: the command line of :mod:`ccwfuzz.campaign`."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ccwfuzz.cli.common import err, typed, writable


def add_parser(sub: Any) -> None:
    from ccwfuzz.campaign.settings import BY_NAME, PROFILES

    p = sub.add_parser(
        "campaign", help="a nightly campaign: regression, fuzz, stress, triage, report",
        description="A campaign per target: replay the corpus, fuzz with shards, free "
        "stress; then minimize every new finding and write the report (index.html, "
        "summary.json, junit.xml). Every setting may also come from a CCWFUZZ_ variable "
        "(e.g. CCWFUZZ_TIME=10m); the command line wins. Exit 0 no new finding, 1 new "
        "finding(s), 2 usage, 3 the campaign failed, 130 interrupted.",
    )  # fmt: skip
    p.add_argument("--target", action="append", dest="targets", metavar="T",
                   help="driver target (repeat for several; default reference)")  # fmt: skip
    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="dev (about a minute, default), ci (ten), nightly (8 h)")  # fmt: skip
    p.add_argument("--out", metavar="DIR", help="report folder (default reports/NAME)")
    p.add_argument("--name", help="the campaign's name (default: from the targets)")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the killed or interrupted campaign of this report folder, "
                        "with its settings, corpus, findings and figures")  # fmt: skip
    p.add_argument("--merge", metavar="ROOT",
                   help="after a pytest-xdist run of campaign shards (ccwfuzz.campaign.shards):"
                        " fold the workers' stores under ROOT into one report there")  # fmt: skip
    p.add_argument("--store", metavar="FILE",
                   help="findings store shared by campaigns (default OUT/findings.db)")  # fmt: skip
    for name in ("time", "jobs", "seed", "stress_share", "minimize_time", "triage_limit",
                 "rss_limit_mb", "hang_seconds", "workers", "subchannels"):  # fmt: skip
        s = BY_NAME[name]
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=typed(s.parse),
                       default=None, help=f"{s.help} (env {s.env})")  # fmt: skip
    p.set_defaults(func=run)


def _saved_campaign(args: argparse.Namespace) -> tuple[int, str, Any] | int:
    """(id, name, settings) of the campaign ``--resume`` continues, or the exit code."""
    from ccwfuzz.campaign.settings import Settings
    from ccwfuzz.campaign.store import Store

    path = Path(args.store) if args.store else Path(args.resume) / "findings.db"
    if not path.is_file():
        return err(f"--resume {args.resume}: no campaign there ({path} does not exist)")
    try:
        with Store(path) as store:
            row = store.unfinished()
            if row is None:
                return err(f"--resume {args.resume}: its last campaign finished; nothing to resume")
            settings = Settings.from_dict(json.loads(row["settings"]))
    except (ValueError, KeyError, TypeError, sqlite3.Error) as e:
        return err(f"--resume {args.resume}: the saved campaign cannot be read: {e}")
    return int(row["id"]), str(row["name"]), settings


def _merge(args: argparse.Namespace) -> int:
    from ccwfuzz.campaign.shards import merge_report

    root = Path(args.merge)
    if not (root / "stores").is_dir():
        return err(f"--merge {args.merge}: no shard stores there ({root / 'stores'} is missing)")
    try:
        code, doc = merge_report(root)
    except (ValueError, sqlite3.Error) as e:
        return err(f"--merge {args.merge}: {e}")
    c = doc["counts"]
    print(f"campaign {doc['name']} (shards merged): {doc['outcome']}: {c['new']} new and "
          f"{c['known']} known finding(s)")  # fmt: skip
    print(f"  report: {root / 'index.html'} (summary.json, junit.xml beside it)")
    return code


def run(args: argparse.Namespace) -> int:
    from ccwfuzz.campaign.display import Display
    from ccwfuzz.campaign.run import EXIT_FAILED, Campaign
    from ccwfuzz.campaign.settings import BY_NAME, resolve
    from ccwfuzz.driver import resolve as resolve_target
    from ccwfuzz.fuzzing import slug

    if args.merge:
        return _merge(args)
    cli = {k: getattr(args, k, None) for k in BY_NAME}
    if args.targets:
        cli["targets"] = tuple(args.targets)
    resume = None
    if args.resume:
        given = [k for k, v in cli.items() if v is not None]
        if given or args.profile or args.out or args.name:
            what = ", ".join(f"--{k.replace('_', '-')}" for k in given) or "--profile/--out/--name"
            return err(f"--resume goes on with the settings the campaign was started with; "
                       f"{what} cannot change them")  # fmt: skip
        got = _saved_campaign(args)
        if isinstance(got, int):
            return got
        resume, name, settings = got
        out = args.resume
    else:
        try:
            settings = resolve(args.profile, cli)
        except ValueError as e:
            return err(str(e))
    for t in settings.targets:
        try:
            resolve_target(t)
        except ValueError as e:
            return err(str(e))
    if resume is None:
        name = args.name or "-".join(slug(t) for t in settings.targets)[:80]
        out = args.out or os.path.join("reports", name)
    if why := writable(out, "directory"):
        return err(why)
    if args.store and (why := writable(args.store, "file")):
        return err(why.replace("file", "findings store", 1))
    display = Display(name)
    c = Campaign(settings, Path(out), name=name, display=display,
                 store=Path(args.store) if args.store else None, resume=resume)  # fmt: skip
    try:
        code = c.run()
    except ValueError as e:  # a store of another schema version, say
        return err(str(e))
    except sqlite3.DatabaseError as e:  # not a store at all (a truncated or foreign file)
        return err(f"findings store {c.store_path} cannot be used: {e}")
    except OSError as e:  # a full disk, a folder made read-only under us: the tool's fault
        display.finish()
        print(f"ccwfuzz: the campaign failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"campaign {name}: {c.outcome_line()}")
    if c.failed:
        print(f"ccwfuzz: the campaign failed: {c.failed}", file=sys.stderr)
    print(f"  report: {Path(out) / 'index.html'} (summary.json, junit.xml beside it)")
    return code
