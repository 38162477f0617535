"""``ccwfuzz replay`` and ``ccwfuzz minimize``: a saved finding, run again or made small.

``replay`` exits 1 when the finding it was saved for fires again (a plain program: any
finding), 0 otherwise, saying so; ``minimize`` exits 0 with the reproducer saved, 3
when the finding does not fire at all (nothing to minimize). Both exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from ccwfuzz.cli.common import (
    EXIT_FINDING,
    EXIT_OK,
    count_in,
    err,
    positive,
    print_crashes,
    writable,
    write_atomic,
)

EXIT_NOT_REPRODUCED = 3


def _open(args: argparse.Namespace) -> Any:
    """The saved finding named on the command line, target resolved (only built-in
    targets from a file; ``--target`` may name any, it is the user's own)."""
    from ccwfuzz.driver import resolve
    from ccwfuzz.engines.reproduce import open_finding

    finding = args.finding if args.finding is not None else args.token
    if finding is None:
        raise ValueError(f"{args.command} takes a FINDING (program file, replay token or "
                         "libFuzzer input)")  # fmt: skip
    saved = open_finding(finding, target=args.target)
    if args.target:
        resolve(args.target)
        saved = _retarget(saved, args.target)
    else:
        resolve(saved.program.target, allow_import=False)
        for p in saved.priors:
            resolve(p.target, allow_import=False)
    if getattr(args, "contract", None):
        saved = dataclasses.replace(
            saved, program=dataclasses.replace(saved.program, contract=args.contract)
        )
    return saved


def _open_for(args: argparse.Namespace, out: str) -> Any:
    """The saved finding, once ``out`` is known to be writable; else the exit code."""
    from ccwfuzz.program import ProgramError

    if why := writable(out, "file"):
        return err(why)
    try:
        return _open(args)
    except (ProgramError, ValueError) as e:
        return err(str(e))


def _retarget(saved: Any, target: str) -> Any:
    """The finding run on ``target``; its saved history is kept only when that is the
    target it was saved from (another driver writes another history: a different one
    is not a divergence)."""
    if saved.program.target == target:
        return saved
    key = saved.key
    if key is not None and key[2] != target:
        key = (*key[:2], target)
    return dataclasses.replace(
        saved, program=dataclasses.replace(saved.program, target=target), key=key,
        priors=tuple(dataclasses.replace(p, target=target) for p in saved.priors),
        history=None,
    )  # fmt: skip


def _pools() -> Any:
    from ccwfuzz.exec import Pools

    return Pools()


def replay(args: argparse.Namespace) -> int:
    from ccwfuzz.engines.reproduce import judge_once
    from ccwfuzz.exec import DriverStartError
    from ccwfuzz.program import Mode, ProgramError, RequestError, RunRequest
    from ccwfuzz.program.encoding import printable
    from ccwfuzz.program.replay import encode, fingerprint, first_divergence
    from ccwfuzz.report import divergence_block, finding_block
    from ccwfuzz.sync.history import to_jsonl

    if args.history and (why := writable(args.history, "file")):
        return err(why)
    try:
        saved = _open(args)
    except (ProgramError, ValueError) as e:
        return err(str(e))
    program = saved.program
    mode = Mode(args.mode)
    label = printable(args.finding, 200) if args.finding and not args.token else saved.source
    try:
        with _pools() as pools:
            pool = pools(program.target, program.subchannels, len(program.workers))
            names = pool.lock_names()
            if mode == Mode.CONTROLLED:
                judged = judge_once(pool, program, priors=saved.priors, max_steps=args.max_steps)
                result = judged.result if judged else None
                findings = judged.findings if judged else []
            else:
                from ccwfuzz.oracles import LockGraph, check, view_of

                result = pool.run(RunRequest(program, mode, max_steps=args.max_steps))
                findings = check(view_of(result, program, names, LockGraph()))
            if result is None:  # judge_once found the run inconclusive; show the raw run
                result = pool.run(RunRequest(program, mode, max_steps=args.max_steps))
    except (RequestError, DriverStartError) as e:
        return err(str(e))
    if args.history:
        with open(args.history, "w", encoding="utf-8") as out:
            out.write(to_jsonl(result.records))
    nw = len(program.workers)
    print(f"{label}: {mode.value} run, {result.outcome.name.lower()}, {result.steps} steps, "
          f"{len(result.records)} events, {len(findings)} finding(s)")  # fmt: skip
    if result.inconclusive:
        print(f"  inconclusive: {result.fault or 'the run hit its wall-clock limit'}")
    # Kept with --target naming the saved target: a user's own driver is always named
    # that way, and its saved findings carry the history it wrote.
    if saved.history is not None and mode == Mode.CONTROLLED:
        at = first_divergence(saved.history, fingerprint(result.raw))
        if at is not None:
            print(divergence_block(at, saved.history.events, result.records, nw, names))
    want = saved.key
    same = [f for f in findings if want is None or f.key == want]
    for f in same:
        print(finding_block(f, result.records, nw, names))
    print_crashes(result.crashes)
    if want is not None and not same:
        others = sorted({f.rule for f in findings})
        print(f"did not reproduce: {want[0]} ({want[1]}) did not fire"
              + (f"; other rules fired: {', '.join(others)}" if others else ""))  # fmt: skip
    if same and saved.source != "replay token":
        print(f"  replay: ccwfuzz replay {encode(program, saved.history)}")
    return EXIT_FINDING if same else EXIT_OK


def minimize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ccwfuzz.engines.reproduce import make_deterministic, make_reproducer
    from ccwfuzz.exec import DriverStartError
    from ccwfuzz.minimize import Progress
    from ccwfuzz.program import RequestError, save
    from ccwfuzz.program.replay import Fingerprint, encode

    saved = _open_for(args, args.output)
    if isinstance(saved, int):
        return saved
    bar = tqdm(total=None, unit=" runs", desc="minimize", disable=None, file=sys.stderr)

    def progress(p: Progress) -> None:
        bar.n = p.calls
        bar.set_postfix_str(f"{p.ops} ops, {p.stage}, {p.seconds:.1f} s")

    try:
        with _pools() as pools:
            if saved.key is not None and not args.rule:
                det = make_deterministic(pools, saved, tries=args.tries,
                                         max_steps=args.max_steps)  # fmt: skip
                if det.program is None:
                    bar.close()
                    rate = det.free_rate.label if det.free_rate else "-"
                    print(f"ccwfuzz: {saved.key[0]} ({saved.key[1]}) could not be made "
                          f"deterministic: not under its saved schedule nor under "
                          f"{det.tried - 1} searched ones; in free runs: {rate}",
                          file=sys.stderr)  # fmt: skip
                    return EXIT_NOT_REPRODUCED
                if det.how != "as saved":
                    bar.write(f"made deterministic: {det.how} ({det.tried} schedule(s) tried)")
                saved = dataclasses.replace(saved, program=det.program)
            rep = make_reproducer(pools, saved, rule=args.rule, max_steps=args.max_steps,
                                  max_calls=args.max_calls, seconds=args.time,
                                  replays=args.replays, on_progress=progress)  # fmt: skip
    except (RequestError, DriverStartError) as e:
        return err(str(e))
    finally:
        bar.close()
    if rep is None:
        what = args.rule or (saved.key[0] if saved.key else "a finding")
        print(f"ccwfuzz: {what} does not fire on replay: nothing to minimize "
              "(ccwfuzz replay says what does)", file=sys.stderr)  # fmt: skip
        return EXIT_NOT_REPRODUCED
    save(rep.program, args.output)
    h = rep.program.meta.get("history")
    token = encode(rep.program, Fingerprint.from_dict(h) if h else None)
    print(f"minimized {rep.key[0]} ({rep.key[1]}): {rep.from_ops} -> "
          f"{rep.program.op_count()} ops in {rep.calls} runs, {rep.seconds:.1f} s; "
          f"{rep.reliability.label}")  # fmt: skip
    print(f"  saved: {args.output} (replay: ccwfuzz replay {args.output})")
    print(f"  token: {token}")
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    from ccwfuzz.export import pytest_source

    saved = _open_for(args, args.pytest)
    if isinstance(saved, int):
        return saved
    if saved.key is None:
        return err("export needs a finding (a file with its rule and key, as ccwfuzz minimize"
                   " writes)")  # fmt: skip
    write_atomic(args.pytest, pytest_source(saved.program, saved.key[0], saved.key[1]))
    print(f"wrote {args.pytest}: fails while {saved.key[0]} ({saved.key[1]}) fires on "
          f"{saved.program.target}")  # fmt: skip
    return EXIT_OK


def timeline(args: argparse.Namespace) -> int:
    from ccwfuzz.engines.reproduce import judge_once
    from ccwfuzz.exec import DriverStartError, Pool
    from ccwfuzz.program import RequestError
    from ccwfuzz.program.encoding import printable
    from ccwfuzz.timeline import timeline_html

    saved = _open_for(args, args.output)
    if isinstance(saved, int):
        return saved
    p = saved.program
    try:
        with Pool(p.target, p.subchannels, len(p.workers)) as pool:
            names = pool.lock_names()
            judged = judge_once(pool, p, priors=saved.priors, max_steps=args.max_steps)
    except (RequestError, DriverStartError) as e:
        return err(str(e))
    if judged is None:
        return err("the run was inconclusive (a lost actor or the step budget): no timeline")
    findings = [f for f in judged.findings if saved.key is None or f.key == saved.key]
    rule = saved.key[0] if saved.key else (findings[0].rule if findings else "no finding")
    source = printable(args.finding or "token", 200)
    rel = str(p.meta.get("reliability", "reliability not measured"))
    html = timeline_html(judged.result.records, findings, nworkers=len(p.workers),
                         target=p.target, title=f"{rule} on {p.target}", source=source,
                         steps=judged.result.steps, locks=names, reliability=rel)  # fmt: skip
    write_atomic(args.output, html)
    print(f"wrote {args.output}: {len(judged.result.records)} events in "
          f"{len(p.workers) + 2} lanes, {len(findings)} finding(s) marked")  # fmt: skip
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """Register ``replay`` (also ``run``) and ``minimize``."""
    p = sub.add_parser("replay", aliases=["run"],
                       help="replay a saved finding (program file, replay token or libFuzzer "
                            "input); exit 1 if it fires again")  # fmt: skip
    p.add_argument(
        "finding",
        nargs="?",
        metavar="FINDING",
        help="program JSON file, replay token, or libFuzzer input (--target)",
    )
    p.add_argument("--token", help=argparse.SUPPRESS)  # older spelling of a token FINDING
    p.add_argument("--mode", choices=["controlled", "free"], default="controlled")
    p.add_argument("--max-steps", type=count_in(1000, 10**7), default=200_000, metavar="N",
                   help="step budget of a controlled run (default 200000)")  # fmt: skip
    p.add_argument("--history", metavar="FILE", help="write the run's history as JSON lines")
    p.add_argument("--target", help="driver to run instead of the file's (may be module:Class)")
    p.add_argument("--contract", choices=["upstream", "strict"],
                   help="judge under this IRB contract, not the file's (spec D.4)")  # fmt: skip
    p.set_defaults(func=replay, command="replay")
    p = sub.add_parser("minimize", help="shrink a finding to the smallest program and schedule"
                                        " that still fires it")  # fmt: skip
    p.add_argument("finding", nargs="?", metavar="FINDING")
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to save it")
    p.add_argument("--target", help="driver to run instead of the file's (may be module:Class)")
    p.add_argument("--rule", help="minimize for this rule (default: the finding's own, or the"
                                  " first that fires)")  # fmt: skip
    p.add_argument("--max-calls", type=count_in(1, 10**6), default=5000, metavar="N",
                   help="most candidate runs (default 5000)")  # fmt: skip
    p.add_argument(
        "--time",
        type=positive,
        default=None,
        metavar="SECONDS",
        help="stop early after this long (the result then depends on the machine)",
    )
    p.add_argument(
        "--replays",
        type=count_in(1, 1000),
        default=10,
        metavar="K",
        help="replays that measure the reproducer's reliability (default 10)",
    )
    p.add_argument("--tries", type=count_in(0, 10**5), default=200, metavar="N",
                   help="schedules searched when the saved one does not fire it (a free-mode"
                        " finding), default 200")  # fmt: skip
    p.add_argument("--max-steps", type=count_in(1000, 10**7), default=200_000, metavar="N")
    p.set_defaults(func=minimize, command="minimize")
    p = sub.add_parser("export", help="write a reproducer as a standalone pytest test")
    p.add_argument("finding", nargs="?", metavar="FINDING")
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--pytest", required=True, metavar="FILE", help="the test file to write")
    p.add_argument("--target", help="target the test runs (default: the reproducer's)")
    p.set_defaults(func=export, command="export")
    p = sub.add_parser("timeline", help="write a reproducer's run as a swimlane HTML timeline")
    p.add_argument("finding", nargs="?", metavar="FINDING")
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the page to write")
    p.add_argument("--target", help="driver to run instead of the file's (may be module:Class)")
    p.add_argument("--max-steps", type=count_in(1000, 10**7), default=200_000, metavar="N")
    p.set_defaults(func=timeline, command="timeline")
