"""The generator's breadth: 10,000 mixed-mode programs reach every ORB field, CCW class,
flag, count and address class, IDAL form, TIC shape and raw-write form; valid-mode starts
mostly run without a program check on the bare channel; short choice lists decode."""

from __future__ import annotations

import collections
import struct
import time
from collections.abc import Iterator

import pytest
from ccwfuzz.strategies import channel_programs, orb_words, programs
from hypothesis import given, settings

from ccwfuzz.arch import Ccw0, Ccw1, ProgramInterruption, ccw, orb, sid
from ccwfuzz.arch import scsw as S
from ccwfuzz.choices import RandomSource, ReplaySource
from ccwfuzz.device import ChannelSubsystem, CssConfig
from ccwfuzz.program import Program, Ssch, Write, dumps, loads, random_program
from ccwfuzz.program.generate import GUEST_TOP, PROGRAM_SLOT, resolve_mode
from ccwfuzz.program.ops import specs

PROGRAMS = 10_000
SIMULATED = 1_500  # valid-mode programs whose starts run on the bare channel
TIC = ccw.CMD_TIC
_FLAGS = {"CD": ccw.CD, "CC": ccw.CC, "SLI": ccw.SLI, "SKP": ccw.SKP, "PCI": ccw.PCI,
          "IDA": ccw.IDA, "S": ccw.S, "MIDA": ccw.MIDA}  # fmt: skip
_ORB_BITS = {"S": orb.S, "C": orb.C, "M": orb.M, "Y": orb.Y, "I": orb.I, "A": orb.A,
             "U": orb.U, "B": orb.B, "H": orb.H, "T": orb.T, "L": orb.L, "D": orb.D,
             "X": orb.X}  # fmt: skip
_DEVICE_COMMANDS = {ccw.CMD_READ, ccw.CMD_WRITE, ccw.CMD_NOP, ccw.CMD_SENSE, ccw.CMD_CONTROL,
                    ccw.CMD_READ_BACKWARD, ccw.CMD_SENSE_ID}  # fmt: skip


def _is_tic(c: object) -> bool:
    return getattr(c, "cmd", 0) & 0x0F == TIC


def _starts(p: Program) -> Iterator[Ssch]:
    return (o for w in p.workers for o in w if isinstance(o, Ssch))


def _idaws(op: Ssch, c: object) -> list[int] | None:
    """The IDAWs a CCW with IDA uses, or None if its IDAL address is bad."""
    base = op.at + 8 * len(op.ccws)
    width = 8 if op.ctrl & orb.H else 4
    block = (0x800 if op.ctrl & orb.T else 0x1000) if op.ctrl & orb.H else 0x800
    off = getattr(c, "addr", 0) - base
    if off < 0 or off % width or off >= len(op.idal):
        return None
    out: list[int] = []
    left = getattr(c, "count", 0)
    while left > 0 and off + width <= len(op.idal):
        v = int.from_bytes(op.idal[off : off + width], "big")
        out.append(v)
        left -= block - v % block if len(out) == 1 else block
        off += width
    return out if left <= 0 else None


def _bad_idal(op: Ssch, c: object) -> bool:
    block = (0x800 if op.ctrl & orb.T else 0x1000) if op.ctrl & orb.H else 0x800
    idaws = _idaws(op, c)
    if idaws is None:
        return True
    fmt1_idaw = not op.ctrl & orb.H
    return any((fmt1_idaw and v & 0x80000000) or v >= GUEST_TOP or (k and v % block)
               for k, v in enumerate(idaws))  # fmt: skip


