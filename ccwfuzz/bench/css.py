"""Benchmark: I/O cycles per second through the simulated channel subsystem.

One cycle is SSCH -> channel runs the 4-CCW program to the end -> TSCH, the loop a
driver's hot path makes. Measured on one subchannel and round robin over 1024, in the
same run, so the ratio says whether the cost grows with the number of subchannels.

    python -m ccwfuzz.bench.css [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from ccwfuzz.arch import Ccw1, Orb, ccw, sid
from ccwfuzz.device import ChannelSubsystem, CssConfig, segment_size

PROGRAM = ccw.chain(
    [
        Ccw1(ccw.CMD_CONTROL, ccw.CC, 4, 0x8000),
        Ccw1(ccw.CMD_WRITE, ccw.CC, 64, 0x9000),
        Ccw1(ccw.CMD_READ, ccw.CC, 64, 0xA000),
        Ccw1(ccw.CMD_NOP, ccw.SLI, 1),
    ]
)


def cycles(subchannels: int, seconds: float) -> dict[str, float]:
    config = CssConfig(enabled=True)
    with ChannelSubsystem.create(subchannels, config=config) as css:
        css.memory.write(0x1000, PROGRAM)
        css.memory.write(0x8000, bytes(4))
        orb = Orb(cpa=0x1000).to_bytes()
        sids = [sid.make(i) for i in range(subchannels)]
        ssch, tsch, run = css.ssch, css.tsch, css.channel.run_until_idle
        n = steps = 0
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        while True:
            for _ in range(256):
                s = sids[n % subchannels]
                if ssch(s, orb) != 0:
                    raise RuntimeError("ssch refused")
                steps += run()
                if tsch(s)[0] != 0:
                    raise RuntimeError("no status")
                n += 1
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        return {
            "subchannels": subchannels,
            "segment_bytes": segment_size(subchannels, config),
            "cycles_per_s": n / elapsed,
            "instructions_per_s": 2 * n / elapsed,
            "channel_steps_per_s": steps / elapsed,
            "steps_per_cycle": steps / n,
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m ccwfuzz.bench.css",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--seconds", type=float, default=2.0, help="per measurement (default 2)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    rows = [cycles(4, args.seconds), cycles(1024, args.seconds)]
    ratio = rows[1]["cycles_per_s"] / rows[0]["cycles_per_s"]
    if args.json:
        print(json.dumps({"rows": rows, "ratio_1024_vs_4": ratio}, indent=2))
        return 0
    print(f"{'subchannels':>11} {'segment':>10} {'cycles/s':>10} {'instr/s':>10} {'steps/s':>10}")
    for r in rows:
        print(f"{r['subchannels']:>11} {r['segment_bytes'] / 1024:>8.0f}Ki "
              f"{r['cycles_per_s']:>10.0f} {r['instructions_per_s']:>10.0f} "
              f"{r['channel_steps_per_s']:>10.0f}")  # fmt: skip
    print(f"1024/4 throughput ratio: {ratio:.2f} (1.00 = cost independent of subchannel count)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
