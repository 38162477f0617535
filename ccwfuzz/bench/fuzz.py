"""Benchmark: time to the first finding of each zoo member's expected rule, by
``ccwfuzz fuzz`` with the coverage bridge, without it, and by unguided seeded search.

Each fuzz run is a real ``ccwfuzz fuzz --stop-on-finding RULE`` session (one shard,
libFuzzer seed ``seed``); the figure is the finding's own ``found_after`` (execs and
seconds inside the shard, so start-up is not counted). Medians over seeds, one member
after the other (the machine's other core stays free):

    python -m ccwfuzz.bench.fuzz [--members a,b] [--seeds 5] [--time 120] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.exec import Pool
from ccwfuzz.program import load

#: The fuzz modes: extra ``ccwfuzz fuzz`` options of each.
FUZZ_MODES = {
    "bridge": [],
    "no-bridge": ["--no-bridge"],
    "choices": ["--mutator", "choices"],
    "reschedule": ["--reschedule", "0.2"],
    "choices+reschedule": ["--mutator", "choices", "--reschedule", "0.2"],
}


def fuzz_once(target: str, rule: str, seed: int, seconds: float, options: list[str],
              runs: int = 0) -> tuple[float, int] | None:  # fmt: skip
    """(seconds, execs) to the first ``rule`` finding, or None within ``seconds``."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "ccwfuzz", "fuzz", "--target", target, "--time", str(seconds),
               "--out", tmp, "--stop-on-finding", rule, "--seed", str(seed)]  # fmt: skip
        lf = [f"-seed={seed + 1}"] + ([f"-runs={runs}"] if runs else [])
        subprocess.run([*cmd, *options, "--", *lf], capture_output=True, text=True,
                       timeout=seconds + 120)  # fmt: skip
        for f in sorted(Path(tmp, "findings").glob(f"{rule}-*.json")):
            after = load(f).meta.get("found_after", {})
            return float(after.get("seconds", 0.0)), int(after.get("execs", 0))
    return None


def search_once(target: str, rule: str, seed: int, seconds: float) -> tuple[float, int] | None:
    with Pool(target) as pool:
        r = search(pool, rule, budget=10**9, seed=seed, seconds=seconds, max_steps=20_000)
    return (r.seconds, r.runs) if r.ok else None


def _median(xs: list[tuple[float, int] | None]) -> dict[str, Any]:
    found = [x for x in xs if x is not None]
    secs = [x[0] if x else float("inf") for x in xs]
    return {"found": f"{len(found)}/{len(xs)}",
            "median_s": statistics.median(secs) if secs else None,
            "median_execs": statistics.median([x[1] for x in found]) if found else None,
            }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.fuzz")
    ap.add_argument("--members", default="", help="comma-separated zoo members (default all)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--time", type=float, default=120.0, help="budget per run, seconds")
    ap.add_argument("--runs", type=int, default=0,
                    help="budget per fuzz run in execs as well (a verdict that does not depend"
                         " on the machine's load); give a --time that allows it")  # fmt: skip
    ap.add_argument("--modes", default="bridge,no-bridge,search",
                    help=f"comma-separated, of search,{','.join(FUZZ_MODES)}")  # fmt: skip
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.members.split(",") if n] or sorted(MEMBERS)
    modes = args.modes.split(",")
    rows = []
    for name in names:
        rule = MEMBERS[name].expected_rule
        target = f"zoo:{name}"
        row: dict[str, Any] = {"member": name, "rule": rule}
        for mode in modes:
            runs = []
            for s in range(args.seeds):
                if mode == "search":
                    runs.append(search_once(target, rule, 1000 + s, args.time))
                else:
                    runs.append(fuzz_once(target, rule, s, args.time, FUZZ_MODES[mode], args.runs))
            row[mode] = _median(runs)
        rows.append(row)
        if not args.json:
            cells = "  ".join(f"{m}: {row[m]['found']} {row[m]['median_s']:.1f}s"
                              f" ({row[m]['median_execs']} execs)" for m in modes)  # fmt: skip
            print(f"{name:<28} {cells}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