def _count_start(seen: collections.Counter[str], op: Ssch) -> None:
    ctrl, cpa = op.ctrl, (op.at + op.cpa) & 0xFFFFFFFF
    seen.update(name for name, mask in _ORB_BITS.items() if ctrl & mask)
    lpm = (ctrl & orb.LPM) >> 8
    seen.update({"key": bool(ctrl & orb.KEY), "F0": not ctrl & orb.F, "F1": bool(ctrl & orb.F),
                 "P0": not ctrl & orb.P, "reserved": bool(ctrl & orb.RESERVED),
                 "LPM 0": lpm == 0, "LPM single path": lpm.bit_count() == 1 and lpm != 0x80,
                 "CPA unaligned": bool(cpa % 8), "CPA bit 0": bool(cpa & 0x80000000),
                 "CPA beyond memory": GUEST_TOP <= cpa < 0x80000000,
                 "chain > 256 CCWs": len(op.ccws) > 256})  # fmt: skip
    seen["format-1 chain" if ctrl & orb.F else "format-0 chain"] += 1
    for i, c in enumerate(op.ccws):
        if _is_tic(c):
            target = (c.addr - op.at) // 8
            inside = 0 <= target < len(op.ccws) and (c.addr - op.at) % 8 == 0
            seen["TIC backwards"] += inside and target <= i
            seen["TIC to TIC"] += inside and _is_tic(op.ccws[target])
            before = op.ccws[target - 1] if inside and target > i + 1 else None
            stops = before is not None and (_is_tic(before) or not before.flags & (ccw.CC | ccw.CD))
            seen["TIC to a second segment"] += stops
            seen["format-1 TIC with flags/count"] += bool(ctrl & orb.F and (c.flags or c.count))
            continue
        kind = ccw.kind(c.cmd)
        seen[f"command {kind.value}"] += 1
        seen["command unknown"] += kind is not ccw.Kind.INVALID and c.cmd not in _DEVICE_COMMANDS
        seen["SENSE ID"] += c.cmd == ccw.CMD_SENSE_ID
        seen.update(f"flag {name}" for name, bit in _FLAGS.items() if c.flags & bit)
        seen["count 0"] += c.count == 0
        seen["count >= 0x1000"] += c.count >= 0x1000
        if c.flags & ccw.IDA:
            seen["IDAL 8-byte IDAWs" if ctrl & orb.H else "IDAL 4-byte IDAWs"] += bool(op.idal)
            seen["bad IDAL"] += _bad_idal(op, c)
        elif c.count:
            end = c.addr + c.count - 1
            seen["data crosses 2K"] += c.addr // 0x800 != end // 0x800
            seen["data crosses 4K"] += c.addr // 0x1000 != end // 0x1000
            seen["data beyond memory"] += end >= GUEST_TOP
    assert 8 * len(op.ccws) + len(op.idal) <= PROGRAM_SLOT


def _count_write(seen: collections.Counter[str], op: Write) -> None:
    region, off = op.offset >> 10, op.offset & 0x3FF
    size = {0: 124, 1: 8}.get(region)
    if size is not None:
        seen[f"write region {region} misaligned"] += off % 4 != 0
        seen[f"write region {region} partial"] += 0 < len(op.data) < size - off


def _chain_bytes(op: Ssch) -> bytes:
    if op.ctrl & orb.F:
        return b"".join(Ccw1(c.cmd, c.flags, c.count, c.addr).to_bytes() for c in op.ccws)
    return b"".join(Ccw0(c.cmd, c.addr & 0xFFFFFF, c.flags, 0, c.count).to_bytes()
                    for c in op.ccws)  # fmt: skip


def _runs_clean(css: ChannelSubsystem, op: Ssch) -> bool:
    """Whether a start is accepted and ends without a channel-program check."""
    css.memory.write(op.at, _chain_bytes(op) + op.idal)
    raw = struct.pack(">III", op.intparm, op.ctrl, (op.at + op.cpa) & 0xFFFFFFFF)
    try:
        css.ssch(sid.make(0), raw + bytes(20) if op.ctrl & orb.X else raw)
    except ProgramInterruption:
        return False
    clean = True
    for _ in range(4):
        css.channel.run_until_idle()
        status = css.scsw(0)
        # A deferred cc (no path, busy) stores no channel status: the word is stale.
        clean &= status.cc != 0 or not status.cstat & S.SCH_PROGRAM_CHECK
        css.tsch(sid.make(0))
        if not css.scsw(0).fc:
            break
        css.csch(sid.make(0))  # suspended: clear it for the next start
    return clean


