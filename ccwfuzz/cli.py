"""The ``ccwfuzz`` command.

Exit codes: 0 success; 1 a finding (later commands); 2 bad usage or bad input;
130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

from ccwfuzz import __version__

EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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


def _subchannels(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= n <= 65536:
        raise argparse.ArgumentTypeError("must be between 1 and 65536")
    return n


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ccwfuzz",
        description="Stress and fuzz testing for vfio-ccw-like channel-I/O pass-through designs.",
        epilog="exit codes: 0 ok, 1 finding, 2 bad usage or input, 130 interrupted",
    )
    ap.add_argument("--version", action="version", version=f"ccwfuzz {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("demo", help="walk through the simulated channel subsystem")
    p.add_argument("--subchannels", type=_subchannels, default=4, metavar="N")
    p.set_defaults(func=_demo)
    p = sub.add_parser("clean", help="remove shared-memory segments left by dead runs")
    p.set_defaults(func=_clean)
    p = sub.add_parser("bench", help="channel-subsystem throughput benchmark")
    p.add_argument("--seconds", type=float, default=2.0)
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
