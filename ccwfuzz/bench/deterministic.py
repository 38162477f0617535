"""Benchmark: how many free-mode findings of the zoo become deterministic. Each member
is stressed in free mode for ``--time`` seconds; every finding (by key) is opened from
its replay token, as a user would, and :func:`~ccwfuzz.engines.reproduce.make_deterministic`
tries the recorded event order, then up to ``--tries`` searched schedules, else
measures the free-run rate.

    python -m ccwfuzz.bench.deterministic [--members a,b] [--time 10] [--tries 200] [--json]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
from typing import Any

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import stress
from ccwfuzz.engines.reproduce import make_deterministic, open_finding
from ccwfuzz.exec import Pools
from ccwfuzz.program import Mode


def convert(name: str, seconds: float, tries: int, seed: int) -> list[dict[str, Any]]:
    target = f"zoo:{name}"
    rows = []
    with Pools() as pools:
        hits = [h for h in stress(pools(target, 2, 3), seconds, seed=seed, max_steps=50_000)
                if h.mode == Mode.FREE]  # fmt: skip
        for h in hits:
            # the token holds the program and the earlier runs a lock-order cycle needs
            saved = dataclasses.replace(open_finding(h.token), key=h.finding.key)
            d = make_deterministic(pools, saved, tries=tries, seed=seed)
            rows.append({"member": name, "rule": h.finding.rule,
                         "expected": h.finding.rule == MEMBERS[name].expected_rule,
                         "how": d.how, "tried": d.tried,
                         "free_rate": d.free_rate.label if d.free_rate else None})  # fmt: skip
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def part(rs: list[dict[str, Any]]) -> dict[str, Any]:
        made = [r for r in rs if r["how"] != "not found"]
        return {"findings": len(rs), "deterministic": len(made),
                "by": dict(collections.Counter(r["how"] for r in rs))}  # fmt: skip

    return {"all": part(rows), "expected rule": part([r for r in rows if r["expected"]])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.deterministic")
    ap.add_argument("--members", default="", help="comma-separated zoo members (default all)")
    ap.add_argument("--time", type=float, default=10.0, help="free stress seconds per member")
    ap.add_argument("--tries", type=int, default=200, help="schedules searched per finding")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.members.split(",") if n] or sorted(MEMBERS)
    rows: list[dict[str, Any]] = []
    for name in names:
        for r in convert(name, args.time, args.tries, args.seed):
            rows.append(r)
            if not args.json:
                rate = f" (free rate {r['free_rate']})" if r["free_rate"] else ""
                print(f"{name:<26} {r['rule']:<24} {r['how']} after {r['tried']}{rate}",
                      flush=True)  # fmt: skip
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary(rows)}, indent=2))
    else:
        print(json.dumps(summary(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
