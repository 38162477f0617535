"""Random programs from a choice source (:mod:`ccwfuzz.choices`): every decision is one
``draw``, so a program is a function of its choices, and the schedule is drawn from
the same source and materialized in the program (PCT priorities and change points
included), so dropping an op moves no change point.

Starts come from :mod:`ccwfuzz.program.chains` (ORBs, CCWs, IDALs) and are placed in
its guest memory map (re-exported here): worker ``w``'s ``k``-th start at
:func:`program_at`, valid-mode data in :func:`data_window`. ``mode`` is ``"valid"``
(weighted-valid, the default), ``"anything"`` or ``"mixed"`` (one draw per program)."""

from __future__ import annotations

from ccwfuzz.arch import orb, scsw
from ccwfuzz.choices import ChoiceSource, RandomSource, increasing, permutation
from ccwfuzz.driver.contract import (
    ASYNC_CMD_CSCH,
    ASYNC_CMD_HSCH,
    ASYNC_REGION,
    ASYNC_REGION_SIZE,
    CRW_REGION,
    CRW_REGION_SIZE,
    IO_REGION,
    IO_REGION_SIZE,
    IRB_AREA,
    REGION_SHIFT,
    RET_CODE,
    SCHIB_REGION,
    SCHIB_REGION_SIZE,
    SCSW_AREA,
)
from ccwfuzz.program.chains import (
    DATA_BASE,
    DATA_WINDOW,
    DATA_WINDOWS,
    GUEST_TOP,
    MODES,
    PROGRAM_BASE,
    PROGRAM_SLOT,
    PROGRAM_SLOTS,
    ccw_chain,
    chance,
    cpa_offset,
    data_window,
    orb_ctrl,
    pick,
    program_at,
    resolve_mode,
)
from ccwfuzz.program.ops import (
    MAX_DATA,
    HwEvent,
    Op,
    Policy,
    Program,
    Schedule,
    Ssch,
    Write,
    make_op,
)

__all__ = [
    "DATA_BASE",
    "DATA_WINDOW",
    "DATA_WINDOWS",
    "GUEST_TOP",
    "MODES",
    "PROGRAM_BASE",
    "PROGRAM_SLOT",
    "PROGRAM_SLOTS",
    "SCHEDULE_KINDS",
    "STEPS_PER_OP",
    "WALK",
    "ccw_chain",
    "cpa_offset",
    "data_window",
    "expected_steps",
    "hw_event",
    "hw_events",
    "lag",
    "orb_ctrl",
    "pct",
    "program_at",
    "random_program",
    "resolve_mode",
    "schedule",
    "seeded_pct",
    "ssch_op",
    "worker_op",
    "worker_ops",
    "write_op",
]  # fmt: skip

#: Steps a random program's run takes per op, roughly: PCT change points, lag windows
#: and timed hardware events are drawn within ``STEPS_PER_OP * ops`` steps, so they land
#: inside the run (measured with the default generator: a median of 12.6 steps per op,
#: ~350 for 3 x 8 ops and their opens).
STEPS_PER_OP = 13


def expected_steps(program: Program) -> int:
    """About how many scheduling steps a run of ``program`` takes (its ops and hardware
    events times :data:`STEPS_PER_OP`): where a fresh schedule's change points go."""
    return STEPS_PER_OP * max(1, program.op_count())


#: Worker op mix: the zoo's concurrency bugs need starts racing interrupts and region
#: reads; raw region writes are rare in valid mode (they make a subchannel unjudged).
_OPS_VALID = ((6, "ssch"), (4, "wait_irq"), (3, "read_io"), (1, "hsch"), (1, "csch"),
              (1, "read_schib"), (1, "read_crw"), (1, "close"), (1, "open"), (1, "reset"),
              (1, "read_async"), (1, "remove"), (1, "write"))  # fmt: skip
_OPS_ANYTHING = (*_OPS_VALID[:-1], (6, "write"))
_SIZES = {IO_REGION: IO_REGION_SIZE, ASYNC_REGION: ASYNC_REGION_SIZE,
          SCHIB_REGION: SCHIB_REGION_SIZE, CRW_REGION: CRW_REGION_SIZE}  # fmt: skip
_FIELDS = {IO_REGION: (4, 8, SCSW_AREA, SCSW_AREA + 4, IRB_AREA, RET_CODE),
           ASYNC_REGION: (4,)}  # fmt: skip


def ssch_op(src: ChoiceSource, mode: str, sch: int, at: int) -> Ssch:
    """A start on subchannel ``sch`` with its chain at guest ``at``: ORB word 1, the
    chain in the format the ORB says, its IDAL, the CPA, intparm and retry.

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> op = ssch_op(ReplaySource([]), "valid", 0, program_at(0, 0))
        >>> len(op.ccws), hex(op.ctrl), op.at == PROGRAM_BASE, op.cpa, op.idal
        (1, '0xc2ff00', True, 0, b'')
    """
    mode = resolve_mode(src, mode)
    ctrl = orb_ctrl(src, mode)
    h, t = bool(ctrl & orb.H), bool(ctrl & orb.T)
    ccws, idal = ccw_chain(src, mode, at, sch, bool(ctrl & orb.F), h, t)
    intparm = src.draw(1 << 16) if mode == "valid" else src.draw(1 << 32)
    cpa = cpa_offset(src, mode, at, len(ccws))
    return Ssch(sch, ccws, intparm=intparm, ctrl=ctrl, retry=src.draw(4) != 3, at=at,
                cpa=cpa, idal=idal)  # fmt: skip


def write_op(src: ChoiceSource, mode: str, sch: int) -> Write:
    """A raw region write (spec A.7): the I/O or async region (anything mode: also the
    read-only ones), at its start, a field, misaligned or anywhere, for the rest of the
    region, part of it, past its end or nothing; the bytes are plausible contents (an
    ORB and a function, an async command) or, in anything mode, often random.

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> w = write_op(ReplaySource([]), "valid", 1)
        >>> w.sch, w.offset, len(w.data), w.data[12:16].hex()
        (1, 0, 124, '00004000')
    """
    valid = resolve_mode(src, mode) == "valid"
    region = pick(src, ((3, IO_REGION), (2, ASYNC_REGION), (0 if valid else 1, SCHIB_REGION),
                        (0 if valid else 1, CRW_REGION)))  # fmt: skip
    size = _SIZES[region]
    how = pick(src, ((6, "start"), (2, "field"), (1, "misaligned"), (0 if valid else 3, "any")))
    offset = 0
    if how == "field":
        fields = _FIELDS.get(region, (4,))
        offset = fields[src.draw(len(fields))]
    elif how == "misaligned":
        offset = 4 * src.draw(size // 4) + 1 + src.draw(3)
    elif how == "any":
        offset = src.draw(size + 8)
    rest = max(0, size - offset)
    length = pick(src, ((6, "rest"), (2, "partial"), (1, "past"), (1, "zero")))
    n = rest
    if length == "partial":
        n = 1 + src.draw(max(1, rest - 1))
    elif length == "past":
        n = rest + 1 + src.draw(16)
    elif length == "zero":
        n = 0
    raw = not valid and chance(src, 1, 2)
    data = b"" if raw else _region_image(src, region, valid)[offset : offset + n]
    data += bytes(src.draw(256) if raw else 0 for _ in range(n - len(data)))
    return Write(sch, offset=region << REGION_SHIFT | offset, data=data[:MAX_DATA])


def _region_image(src: ChoiceSource, region: int, valid: bool) -> bytes:
    """Plausible contents of a whole region: the I/O region with an ORB for one of the
    program slots and an SCSW naming a function (spec A.7, B.1), the async region with a
    command; anything mode draws the ORB and the words freely."""
    if region == ASYNC_REGION:
        cmd = pick(src, ((3, ASYNC_CMD_HSCH), (3, ASYNC_CMD_CSCH), (1, 0), (1, -1)))
        cmd = src.draw(1 << 32) if cmd < 0 else cmd
        return cmd.to_bytes(4, "big") + bytes(4)
    if region != IO_REGION:
        return bytes(_SIZES[region])
    at = PROGRAM_BASE + PROGRAM_SLOT * src.draw(PROGRAM_SLOTS)
    cpa = at if valid else at + cpa_offset(src, "anything", at, 1)
    fc = pick(src, ((4, scsw.FC_START), (1, scsw.FC_HALT), (1, scsw.FC_CLEAR), (1, 0),
                    (1, -1)))  # fmt: skip
    fc = src.draw(1 << 32) if fc < 0 else fc
    words = (src.draw(1 << 16), orb_ctrl(src, "valid" if valid else "anything"),
             cpa & 0xFFFFFFFF, fc)  # fmt: skip
    image = b"".join(w.to_bytes(4, "big") for w in words)
    return image.ljust(IO_REGION_SIZE, b"\0")


def worker_op(src: ChoiceSource, nsch: int, mode: str = "valid", worker: int = 0,
              starts: int = 0) -> Op:  # fmt: skip
    """One random op of worker ``worker`` on one of ``nsch`` subchannels, after
    ``starts`` starts of its own (a start goes to its next program slot); ``mode`` is
    already resolved (``"valid"`` or ``"anything"``).

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> worker_op(ReplaySource([1, 7]), 2, "valid").kind
        'wait_irq'
    """
    sch = src.draw(nsch)
    kind = pick(src, _OPS_VALID if mode == "valid" else _OPS_ANYTHING)
    if kind == "ssch":
        return ssch_op(src, mode, sch, program_at(worker, starts))
    if kind == "write":
        return write_op(src, mode, sch)
    return make_op(kind, sch=sch)


def worker_ops(src: ChoiceSource, nsch: int, count: int, mode: str = "valid",
               worker: int = 0, sized: bool = False) -> tuple[Op, ...]:  # fmt: skip
    """``count`` random ops of worker ``worker`` (``sized``: at most ``count``, each
    after a "one more" choice, so running out of choices ends the list); its starts go
    to its program slots."""
    mode = resolve_mode(src, mode)
    ops: list[Op] = []
    starts = 0
    for _ in range(count):
        if sized and not src.draw(16):
            break
        ops.append(worker_op(src, nsch, mode, worker, starts))
        starts += ops[-1].kind == "ssch"
    return tuple(ops)


def random_program(
    src: ChoiceSource,
    *,
    workers: int = 3,
    ops: int = 8,
    subchannels: int = 2,
    events: int = 2,
    target: str = "reference",
    mode: str = "valid",
    sized: bool = False,
    schedule_: Schedule | None = None,
    channel_: tuple[HwEvent, ...] | None = None,
) -> Program:
    """A random program: every worker opens its subchannels first, then ``ops``
    random operations; the channel fires ``events`` hardware events. ``sized`` (the
    fuzzer's decoder): up to ``ops`` ops and ``events`` events, each behind a "one
    more" choice, so a short choice sequence (a short input) is a short program and
    the empty one is the smallest: every worker opens, nothing else happens.
    ``schedule_``: use this schedule instead of drawing one at the end; ``channel_``:
    these hardware events instead of drawing them after the ops.

    ``mode``: ``"valid"`` (starts the device mostly accepts, with a steady small share
    of every odd field), ``"anything"`` (every field from its whole range) or
    ``"mixed"`` (one draw picks one of the two for the whole program, 3:1).

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> p = random_program(ReplaySource([]), workers=1, ops=2, subchannels=1)
        >>> [o.kind for o in p.workers[0]], [len(o.ccws) for o in p.workers[0][1:]]
        (['open', 'ssch', 'ssch'], [1, 1])
    """
    mode = resolve_mode(src, mode)
    ws = []
    for w in range(workers):
        opening = tuple(make_op("open", sch=s) for s in range(subchannels) if src.draw(3) < 2)
        ws.append(opening + worker_ops(src, subchannels, ops, mode, w, sized))
    hw = (
        list(channel_)
        if channel_ is not None
        else hw_events(src, subchannels, events, sized, STEPS_PER_OP * sum(map(len, ws)))
    )
    return Program(
        target=target,
        subchannels=subchannels,
        workers=tuple(ws),
        channel=tuple(hw),
        schedule=schedule_ or schedule(src, workers + 2,
                                       STEPS_PER_OP * (sum(map(len, ws)) + len(hw))),
    )  # fmt: skip


def hw_events(src: ChoiceSource, subchannels: int, events: int, sized: bool,
              expected_steps: int) -> list[HwEvent]:  # fmt: skip
    """Up to ``events`` hardware events (:func:`hw_event` each; ``sized``: each after a
    "one more" choice), the timed ones spread over the run's ``expected_steps``."""
    hw: list[HwEvent] = []
    at = 0
    spread = max(1, expected_steps // (1 + events // 2))
    for _ in range(events):
        if sized and not src.draw(4):
            break
        at = hw_event(src, subchannels, spread, at, hw)
    return hw


def hw_event(src: ChoiceSource, subchannels: int, spread: int, at: int,
             out: list[HwEvent]) -> int:  # fmt: skip
    """One hardware event appended to ``out``; returns the step the last timed one is
    at. Half fire when the channel gets to them (``after`` channel iterations), half
    at a drawn scheduling step (``at``), up to ``spread`` steps after the one before:
    an interruption or a device that goes away in the middle of another actor's
    request. A ``not_operational`` is followed by its ``operational`` half the time (a
    flap), when timed 1-24 steps later, so the device can be back before the request
    it interrupted issues its instruction.

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> out = []
        >>> hw_event(ReplaySource([6, 1, 1, 9, 1, 3]), 2, 100, 0, out)
        14
        >>> [(e.event, e.sch, e.at) for e in out]
        [('not_operational', 1, 10), ('operational', 1, 14)]
    """
    kind, sch = _HW_KINDS[src.draw(len(_HW_KINDS))], src.draw(subchannels)
    timed = src.draw(2)
    if timed:
        at += 1 + src.draw(spread)
        out.append(HwEvent(kind, sch, at=at))
    else:
        out.append(HwEvent(kind, sch, src.draw(20)))
    if kind == "not_operational" and src.draw(2):  # a flap: gone, then back
        if timed:
            at += 1 + src.draw(24)
            out.append(HwEvent("operational", sch, at=at))
        else:
            out.append(HwEvent("operational", sch, src.draw(20)))
    return at


_HW_KINDS = ("attention", "attention", "busy", "late_de", "paths_offline", "paths_online",
             "not_operational", "operational")  # fmt: skip


#: The schedule families :func:`schedule` draws from, in the order of the first draw.
SCHEDULE_KINDS: tuple[str, ...] = ("pct", "walk", "walk", "lag", "lag")
#: The walk a fuzzer input's schedule (and a Hypothesis program's) holds: this many
#: one-byte choices (``walk_range=256``: two bits say stay, six pick).
WALK = 54


def schedule(src: ChoiceSource, actors: int, expected_steps: int,
             walk_length: int = 512, walk_range: int = 1 << 16,
             kinds: tuple[str, ...] | None = None,
             walk: ChoiceSource | None = None) -> Schedule:  # fmt: skip
    """One of PCT, the sticky random walk, and the lagging walk. PCT (Burckhardt et
    al.): distinct priorities above the depth, and ``depth - 1`` change points within
    ``expected_steps``; it finds bugs of small depth in any program. The walk finds the
    races that need one actor (typically the bottom half) to lag behind the others for
    a while, which PCT reaches only by luck; the lagging walk makes one chosen actor
    lag through a whole window (:mod:`ccwfuzz.sync.policy.lag`). ``kinds``: draw only
    from these (default :data:`SCHEDULE_KINDS`, read at each call); ``walk``: draw the
    walk's choices from this source instead (the other draws still come from ``src``)."""
    kinds = kinds or SCHEDULE_KINDS
    kind = kinds[src.draw(len(kinds))] if len(kinds) > 1 else kinds[0]
    if kind == "pct":
        return pct(src, actors, 1 + src.draw(4), expected_steps)
    walk = walk or src
    choices = tuple(walk.draw(walk_range) for _ in range(walk_length))
    if kind == "walk":
        return Schedule(Policy.WALK, choices=choices)
    return lag(src, actors, expected_steps, choices)


def lag(src: ChoiceSource, actors: int, expected_steps: int,
        choices: tuple[int, ...]) -> Schedule:  # fmt: skip
    """A lagging walk: one or two windows, each with its lagging actor, a start in
    ``[1, expected_steps)`` and a length from 8 steps up to about the whole run (drawn
    by powers of two: short lags and whole-operation lags equally often)."""
    laggers, edges = [], []
    end = 0
    for _ in range(1 + src.draw(2)):
        start = max(end + 1, 1 + src.draw(max(1, expected_steps - 1)))
        length = 8 << src.draw(max(1, expected_steps.bit_length() - 3))
        laggers.append(src.draw(actors))
        edges += [start, start + length]
        end = start + length
    return Schedule(Policy.LAG, priorities=tuple(laggers), changes=tuple(edges), choices=choices)


def pct(src: ChoiceSource, actors: int, depth: int, expected_steps: int) -> Schedule:
    """A materialized PCT schedule of ``depth``: priorities 0..actors-1 in a drawn order
    and ``depth - 1`` change points in ``[1, expected_steps)``."""
    return Schedule(
        Policy.PCT,
        priorities=tuple(permutation(src, range(actors))),
        changes=tuple(increasing(src, 1, max(expected_steps, depth + 1), depth - 1)),
    )


def seeded_pct(seed: int, depth: int, workers: int, expected_steps: int = 400) -> Schedule:
    """A PCT schedule of ``depth`` drawn from ``seed``, for a program of ``workers``
    workers (the channel and the work queue are the two other actors).

    Example:
        >>> s = seeded_pct(1, 3, workers=1)
        >>> len(s.priorities), len(s.changes)
        (3, 2)
    """
    return pct(RandomSource(seed), workers + 2, depth, expected_steps)
