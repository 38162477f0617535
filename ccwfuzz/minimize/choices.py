"""Shrinking on the choice sequence, as Hypothesis does: the input is the bytes a
program was decoded from (a libFuzzer input, :class:`~ccwfuzz.choices.ByteSource`), and
every candidate is a smaller byte string, decoded again and judged.

What must stay true:

* **Pure**, like :func:`ccwfuzz.minimize.minimize`: the decoder, the span finder and
  the predicate are given; nothing runs here.
* **Each program is judged once.** Many inputs decode to the same program (unread
  bytes, values taken modulo a range), so verdicts are kept by program digest.
* **Shortlex on the decoded program.** A candidate is kept only if the predicate holds
  and ``(size(program), len(bytes), bytes)`` is smaller, so shrinking ends and never
  trades a smaller input for a bigger program.
* **The fixed prefix is never deleted from.** The fuzzer's decoder reads its schedule
  and its hardware events from fixed byte ranges (``fixed`` bytes at the start):
  deleting there would slide the program into them, so the prefix is only zeroed and
  lowered, never cut.

The passes, each over the draws of the current best input (``spans``: offset, width
and range of every draw): cut the tail at a draw boundary, delete runs of draws (8, 4,
2, 1) after the prefix, zero runs of draws, and lower each remaining draw's value by
binary search. Its strength is that every candidate is a program the generator can
produce; its weakness is that it knows nothing of the run, so a deletion shifts the
schedule's meaning as much as the program-level shrinker's cuts do (it has no event
order to fall back on).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from ccwfuzz.minimize.shrink import Predicate, Verdict, size
from ccwfuzz.program import Program, digest

#: A draw of an input: (byte offset, width in bytes, range).
Span = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class ChoicesMinimized:
    """The result of :func:`minimize_choices`: the smallest input, the program it
    decodes to, the predicate calls it took and the seconds spent."""

    data: bytes
    program: Program
    calls: int
    seconds: float


class _Shrinker:
    def __init__(self, data: bytes, decode: Callable[[bytes], Program], predicate: Predicate,
                 max_calls: int, seconds: float | None) -> None:  # fmt: skip
        self.decode = decode
        self.predicate = predicate
        self.max_calls = max_calls
        self.start = time.monotonic()
        self.deadline = None if seconds is None else self.start + seconds
        self.calls = 0
        self.verdicts: dict[str, bool] = {}  # by program digest
        self.seen: set[bytes] = set()
        self.best = data
        self.program = decode(data)
        if not self._holds(self.program):
            raise ValueError("the predicate does not hold for the input to shrink")

    def _holds(self, p: Program) -> bool:
        """The predicate's verdict, asked once per distinct program (many inputs
        decode to the same program: unread bytes, values taken modulo a range)."""
        h = digest(p)
        if h not in self.verdicts:
            self.calls += 1
            v = self.predicate(p)
            self.verdicts[h] = v.holds if isinstance(v, Verdict) else bool(v)
        return self.verdicts[h]

    def spent(self) -> bool:
        return self.calls >= self.max_calls or (
            self.deadline is not None and time.monotonic() >= self.deadline
        )

    def key(self, data: bytes, program: Program) -> tuple[object, ...]:
        return (size(program), len(data), data)

    def attempt(self, data: bytes) -> bool:
        if self.spent() or data == self.best:
            return False
        if data in self.seen:
            return False
        self.seen.add(data)
        program = self.decode(data)
        if self.key(data, program) >= self.key(self.best, self.program):
            return False
        if not self._holds(program):
            return False
        self.best, self.program = data, program
        return True


def _with(data: bytes, start: int, end: int, middle: bytes) -> bytes:
    return data[:start] + middle + data[end:]


def minimize_choices(data: bytes, decode: Callable[[bytes], Program], predicate: Predicate, *,
                     spans: Callable[[bytes], list[Span]], fixed: int = 0,
                     max_calls: int = 5000, seconds: float | None = None,
                     ) -> ChoicesMinimized:  # fmt: skip
    """Shrink the input ``data`` while ``predicate`` holds for ``decode(data)``; see the
    module docstring. ``spans(data)`` lists its draws; ``fixed`` is the length of a
    prefix never deleted from. Raises ValueError if the predicate does not hold for
    ``data`` itself.

    Example:
        >>> from ccwfuzz.choices import ByteSource
        >>> from ccwfuzz.program import Open, Yield
        >>> def decode(d):  # one worker: a Yield of n steps per byte, up to a zero byte
        ...     ops = []
        ...     for b in d:
        ...         if not b:
        ...             break
        ...         ops.append(Yield(0, b))
        ...     return Program(workers=(tuple(ops),))
        >>> spans = lambda d: [(i, 1, 256) for i in range(len(d))]
        >>> fires = lambda p: sum(o.n for o in p.workers[0]) >= 10
        >>> m = minimize_choices(bytes([3, 200, 7, 9]), decode, fires, spans=spans)
        >>> list(m.data), m.program.op_count()
        ([10], 1)
    """
    s = _Shrinker(data, decode, predicate, max_calls, seconds)
    while not s.spent():
        before = s.best
        _cut_tail(s, spans)
        _delete_runs(s, spans, fixed)
        _zero_runs(s, spans)
        _lower(s, spans)
        if s.best == before:
            break
    return ChoicesMinimized(s.best, s.program, s.calls, time.monotonic() - s.start)


def _cut_tail(s: _Shrinker, spans: Callable[[bytes], list[Span]]) -> None:
    """Cut the input after the last draw it was read for, then at earlier draw
    boundaries by halving (a sized decoder ends its lists where the input ends)."""
    found = spans(s.best)
    if found:
        s.attempt(s.best[: found[-1][0] + found[-1][1]])
    lo, hi = 0, len(found)
    while lo < hi and not s.spent():  # the fewest draws that still hold
        mid = (lo + hi) // 2
        found = spans(s.best)
        end = found[mid][0] if mid < len(found) else len(s.best)
        if s.attempt(s.best[:end]):
            hi = min(mid, len(spans(s.best)))
        else:
            lo = mid + 1


def _delete_runs(s: _Shrinker, spans: Callable[[bytes], list[Span]], fixed: int) -> None:
    for k in (8, 4, 2, 1):
        i = len(spans(s.best)) - 1
        while i >= 0 and not s.spent():
            found = spans(s.best)
            run = [sp for sp in found[max(0, i - k + 1) : i + 1] if sp[0] >= fixed]
            if run:
                start, end = run[0][0], run[-1][0] + run[-1][1]
                s.attempt(_with(s.best, start, end, b""))
            i -= k


def _zero_runs(s: _Shrinker, spans: Callable[[bytes], list[Span]]) -> None:
    for k in (8, 4, 2, 1):
        i = 0
        while not s.spent():
            found = spans(s.best)
            if i >= len(found):
                break
            run = found[i : i + k]
            start, end = run[0][0], min(len(s.best), run[-1][0] + run[-1][1])
            if start < end and any(s.best[start:end]):
                s.attempt(_with(s.best, start, end, bytes(end - start)))
            i += k


def _lower(s: _Shrinker, spans: Callable[[bytes], list[Span]]) -> None:
    """Binary search each draw's value toward 0 (0 itself was tried by zeroing)."""
    i = 0
    while not s.spent():
        found = spans(s.best)
        if i >= len(found):
            return
        off, width, _ = found[i]
        end = min(len(s.best), off + width)
        value = int.from_bytes(s.best[off:end], "big")
        lo, hi = 1, value  # hi holds (it is the current value)
        while lo < hi and not s.spent():
            mid = (lo + hi) // 2
            if s.attempt(_with(s.best, off, end, mid.to_bytes(end - off, "big"))):
                hi = mid
            else:
                lo = mid + 1
        i += 1


__all__ = ["ChoicesMinimized", "Span", "minimize_choices"]
