"""Benchmark: Hypothesis' own shrinker on ``ccwfuzz.strategies.programs`` against
``ccwfuzz minimize``. For each zoo member and Hypothesis seed, a ``@given`` property
that the member breaks runs until Hypothesis has found and shrunk a failure; the first
failing program Hypothesis met is then minimized by the program-level minimizer (for
the same finding key). Rows: examples until the first failure, ops found, ops after
Hypothesis, ops after minimize, the hand-minimal size, and the seconds of each.

Everything runs in controlled mode and Hypothesis is seeded, so a row is the same on
any machine; only the seconds vary.

    python -m ccwfuzz.bench.hypothesis_shrink [--members a,b] [--seeds 6] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from ccwfuzz.bench.minimize import hand_minimal
from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines.reproduce import judge_once, same_finding
from ccwfuzz.exec import Pool
from ccwfuzz.minimize import minimize
from ccwfuzz.program import Executor, Program

WORKERS, SUBCHANNELS, MAX_STEPS = 3, 2, 20_000
DEFAULT_MEMBERS = ("boxed-busy", "single-irb-slot", "idle-on-intermediate")


def fired(executor: Executor, program: Program, rule: str) -> tuple[str, ...] | None:
    """The key of the first ``rule`` finding a controlled run of ``program`` fires."""
    judged = judge_once(executor, program, max_steps=MAX_STEPS)
    hits = [f for f in judged.findings if f.rule == rule] if judged is not None else []
    return hits[0].key if hits else None


def hypothesis_shrinks(executor: Executor, target: str, rule: str, at: int,
                       max_examples: int = 1000) -> dict[str, Any] | None:  # fmt: skip
    """Hypothesis (seed ``at``) on a property ``rule`` breaks: the first failing
    program it met (``first``), that finding's ``key``, the program it shrank the
    failure to (``shrunk``: the last one it ran, as it ends by replaying its minimal
    example) and the examples it ran until the first failure; None if it found none."""
    # installed from strategies/, which mypy checks on its own (as the top-level "strategies")
    from ccwfuzz.strategies import programs

    failing: list[tuple[Program, tuple[str, ...]]] = []
    calls = [0, 0]  # examples run, of which before the first failure

    @seed(at)
    @settings(max_examples=max_examples, deadline=None, database=None,
              phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(programs("valid", workers=WORKERS, ops=8, subchannels=SUBCHANNELS, target=target))
    def never_fires(program: Program) -> None:
        calls[0] += 1
        key = fired(executor, program, rule)
        if key is not None:
            calls[1] = calls[1] or calls[0]
            failing.append((program, key))
        assert key is None, rule

    with contextlib.suppress(AssertionError):  # the failure is what we came for
        never_fires()
    if not failing:
        return None
    return {"first": failing[0][0], "key": failing[0][1], "shrunk": failing[-1][0],
            "examples": calls[1], "calls": calls[0]}  # fmt: skip


def compare(name: str, at: int, max_calls: int = 2000) -> dict[str, Any]:
    rule, target = MEMBERS[name].expected_rule, f"zoo:{name}"
    row: dict[str, Any] = {"member": name, "seed": at, "hand": hand_minimal(name)}
    with Pool(target, subchannels=SUBCHANNELS, workers=WORKERS) as pool:
        t = time.monotonic()
        got = hypothesis_shrinks(pool, target, rule, at)
        if got is None:
            return {**row, "found": None}
        row.update(examples=got["examples"], found=got["first"].op_count(),
                   hypothesis=got["shrunk"].op_count(),
                   hypothesis_s=round(time.monotonic() - t, 1))  # fmt: skip
        holds = same_finding(lambda _t, _s, _w: pool, got["key"], max_steps=MAX_STEPS)
        t = time.monotonic()
        m = minimize(got["first"], holds, max_calls=max_calls)
        row.update(minimize=m.program.op_count(), minimize_s=round(time.monotonic() - t, 1))
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.hypothesis_shrink")
    ap.add_argument("--members", default=",".join(DEFAULT_MEMBERS))
    ap.add_argument("--seeds", type=int, default=6, help="Hypothesis seeds 1..N")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for name in (n for n in args.members.split(",") if n):
        for at in range(1, args.seeds + 1):
            r = compare(name, at)
            rows.append(r)
            if not args.json:
                if r["found"] is None:
                    print(f"{name:<22} seed {at}: no failure found", flush=True)
                    continue
                print(f"{name:<22} seed {at}: first failure at example {r['examples']}, "
                      f"{r['found']} ops -> Hypothesis {r['hypothesis']} "
                      f"({r['hypothesis_s']} s), minimize {r['minimize']} "
                      f"({r['minimize_s']} s), hand {r['hand']}", flush=True)  # fmt: skip
    done = [r for r in rows if r["found"] is not None]
    same = sum(r["hypothesis"] <= r["minimize"] for r in done)
    within = sum(r["hypothesis"] <= r["minimize"] + 1 for r in done)
    if args.json:
        print(json.dumps({"rows": rows, "at_most_minimize": same, "within_1": within}, indent=2))
    else:
        print(f"{len(done)} of {len(rows)} found; Hypothesis at most minimize's size in {same}, "
              f"within one op in {within}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
