"""Benchmark: time to first finding for every zoo member.

For each member, a seeded search per seed until its expected rule fires, in controlled
mode (PCT schedules) and in free mode (truly parallel), side by side. Reports the median
runs and seconds over the seeds; a search that hits the cap counts as the cap (and is
marked ``>``).

    python -m ccwfuzz.bench.zoo [--seeds 10] [--cap 10] [--only NAME ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.exec import Pool
from ccwfuzz.program import Mode


def measure(name: str, mode: str, seeds: int, cap: float) -> dict[str, float | int]:
    rule = MEMBERS[name].expected_rule
    runs, secs, misses = [], [], 0
    with Pool(f"zoo:{name}") as pool:
        for seed in range(seeds):
            r = search(pool, rule, budget=10**9, seed=seed, mode=Mode(mode), seconds=cap,
                       max_steps=10_000)  # fmt: skip
            runs.append(r.runs)
            secs.append(r.seconds if r.ok else cap)
            misses += not r.ok
    return {"median_runs": statistics.median(runs), "median_s": statistics.median(secs),
            "found": seeds - misses, "seeds": seeds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.zoo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--cap", type=float, default=10.0, help="seconds per search (default 10)")
    ap.add_argument("--only", nargs="*", help="zoo members (default: all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = args.only or sorted(MEMBERS)
    rows = {}
    for name in names:
        rows[name] = {mode: measure(name, mode, args.seeds, args.cap)
                      for mode in ("controlled", "free")}  # fmt: skip
        if not args.json:
            c, f = rows[name]["controlled"], rows[name]["free"]
            speed = f["median_s"] / c["median_s"] if c["median_s"] else float("inf")

            def cell(m: dict[str, float | int]) -> str:
                mark = ">" if m["found"] < m["seeds"] else " "
                found = f"{m['found']:>2}/{m['seeds']}"
                return f"{m['median_runs']:>7.0f} {mark}{m['median_s']:6.2f}s {found}"

            print(f"{name:<22} {cell(c)}   {cell(f)}   {speed:7.1f}x", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
