"""What every ``ccwfuzz`` command shares: exit codes, the one-line error, argument
types, and the checks made before a run so nothing is lost to a bad path."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from ccwfuzz.campaign.settings import count_in as settings_count_in
from ccwfuzz.campaign.settings import parse_duration

T = TypeVar("T")

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


def typed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a parser that raises ValueError with its reason (the
    campaign's settings parsers, shared with the ``CCWFUZZ_`` variables)."""

    def wrapped(text: str) -> T:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return wrapped


#: Seconds, or a number with a unit: ``90``, ``90s``, ``10m``, ``8h``.
duration = typed(parse_duration)


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
    return typed(settings_count_in(lo, hi))


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
