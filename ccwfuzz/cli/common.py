"""What every ``ccwfuzz`` command shares: exit codes, the one-line error, argument
types, and the checks made before a run so nothing is lost to a bad path."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def err(msg: str) -> int:
    print(f"ccwfuzz: {msg}", file=sys.stderr)
    return EXIT_USAGE


def writable(path: str, what: str) -> str | None:
    """Why ``path`` cannot be written (checked before a run, so no finding is lost to
    a bad ``--out``), or None. Creates nothing."""
    p = os.path.abspath(path)
    probe = p
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if probe == p and what == "directory" and not os.path.isdir(p):
        return f"{what} {path!r} exists and is not a directory"
    if probe == p and what == "file" and os.path.isdir(p):
        return f"{what} {path!r} is a directory"
    if probe == p and what == "file" and not os.access(p, os.W_OK):
        return f"cannot write {what} {path!r}"
    check = probe if probe != p or what == "directory" else os.path.dirname(p)
    if not os.access(check, os.W_OK | os.X_OK) or not os.path.isdir(check):
        return f"cannot write {what} {path!r} ({check} is not a writable directory)"
    return None


def print_crashes(crashes: dict[int, str]) -> None:
    """Each crashed actor's traceback, indented under its finding."""
    for actor, text in sorted(crashes.items()):
        print(f"  actor {actor} traceback:")
        print("".join(f"    {line}\n" for line in text.rstrip().splitlines()), end="")


def duration(text: str) -> float:
    """Seconds, or a number with a unit: ``90``, ``90s``, ``10m``, ``8h``."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    scale = units.get(t[-1:], 0)
    try:
        v = float(t[:-1] if scale else t) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 10m, 8h)") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError("must be a positive duration")
    return v


def _number(text: str, ok: Callable[[float], bool], why: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(why)
    return v


def positive(text: str) -> float:
    return _number(text, lambda v: math.isfinite(v) and v > 0, "must be a finite positive number")


def share(text: str) -> float:
    return _number(text, lambda v: 0.0 <= v <= 1.0, "must be between 0 and 1")


def count_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}")
        return v

    return parse


def subchannel_count(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= n <= 65536:
        raise argparse.ArgumentTypeError("must be between 1 and 65536")
    return n


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, fsync and rename: a crash
    never leaves half a file (:func:`ccwfuzz.campaign.store.write_durably`)."""
    from pathlib import Path

    from ccwfuzz.campaign.store import write_durably

    write_durably(Path(path), text.encode("utf-8"))
