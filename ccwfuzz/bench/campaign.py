"""Benchmark: campaign fuzz throughput with 1 and 2 shards, its overhead against a bare
``ccwfuzz fuzz`` of the same length, and the memory of a shard with its actors.

Each figure is total execs over the fuzz time (the phase's wall time for a campaign,
``--time`` for the bare session), measured one after the other on the same machine:

    python -m ccwfuzz.bench.campaign [--target reference] [--time 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def bare_fuzz(target: str, seconds: float) -> float:
    """Execs per second of a bare one-shard ``ccwfuzz fuzz``."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "ccwfuzz", "fuzz", "--target", target,
                        "--time", str(seconds), "--out", tmp], capture_output=True,
                       timeout=seconds + 120)  # fmt: skip
        execs = sum(json.loads(p.read_text()).get("execs", 0)
                    for p in Path(tmp, "shards").glob("*.json"))  # fmt: skip
    return float(execs) / seconds


def campaign(target: str, seconds: float, jobs: int) -> dict[str, Any]:
    """Exec/s and per-shard resident memory of a fuzz-only campaign."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "c")
        subprocess.run([sys.executable, "-m", "ccwfuzz", "campaign", "--target", target,
                        "--time", str(seconds), "--jobs", str(jobs), "--stress-share", "0",
                        "--out", str(out)], capture_output=True, timeout=seconds + 300)  # fmt: skip
        doc = json.loads((out / "summary.json").read_text())
        fig = doc["targets"][target]
        db = sqlite3.connect(out / "findings.db")
        rss = [r for (r,) in db.execute("SELECT rss_mb FROM samples WHERE rss_mb > 0")]
        db.close()
    return {"jobs": jobs, "execs": fig["fuzz_execs"], "fuzz_seconds": fig["fuzz_seconds"],
            "exec_per_s": fig["fuzz_execs"] / fig["fuzz_seconds"] if fig["fuzz_seconds"] else 0.0,
            "campaign_seconds": doc["seconds"],
            "shard_rss_mb_median": statistics.median(rss) if rss else None}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.campaign")
    ap.add_argument("--target", default="reference")
    ap.add_argument("--time", type=float, default=30.0, help="fuzz seconds per measurement")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    bare = bare_fuzz(args.target, args.time)
    one = campaign(args.target, args.time, 1)
    two = campaign(args.target, args.time, 2)

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    doc = {"target": args.target, "seconds": args.time, "bare_fuzz_exec_per_s": round(bare, 1),
           "campaign_1": one, "campaign_2": two,
           "scaling_2_over_1": ratio(two["exec_per_s"], one["exec_per_s"]),
           "campaign_1_over_bare": ratio(one["exec_per_s"], bare)}  # fmt: skip
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"bare fuzz, 1 shard: {bare:,.0f} exec/s")
        for c in (one, two):
            print(f"campaign, {c['jobs']} shard(s): {c['exec_per_s']:,.0f} exec/s over the fuzz "
                  f"phase ({c['execs']} execs in {c['fuzz_seconds']:.1f} s), shard + actors "
                  f"{c['shard_rss_mb_median']} MiB resident (median)")  # fmt: skip
        print(f"2 shards / 1: {doc['scaling_2_over_1']}x; campaign / bare: "
              f"{doc['campaign_1_over_bare']}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
