"""The ``ccwfuzz`` command.

Exit codes: 0 success; 1 a finding (``check-driver``: a problem); 2 bad usage or bad
input; 3 ``minimize``: the finding does not fire, nothing to minimize; 130 interrupted
by Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys

from ccwfuzz import __version__
from ccwfuzz.cli import campaign, reproduce
from ccwfuzz.cli.common import (
    EXIT_FINDING,
    EXIT_INTERRUPTED,
    EXIT_OK,
    count_in,
    duration,
    err,
    positive,
    print_crashes,
    share,
    subchannel_count,
    writable,
)


def _demo(args: argparse.Namespace) -> int:
    from ccwfuzz import demo

    demo.run(args.subchannels)
    return EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    from ccwfuzz.device import sweep_stale

    removed = sweep_stale()
    for name in removed:
        print(f"removed stale segment {name}")
    print(f"{len(removed)} stale segment(s) removed")
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from ccwfuzz.bench import css

    return css.main(["--seconds", str(args.seconds)] + (["--json"] if args.json else []))


def _stress(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from ccwfuzz.driver import TARGETS, resolve
    from ccwfuzz.engines import Stats, stress
    from ccwfuzz.exec import DriverStartError, Pool
    from ccwfuzz.program import Mode, digest, save
    from ccwfuzz.report import finding_block

    try:
        resolve(args.target)
    except ValueError as e:
        return err(str(e))
    if why := writable(args.out, "directory"):
        return err(why)
    out = Path(args.out)
    found = 0
    bar = tqdm(total=round(args.time), unit="s", desc=f"stress {args.target}",
               disable=None, file=sys.stderr,
               bar_format="{desc} {n_fmt}/{total_fmt}s |{bar:20}| {postfix}")  # fmt: skip
    last = Stats()

    def progress(p: Stats) -> None:
        nonlocal last
        last = p
        bar.n = min(round(p.elapsed), round(args.time))
        bar.set_postfix_str(f"runs {p.runs}, {p.ops_per_s:,.0f} ops/s, findings {p.findings}")

    extra = "" if args.target in TARGETS else f" --target {args.target}"
    try:
        pool = Pool(args.target, args.subchannels, args.workers)
    except DriverStartError as e:
        bar.close()
        return err(str(e))
    with pool:
        for hit in stress(pool, args.time, seed=args.seed, mode=Mode(args.mode),
                          on_progress=progress, contract=args.contract,
                          draw=args.draw):  # fmt: skip
            found += 1
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{hit.finding.rule}-{digest(hit.program)[:8]}.json"
            save(hit.program, path)
            bar.clear()
            print(finding_block(hit.finding, hit.result.records, args.workers,
                                pool.lock_names()))  # fmt: skip
            print_crashes(hit.result.crashes)
            print(f"  saved: {path} (replay: ccwfuzz replay {path}{extra};"
                  f" shrink: ccwfuzz minimize {path}{extra} -o repro.json)")  # fmt: skip
            print(f"  token: ccwfuzz replay{extra} {hit.token}")
            bar.refresh()
    bar.close()
    note = ""
    if last.inconclusive:
        note = (f" ({last.inconclusive} inconclusive run(s), {last.lost} of them from a lost "
                "actor process; re-run)")  # fmt: skip
    print(f"stress {args.target}: {found} finding(s) in {last.runs} runs{note}")
    if last.runs and (never := last.never_judged()):
        print(f"  not judged in any run (the driver writes none of the records they need): "
              f"{', '.join(never)}")  # fmt: skip
    return EXIT_FINDING if found else EXIT_OK


def _fuzz(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ccwfuzz.driver import resolve
    from ccwfuzz.fuzzing import FuzzConfig, Supervisor, check_flags, slug

    try:
        resolve(args.target)
    except ValueError as e:
        return err(str(e))
    flags = [f for f in args.libfuzzer if f != "--"]
    if why := check_flags(flags):
        return err(why)
    from ccwfuzz.oracles import RULES

    if args.stop_on_finding not in ("", "*") and args.stop_on_finding not in RULES:
        return err(f"--stop-on-finding: unknown rule {args.stop_on_finding!r} (ccwfuzz rules)")
    focus = tuple(m.strip() for m in (args.focus or "").split(",") if m.strip())
    import importlib

    for m in focus:
        try:
            importlib.import_module(m)
        except Exception as e:  # a user's module: whatever it raises is bad input
            return err(f"--focus module {m!r} cannot be imported: {type(e).__name__}: {e}")
    out = args.out or os.path.join("reports", f"fuzz-{slug(args.target)}")
    if why := writable(out, "directory"):
        return err(why)
    if args.corpus is not None and (why := writable(args.corpus, "directory")):
        return err(why.replace("directory", "corpus directory", 1))
    cfg = FuzzConfig(target=args.target, time=args.time, out=Path(out), jobs=args.jobs,
                     corpus=Path(args.corpus) if args.corpus else None,
                     stop_on_finding=args.stop_on_finding, libfuzzer=flags,
                     workers=args.workers, subchannels=args.subchannels, ops=args.ops,
                     draw=args.draw, contract=args.contract, bridge=not args.no_bridge,
                     seed=args.seed, mutator=args.mutator,
                     reschedule=args.reschedule, focus=focus)  # fmt: skip
    return Supervisor(cfg).run()


def _corpus(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ccwfuzz.driver import resolve
    from ccwfuzz.exec import DriverStartError

    try:
        resolve(args.target)
    except ValueError as e:
        return err(str(e))
    dirs = [Path(d) for d in args.dirs]
    for d in dirs:
        if not d.is_dir():
            return err(f"corpus directory {str(d)!r} is not a directory")
    if why := writable(args.out, "directory"):
        return err(why)
    from ccwfuzz.corpus import merge

    try:
        seen, kept, features = merge(Path(args.out), dirs, target=args.target,
                                     workers=args.workers,
                                     subchannels=args.subchannels)  # fmt: skip
    except DriverStartError as e:
        return err(str(e))
    print(f"corpus merge: {seen} inputs, {kept} kept in {args.out}, {features} features")
    return EXIT_OK


def _check_driver(args: argparse.Namespace) -> int:
    from ccwfuzz.driver import resolve
    from ccwfuzz.engines.conformance import check_driver
    from ccwfuzz.exec import DriverStartError, Pool

    try:
        cls = resolve(args.target)
    except ValueError as e:
        msg = str(e)
        if "is not a driver" not in msg:
            return err(msg)
        msg = msg.replace(" (ccwfuzz check-driver explains)", "")
        print(f"check-driver {args.target}:\n  PROBLEM  {msg}")  # what it lacks, in words
        return EXIT_FINDING
    try:
        pool = Pool(args.target, subchannels=1, workers=2)
    except DriverStartError as e:
        print(f"check-driver {args.target}:\n  PROBLEM  {e}")
        return EXIT_FINDING
    with pool:
        report = check_driver(pool, cls)
    print("\n".join(report.lines()))
    return EXIT_OK if report.ok else EXIT_FINDING


def _records(args: argparse.Namespace) -> int:
    from ccwfuzz.sync.history import catalogue

    print(catalogue(), end="")
    return EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    from ccwfuzz.oracles import RULES

    for r in RULES.values():
        print(f"{r.id:<30} {r.spec:<28} {r.statement}")
    return EXIT_OK


def _targets(args: argparse.Namespace) -> int:
    import importlib

    from ccwfuzz.driver import TARGETS
    from ccwfuzz.driver.zoo import override_points

    overrides = override_points()
    print(f"{'target':<28} {'caught by':<28} what")
    for name, cls in TARGETS.items():
        doc = importlib.import_module(cls.__module__).__doc__ or ""
        first = doc.strip().splitlines()[0] if doc.strip() else ""
        what = first.split(" -- ", 1)[1] if " -- " in first else first
        print(f"{name:<28} {getattr(cls, 'expected_rule', '') or '-':<28} {what}")
        if name.startswith("zoo:"):
            print(f"{'':<28} {'':<28} overrides: {', '.join(overrides[name[4:]])}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ccwfuzz",
        description="Stress and fuzz testing for vfio-ccw-like channel-I/O pass-through designs.",
        epilog="exit codes: 0 ok, 1 finding, 2 bad usage or input, 3 nothing to minimize, "
        "130 interrupted",
    )
    ap.add_argument("--version", action="version", version=f"ccwfuzz {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("demo", help="walk through the simulated channel subsystem")
    p.add_argument("--subchannels", type=subchannel_count, default=4, metavar="N")
    p.set_defaults(func=_demo)
    reproduce.add_parsers(sub)
    campaign.add_parser(sub)
    p = sub.add_parser("stress", help="free-running stress of a target with random programs")
    p.add_argument("--target", default="reference", help="driver: a name or module:Class")
    p.add_argument("--time", type=positive, default=60.0, metavar="SECONDS")
    p.add_argument("--workers", type=count_in(1, 14), default=3)  # schema.MAX_WORKERS
    p.add_argument("--subchannels", type=count_in(1, 64), default=2)
    p.add_argument("--mode", choices=["free", "controlled"], default="free")
    p.add_argument("--seed", type=count_in(0, 2**32 - 1), default=0)
    p.add_argument("--out", default="reports/findings", help="where findings are saved")
    p.add_argument("--contract", choices=["upstream", "strict"], default="upstream",
                   help="IRB contract: upstream (IRBs may be overwritten or clobbered, H2-H3) "
                        "or strict (every delivered IRB must be read)")  # fmt: skip
    p.add_argument("--draw", choices=["valid", "anything", "mixed"], default="valid",
                   help="program generator mode: mostly accepted programs, any field value, "
                        "or one of the two per program (3:1)")  # fmt: skip
    p.set_defaults(func=_stress)
    p = sub.add_parser("fuzz", help="coverage-guided fuzzing (libFuzzer via atheris)",
                       description="Coverage-guided fuzzing of a target. Flags after -- go to "
                       "libFuzzer (e.g. -- -runs=1000 -dict=ccw.dict).")  # fmt: skip
    p.add_argument("--target", default="reference", help="driver: a name or module:Class")
    p.add_argument("--time", type=duration, default=600.0, metavar="DURATION",
                   help="how long to fuzz: seconds or 90s, 10m, 8h (default 10m)")  # fmt: skip
    p.add_argument("--jobs", type=count_in(1, 256), default=1, help="shards, one CPU each")
    p.add_argument("--corpus", metavar="DIR",
                   help="the corpus directory the shards share (default OUT/corpus)")  # fmt: skip
    p.add_argument("--out", metavar="DIR",
                   help="findings, logs, shard figures (default reports/fuzz-TARGET)")  # fmt: skip
    p.add_argument("--stop-on-finding", nargs="?", const="*", default="", metavar="RULE",
                   help="end at the first finding (of RULE, if given)")  # fmt: skip
    p.add_argument("--no-bridge", action="store_true",
                   help="do not feed the actors' coverage to libFuzzer (comparison)")  # fmt: skip
    p.add_argument("--focus", metavar="MODULES",
                   help="coverage of these modules only (comma-separated, e.g. your driver's),"
                        " without the channel's and the domain signal")  # fmt: skip
    p.add_argument("--mutator", choices=["bytes", "choices"], default="bytes",
                   help="libFuzzer's byte mutations (default), or one draw at a time")  # fmt: skip
    p.add_argument("--reschedule", type=share, default=0.0, metavar="SHARE",
                   help="share of mutations that give an input a fresh schedule or fresh"
                        " hardware events (0 to 1)")  # fmt: skip
    p.add_argument("--workers", type=count_in(1, 14), default=3)
    p.add_argument("--subchannels", type=count_in(1, 64), default=2)
    p.add_argument("--ops", type=count_in(1, 64), default=8, help="most ops per worker")
    p.add_argument("--seed", type=count_in(0, 2**32 - 1), default=0)
    p.add_argument("--contract", choices=["upstream", "strict"], default="upstream")
    p.add_argument("--draw", choices=["valid", "anything", "mixed"], default="valid")
    p.add_argument("libfuzzer", nargs=argparse.REMAINDER, help="-- then libFuzzer flags")
    p.set_defaults(func=_fuzz)
    p = sub.add_parser(
        "corpus", help="corpus tools (merge: the smallest set keeping every feature)"
    )
    csub = p.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    q = csub.add_parser("merge", help="merge DIRs into OUT by features (resumable after a kill)")
    q.add_argument("out", metavar="OUT")
    q.add_argument("dirs", nargs="+", metavar="DIR")
    q.add_argument("--target", default="reference")
    q.add_argument("--workers", type=count_in(1, 14), default=3)
    q.add_argument("--subchannels", type=count_in(1, 64), default=2)
    q.set_defaults(func=_corpus)
    p = sub.add_parser("check-driver", help="say what a driver model lacks (scripted scenarios)")
    p.add_argument("target", help="driver: a name or module:Class")
    p.set_defaults(func=_check_driver)
    p = sub.add_parser("records", help="the history record catalogue the oracles read")
    p.set_defaults(func=_records)
    p = sub.add_parser("rules", help="list the oracle rules")
    p.set_defaults(func=_rules)
    p = sub.add_parser("targets", help="list the driver targets")
    p.set_defaults(func=_targets)
    p = sub.add_parser("clean", help="remove shared-memory segments left by dead runs")
    p.set_defaults(func=_clean)
    p = sub.add_parser("bench", help="channel-subsystem throughput benchmark")
    p.add_argument("--seconds", type=positive, default=2.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_bench)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("ccwfuzz: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into e.g. head: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDING
