"""The interface every schedule policy implements, and the words they share."""

from __future__ import annotations

import array
import enum
from collections.abc import Sequence

from ccwfuzz.sync import words as W


class Policy(enum.Enum):
    """How the controlled scheduler picks the next actor."""

    PCT = "pct"  # priorities per actor, change points (step numbers)
    CHOICES = "choices"  # each choice picks among the runnable actors, by index
    WALK = "walk"  # sticky random walk: a choice with low bits != 0 keeps the current actor
    ORDER = "order"  # run the actor of the next history record (free runs made controlled)
    LAG = "lag"  # the walk, with windows in which one chosen actor lags behind the others

    @property
    def code(self) -> int:
        return _CODES[self]


_CODES = {Policy.PCT: 1, Policy.CHOICES: 2, Policy.WALK: 3, Policy.ORDER: 4, Policy.LAG: 5}


class SchedulePolicy:
    """A policy: :meth:`setup` writes its schedule into the words and names the first
    actor; :meth:`pick` chooses among two or more runnable actors; :meth:`step` sees
    every step (PCT's change points). ``decides_every_point`` is False for a policy
    whose choice can only change when the runnable set or a priority changes."""

    policy: Policy
    decides_every_point = True

    def setup(self, w: memoryview, b: int, n: int, priorities: Sequence[int],
              changes: Sequence[int], choices: Sequence[int]) -> int:  # fmt: skip
        raise NotImplementedError

    def pick(self, w: memoryview, b: int, me: int, runnable: list[int], seq: int) -> int:
        raise NotImplementedError

    def step(self, w: memoryview, b: int, me: int, steps: int) -> None:
        return None


class ChoiceListPolicy(SchedulePolicy):
    """A policy driven by a choice list whose first choice picks the first actor."""

    def setup(self, w: memoryview, b: int, n: int, priorities: Sequence[int],
              changes: Sequence[int], choices: Sequence[int]) -> int:  # fmt: skip
        if not load_choices(w, b, choices):
            return 0
        w[b + W.S_CURSOR] = 1
        return self.first(choices[0], n)

    def first(self, choice: int, n: int) -> int:
        raise NotImplementedError


def load_choices(w: memoryview, b: int, choices: Sequence[int]) -> int:
    """Write a choice list into the words; returns how many were kept."""
    picks = array.array("I", [c & 0xFFFFFFFF for c in choices[: W.MAX_CHOICES]])
    if picks:
        w[b + W.CHOICES : b + W.CHOICES + len(picks)] = memoryview(picks).cast("B").cast("I")
    w[b + W.S_NCHOICES] = len(picks)
    return len(picks)


def next_choice(w: memoryview, b: int) -> int | None:
    """The next unused choice, or None when the list is spent."""
    cursor = w[b + W.S_CURSOR]
    if cursor >= w[b + W.S_NCHOICES]:
        return None
    w[b + W.S_CURSOR] = cursor + 1
    return int(w[b + W.CHOICES + cursor])


def fallback(me: int, runnable: list[int]) -> int:
    """When a schedule has nothing to say: keep running, else the lowest runnable."""
    return me if me in runnable else runnable[0]