def test_mixed_programs_reach_every_field() -> None:
    t0 = time.perf_counter()
    seen: collections.Counter[str] = collections.Counter()
    valid_starts = clean = 0
    cfg = CssConfig(memory_size=GUEST_TOP, enabled=True)
    with ChannelSubsystem.create(subchannels=1, config=cfg) as css:
        simulated = 0
        for seed in range(PROGRAMS):
            p = random_program(RandomSource(seed), mode="mixed")
            assert _in_range(p), seed
            for o in (o for w in p.workers for o in w):
                if isinstance(o, Write):
                    _count_write(seen, o)
            simulate = (
                simulated < SIMULATED and resolve_mode(RandomSource(seed), "mixed") == "valid"
            )
            simulated += simulate
            for op in _starts(p):
                _count_start(seen, op)
                if simulate:
                    valid_starts += 1
                    clean += _runs_clean(css, op)
    elapsed = time.perf_counter() - t0
    expected = [*_ORB_BITS, "key", "F0", "F1", "P0", "reserved", "LPM 0", "LPM single path",
                "CPA unaligned", "CPA bit 0", "CPA beyond memory", "chain > 256 CCWs",
                "format-0 chain", "format-1 chain", *(f"command {k.value}" for k in ccw.Kind
                                                      if k is not ccw.Kind.TIC),
                "command unknown", "SENSE ID", *(f"flag {n}" for n in _FLAGS), "count 0",
                "count >= 0x1000", "data crosses 2K", "data crosses 4K", "data beyond memory",
                "IDAL 4-byte IDAWs", "IDAL 8-byte IDAWs", "bad IDAL", "TIC backwards",
                "TIC to TIC", "TIC to a second segment", "format-1 TIC with flags/count",
                *(f"write region {r} {w}" for r in (0, 1) for w in ("misaligned", "partial"))]  # fmt: skip
    rare = {name: seen[name] for name in expected if seen[name] < 10}
    share = clean / valid_starts
    print(f"\n{PROGRAMS} programs in {elapsed:.1f} s; valid-mode starts without program "
          f"check: {share:.1%} of {valid_starts}; " + ", ".join(f"{k}={v}" for k, v in
                                                                sorted(seen.items())))  # fmt: skip
    assert not rare, rare
    assert share >= 0.70


def test_the_all_zero_choice_is_a_small_valid_program() -> None:
    p = random_program(ReplaySource([]))
    assert loads(dumps(p)) == p
    starts = list(_starts(p))
    assert starts and all(len(o.ccws) == 1 and not o.idal and o.cpa == 0 for o in starts)
    assert all(o.ccws[0].cmd == ccw.CMD_NOP and o.ctrl & orb.F for o in starts)


def _in_range(p: Program) -> bool:
    """What the loader's schema says of every op field, checked without JSON."""
    for o in (o for w in p.workers for o in w):
        for name, spec, _ in specs(type(o)):
            v = getattr(o, name)
            if spec.kind == "int" and not spec.lo <= v <= spec.hi:
                return False
            if spec.kind in ("bytes", "ccws") and len(v) > spec.hi:
                return False
            if spec.kind == "ccws" and not all(
                0 <= c.cmd <= 0xFF and 0 <= c.flags <= 0xFF and 0 <= c.count <= 0xFFFF
                and 0 <= c.addr <= 0xFFFFFFFF for c in v
            ):  # fmt: skip
                return False
    return True


def test_short_choice_lists_all_decode() -> None:
    """Any list decodes (past its end every draw is 0); the loader takes the result."""
    rng = RandomSource(99)
    for k in range(1_000):
        choices = [rng.draw(1 << 32) for _ in range(rng.draw(400))]
        p = random_program(ReplaySource(choices), mode=("valid", "anything", "mixed")[k % 3])
        assert _in_range(p)
        if k % 50 == 0:
            assert loads(dumps(p)) == p


@pytest.mark.parametrize("mode", ["valid", "anything", "mixed"])
def test_the_strategies_draw_through_the_generator(mode: str) -> None:
    @settings(max_examples=25, deadline=None)
    @given(orb_words(mode), channel_programs(mode), programs(mode, workers=2, ops=3))
    def check(word: int, start: Ssch, p: Program) -> None:
        assert 0 <= word < 1 << 32
        assert start.kind == "ssch" and 8 * len(start.ccws) + len(start.idal) <= PROGRAM_SLOT
        assert loads(dumps(p)) == p

    check()
