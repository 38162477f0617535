"""A structure-aware mutator: mutate one *choice* of an input, not one byte.

An input is read as a sequence of draws (:class:`~ccwfuzz.choices.ByteSource`): each
takes one to four bytes and is reduced modulo its range. libFuzzer's byte mutations do
not know where a draw starts or what range it has, so most of them hit a byte that
decides nothing, change two decisions at once, or shift every later draw (insertions,
erasures). :func:`mutate` instead decodes the input once with a tracing source, picks
one draw and gives it a new value in its own range (or a small step from its old one),
written back into exactly that draw's bytes: one decision changes, the rest of the
input means what it meant, unless the changed decision changes what is drawn next
(another op kind), as it would in the program itself. A share of mutations is left to
libFuzzer's own (crossover, dictionary, comparison operands), and draws past the end of
the input (read as 0) can be set too, which is how inputs grow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ccwfuzz.choices import ByteSource, RandomSource

#: Shares of the three kinds of mutation: libFuzzer's own, a fresh value for one draw,
#: a small step of one draw.
LIBFUZZER_SHARE = 0.25
STEP_SHARE = 0.15
#: How far past its end an input may grow in one mutation, in bytes.
GROW = 8


class TracingSource(ByteSource):
    """A :class:`ByteSource` that notes where each draw sits: ``(offset, bytes, range)``."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.spans: list[tuple[int, int, int]] = []

    def draw(self, n: int) -> int:
        if n > 1:
            self.spans.append((self._pos, ((n - 1).bit_length() + 7) >> 3, n))
        return super().draw(n)


def mutate(data: bytes, max_size: int, seed: int, *,
           spans: Callable[[bytes], list[tuple[int, int, int]]],
           fallback: Callable[[bytes, int], bytes]) -> bytes:  # fmt: skip
    """One mutation of ``data`` (at most ``max_size`` bytes). ``spans`` lists the draws
    of an input (:class:`TracingSource`), ``fallback`` is libFuzzer's own mutator.

    Example:
        >>> def spans(d):
        ...     src = TracingSource(d)
        ...     _ = [src.draw(16) for _ in range(4)]
        ...     return src.spans
        >>> out = mutate(bytes(4), 8, 1, spans=spans, fallback=lambda d, m: d)
        >>> len(out), sum(b != 0 for b in out) <= 1
        (4, True)
    """
    rng = RandomSource(seed)  # libFuzzer's seed for this mutation: replays with it
    r = rng.draw(1000) / 1000
    found = spans(data) if r >= LIBFUZZER_SHARE else []
    # Draws past the end read 0; a few of them may be set (the input grows by a
    # decision or two), not the hundreds a schedule would draw there.
    end = min(max_size, len(data) + GROW)
    found = [s for s in found if s[0] + s[1] <= end]
    if not found:
        return fallback(data, max_size)
    pos, k, n = found[rng.draw(len(found))]
    old = int.from_bytes(data[pos : pos + k].ljust(k, b"\0"), "big") % n
    if r >= 1.0 - STEP_SHARE:
        value = (old + (-2, -1, 1, 2)[rng.draw(4)]) % n
    elif k > 1 and rng.draw(2):
        # A wide draw (an intparm, an address) is many decisions at once: change one
        # byte of it and keep what the others already got right.
        shift = 8 * rng.draw(k)
        value = (old & ~(0xFF << shift) | rng.draw(256) << shift) % n
    else:
        value = rng.draw(n)
    buf = bytearray(data)
    if len(buf) < pos + k:
        buf.extend(bytes(pos + k - len(buf)))
    buf[pos : pos + k] = value.to_bytes(k, "big")
    return bytes(buf[:max_size])


def reschedule(data: bytes, max_size: int, seed: int, *, regions: Sequence[tuple[int, int]],
               share: float, inner: Callable[[bytes, int, int], bytes]) -> bytes:  # fmt: skip
    """With probability ``share``, give one of ``regions`` (byte ranges of the input:
    the schedule's share, the hardware events') fresh random bytes and keep the rest;
    otherwise leave the mutation to ``inner``.

    A narrow window needs the right program *and* the right interleaving. Once the
    corpus holds the program (its coverage put it there), a fresh schedule for it is a
    draw from the same distribution a seeded search makes, which finds such windows in
    tens to hundreds of tries; byte mutations that happen to fall in the schedule move
    it one decision at a time, around whatever interleaving first gave new coverage.
    This is syzkaller's split between mutating a program and generating a fresh part.

    Example:
        >>> out = reschedule(bytes(8), 8, 3, regions=[(0, 4)], share=1.0,
        ...                  inner=lambda d, m, s: d)
        >>> out[4:] == bytes(4), len(out)
        (True, 8)
    """
    rng = RandomSource(seed)
    if not regions or rng.draw(1000) >= share * 1000:
        return inner(data, max_size, seed)
    start, end = regions[rng.draw(len(regions))]
    end = min(end, max_size)
    buf = bytearray(data.ljust(end, b"\0"))
    buf[start:end] = bytes(rng.draw(256) for _ in range(end - start))
    return bytes(buf[:max_size])
