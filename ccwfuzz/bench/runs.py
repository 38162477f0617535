"""Benchmark: controlled and free runs of the concurrency core.

Measured in one process, so every figure is comparable to the bare hand-off floor
measured between the same actor processes:

* pool start-up (4 actors: 2 workers, the channel, the work queue);
* bare hand-off: a semaphore post + wait between two actors pinned to one CPU;
* scheduler switch: a controlled run where every scheduling point switches actors
  (explicit choice list), time per switch; the ratio to the bare hand-off is the
  scheduling overhead;
* controlled runs/s and scheduling points/s on the standard program (3 workers x 8
  ops, 2 subchannels, interrupts), without and with the oracles;
* the oracles' CPU cost per run (judging recorded runs only), and the costliest rules;
* checked executions/s inside ``ccwfuzz fuzz`` itself (one shard on ``reference``, the
  same program shape, all oracles), with and without the coverage bridge;
* free-mode worker ops/s on all CPUs.

    python -m ccwfuzz.bench.runs [--seconds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ccwfuzz.exec import Pool
from ccwfuzz.oracles import RULES, check, view_of
from ccwfuzz.program import (
    Mode,
    Policy,
    Program,
    RandomSource,
    RunRequest,
    Schedule,
    Yield,
    random_program,
)


def startup_ms(repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        pool = Pool(workers=2)
        times.append(time.perf_counter() - t)
        pool.close()
    return statistics.median(times) * 1e3


def switch_cost(pool: Pool, handoffs: int = 20_000) -> tuple[float, float, int]:
    """(bare us/hand-off, scheduler us/switch, switches measured)."""
    bare = pool.bare_handoffs(handoffs) / handoffs * 1e6
    n = 2000
    workers = tuple((Yield(0, n=n),) if k < 2 else () for k in range(pool.nworkers))
    choices = tuple(k % 2 for k in range(4096))
    p = Program(
        subchannels=pool.nsch, workers=workers, schedule=Schedule(Policy.CHOICES, choices=choices)
    )
    pool.run(RunRequest(p))
    best = float("inf")
    switches = 0
    for _ in range(5):
        r = pool.run(RunRequest(p))
        best = min(best, r.elapsed / max(1, r.switches))
        switches = r.switches
    return bare, best * 1e6, switches


def controlled(pool: Pool, seconds: float, oracles: bool) -> dict[str, float]:
    programs = [random_program(RandomSource(s)) for s in range(200)]
    names = pool.lock_names()
    runs = steps = switches = 0
    t = time.perf_counter()
    while time.perf_counter() - t < seconds:
        p = programs[runs % len(programs)]
        r = pool.run(RunRequest(p))
        if oracles:
            check(view_of(r, p, names))
        runs += 1
        steps += r.steps
        switches += r.switches
    dt = time.perf_counter() - t
    return {"runs_per_s": runs / dt, "points_per_s": steps / dt,
            "switches_per_run": switches / runs, "points_per_run": steps / runs}  # fmt: skip


def oracle_cost(pool: Pool, runs: int = 300, passes: int = 5) -> dict[str, float]:
    """Judging alone, on ``runs`` recorded runs: ms per run (best of ``passes``; the CPU
    cost of the whole catalogue), and the three most expensive rules (the first rule
    also pays for the walk every rule shares)."""
    programs = [random_program(RandomSource(s)) for s in range(runs)]
    names = pool.lock_names()
    results = [pool.run(RunRequest(p)) for p in programs]
    best = float("inf")
    for _ in range(passes):
        t = time.perf_counter()
        for p, r in zip(programs, results, strict=True):
            check(view_of(r, p, names))
        best = min(best, time.perf_counter() - t)
    views = [view_of(r, p, names) for p, r in zip(programs, results, strict=True)]
    per_rule = {}
    for rule in RULES.values():
        t = time.perf_counter()
        for v in views:
            if rule.judges(v):
                rule.check(v)
        per_rule[rule.id] = (time.perf_counter() - t) / runs * 1e3
    top = sorted(per_rule.items(), key=lambda kv: -kv[1])[:3]
    records = sum(len(r.records) for r in results) / runs
    return {"ms_per_run": best / runs * 1e3, "records_per_run": records,
            **{f"rule {k}": v for k, v in top}}  # fmt: skip


def free(pool: Pool, seconds: float) -> dict[str, float]:
    src = RandomSource(7)
    runs = ops = 0
    t = time.perf_counter()
    while time.perf_counter() - t < seconds:
        p = random_program(src, ops=32)
        pool.run(RunRequest(p, Mode.FREE))
        runs += 1
        ops += sum(len(w) for w in p.workers)
    dt = time.perf_counter() - t
    return {"runs_per_s": runs / dt, "ops_per_s": ops / dt}


def harness(seconds: float) -> dict[str, float]:
    """``ccwfuzz fuzz``'s ``TestOneInput`` (decode, run, all oracles, feed back) on one
    fixed set of inputs (100 seeded random 1 KiB inputs: ~22 ops per program, about
    the standard program), without coverage, with actor coverage, and with coverage
    and the bridge: checked executions/s, and what coverage and the bridge cost."""
    from ccwfuzz.engines.bridge import Bridge
    from ccwfuzz.engines.fuzz import Harness

    rng = RandomSource(11)
    inputs = [bytes(rng.draw(256) for _ in range(1024)) for _ in range(100)]
    bridge = Bridge()
    out = {}
    for name, cov, feed in (("plain", False, None), ("coverage", True, None),
                            ("bridge", True, bridge)):  # fmt: skip
        with Pool(coverage=cov) as pool:
            h = Harness(pool, feed=feed)
            for d in inputs[:10]:
                h(d)
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < seconds:
                h(inputs[n % len(inputs)])
                n += 1
            out[name] = n / (time.perf_counter() - t)
    return out


def fuzz(seconds: float, bridge: bool) -> float:
    """A real ``ccwfuzz fuzz`` session on ``reference`` (one shard, libFuzzer seed 1,
    the committed seed corpus): the shard's own exec/s over libFuzzer's own input mix
    (which differs with and without the bridge: guided, the corpus grows longer
    inputs)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "ccwfuzz", "fuzz", "--target", "reference",
               "--time", str(seconds), "--out", tmp]  # fmt: skip
        if not bridge:
            cmd.append("--no-bridge")
        subprocess.run([*cmd, "--", "-seed=1"], capture_output=True, timeout=seconds + 120)
        status = json.loads(Path(tmp, "shards", "0.json").read_text())
    return float(status["exec_per_s"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.runs", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--seconds", type=float, default=5.0, help="per measurement (default 5)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out: dict[str, object] = {"pool_startup_ms": startup_ms()}
    with Pool() as pool:
        bare, switch, n = switch_cost(pool)
        out["bare_handoff_us"] = bare
        out["scheduler_switch_us"] = switch
        out["switch_overhead_ratio"] = switch / bare
        out["switches_measured"] = n
        out["controlled"] = controlled(pool, args.seconds, oracles=False)
        out["controlled_with_oracles"] = controlled(pool, args.seconds, oracles=True)
        out["oracles"] = oracle_cost(pool)
        out["free"] = free(pool, args.seconds)
    out["harness"] = harness(args.seconds)
    out["fuzz_session"] = {"bridge": fuzz(args.seconds, bridge=True),
                           "no_bridge": fuzz(args.seconds, bridge=False)}  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    c, co, f = out["controlled"], out["controlled_with_oracles"], out["free"]
    assert isinstance(c, dict) and isinstance(co, dict) and isinstance(f, dict)
    print(f"pool start-up (4 actors)        {out['pool_startup_ms']:8.1f} ms")
    print(f"bare hand-off (one CPU)         {bare:8.2f} us")
    print(f"scheduler switch                {switch:8.2f} us   ratio {switch / bare:.2f}x")
    print(f"controlled runs/s               {c['runs_per_s']:8.0f}      "
          f"({c['points_per_s']:,.0f} points/s, {c['points_per_run']:.0f} points and "
          f"{c['switches_per_run']:.1f} switches per run)")  # fmt: skip
    print(f"controlled runs/s with oracles  {co['runs_per_s']:8.0f}")
    o = out["oracles"]
    assert isinstance(o, dict)
    rules = ", ".join(f"{k[5:]} {v:.2f}" for k, v in o.items() if k.startswith("rule "))
    print(f"oracles, judging only           {o['ms_per_run']:8.2f} ms/run "
          f"({o['records_per_run']:.0f} records; costliest: {rules})")  # fmt: skip
    h, fs = out["harness"], out["fuzz_session"]
    assert isinstance(h, dict) and isinstance(fs, dict)
    print(f"fuzz TestOneInput, no coverage  {h['plain']:8.0f}      (same 1 KiB inputs, ~22 ops)")
    print(f"  with actor coverage           {h['coverage']:8.0f}      "
          f"costs {(1 - h['coverage'] / h['plain']) * 100:.0f}%")  # fmt: skip
    print(f"  with coverage and bridge      {h['bridge']:8.0f}      "
          f"costs {(1 - h['bridge'] / h['plain']) * 100:.0f}% (bridge alone "
          f"{(1 - h['bridge'] / h['coverage']) * 100:.0f}%)")  # fmt: skip
    print(f"ccwfuzz fuzz session exec/s     {fs['bridge']:8.0f}      "
          f"(no bridge {fs['no_bridge']:.0f}; libFuzzer's own input mix)")  # fmt: skip
    print(
        f"free mode worker ops/s          {f['ops_per_s']:8.0f}      ({f['runs_per_s']:.0f} runs/s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
