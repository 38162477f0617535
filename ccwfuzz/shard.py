"""One fuzzing shard: libFuzzer (atheris) in this process, the actors in its pool.

Started by ``ccwfuzz fuzz`` (:mod:`ccwfuzz.fuzzing`), one per ``--jobs``, as
``python -m ccwfuzz.shard [options] -- [libFuzzer flags]``; not a user command. The
shard writes its figures to ``<out>/shards/<n>.json`` about once a second and exits:

* 0 when its time is up (or libFuzzer's own ``-runs``/``-max_total_time`` end it);
* 1 after its first finding with ``--stop-on-finding`` (of the rule it names);
* 0 on SIGTERM or SIGINT, at the next input (libFuzzer's own handlers are off, so
  ours run), after closing its pool.

However it ends its actors die with it (``PR_SET_PDEATHSIG``) and its segment is
unlinked: by :meth:`Pool.close` on every path we control, and by a C ``atexit``
handler when libFuzzer calls ``exit`` itself (which skips Python's own ``atexit``).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

EXIT_OK, EXIT_FINDING, EXIT_SETUP = 0, 1, 2
STATUS_EVERY = 1.0  # seconds between status files


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ccwfuzz.shard")
    p.add_argument("--target", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--corpus", required=True)
    p.add_argument("--seeds", action="append", default=[])
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--time", type=float, default=None)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--subchannels", type=int, default=2)
    p.add_argument("--ops", type=int, default=8)
    p.add_argument("--draw", default="valid")
    p.add_argument("--contract", default="upstream")
    p.add_argument("--max-steps", type=int, default=20_000)
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--no-bridge", action="store_true")
    p.add_argument("--focus", default="")
    p.add_argument("--stop-on-finding", default="", metavar="RULE")  # "*": any
    p.add_argument("--mutator", choices=["bytes", "choices"], default="bytes")
    p.add_argument("--reschedule", type=float, default=0.0)
    p.add_argument("libfuzzer", nargs="*")
    return p


def _libfuzzer_mutate(data: bytes, max_size: int, _seed: int) -> bytes:
    import atheris

    return bytes(atheris.Mutate(data, max_size))


def _stop_with_parent() -> None:
    """SIGTERM (a clean stop at the next input) when the supervisor dies, even by
    SIGKILL: a shard lives in its own session, so nothing else would stop it."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _stop_with_parent()
    from ccwfuzz.engines.fuzz import MAX_INPUT, RESCHEDULE_REGIONS, Harness, write_status
    from ccwfuzz.exec import DriverStartError, Pool

    status_path = args.out / "shards" / f"{args.shard}.json"
    status_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        focus = tuple(m for m in args.focus.split(",") if m)
        pool = Pool(args.target, args.subchannels, args.workers, cpu=args.cpu,
                    coverage=not args.no_bridge, focus=focus)  # fmt: skip
    except (DriverStartError, ValueError) as e:
        print(f"ccwfuzz shard: {e}", file=sys.stderr)
        return EXIT_SETUP
    feed = None
    if not args.no_bridge:
        from ccwfuzz.engines.bridge import Bridge

        feed = Bridge()
    harness = Harness(pool, out=args.out, ops=args.ops, draw=args.draw, contract=args.contract,
                      max_steps=args.max_steps, feed=feed)  # fmt: skip
    stop: list[int] = []
    want = args.stop_on_finding
    deadline = None if args.time is None else time.monotonic() + args.time
    last_status = [0.0]

    def finish(code: int) -> None:
        write_status(status_path, harness.stats, done=True, pid=os.getpid())
        pool.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # libFuzzer ends -runs and -max_total_time with exit(): close the pool then too
    # (glibc's on_exit, since Python's atexit handlers do not run on a C exit).
    def at_exit(_status: int, _arg: int | None) -> None:
        write_status(status_path, harness.stats, done=True, pid=os.getpid())
        pool.close()

    at_c_exit = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)(at_exit)
    ctypes.CDLL(None).on_exit(at_c_exit, None)

    def test_one_input(data: bytes) -> None:
        now = time.monotonic()
        if stop or (deadline is not None and now >= deadline):
            finish(EXIT_OK)
        harness(data)
        if want and any(want in ("*", f.rule) for f, _ in harness.found):
            finish(EXIT_FINDING)
        if now - last_status[0] >= STATUS_EVERY:
            last_status[0] = now
            write_status(status_path, harness.stats, done=False, pid=os.getpid())

    import atheris

    lf = [sys.argv[0], args.corpus, *args.seeds, f"-artifact_prefix={args.out}/artifacts/",
          f"-max_len={MAX_INPUT}", "-handle_term=0", "-handle_int=0", *args.libfuzzer]  # fmt: skip
    extra: dict[str, Any] = {}
    inner: Callable[[bytes, int, int], bytes] = _libfuzzer_mutate
    if args.mutator == "choices":
        from ccwfuzz.engines.mutate import mutate

        def one_draw(data: bytes, max_size: int, seed: int) -> bytes:
            return mutate(data, max_size, seed, spans=harness.spans, fallback=atheris.Mutate)

        inner = extra["custom_mutator"] = one_draw
    if args.reschedule > 0:
        from ccwfuzz.engines.mutate import reschedule

        def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
            return reschedule(data, max_size, seed, regions=RESCHEDULE_REGIONS,
                              share=args.reschedule, inner=inner)  # fmt: skip

        extra["custom_mutator"] = custom_mutator
    atheris.Setup(lf, test_one_input, **extra)
    write_status(status_path, harness.stats, done=False, pid=os.getpid())
    atheris.Fuzz()  # at_c_exit stays referenced by this frame until the process ends
    finish(EXIT_OK)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
