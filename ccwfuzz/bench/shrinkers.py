"""Benchmark: the program-level shrinker against the choice-sequence one (as
Hypothesis shrinks), and the two in a row, on each zoo member's first finding of a
seeded random-input run through the fuzzer's own decoder (so every finding has the
input bytes it came from).

All three use the same predicate (the same finding key fires, controlled mode) and
the same budget of predicate calls; the figures are the ops left, the hand-minimal
size from the member's docstring, predicate calls and seconds.

    python -m ccwfuzz.bench.shrinkers [--members a,b] [--seeds 1,2,3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

from ccwfuzz.bench.minimize import hand_minimal
from ccwfuzz.choices import RandomSource
from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines.fuzz import EVENT_BYTES, SCHEDULE_BYTES, Harness
from ccwfuzz.engines.reproduce import same_finding
from ccwfuzz.exec import Pools
from ccwfuzz.minimize import minimize
from ccwfuzz.minimize.choices import minimize_choices
from ccwfuzz.program import Program

FIXED = SCHEDULE_BYTES + EVENT_BYTES
SHRINKERS = ("program", "choices", "choices+program")


def first_input(
    harness: Harness, rule: str, seed: int, budget: int
) -> tuple[bytes, Program] | None:
    """The first random input (80-800 bytes) whose run fires ``rule``."""
    rng = RandomSource(seed)
    for _ in range(budget):
        data = bytes(rng.draw(256) for _ in range(80 + rng.draw(720)))
        harness(data)
        for f, program in harness.found:
            if f.rule == rule:
                return data, program
        harness.found.clear()
    return None


def compare(name: str, seed: int, budget: int, max_calls: int) -> list[dict[str, Any]]:
    rule = MEMBERS[name].expected_rule
    rows: list[dict[str, Any]] = []
    with Pools() as pools:
        harness = Harness(pools(f"zoo:{name}", 2, 3), max_steps=20_000)
        got = first_input(harness, rule, seed, budget)
        if got is None:
            return [{"member": name, "seed": seed, "shrinker": s, "ops": None} for s in SHRINKERS]
        data, found = got
        key = tuple(found.meta["key"])
        holds = same_finding(pools, key, max_steps=20_000)
        start, _ = harness.decode(data)

        def decode(d: bytes) -> Program:
            return harness.decode(d)[0]

        if not holds(start).holds:  # e.g. a lock-order cycle needs its earlier runs
            return [{"member": name, "seed": seed, "shrinker": s, "ops": None,
                     "note": "does not fire alone"} for s in SHRINKERS]  # fmt: skip
        for shrinker in SHRINKERS:
            calls, seconds, program = 0, 0.0, start
            if shrinker.startswith("choices"):
                c = minimize_choices(data, decode, holds, spans=harness.spans, fixed=FIXED,
                                     max_calls=max_calls)  # fmt: skip
                calls, seconds, program = c.calls, c.seconds, c.program
            if shrinker.endswith("program"):
                m = minimize(program, holds, max_calls=max(1, max_calls - calls))
                calls, seconds, program = calls + m.calls, seconds + m.seconds, m.program
            rows.append({"member": name, "seed": seed, "shrinker": shrinker,
                         "from": start.op_count(), "ops": program.op_count(),
                         "hand": hand_minimal(name), "calls": calls,
                         "seconds": round(seconds, 2)})  # fmt: skip
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in SHRINKERS:
        mine = [r for r in rows if r["shrinker"] == s and r["ops"] is not None]
        if not mine:
            continue
        out[s] = {
            "cases": len(mine),
            "at_hand": sum(r["hand"] is not None and r["ops"] <= r["hand"] for r in mine),
            "within_1": sum(r["hand"] is not None and r["ops"] <= r["hand"] + 1 for r in mine),
            "median_ops": statistics.median(r["ops"] for r in mine),
            "median_calls": statistics.median(r["calls"] for r in mine),
            "median_seconds": statistics.median(r["seconds"] for r in mine),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.shrinkers")
    ap.add_argument("--members", default="", help="comma-separated zoo members (default all)")
    ap.add_argument("--seeds", default="1", help="comma-separated input seeds")
    ap.add_argument("--budget", type=int, default=3000, help="random inputs per member")
    ap.add_argument("--calls", type=int, default=3000, help="predicate calls per shrink")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.members.split(",") if n] or sorted(MEMBERS)
    rows: list[dict[str, Any]] = []
    for name in names:
        for seed in (int(x) for x in args.seeds.split(",")):
            for r in compare(name, seed, args.budget, args.calls):
                rows.append(r)
                if not args.json:
                    print(f"{name:<26} seed {seed} {r['shrinker']:<16} {r.get('from')} -> "
                          f"{r['ops']} ops (hand {r.get('hand')}), {r.get('calls')} runs, "
                          f"{r.get('seconds')} s", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary(rows)}, indent=2))
    else:
        for s, v in summary(rows).items():
            print(s, v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
