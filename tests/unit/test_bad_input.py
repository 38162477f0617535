"""Any input is answered architecturally, never by a Python error.

A seeded generator drives 100,000 random instructions, channel steps and hardware
events against one subsystem; after every one, every subchannel's SCSW must pass the
field-validity rules of spec A.2 and the FC/AC/SC combinations the architecture allows.
A Hypothesis test does the same on shrinkable inputs from ``ccwfuzz.strategies``.
"""

from __future__ import annotations

import random
import struct

from ccwfuzz.strategies import ccw_chains, orbs, schibs, sids
from hypothesis import given, settings
from hypothesis import strategies as st

from ccwfuzz.arch import Ccw0, Ccw1, ProgramInterruption, ccw, sid
from ccwfuzz.arch import scsw as S
from ccwfuzz.device import ChannelSubsystem, CssConfig

NSCH = 4
PROGRAMS = [0x1000 + 0x400 * k for k in range(8)]
CMDS = [1, 2, 3, 4, 7, 8, 0x0C, 0xE4, 0x00, 0x0B, 0x18, 0x13]


def _ccw(rng: random.Random, fmt1: bool, here: int) -> bytes:
    cmd = rng.choice(CMDS) if rng.random() < 0.9 else rng.randrange(256)
    flags = rng.choice([0, ccw.CC, ccw.CC, ccw.CD, ccw.SLI | ccw.CC, ccw.PCI | ccw.CC, ccw.S,
                        ccw.IDA, ccw.SKP]) if rng.random() < 0.85 else rng.randrange(256)  # fmt: skip
    count = rng.choice([0, 1, 4, 7, 8, 32, 64]) if rng.random() < 0.9 else rng.randrange(65536)
    if cmd & 0x0F == 8:
        addr = rng.choice([here + 8, rng.choice(PROGRAMS), rng.randrange(1 << 32)])
        if rng.random() < 0.8:
            flags, count = 0, 0
    else:
        addr = (
            rng.choice([0x8000, 0x9000, 0xA001, 0x3000])
            if rng.random() < 0.9
            else rng.randrange(1 << 32)
        )
    if fmt1:
        return Ccw1(cmd, flags, count, addr).to_bytes()
    return Ccw0(cmd, addr & 0xFFFFFF, flags, 0, count).to_bytes()


def _orb(rng: random.Random) -> bytes:
    if rng.random() < 0.03:
        return rng.randbytes(rng.choice([0, 4, 11, 12, 20, 32, 40]))
    ctrl = rng.choice([0x00C0FF00, 0x00C0FF00 | 0x08000000, 0x00E0FF00, 0x0080FF00])
    if rng.random() < 0.3:
        ctrl ^= 1 << rng.randrange(32)
    if rng.random() < 0.1:
        ctrl &= ~0xFF00 | (rng.choice([0, 0x40, 0x80]) << 8)
    cpa = rng.choice(PROGRAMS) if rng.random() < 0.95 else rng.randrange(1 << 32)
    raw = struct.pack(">III", rng.randrange(1 << 32), ctrl, cpa)
    return raw + bytes(20) if ctrl & 1 else raw


