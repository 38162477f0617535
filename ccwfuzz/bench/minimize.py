"""Benchmark: ``minimize`` on every zoo member's first seeded-search finding: ops
before and after, the hand-minimal size from the member's docstring, predicate calls,
seconds, and the reliability of the result.

    python -m ccwfuzz.bench.minimize [--members a,b] [--seeds 1,2,3] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.engines.reproduce import Saved, make_reproducer
from ccwfuzz.exec import Pools


def hand_minimal(name: str) -> int | None:
    doc = importlib.import_module(MEMBERS[name].__module__).__doc__ or ""
    m = re.search(r"^Minimal: (\d+) ops", doc, re.M)
    return int(m.group(1)) if m else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.minimize")
    ap.add_argument("--members", default="", help="comma-separated zoo members (default all)")
    ap.add_argument("--seeds", default="1", help="comma-separated search seeds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.members.split(",") if n] or sorted(MEMBERS)
    rows = []
    for name in names:
        rule = MEMBERS[name].expected_rule
        for seed in (int(x) for x in args.seeds.split(",")):
            with Pools() as pools:
                r = search(pools(f"zoo:{name}", 2, 3), rule, budget=3000, seed=seed,
                           max_steps=20_000)  # fmt: skip
                rep = None
                if r.program is not None and r.found is not None:
                    rep = make_reproducer(pools, Saved(r.program, r.found.key, None),
                                          max_steps=20_000, max_calls=3000)  # fmt: skip
            row = {"member": name, "seed": seed, "hand": hand_minimal(name),
                   "from": rep.from_ops if rep else None,
                   "ops": rep.program.op_count() if rep else None,
                   "calls": rep.calls if rep else None,
                   "seconds": round(rep.seconds, 2) if rep else None,
                   "reliability": rep.reliability.label if rep else "not found"}  # fmt: skip
            rows.append(row)
            if not args.json:
                print(f"{name:<26} seed {seed}: {row['from']} -> {row['ops']} ops (hand "
                      f"{row['hand']}), {row['calls']} runs, {row['seconds']} s, "
                      f"{row['reliability']}", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
