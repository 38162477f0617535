"""The channel subsystem: I/O instructions over a shared-memory segment (spec B).

Every instruction takes the subsystem-identification word (SID) and its control blocks
as bytes (or, for SSCH and MSCH, a guest address the block is fetched from) and answers
architecturally: a condition code, or a :class:`~ccwfuzz.arch.ProgramInterruption`
with nothing changed. No input makes it raise anything else.

Instructions only start functions; :attr:`ChannelSubsystem.channel` performs them step
by step, and :attr:`ChannelSubsystem.events` injects what the hardware does on its own.
Within one process the instruction layer and the channel never run concurrently; across
processes the caller serializes them (the scheduler and locks of the concurrency layer).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

from ccwfuzz.arch import orb as O
from ccwfuzz.arch import schib as P
from ccwfuzz.arch import scsw as S
from ccwfuzz.arch import sid as sid_mod
from ccwfuzz.arch.exceptions import AccessException, OperandException, SpecificationException
from ccwfuzz.arch.irb import Irb
from ccwfuzz.arch.schib import Pmcw, Schib
from ccwfuzz.arch.scsw import Scsw
from ccwfuzz.device import layout as L
from ccwfuzz.device.channel import Channel
from ccwfuzz.device.core import Core, CssConfig
from ccwfuzz.device.devices import DeviceSpec
from ccwfuzz.device.events import Events
from ccwfuzz.device.segment import Segment

MAX_SUBCHANNELS = 65536
_ORB_WORDS = struct.Struct(">8I")
_SCHIB = struct.Struct(">7I3IQI")
_Operand = bytes | bytearray | memoryview | int


def segment_size(subchannels: int, config: CssConfig) -> int:
    """Bytes of the segment for ``subchannels`` subchannels under ``config``."""
    words = L.words_size(subchannels)
    frame_table = 4 * config.host_frames
    return words + config.memory_size + subchannels * config.device_block + frame_table


class ChannelSubsystem:
    """A simulated channel subsystem living in one shared-memory segment.

    Example:
        >>> from ccwfuzz.arch import Ccw1, Orb, ccw, sid
        >>> with ChannelSubsystem.create(subchannels=2, config=CssConfig(enabled=True)) as css:
        ...     css.memory.write(0x1000, Ccw1(ccw.CMD_NOP).to_bytes())
        ...     css.ssch(sid.make(0), Orb(cpa=0x1000).to_bytes())
        ...     css.channel.run_until_idle()
        ...     cc, irb = css.tsch(sid.make(0))
        ...     cc, hex(Irb.from_bytes(irb).scsw.dstat)
        0
        2
        (0, '0xc')
    """

    def __init__(self, region: memoryview, segment: Segment | None = None) -> None:
        """Use the channel subsystem formatted in ``region`` (see :meth:`format`); when
        ``segment`` is given, :meth:`close` closes it too."""
        self._core = Core(region)
        self._w = self._core.w
        self._region = region
        self.segment = segment
        self.memory = self._core.memory
        self.channel = Channel(self._core)
        self.events = Events(self._core)
        self.subchannels: int = self._core.nsch

    # ---- lifecycle ------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        subchannels: int = 4,
        devices: Sequence[DeviceSpec] | None = None,
        config: CssConfig | None = None,
    ) -> ChannelSubsystem:
        """Create a segment of its own with ``subchannels`` subchannels (a storage
        device each unless ``devices`` says otherwise); this process owns and will
        unlink it."""
        config = config or CssConfig()
        seg = Segment.create(segment_size(subchannels, config))
        try:
            cls.format(seg.buf, subchannels, devices, config)
            return cls(seg.buf, seg)
        except BaseException:
            seg.close()
            raise

    @classmethod
    def format(
        cls,
        region: memoryview,
        subchannels: int = 4,
        devices: Sequence[DeviceSpec] | None = None,
        config: CssConfig | None = None,
    ) -> None:
        """Write a fresh channel subsystem into ``region`` (at least
        :func:`segment_size` bytes; zero-filled or not). Used to embed the subsystem in
        a larger run segment, and to reset it between runs."""
        config = config or CssConfig()
        if not 1 <= subchannels <= MAX_SUBCHANNELS:
            raise ValueError(f"subchannels must be 1..{MAX_SUBCHANNELS}, not {subchannels}")
        if devices is not None and len(devices) != subchannels:
            raise ValueError(f"{len(devices)} devices given for {subchannels} subchannels")
        if len(region) < segment_size(subchannels, config):
            raise ValueError("region smaller than segment_size()")
        specs = list(devices) if devices is not None else [DeviceSpec()] * subchannels
        type_ids = [d.type_id() for d in specs]
        _format(region, subchannels, specs, type_ids, config)

    @classmethod
    def attach(cls, name: str) -> ChannelSubsystem:
        """Attach to a subsystem another process created (by segment name)."""
        seg = Segment.attach(name)
        try:
            return cls(seg.buf, seg)
        except BaseException:
            seg.close()
            raise

    @property
    def name(self) -> str:
        return self.segment.name if self.segment else ""

    def close(self) -> None:
        """Release views; with a segment of its own, close it (the creating process
        also unlinks it). Idempotent."""
        self._core.release()
        if self.segment is not None:
            self.segment.close()

    def __enter__(self) -> ChannelSubsystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- helpers ----------------------------------------------------------------------
    def _index(self, instr: str, sid: int) -> int | None:
        """Subchannel index for ``sid``; None for cc 3 (not provided); raises the
        operand exception for an invalid SID (spec B, "SID validity")."""
        s = sid_mod.decode(sid)
        if s is None:
            raise OperandException(instr, f"invalid subsystem-identification word {sid:#x}")
        if s.cssid or s.ssid or s.schno >= self.subchannels:
            return None
        return s.schno

    def _operational(self, index: int) -> bool:
        """QEMU's not-operational test (spec B): PMCW V=1 and E=1."""
        w1 = self._w[L.sch_base(index) + L.PMCW + 1]
        return w1 & (P.V | P.ENABLED) == P.V | P.ENABLED

    def _ready(self, instr: str, sid: int) -> int | None:
        """Index of an existing, operational subchannel, or None (cc 3)."""
        i = self._index(instr, sid)
        return i if i is not None and self._operational(i) else None

    def _fetch(self, instr: str, operand: _Operand, size: int, align: int) -> bytes:
        """The operand's first ``size`` bytes: from a guest address (alignment and
        access checked) or from the bytes given (too short = not accessible)."""
        if isinstance(operand, int):
            if operand % align:
                raise SpecificationException(instr, f"operand address {operand:#x} not aligned")
            if not self.memory.valid(operand, size):
                raise AccessException(instr, f"operand {operand:#x}+{size} not accessible")
            return self.memory.read(operand, size)
        if len(operand) < size:
            raise AccessException(instr, f"operand has {len(operand)} bytes, needs {size}")
        return bytes(operand[:size])

    # ---- instructions -----------------------------------------------------------------
    def ssch(self, sid: int, orb: _Operand) -> int:
        """START SUBCHANNEL (spec B.1)."""
        raw = self._fetch("ssch", orb, O.SHORT_SIZE, 4)
        if raw[7] & 0x01:  # X: the ORB is 32 bytes
            raw = self._fetch("ssch", orb, O.LONG_SIZE, 4)
        words = _ORB_WORDS.unpack(raw.ljust(O.LONG_SIZE, b"\0"))
        i = self._index("ssch", sid)
        if words[1] & O.INVALID_CTRL or words[2] & O.CPA_INVALID:
            raise OperandException("ssch", "invalid ORB (spec A.1)")
        if i is None or not self._operational(i):
            return 3
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        if w0 & S.SC_PENDING:
            return 1
        if w0 & S.FC:
            return 2
        if self._core.flags & L.F_NO_PATH_IMMEDIATE_CC3:
            lpm = (words[1] & O.LPM) >> 8
            w2, w3 = w[b + L.PMCW + 2], w[b + L.PMCW + 3]
            if not lpm & w2 & P.PIM & w3 & P.PAM & ((w3 & P.POM) >> 8):
                return 3  # spec G.5, Hercules
        for k, word in enumerate(words):
            w[b + L.ORB + k] = word
        w[b + L.PMCW] = words[0]  # interruption parameter (spec A.1 word 0)
        keep = w0 & S.AC_DEVICE_ACTIVE  # a device end may still be owed
        w[b + L.SCSW] = keep | (words[1] & S.FROM_ORB) | S.FC_START | S.AC_START_PENDING
        self._core.schedule(i)
        return 0

    def hsch(self, sid: int) -> int:
        """HALT SUBCHANNEL (spec B.2)."""
        i = self._ready("hsch", sid)
        if i is None:
            return 3
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        sc = w0 & S.SC
        if sc == S.SC_PENDING or sc & (S.SC_PRIMARY | S.SC_SECONDARY | S.SC_ALERT):
            return 1
        if w0 & (S.FC_HALT | S.FC_CLEAR):
            return 2
        both = S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE
        if w0 & both == both and sc == S.SC_INTERMEDIATE | S.SC_PENDING:
            # Spec B.2 / G.4 (PoP form): reset the intermediate status pending.
            w0 &= ~(S.SC | S.Z)
            self._core.withdraw(i)
        w[b + L.SCSW] = w0 | S.FC_HALT | S.AC_HALT_PENDING
        self._core.schedule(i)
        return 0

    def csch(self, sid: int) -> int:
        """CLEAR SUBCHANNEL (spec B.3): never cc 1 or 2."""
        i = self._ready("csch", sid)
        if i is None:
            return 3
        b = L.sch_base(i)
        self._core.withdraw(i)
        self._w[b + L.SCSW] = S.FC_CLEAR | S.AC_CLEAR_PENDING
        self._core.schedule(i)
        return 0

    def rsch(self, sid: int) -> int:
        """RESUME SUBCHANNEL (spec B.7)."""
        i = self._ready("rsch", sid)
        if i is None:
            return 3
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        if w0 & S.SC_PENDING:
            return 1
        if w0 & S.FC != S.FC_START or w0 & S.AC_RESUME_PENDING or not w0 & S.AC_SUSPENDED:
            return 2
        w[b + L.SCSW] = w0 | S.AC_RESUME_PENDING
        self._core.schedule(i)
        return 0

    def xsch(self, sid: int) -> int:
        """CANCEL SUBCHANNEL (spec B.8): no interruption on cc 0."""
        i = self._ready("xsch", sid)
        if i is None:
            return 3
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        if w0 & S.SC_PENDING:
            return 1  # spec G.9: status pending (PoP)
        cancellable = S.AC_RESUME_PENDING | S.AC_START_PENDING | S.AC_SUSPENDED
        if w0 & S.FC != S.FC_START or not w0 & cancellable or w0 & S.AC_SUBCHANNEL_ACTIVE:
            return 2
        w[b + L.SCSW] = w0 & ~(S.FC_START | cancellable)
        w[b + L.SCSW + 2] &= S.COUNT
        w[b + L.CH_FLAGS] &= L.CHF_LATE_DE | L.CHF_DE_OWED
        if not self._core.has_work(i):
            self._core.work.remove(i)
        return 0

    def tsch(self, sid: int, irb_address: int | None = None) -> tuple[int, bytes]:
        """TEST SUBCHANNEL (spec B.4). Returns (cc, 96-byte IRB); the IRB is empty for
        cc 3. With ``irb_address`` the first 64 bytes are also stored in guest memory."""
        i = self._index("tsch", sid)
        if irb_address is not None:
            if irb_address % 4:
                raise SpecificationException("tsch", f"IRB address {irb_address:#x} not aligned")
            if not self.memory.valid(irb_address, 64):
                raise AccessException("tsch", f"IRB address {irb_address:#x} not accessible")
        if i is None or not self._operational(i):
            return 3, b""
        irb = self.irb_bytes(i)
        if irb_address is not None:
            self.memory.write(irb_address, irb[:64])
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        if not w0 & S.SC_PENDING:
            return 1, irb  # spec C.8: stored, nothing modified
        w[b + L.SCSW] = _tsch_clear(w0)
        self._core.withdraw(i)
        w[b + L.ESW + 1] = 0
        self._core.set_bytes_at(i, L.ECW, bytes(32))
        return 0, irb

    def stsch(self, sid: int) -> tuple[int, bytes]:
        """STORE SUBCHANNEL (spec B.5): (cc 0, 52-byte SCHIB) or (cc 3, b"")."""
        i = self._index("stsch", sid)
        if i is None:
            return 3, b""
        return 0, self.schib_bytes(i)

    def msch(self, sid: int, schib: _Operand) -> int:
        """MODIFY SUBCHANNEL (spec B.6)."""
        raw = self._fetch("msch", schib, P.SCHIB_SIZE, 4)
        new = _SCHIB.unpack(raw)
        i = self._index("msch", sid)
        mask = self._w[L.H_PMCW_MASK]
        w1, w6, mba = new[1], new[6], new[10]
        if (w1 >> 16) & mask or w6 & P.W6_INVALID or w6 & P.XMWME or (w6 & P.MBFC and mba & 0x3F):
            raise OperandException("msch", "invalid SCHIB (spec A.3, G.1)")
        if i is None:
            return 3
        w, b = self._w, L.sch_base(i)
        if not w[b + L.PMCW + 1] & P.V:
            return 0
        w0 = w[b + L.SCSW]
        if w0 & S.SC_PENDING:
            return 1
        if w0 & S.FC:
            return 2
        if w[b + L.PMCW + 1] & P.ENABLED and not w1 & P.ENABLED:
            # Disabled with a device end still owed (FC already 0): the device end can
            # no longer be presented (spec C.1), so the channel forgets it.
            w[b + L.SCSW] = w0 & ~S.AC_DEVICE_ACTIVE
            w[b + L.CH_FLAGS] &= ~L.CHF_DE_OWED
            self._core.work.remove(i)
        w[b + L.PMCW] = new[0]
        w[b + L.PMCW + 1] = (w[b + L.PMCW + 1] & ~P.W1_MODIFIABLE) | (w1 & P.W1_MODIFIABLE)
        w[b + L.PMCW + 2] = (w[b + L.PMCW + 2] & ~P.LPM) | (new[2] & P.LPM)
        w[b + L.PMCW + 3] = (w[b + L.PMCW + 3] & ~P.W3_MODIFIABLE) | (new[3] & P.W3_MODIFIABLE)
        w[b + L.PMCW + 6] = (w[b + L.PMCW + 6] & ~P.W6_MODIFIABLE) | (w6 & P.W6_MODIFIABLE)
        w[b + L.MBA] = mba >> 32
        w[b + L.MBA + 1] = mba & 0xFFFFFFFF
        return 0

    def tpi(self) -> tuple[int, int] | None:
        """TEST PENDING INTERRUPTION: accept the oldest pending I/O interruption and
        return (SID, interruption parameter), or None. Status stays pending until TSCH.
        The parameter is the PMCW's at presentation time (spec C.9)."""
        i = self._core.irq.pop()
        if i is None:
            return None
        return sid_mod.make(i), self._w[L.sch_base(i) + L.PMCW]

    # ---- inspection (not instructions: no side effects) -------------------------------
    def schib_bytes(self, index: int) -> bytes:
        b = L.sch_base(index)
        w = self._w
        mba = (w[b + L.MBA] << 32) | w[b + L.MBA + 1]
        return _SCHIB.pack(*w[b : b + 10], mba, w[b + L.MDA])

    def irb_bytes(self, index: int) -> bytes:
        core = self._core
        head = core.pack_words(index, L.SCSW, 3) + core.pack_words(index, L.ESW, 5)
        return head + core.bytes_at(index, L.ECW, 32) + bytes(32)

    def scsw0(self, index: int) -> int:
        """SCSW word 0 of subchannel ``index`` (fast path for hot loops)."""
        return int(self._w[L.sch_base(index) + L.SCSW])

    def orb_word(self, index: int, word: int) -> int:
        """Word ``word`` of the ORB saved by the last accepted SSCH on ``index``."""
        return int(self._w[L.sch_base(index) + L.ORB + word])

    def pmcw_word(self, index: int, word: int) -> int:
        """PMCW word ``word`` of subchannel ``index`` (fast path for hot loops)."""
        return int(self._w[L.sch_base(index) + L.PMCW + word])

    def scsw(self, index: int) -> Scsw:
        """Current SCSW of subchannel ``index`` (a snapshot)."""
        return Scsw.from_words(self._core.words(index, L.SCSW, 3))

    def pmcw(self, index: int) -> Pmcw:
        return Pmcw.from_words(self._core.words(index, L.PMCW, 7))

    def schib(self, index: int) -> Schib:
        return Schib.from_bytes(self.schib_bytes(index))

    def irb(self, index: int) -> Irb:
        return Irb.from_bytes(self.irb_bytes(index))

    def pending_interruptions(self) -> list[int]:
        """Subchannels with a queued I/O interruption, oldest first."""
        return self._core.irq.items()

    def device_storage(self, index: int) -> memoryview:
        """The bytes behind storage device ``index`` (a live view; do not keep it past
        :meth:`close`)."""
        st = self._core.storage
        base = self._w[L.H_DEV_OFFSET] + index * st.block
        return self._region[base : base + st.block]

    def device_sense(self, index: int) -> bytes:
        return self._core.storage.sense(index)


