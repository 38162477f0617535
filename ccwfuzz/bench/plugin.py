"""Benchmark: what loading the ccwfuzz pytest plugin adds to pytest's start-up.

Runs ``pytest -q`` on one trivial test file in fresh interpreters, alternating with the
plugin disabled (``-p no:ccwfuzz``) and enabled, and reports the medians and their
difference (same run, same machine), plus the plugin module's own import time from
``python -X importtime``. Hypothesis' own plugin is disabled in both arms: its terminal
summary imports hypothesis (0.4 to 0.8 s here), which blurs a difference of a few
milliseconds into noise.

    python -m ccwfuzz.bench.plugin [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _start_up(folder: Path, *extra: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "-p", "no:hypothesispytest", *extra,
                    "test_empty.py"], cwd=folder, env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - t


def import_time() -> float:
    """Seconds the plugin module's own import takes (pytest already imported)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-c",
                        "import pytest; import ccwfuzz.pytest_plugin"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    for line in r.stderr.splitlines():
        if line.rstrip().endswith("ccwfuzz.pytest_plugin"):
            return int(line.split("|")[1]) / 1e6
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ccwfuzz.bench.plugin", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "test_empty.py").write_text("def test_nothing():\n    pass\n")
        off, on = [], []
        for _ in range(args.rounds):
            off.append(_start_up(folder, "-p", "no:ccwfuzz"))
            on.append(_start_up(folder))
    a, b = statistics.median(off), statistics.median(on)
    print(f"pytest start-up, plugin disabled  {a * 1e3:7.1f} ms (median of {args.rounds})")
    print(f"pytest start-up, plugin loaded    {b * 1e3:7.1f} ms")
    print(f"the plugin adds                   {(b - a) * 1e3:7.1f} ms")
    print(f"its module's import (cumulative)  {import_time() * 1e3:7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
