"""Benchmark: which schedule family finds the narrow-window zoo members fastest.

For each member, a seeded controlled search per seed with schedules drawn from one
family only (``pct``, ``walk``, ``lag``) and from the default mix, and a free-mode
search, until the member's expected rule fires. Medians of programs run and seconds;
a search that hits the cap counts as the cap (marked ``>``).

    python -m ccwfuzz.bench.policies [--members a,b] [--seeds 5] [--cap 30] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
from collections.abc import Iterator
from typing import Any

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.exec import Pool
from ccwfuzz.program import Mode
from ccwfuzz.program import generate as G

DEEP = ("close-races-todo", "todo-outside-mutex", "notoper-free-running")
FAMILIES = ("pct", "walk", "lag", "mix", "free")


@contextlib.contextmanager
def only(kinds: tuple[str, ...]) -> Iterator[None]:
    """Draw schedules from ``kinds`` only (the generator reads the module default)."""
    saved = G.SCHEDULE_KINDS
    G.SCHEDULE_KINDS = kinds
    try:
        yield
    finally:
        G.SCHEDULE_KINDS = saved


def measure(name: str, family: str, seeds: int, cap: float) -> dict[str, Any]:
    rule = MEMBERS[name].expected_rule
    runs, secs, found = [], [], 0
    mode = Mode.FREE if family == "free" else Mode.CONTROLLED
    kinds = G.SCHEDULE_KINDS if family in ("mix", "free") else (family,)
    with Pool(f"zoo:{name}") as pool, only(kinds):
        for seed in range(seeds):
            r = search(pool, rule, budget=10**9, seed=seed, mode=mode, seconds=cap,
                       max_steps=10_000)  # fmt: skip
            runs.append(r.runs)
            secs.append(r.seconds if r.ok else cap)
            found += r.ok
    return {"median_runs": statistics.median(runs), "median_s": statistics.median(secs),
            "found": found, "seeds": seeds}  # fmt: skip


def cell(m: dict[str, Any]) -> str:
    mark = ">" if m["found"] < m["seeds"] / 2 else " "
    return f"{m['median_runs']:>6.0f} {mark}{m['median_s']:5.1f}s {m['found']}/{m['seeds']}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.policies", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--members", default=",".join(DEEP))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--cap", type=float, default=30.0, help="seconds per search")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    families = args.families.split(",")
    rows: dict[str, dict[str, Any]] = {}
    if not args.json:
        print(f"{'member':<22} " + " ".join(f"{f:>19}" for f in families))
    for name in args.members.split(","):
        rows[name] = {f: measure(name, f, args.seeds, args.cap) for f in families}
        if not args.json:
            print(f"{name:<22} " + " ".join(f"{cell(rows[name][f]):>19}" for f in families),
                  flush=True)  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