def _tsch_clear(w0: int) -> int:
    """Spec B.4 clearing table (status pending), HERC for the Z bit (G.10)."""
    sc = w0 & S.SC
    if sc != S.SC_INTERMEDIATE | S.SC_PENDING:
        return w0 & ~(S.SC | S.FC | S.AC_PENDING_BITS | S.AC_SUSPENDED | S.N | S.CC | S.Z | S.E)
    new = w0 & ~(S.SC | S.Z | S.CC)
    if w0 & S.AC_SUSPENDED and w0 & S.FC_START:
        new &= ~S.N
        if w0 & S.FC_HALT:
            new &= ~(S.FC | S.AC_PENDING_BITS | S.AC_SUSPENDED)
        else:
            new &= ~S.AC_RESUME_PENDING
    return new


def _format(
    region: memoryview,
    nsch: int,
    specs: list[DeviceSpec],
    type_ids: list[int],
    config: CssConfig,
) -> None:
    """Write the header and the initial subchannel records (spec A.3 initial PMCW)."""
    region[: segment_size(nsch, config)] = bytes(segment_size(nsch, config))
    w = region.cast("I")
    mem_off = L.words_size(nsch)
    w[L.H_MAGIC] = L.MAGIC
    w[L.H_VERSION] = L.VERSION
    w[L.H_NSCH] = nsch
    w[L.H_MEM_OFFSET] = mem_off
    w[L.H_MEM_SIZE] = config.memory_size
    w[L.H_DEV_OFFSET] = mem_off + config.memory_size
    w[L.H_DEV_BLOCK] = config.device_block
    w[L.H_FRAMES_BASE] = -(-config.memory_size // L.FRAME) * L.FRAME
    w[L.H_FRAMES] = config.host_frames
    w[L.H_FRAME_TABLE] = mem_off + config.memory_size + nsch * config.device_block
    w[L.H_OWNER_PID] = os.getpid()
    w[L.H_FLAGS] = L.F_NO_PATH_IMMEDIATE_CC3 if config.no_path == "immediate" else 0
    w[L.H_PMCW_MASK] = config.pmcw_reserved_mask
    for h in (L.H_IRQ_HEAD, L.H_IRQ_TAIL, L.H_WORK_HEAD, L.H_WORK_TAIL):
        w[h] = L.NIL
    for i, (spec, type_id) in enumerate(zip(specs, type_ids, strict=True)):
        b = L.sch_base(i)
        present = type_id != L.DEV_NONE
        w[b + L.PMCW + 1] = (
            (P.V if present else 0) | (P.ENABLED if config.enabled else 0) | (i & P.DEVNO)
        )
        w[b + L.PMCW + 2] = 0x80 << 24 | 0x80  # LPM 0x80, PIM 0x80: one channel path
        w[b + L.PMCW + 3] = 0xFF << 8 | 0x80  # POM 0xFF, PAM 0x80
        w[b + L.PMCW + 4] = 0x00 << 24  # CHPID 0 = 0x00
        w[b + L.DEV_TYPE] = type_id
        w[b + L.DEV_ID0] = (spec.cu_type << 16) | (spec.cu_model << 8)
        w[b + L.DEV_ID1] = (spec.dev_type << 16) | (spec.dev_model << 8)
    w.release()