def _schib(rng: random.Random, css: ChannelSubsystem, index: int) -> bytes:
    if rng.random() < 0.05:
        return rng.randbytes(rng.choice([0, 40, 52, 60]))
    raw = bytearray(css.schib_bytes(index % NSCH))
    if rng.random() < 0.3:
        raw[5] ^= 0x80  # PMCW E (word 1, 0x00800000): enable and disable often
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        bit = rng.randrange(52 * 8)
        raw[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(raw)


def _sid(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.9:
        return sid.make(rng.randrange(NSCH))
    if r < 0.95:
        return sid.make(rng.randrange(1 << 16), rng.randrange(4), rng.randrange(256))
    return rng.randrange(1 << 32)


def check_all(css: ChannelSubsystem) -> None:
    """Invariants after every operation: SCSW validity (spec A.2), interruption queue
    only for pending status (C.9), status pending only when enabled and operational
    (C.1), and the channel's work queue holds exactly the subchannels with work."""
    queued, busy = set(css.pending_interruptions()), set(css.channel.busy())
    for i in range(NSCH):
        w0 = css.scsw(i).word0
        bad = S.validity_violations(w0)
        assert not bad, f"subchannel {i} SCSW {w0:#010x}: {bad}"
        pending = bool(w0 & S.SC_PENDING)
        assert (i in queued) <= pending, f"queued without pending on {i}"
        if pending:
            p = css.pmcw(i)
            assert p.e and p.v, f"status pending on disabled/not-operational {i}"
        assert (i in busy) == css._core.has_work(i), f"work queue disagrees on {i}"


def _one(rng: random.Random, css: ChannelSubsystem) -> None:
    op = rng.random()
    try:
        if op < 0.10:
            fmt1 = rng.random() < 0.8
            at = rng.choice(PROGRAMS)
            n = rng.choice([1, 2, 3, 4, 6])
            css.memory.write(at, b"".join(_ccw(rng, fmt1, at + 8 * k) for k in range(n)))
        elif op < 0.25:
            css.ssch(_sid(rng), _orb(rng))
        elif op < 0.30:
            css.hsch(_sid(rng))
        elif op < 0.33:
            css.csch(_sid(rng))
        elif op < 0.36:
            css.rsch(_sid(rng))
        elif op < 0.39:
            css.xsch(_sid(rng))
        elif op < 0.50:
            target = _sid(rng)
            cc, irb = css.tsch(target, rng.choice([None, None, 0x3000, 0x3002]))
            assert cc in (0, 1, 3) and len(irb) in (0, 96)
            if rng.random() < 0.3 and target & 0xFFFF < NSCH:
                # a driver's close path: drain status, then disable (or re-enable)
                raw = bytearray(css.schib_bytes(target & 0xFFFF))
                raw[5] ^= 0x80
                css.msch(target, bytes(raw))
        elif op < 0.53:
            cc, _raw = css.stsch(_sid(rng))
            assert cc in (0, 3)
        elif op < 0.58:
            css.msch(_sid(rng), _schib(rng, css, rng.randrange(NSCH)))
        elif op < 0.61:
            css.tpi()
        elif op < 0.90:
            css.channel.step(rng.choice([None, None, rng.randrange(NSCH)]))
        else:
            ev, i = rng.random(), rng.randrange(NSCH)
            e = css.events
            if ev < 0.2:
                e.attention(i)
            elif ev < 0.3:
                e.late_device_end(i)
            elif ev < 0.45:
                e.device_busy(i)
            elif ev < 0.55:
                e.paths_offline(i, rng.choice([0x80, 0xFF]))
            elif ev < 0.75:
                e.paths_online(i)
            elif ev < 0.85:
                e.late_device_end(i)
            elif ev < 0.9:
                e.not_operational(i)
            elif ev < 0.95:
                e.operational(i)
            else:
                e.disabled(i)
    except ProgramInterruption:
        pass


def test_100k_random_inputs_answered_architecturally() -> None:
    """100,000 random ORBs/SCHIBs/SIDs/CCW chains, steps and events."""
    rng = random.Random(20261121)
    with ChannelSubsystem.create(NSCH, config=CssConfig(enabled=True, memory_size=1 << 17)) as css:
        for n in range(100_000):
            _one(rng, css)
            check_all(css)
            if n % 5000 == 4999:  # re-enable, so disabled subchannels keep being exercised
                for i in range(NSCH):
                    css.events.operational(i)
                    css.msch(
                        sid.make(i),
                        css.schib_bytes(i)[:4] + bytes([0, 0x80]) + css.schib_bytes(i)[6:],
                    )


def test_random_inputs_reach_interesting_states() -> None:
    """Guard against a vacuous fuzz test: the generator reaches each kind of status."""
    rng = random.Random(7)
    seen: set[str] = set()
    with ChannelSubsystem.create(NSCH, config=CssConfig(enabled=True, memory_size=1 << 17)) as css:
        for _ in range(30_000):
            _one(rng, css)
            for i in range(NSCH):
                s = css.scsw(i)
                seen |= {k for k, m in [("primary", S.SC_PRIMARY), ("intermediate", S.SC_INTERMEDIATE),
                                         ("alert", S.SC_ALERT)] if s.sc & m}  # fmt: skip
                seen |= {"suspended"} if s.ac & (S.AC_SUSPENDED >> 5) else set()
                seen |= {"program-check"} if s.cstat & S.SCH_PROGRAM_CHECK and s.sc else set()
                seen |= {"deferred-cc"} if s.cc else set()
                seen |= {"halt"} if s.fc & (S.FC_HALT >> 12) else set()
    assert seen >= {"primary", "intermediate", "alert", "suspended", "program-check",
                    "deferred-cc", "halt"}, seen  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("prog"), ccw_chains(), st.booleans()),
            st.tuples(st.just("ssch"), sids(NSCH), orbs()),
            st.tuples(st.just("msch"), sids(NSCH), schibs()),
            st.tuples(st.just("tsch"), sids(NSCH)),
            st.tuples(st.just("hsch"), sids(NSCH)),
            st.tuples(st.just("csch"), sids(NSCH)),
            st.tuples(st.just("rsch"), sids(NSCH)),
            st.tuples(st.just("xsch"), sids(NSCH)),
            st.tuples(st.just("step"), st.integers(0, 8)),
        ),
        max_size=30,
    )
)
def test_hypothesis_instruction_sequences(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    with ChannelSubsystem.create(NSCH, config=CssConfig(enabled=True, memory_size=1 << 17)) as css:
        for op in ops:
            try:
                if op[0] == "prog":
                    css.memory.write(0x1000, op[1])
                elif op[0] == "ssch":
                    css.ssch(op[1], op[2])
                elif op[0] == "msch":
                    css.msch(op[1], op[2])
                elif op[0] == "step":
                    for _ in range(op[1]):
                        css.channel.step()
                else:
                    getattr(css, op[0])(op[1])
            except ProgramInterruption:
                pass
            check_all(css)
