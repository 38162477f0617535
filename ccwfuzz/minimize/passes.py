"""The shrink passes, each a function of a :class:`~.shrink.Shrinker` that tries
candidates smaller than its best program and says whether one was kept.

A pass may only propose; the shrinker keeps a candidate when the predicate holds and
it is smaller (:func:`~.shrink.size`). Order matters for speed, not for correctness:
big cuts first (whole workers, halves of op lists), then single ops, then fields, then
the schedule, then options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from ccwfuzz.minimize.shrink import Shrinker, replace_worker
from ccwfuzz.program import Policy, Program, Schedule
from ccwfuzz.program.ops import MAX_AFTER, Ccw, HwEvent, Op, specs


def _of_actor(w: int) -> Callable[[int, int], bool]:
    return lambda actor, _op: actor == w


def _of_ops(w: int, ops: range) -> Callable[[int, int], bool]:
    return lambda actor, op: actor == w and op in ops


def _of_event(channel: int, i: int) -> Callable[[int, int], bool]:
    return lambda actor, op: actor == channel and op == i


def _without_actor(w: int) -> Callable[[int], int]:
    return lambda actor: actor - (actor > w)


def to_order(s: Shrinker) -> bool:
    """Restate the schedule as the run's event order, if the same finding still fires
    under it (see the module docstring of :mod:`.shrink`)."""
    if s.best.schedule.policy == Policy.ORDER or not s.trace:
        return False
    order = Schedule(Policy.ORDER, choices=tuple(a for a, _ in s.trace))
    return s.attempt(dataclasses.replace(s.best, schedule=order), force=True)


def drop_workers(s: Shrinker) -> bool:
    """Empty a whole worker (its slot stays, so actor numbers keep their meaning)."""
    changed = False
    for w in range(len(s.best.workers)):
        if s.best.workers[w]:
            cands = s.cut(replace_worker(s.best, w, ()), _of_actor(w))
            changed |= s.attempt_any(cands)
    return changed


def drop_ops(s: Shrinker) -> bool:
    """Remove runs of a worker's ops, halving the run length (ddmin over each list),
    from the end, where a removal shifts the least."""
    changed = False
    for w in range(len(s.best.workers)):
        chunk = max(1, len(s.best.workers[w]) // 2)
        while chunk >= 1 and not s.spent():
            ops = s.best.workers[w]
            start = len(ops) - chunk
            kept_any = False
            while start >= 0:
                ops = s.best.workers[w]
                gone = range(start, min(start + chunk, len(ops)))
                cand = replace_worker(s.best, w, ops[: gone.start] + ops[gone.stop :])
                cands = s.cut(cand, _of_ops(w, gone))
                if s.attempt_any(cands):
                    kept_any = changed = True
                start -= chunk
            if not kept_any:
                chunk //= 2
    return changed


def without_events(channel: tuple[HwEvent, ...], gone: set[int]) -> tuple[HwEvent, ...]:
    """``channel`` without the events numbered in ``gone``; an untimed event's delay
    counts from the event before it, so a removed event's delay moves to the next one
    and the rest still fire when they did.

    Example:
        >>> a, b = HwEvent("attention", after=3), HwEvent("busy", after=2)
        >>> [e.after for e in without_events((a, b), {0})]
        [5]
    """
    out: list[HwEvent] = []
    carry = 0
    for i, e in enumerate(channel):
        if i in gone:
            carry += e.after
            continue
        if carry and not e.at:
            e = dataclasses.replace(e, after=min(MAX_AFTER, e.after + carry))
        carry = 0
        out.append(e)
    return tuple(out)


def drop_events(s: Shrinker) -> bool:
    """Remove hardware events, last first."""
    changed = False
    for i in reversed(range(len(s.best.channel))):
        if i < len(s.best.channel):
            cand = dataclasses.replace(s.best, channel=without_events(s.best.channel, {i}))
            changed |= s.attempt_any(s.cut(cand, _of_event(len(s.best.workers), i)))
    return changed


#: :func:`drop_pairs` runs on programs of at most this many ops and events, and tries
#: this many times the fresh schedules of a single cut (small programs run fast, and a
#: pair is the last resort of a shrink).
PAIRS_UP_TO, PAIR_SCHEDULES = 8, 4


def drop_pairs(s: Shrinker) -> bool:
    """Remove two ops or events at once, on small programs: a local minimum where no
    single op can go (the SSCH a write stands in for, and the write) often gives way
    to a pair, under a fresh schedule."""
    p = s.best
    if p.op_count() > PAIRS_UP_TO:
        return False
    items = [(w, i) for w, ops in enumerate(p.workers) for i in range(len(ops))]
    items += [(-1, i) for i in range(len(p.channel))]
    for x in range(len(items)):
        for y in range(x + 1, len(items)):
            if s.spent():
                return False
            gone = {items[x], items[y]}
            workers = tuple(tuple(o for i, o in enumerate(ops) if (w, i) not in gone)
                            for w, ops in enumerate(p.workers))  # fmt: skip
            channel = without_events(p.channel, {i for w, i in gone if w == -1})
            cand = dataclasses.replace(p, workers=workers, channel=channel)
            nw = len(p.workers)

            def drop(a: int, op: int, gone: set[tuple[int, int]] = gone, nw: int = nw) -> bool:
                return (a, op) in gone or (a == nw and (-1, op) in gone)

            if s.attempt_any(s.cut(cand, drop), PAIR_SCHEDULES * s.schedule_tries):
                return True  # the next round starts again from the smaller program
    return False


def _smaller_ints(v: int, default: int, lo: int) -> Iterator[int]:
    yield default
    if lo != default:
        yield lo
    if v > 1:
        yield v >> 1
        yield v - 1


def _ccw_candidates(ccws: tuple[Ccw, ...]) -> Iterator[tuple[Ccw, ...]]:
    for i in reversed(range(len(ccws))):
        yield ccws[:i] + ccws[i + 1 :]
    for i, c in enumerate(ccws):
        for name in ("flags", "count", "addr"):
            if getattr(c, name):
                yield (*ccws[:i], dataclasses.replace(c, **{name: 0}), *ccws[i + 1 :])


def _field_candidates(value: Any, kind: str, lo: int, default: Any) -> Iterator[Any]:
    if value == default:
        return
    if kind == "ccws":
        yield from _ccw_candidates(value)
    elif kind == "bytes":
        yield default
        if len(value) > 1:
            yield value[: len(value) // 2]
            yield value[:-1]
        if any(value):
            yield bytes(len(value))
    elif kind == "int":
        yield from _smaller_ints(value, default, lo)
    else:
        yield default


def _simplify(s: Shrinker, get: Callable[[Program], Any],
              put: Callable[[Program, Any], Program]) -> bool:  # fmt: skip
    """Simplify each declared field of one op or event, toward its default."""
    changed = False
    item = get(s.best)
    for name, spec, default in specs(type(item)):
        progress = True
        while progress and not s.spent():
            progress = False
            item = get(s.best)
            for v in _field_candidates(getattr(item, name), spec.kind, spec.lo, default):
                if s.attempt(put(s.best, dataclasses.replace(item, **{name: v}))):
                    progress = changed = True
                    break
    return changed


def simplify_ops(s: Shrinker) -> bool:
    """Fields of every op toward their defaults: fewer CCWs, zero flags, counts and
    addresses, shorter and zeroed data, the default ORB."""
    changed = False
    for w in range(len(s.best.workers)):
        for i in range(len(s.best.workers[w])):

            def get(p: Program, w: int = w, i: int = i) -> Op:
                return p.workers[w][i]

            def put(p: Program, op: Op, w: int = w, i: int = i) -> Program:
                ops = p.workers[w]
                return replace_worker(p, w, (*ops[:i], op, *ops[i + 1 :]))

            changed |= _simplify(s, get, put)
    return changed


def simplify_events(s: Shrinker) -> bool:
    """Fields of every hardware event toward their defaults (no delay, no step)."""
    changed = False
    for i in range(len(s.best.channel)):

        def get(p: Program, i: int = i) -> HwEvent:
            return p.channel[i]

        def put(p: Program, e: HwEvent, i: int = i) -> Program:
            return dataclasses.replace(p, channel=(*p.channel[:i], e, *p.channel[i + 1 :]))

        changed |= _simplify(s, get, put)
    return changed


def _with_schedule(p: Program, **kw: Any) -> Program:
    return dataclasses.replace(p, schedule=dataclasses.replace(p.schedule, **kw))


def shorten_schedule(s: Shrinker) -> bool:
    """Fewer decisions: cut the choice list from its end (past it the running actor
    keeps running), then remove runs of it; fewer and earlier PCT change points."""
    changed = False
    chunk = max(1, len(s.best.schedule.choices) // 2)
    while chunk >= 1 and not s.spent():
        c = s.best.schedule.choices
        if not s.attempt(_with_schedule(s.best, choices=c[: max(0, len(c) - chunk)])):
            chunk //= 2
        else:
            changed = True
    # runs in the middle, down to a thirty-second of the list (single entries of a long
    # list cost more calls than they save)
    n = len(s.best.schedule.choices)
    chunk, floor = max(1, n // 4), max(1, n // 32)
    while chunk >= floor and not s.spent():
        start = len(s.best.schedule.choices) - chunk
        while start >= 0 and not s.spent():
            c = s.best.schedule.choices
            changed |= s.attempt(_with_schedule(s.best, choices=c[:start] + c[start + chunk :]))
            start -= chunk
        chunk //= 2
    for i in reversed(range(len(s.best.schedule.changes))):
        ch = s.best.schedule.changes
        if i < len(ch) and not s.attempt(_with_schedule(s.best, changes=ch[:i] + ch[i + 1 :])):
            ch = s.best.schedule.changes
            changed |= s.attempt(
                _with_schedule(s.best, changes=(*ch[:i], ch[i] // 2, *ch[i + 1 :]))
            )
    return changed


def recorded(s: Shrinker) -> bool:
    """Take the decisions the best program's run recorded, when that list is smaller
    than the schedule it has (an event order is one entry per record)."""
    rec = s.verdict.recorded
    if rec is None or rec == s.best.schedule:
        return False
    return s.attempt(dataclasses.replace(s.best, schedule=rec))


def settle(s: Shrinker) -> bool:
    """Options: no empty workers, no subchannel no op uses."""
    changed = False
    for w in reversed(range(len(s.best.workers))):
        if w < len(s.best.workers) and not s.best.workers[w] and len(s.best.workers) > 1:
            p = s.best
            cand = dataclasses.replace(p, workers=p.workers[:w] + p.workers[w + 1 :])
            cands = s.cut(cand, _of_actor(w), _without_actor(w))
            changed |= s.attempt_any(cands)
    p = s.best
    used = max([o.sch for wk in p.workers for o in wk] + [e.sch for e in p.channel] + [0])
    if used + 1 < p.subchannels:
        changed |= s.attempt(dataclasses.replace(p, subchannels=used + 1))
    return changed


#: The passes in the order one round runs them (:func:`to_order` runs once, before).
PASSES: tuple[Callable[[Shrinker], bool], ...] = (
    drop_workers, drop_ops, drop_events, drop_pairs, simplify_ops, simplify_events,
    shorten_schedule, recorded, settle,
)  # fmt: skip
