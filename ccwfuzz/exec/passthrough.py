"""What a pass-through run checks beside the driver: where the channel's storage
accesses go, and what the guest should have got.

* **DMA bounds** (spec A.6 "Passthrough"): a channel running a translated program may
  fetch CCWs and IDAWs only from that program's cp slot, and move data only through the
  host frames pinned for it. :class:`DmaCheck` is the channel's ``on_access`` hook and
  records a ``DMA`` history record for any other access.
* **The differential expectation**: before a worker's start request, the guest's
  program is run on a private bare channel subsystem holding a copy of the
  subchannel, its device and guest memory (:func:`expect`): what the architecture gives
  the guest, with no driver in between. The ``EXPECT``/``EXPECT_MEM`` records carry it;
  when the driver later delivers an IRB, :func:`on_deliver` records the crc of the
  same guest pages and device storage (``OUTCOME``). The oracle
  ``driver.translation-equivalence`` compares them.

Guest memory and device storage start every run filled with fixed patterns, so data
that lands in the wrong place, or comes from it, changes what is compared.
"""

from __future__ import annotations

import functools
import struct
import zlib

from ccwfuzz import coverage
from ccwfuzz.arch import schib as P
from ccwfuzz.arch import scsw as S
from ccwfuzz.arch import sid as sid_mod
from ccwfuzz.arch.exceptions import ProgramInterruption
from ccwfuzz.device import ChannelSubsystem, CssConfig, segment_size
from ccwfuzz.device import layout as L
from ccwfuzz.device.channel import ACCESS_CCW, ACCESS_IDAW
from ccwfuzz.driver.kernel import CP_SLOT, FRAMES_PER_CP, PAGE, SLOTS_PER_SCH, Kernel
from ccwfuzz.program.chains import GUEST_TOP as GUEST_TOP  # the cp arena follows it
from ccwfuzz.sync import Context
from ccwfuzz.sync.history import Ev
from ccwfuzz.sync.words import MAX_ACTORS as W_MAX_ACTORS

DEVICE_BLOCK = 1024
PAGES = GUEST_TOP // PAGE  # 32: a page mask fits one record word
#: Words per (worker, subchannel) expectation: armed tag + 1, pages stored into.
EXPECT_WORDS = 2
WHY_OUTSIDE, WHY_UNPINNED = 1, 2

GUEST_PATTERN = bytes((a * 37 + (a >> 8) * 11 + 1) & 0xFF for a in range(GUEST_TOP))
_STATUS_MASK = S.CC | S.FC | S.AC | S.SC | S.N


@functools.cache
def storage_pattern(sch: int) -> bytes:
    """Device ``sch``'s storage at the start of a run (computed once: every run
    resets to it, and building it costs ~0.1 ms)."""
    return bytes((b * 13 + sch * 71 + 5) & 0xFF for b in range(DEVICE_BLOCK))


def fill_patterns(css: ChannelSubsystem) -> None:
    """Guest memory and every device's storage get their fixed patterns."""
    css.memory.write(0, GUEST_PATTERN)
    for i in range(css.subchannels):
        css.device_storage(i)[:] = storage_pattern(i)


def page_mask(addr: int, n: int) -> int:
    """Bit p set for each guest page p that ``addr..addr+n`` touches."""
    if n <= 0 or addr >= GUEST_TOP or addr + n <= 0:
        return 0
    first, last = max(addr, 0) // PAGE, min(addr + n, GUEST_TOP) - 1
    return sum(1 << p for p in range(first, last // PAGE + 1))


class DmaCheck:
    """The channel's ``on_access`` hook in a pass-through run (see the module text)."""

    def __init__(self, ctx: Context, kernel: Kernel) -> None:
        self.ctx = ctx
        self.css = kernel.css
        self.arena = kernel.arena

    def __call__(self, sch: int, addr: int, n: int, access: int) -> None:
        mem = self.css.memory
        cpa = self.css.orb_word(sch, 2)
        slot = (cpa - self.arena) // CP_SLOT
        if not 0 <= slot < self.css.subchannels * SLOTS_PER_SCH or slot // SLOTS_PER_SCH != sch:
            why = WHY_OUTSIDE  # the running program itself is not a host program of sch
        elif access in (ACCESS_CCW, ACCESS_IDAW):
            start = self.arena + slot * CP_SLOT
            why = 0 if start <= addr and addr + n <= start + CP_SLOT else WHY_OUTSIDE
        else:
            first = slot * FRAMES_PER_CP
            why = 0
            a = addr
            while a < addr + n:
                frame = mem.frame_of(a)
                if frame is None or not first <= frame < first + FRAMES_PER_CP:
                    why = WHY_OUTSIDE
                    break
                if mem.mapped(frame) is None:
                    why = WHY_UNPINNED
                    break
                a = (a // PAGE + 1) * PAGE
        if why:
            self.ctx.record(Ev.DMA, sch, addr, n, access, why)


#: SCSW words 0-2, pages stored into, their crc with the device storage, pages
#: touched, ended cleanly.
Expected = tuple[int, int, int, int, int, int, bool]


class Shadow:
    """A private one-subchannel channel subsystem (in this process's heap) that runs
    a guest program the way the architecture does."""

    def __init__(self) -> None:
        cfg = CssConfig(memory_size=GUEST_TOP, device_block=DEVICE_BLOCK, enabled=True)
        self._region = memoryview(bytearray(segment_size(1, cfg)))
        ChannelSubsystem.format(self._region, 1, config=cfg)
        self.css = ChannelSubsystem(self._region)
        self.touched = 0
        self.css.channel.on_access = self._touch

    def _touch(self, _sch: int, addr: int, n: int, _access: int) -> None:
        self.touched |= page_mask(addr, n)

    def run(self, real: ChannelSubsystem, sch: int, orb: bytes) -> Expected | None:
        """Copy subchannel ``sch``, its device and guest memory from ``real``, start
        ``orb`` and run the channel until it rests. None when the guest's SSCH would
        not start a function (an operand exception or cc ≠ 0) or no final status came
        (a suspended program). Else SCSW words 0-2, the pages stored into, their crc
        with the device storage, the pages touched, and whether it ended cleanly."""
        sh, rb, sb = self.css, L.sch_base(sch), L.sch_base(0)
        rw, sw = real._w, sh._w
        sw[sb : sb + L.IRQ_PREV] = rw[rb : rb + L.IRQ_PREV]
        sw[sb + L.DEV_TYPE : sb + L.CH_LAST_END + 1] = rw[rb + L.DEV_TYPE : rb + L.CH_LAST_END + 1]
        before = real.memory.read(0, GUEST_TOP)
        sh.memory.write(0, before)
        sh.device_storage(0)[:] = real.device_storage(sch)
        self.touched = 0
        try:
            if sh.ssch(sid_mod.make(0), orb) != 0:
                return None
        except ProgramInterruption:
            return None
        # Stop at the first final status, before a late device end could merge into it:
        # the top half may take the two apart (spec C.1), the oracle allows both.
        while sh.channel.step() is not None and not S.is_final_for_start(sw[sb + L.SCSW]):
            pass
        w0, w1, w2 = (sw[sb + L.SCSW + k] for k in range(3))
        if not S.is_final_for_start(w0):
            return None
        after = sh.memory.read(0, GUEST_TOP)
        stored = 0
        crc = 0
        for p in range(PAGES):
            page = after[p * PAGE : (p + 1) * PAGE]
            if page != before[p * PAGE : (p + 1) * PAGE]:
                stored |= 1 << p
                crc = zlib.crc32(page, crc)
        crc = zlib.crc32(bytes(sh.device_storage(0)), crc)
        clean = (w0 & (S.SC_ALERT | S.CC)) == 0 and w0 & S.SC_PRIMARY != 0
        return w0, w1, w2, stored, crc, self.touched, clean


_shadow: Shadow | None = None


def quiet(css: ChannelSubsystem, sch: int) -> bool:
    """No function, status or owed device end on ``sch``: its state stays put until a
    new start (so a copy taken now is the state that start meets)."""
    b = L.sch_base(sch)
    w = css._w
    return not (w[b + L.SCSW] & (S.FC | S.SC)) and not w[b + L.CH_FLAGS] & L.CHF_DE_OWED


class Expectations:
    """The armed expectation of every (worker, subchannel): the tag + 1 (0: none) and
    the guest pages its bare run stored into, in the run segment's words ``w`` from
    ``base`` (so the actor that delivers the IRB can see them)."""

    def __init__(self, w: memoryview, base: int, nsch: int) -> None:
        self.w, self.base, self.nsch = w, base, nsch

    def clear(self) -> None:
        """Disarm everything (between runs)."""
        n = self.base + W_MAX_ACTORS * self.nsch * EXPECT_WORDS
        self.w[self.base : n] = memoryview(bytes(4 * (n - self.base))).cast("I")

    def _slot(self, me: int, sch: int) -> int:
        return self.base + (me * self.nsch + sch) * EXPECT_WORDS

    def arm(self, me: int, sch: int, tag: int, stored: int) -> None:
        k = self._slot(me, sch)
        self.w[k + 1] = stored
        self.w[k] = tag + 1

    def disarm(self, me: int, sch: int) -> None:
        self.w[self._slot(me, sch)] = 0

    def armed(self, me: int, sch: int) -> tuple[int, int] | None:
        k = self._slot(me, sch)
        return (self.w[k] - 1, self.w[k + 1]) if self.w[k] else None


def expect(ctx: Context, kernel: Kernel, slots: Expectations, me: int, sch: int, tag: int,
           ctrl: int, orb: bytes) -> None:  # fmt: skip
    """Arm the expectation of worker ``me`` for its start on ``sch`` (see the module
    text). The guest's ORB goes to the bare channel with the one change the pass-
    through contract makes: LPM 0 means the subchannel's paths (spec D.1
    ``fsm_io_helper``)."""
    global _shadow
    css = kernel.css
    slots.disarm(me, sch)
    if not quiet(css, sch):
        return
    if not ctrl & 0xFF00:
        lpm = (css.pmcw_word(sch, 2) & P.LPM) >> 24
        orb = orb[:4] + struct.pack(">I", ctrl | lpm << 8) + orb[8:]
    signal = coverage.bound()
    coverage.bind(None)  # the bare run is the oracle's work, not the target's coverage
    try:
        if _shadow is None:
            _shadow = Shadow()
        got = _shadow.run(css, sch, orb)
    finally:
        coverage.bind(signal)
    if got is None:
        return
    w0, w1, w2, stored, crc, touched, clean = got
    ctx.record(Ev.EXPECT, sch, tag, w0, w1, w2)
    ctx.record(Ev.EXPECT_MEM, sch, tag, crc, touched, int(clean))
    slots.arm(me, sch, tag, stored)


def on_deliver(ctx: Context, kernel: Kernel, slots: Expectations, workers: int, sch: int,
               irb: bytes) -> None:  # fmt: skip
    """After an IRB reached ``irb_area``: for every armed expectation on ``sch``, the
    crc of its pages and the device storage now; a final status disarms them."""
    css = kernel.css
    final = S.is_final_for_start(struct.unpack_from(">I", irb)[0])
    for me in range(workers):
        got = slots.armed(me, sch)
        if got is None:
            continue
        tag, stored = got
        crc = 0
        for p in range(PAGES):
            if stored >> p & 1:
                crc = zlib.crc32(css.memory.read(p * PAGE, PAGE), crc)
        crc = zlib.crc32(bytes(css.device_storage(sch)), crc)
        ctx.record(Ev.OUTCOME, sch, tag, crc)
        if final:
            slots.disarm(me, sch)
