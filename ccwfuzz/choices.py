"""The one choice source: every random decision ccwfuzz takes goes through here.

Program generation, schedule drawing and free-mode jitter all call
:meth:`ChoiceSource.draw`, so a run is a function of its choices. Backends plug in under
that one primitive, as Hypothesis backends plug in under a few draws:

* :class:`RandomSource`: a seeded PRNG (the only place ``random`` is used in ccwfuzz);
* :class:`ReplaySource`: replays a recorded list of draws; past its end every draw is
  the smallest choice (0), so any list decodes to something valid and short;
* :class:`RecordingSource`: wraps another source and keeps what was drawn, so a
  generated program can be regenerated from its choices exactly;
* :class:`ByteSource`: reads a byte string (a libFuzzer input) as the choices, so the
  fuzzer's mutations are mutations of decisions.

A Hypothesis adapter implements the same ``draw``. This module imports nothing else
from ccwfuzz: it sits below every layer, so the scheduler's free mode can use it too.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from typing import Protocol


class ChoiceSource(Protocol):
    """Every random decision goes through ``draw``: an integer in ``[0, n)``."""

    def draw(self, n: int) -> int: ...


class RandomSource:
    """A seeded PRNG choice source.

    Example:
        >>> a, b = RandomSource(7), RandomSource(7)
        >>> [a.draw(100) for _ in range(3)] == [b.draw(100) for _ in range(3)]
        True
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def draw(self, n: int) -> int:
        return self._rng.randrange(n) if n > 1 else 0


class ReplaySource:
    """Replays recorded draws; a recorded value is taken modulo ``n``, and past the end
    every draw is 0 (the smallest choice).

    Example:
        >>> src = ReplaySource([3, 9])
        >>> src.draw(10), src.draw(4), src.draw(10)
        (3, 1, 0)
    """

    def __init__(self, choices: Iterable[int]) -> None:
        self._choices = list(choices)
        self._pos = 0

    def draw(self, n: int) -> int:
        if n <= 1:
            return 0
        if self._pos >= len(self._choices):
            return 0
        c = self._choices[self._pos]
        self._pos += 1
        return c % n


class RecordingSource:
    """Draws from ``inner`` and records every draw (``choices``), for replay.

    Example:
        >>> rec = RecordingSource(RandomSource(1))
        >>> first = [rec.draw(50) for _ in range(4)]
        >>> replay = ReplaySource(rec.choices)
        >>> [replay.draw(50) for _ in range(4)] == first
        True
    """

    def __init__(self, inner: ChoiceSource) -> None:
        self._inner = inner
        self.choices: list[int] = []

    def draw(self, n: int) -> int:
        c = self._inner.draw(n)
        if n > 1:
            self.choices.append(c)
        return c

    def seek(self, pos: int) -> None:
        """Passed on to a byte source; the recorded choices do not change."""
        seek = getattr(self._inner, "seek", None)
        if seek is not None:
            seek(pos)


class ByteSource:
    """Reads choices from a byte string: each ``draw(n)`` takes the fewest whole bytes
    that can hold ``n - 1`` (big-endian) and reduces them modulo ``n``; past the end
    every draw is 0, the smallest choice. So every input decodes to a valid program,
    a short input to a short program (the generator's zero choices are its smallest),
    and changing one byte changes one decision (plus what depends on it).

    Example:
        >>> src = ByteSource(bytes([7, 1, 44]))
        >>> src.draw(10), src.draw(1000), src.draw(5), src.consumed
        (7, 300, 0, 3)
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def consumed(self) -> int:
        """Bytes read so far (at most the input's length)."""
        return min(self._pos, len(self._data))

    def seek(self, pos: int) -> None:
        """Go on reading at byte ``pos`` (a decoder's fixed-size prefix ends there)."""
        self._pos = max(self._pos, pos)

    def draw(self, n: int) -> int:
        if n <= 1:
            return 0
        k = ((n - 1).bit_length() + 7) >> 3
        pos = self._pos
        self._pos = pos + k
        if pos >= len(self._data):
            return 0
        chunk = self._data[pos : pos + k]
        if len(chunk) < k:  # the input ends inside this draw: the missing bytes are 0
            chunk = chunk + bytes(k - len(chunk))
        return int.from_bytes(chunk, "big") % n


def derive(seed: int, *parts: int | str) -> int:
    """A 32-bit seed derived from ``seed`` and ``parts`` (stable across runs and
    machines, unlike ``hash``): per-run and per-actor seeds come from one run seed."""
    text = ":".join([str(seed), *map(str, parts)]).encode()
    return zlib.crc32(text) ^ (zlib.adler32(text) << 1 & 0xFFFFFFFF)


def permutation(src: ChoiceSource, items: Sequence[int]) -> list[int]:
    """A uniformly drawn permutation of ``items`` (Fisher-Yates through ``draw``)."""
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = src.draw(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


def increasing(src: ChoiceSource, lo: int, hi: int, k: int) -> list[int]:
    """``k`` strictly increasing integers in ``[lo, hi)`` (fewer if the range is short),
    each drawn in its share of what is left: no rejection loop, so a replayed list that
    runs out (all zeros) still gives ``lo, lo + 1, ...``."""
    out: list[int] = []
    nxt = lo
    for i in range(max(0, min(k, hi - lo))):
        share = max(1, (hi - nxt) // (k - i) - 1)
        nxt += src.draw(share)
        out.append(nxt)
        nxt += 1
    return out
