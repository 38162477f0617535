"""The channel: performs start, halt, clear and resume functions one step at a time.

An instruction only *starts* a function (spec B); the channel advances it by explicit
steps so that another process can interleave with it. One :meth:`Channel.step` does one
unit of work on one subchannel: begin a start function, execute one CCW, perform a halt
or clear, present a late device end. Subchannels with work wait in a round-robin queue in
the segment, so a step costs the same with 4 or 1024 subchannels.

Choices where the sources disagree (spec G), PoP-faithful unless noted:
- PCI is presented as its own intermediate interruption and ORed into a later status
  that supersedes it (G.8).
- Suspension gives intermediate + pending without alert (G.7; with alert, TSCH would end
  the function and RSCH could never resume it, spec B.4).
- Incorrect length is a subchannel-status indication, not a program check (G.11).
- Halt status is "status pending alone" (B.2); clear status follows Hercules: word 0
  zeroed but FC clear and status pending, CPA and status bytes zero (G.6).
- A device end owed after a separately presented channel end is absorbed when a new
  start function begins before it arrives.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ccwfuzz.arch import ccw as C
from ccwfuzz.arch import orb as O
from ccwfuzz.arch import schib as P
from ccwfuzz.arch import scsw as S
from ccwfuzz.arch.irb import ERW_CONCURRENT_SENSE
from ccwfuzz.device import layout as L
from ccwfuzz.device.core import Core

_CCW1 = struct.Struct(">BBHI")
_FMT0_LIMIT = 1 << 24
_FMT1_LIMIT = 1 << 31
_MASK32 = 0xFFFFFFFF
_MAX_TICS = 255
_MAX_NODATA = 255
_INPUT = (C.Kind.READ, C.Kind.READ_BACKWARD, C.Kind.SENSE)
_SC_BITS_CLEARED_BY_STATUS = S.SC | S.CC | S.Z | S.E
#: Kinds of storage access reported to ``Channel.on_access``.
ACCESS_CCW, ACCESS_IDAW, ACCESS_FETCH, ACCESS_STORE = 0, 1, 2, 3
ACCESS_KINDS = ("ccw", "idaw", "data-fetch", "data-store")


class ChannelProgramCheck(Exception):  # noqa: N818 - architecture vocabulary
    """Internal: the current CCW is invalid (spec A.6); ends the program."""


class Channel:
    """Advances functions on the subchannels of one :class:`Core`.

    Example:
        >>> from ccwfuzz.device import ChannelSubsystem
        >>> with ChannelSubsystem.create(subchannels=2) as css:
        ...     css.channel.step() is None  # nothing to do
        True
    """

    def __init__(self, core: Core) -> None:
        self._c = core
        self._w = core.w
        #: Called as ``on_poison(subchannel, address)`` when a fetched CCW consists of
        #: ``poison_byte`` only: the channel is running freed memory (a use after free).
        self.on_poison: Callable[[int, int], None] | None = None
        self.poison_byte: bytes = b"\x6b" * 8
        #: Called as ``on_access(subchannel, address, length, kind)`` for every storage
        #: access of a channel program (``kind``: one of :data:`ACCESS_KINDS`), so a
        #: pass-through run can check that the channel touches only what its driver
        #: pinned (spec A.6 "Passthrough").
        self.on_access: Callable[[int, int, int, int], None] | None = None

    # ---- driving ------------------------------------------------------------------
    def step(self, index: int | None = None) -> int | None:
        """Do one unit of work: on subchannel ``index``, or on the next one in round
        robin. Returns the subchannel stepped, or None if there was nothing to do."""
        c = self._c
        if index is None:
            index = c.work.pop()
            if index is None:
                return None
        elif not c.work.remove(index):
            return None
        try:
            self._advance(index)
        finally:  # even if the simulator itself fails, the work item is not lost
            if c.has_work(index):
                c.work.push(index)
        return index

    def run_until_idle(self, max_steps: int = 1_000_000) -> int:
        """Step until no subchannel has work; return the number of steps.

        Every channel program ends (TICs and data-less CCWs are bounded, spec A.6), so
        ``max_steps`` only guards against a simulator bug.
        """
        for n in range(max_steps):
            if self.step() is None:
                return n
        raise RuntimeError(f"channel still busy after {max_steps} steps")

    def busy(self) -> list[int]:
        """Subchannels with work queued, in the order they will be stepped."""
        return self._c.work.items()

    # ---- one unit of work -----------------------------------------------------------
    def _advance(self, i: int) -> None:
        b = L.sch_base(i)
        w0 = self._w[b + L.SCSW]
        if w0 & S.AC_CLEAR_PENDING:
            self._clear(i)
        elif w0 & S.AC_HALT_PENDING:
            self._halt(i)
        elif w0 & S.AC_RESUME_PENDING:
            self._resume(i)
        elif w0 & S.AC_START_PENDING:
            self._start(i)
        elif w0 & S.AC_SUBCHANNEL_ACTIVE:
            try:
                self._execute(i)
            except ChannelProgramCheck:
                self._end(i, self._w[b + L.CH_CCW], 0, S.SCH_PROGRAM_CHECK, 0)
        elif self._w[b + L.CH_FLAGS] & L.CHF_DE_OWED:
            self._device_end(i)

    def _start(self, i: int) -> None:
        """Begin the start function: path selection, device busy, then activity."""
        w, b = self._w, L.sch_base(i)
        flags = w[b + L.CH_FLAGS]
        if flags & L.CHF_DE_OWED:  # a new start absorbs the owed device end
            flags &= ~L.CHF_DE_OWED
            w[b + L.SCSW] &= ~S.AC_DEVICE_ACTIVE
        w0 = w[b + L.SCSW] & ~S.AC_START_PENDING
        orb_lpm = (w[b + L.ORB + 1] & O.LPM) >> 8
        w2, w3 = w[b + L.PMCW + 2], w[b + L.PMCW + 3]
        installed = w2 & P.PIM
        usable = orb_lpm & installed & w3 & P.PAM & ((w3 & P.POM) >> 8)
        if not usable:
            # Spec B.1 / C.5: no usable path -> deferred cc 3, alert status; N and PNOM
            # name the paths that were wanted but not operational.
            lost = orb_lpm & installed
            w[b + L.PMCW + 2] = w2 | (lost << 16)
            self._status(
                i,
                (w0 & ~_SC_BITS_CLEARED_BY_STATUS)
                | (3 << S.CC_SHIFT)
                | S.SC_ALERT
                | S.SC_PENDING
                | (S.N if lost else 0),
            )
            w[b + L.CH_FLAGS] = flags & L.CHF_LATE_DE
            return
        if w[b + L.DEV_BUSY]:
            # Spec C.5: device busy -> deferred cc 1, alert status.
            w[b + L.DEV_BUSY] -= 1
            self._status(
                i,
                (w0 & ~_SC_BITS_CLEARED_BY_STATUS) | (1 << S.CC_SHIFT) | S.SC_ALERT | S.SC_PENDING,
            )
            w[b + L.CH_FLAGS] = flags & L.CHF_LATE_DE
            return
        lpum = usable & -usable
        w[b + L.PMCW + 2] = (w[b + L.PMCW + 2] & ~P.LPUM) | (lpum << 8)
        w[b + L.SCSW] = w0 | S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE
        w[b + L.SCSW + 1] = w[b + L.ORB + 2]
        w[b + L.SCSW + 2] = 0
        w[b + L.CH_CCW] = w[b + L.ORB + 2]
        w[b + L.CH_LAST_END] = w[b + L.ORB + 2]  # nothing fetched yet
        w[b + L.CH_FLAGS] = flags & L.CHF_LATE_DE
        w[b + L.CH_TICS] = 0
        w[b + L.CH_NODATA] = 0
        w[b + L.CH_RECORD] = 0

    def _execute(self, i: int) -> None:
        """Fetch and execute one CCW (spec A.6, C.2, C.3)."""
        c, w, b = self._c, self._w, L.sch_base(i)
        orb1 = w[b + L.ORB + 1]
        fmt1 = bool(orb1 & O.F)
        addr = w[b + L.CH_CCW]
        limit = _FMT1_LIMIT if fmt1 else _FMT0_LIMIT
        if addr == 0 or addr & 7 or addr >= limit or not c.memory.valid(addr, 8):
            raise ChannelProgramCheck
        raw = c.memory.read(addr, 8)
        w[b + L.CH_LAST_END] = addr + 8
        hook = self.on_access
        if hook is not None:
            hook(i, addr, 8, ACCESS_CCW)
        if raw == self.poison_byte and self.on_poison is not None:
            self.on_poison(i, addr)
        if fmt1:
            cmd, ccw_flags, count, cda = _CCW1.unpack(raw)
        else:
            cmd, cda, ccw_flags = raw[0], int.from_bytes(raw[1:4], "big"), raw[4]
            count = int.from_bytes(raw[6:8], "big")
        chf = w[b + L.CH_FLAGS]
        data_chain = chf & L.CHF_DATA_CHAIN
        if cmd & 0x0F == C.CMD_TIC:
            if fmt1 and (cmd & 0xF0 or ccw_flags or count):
                raise ChannelProgramCheck
            if chf & L.CHF_AFTER_TIC:
                raise ChannelProgramCheck
            w[b + L.CH_TICS] += 1
            if w[b + L.CH_TICS] > _MAX_TICS:
                raise ChannelProgramCheck
            w[b + L.CH_CCW] = cda
            w[b + L.CH_FLAGS] = chf | L.CHF_AFTER_TIC
            return
        chf &= ~L.CHF_AFTER_TIC
        w[b + L.CH_FLAGS] = chf
        if ccw_flags & C.MIDA:
            raise ChannelProgramCheck
        if ccw_flags & C.S:
            if not orb1 & O.S or data_chain:
                raise ChannelProgramCheck
            self._suspend(i, addr, count, S.SCH_PCI if ccw_flags & C.PCI else 0)
            return
        if data_chain:
            command = w[b + L.CH_CMD]
            offset = w[b + L.CH_RECORD]
        else:
            if cmd & 0x0F == 0:
                raise ChannelProgramCheck
            command, offset = cmd, 0
        if not fmt1 and count == 0:
            raise ChannelProgramCheck
        immediate = command == C.CMD_NOP
        if count == 0 or immediate:
            w[b + L.CH_NODATA] += 1
            if w[b + L.CH_NODATA] > _MAX_NODATA:
                raise ChannelProgramCheck
        areas: list[tuple[int, int]] = []
        k = C.kind(command)
        # Skip on an input command stores nothing, so storage is not accessed at all
        # (vfio-ccw's ccw_does_data_transfer relies on it: it pins nothing for them).
        skip = bool(ccw_flags & C.SKP) and k in _INPUT
        if count and not immediate and not skip:
            areas = self._data_areas(i, orb1, fmt1, ccw_flags, cda, count)
            if hook is not None:
                for a, n in areas:
                    hook(i, a, n, ACCESS_STORE if k in _INPUT else ACCESS_FETCH)
        out = b"".join(c.memory.read(a, n) for a, n in areas) if k not in _INPUT else b""
        t = c.storage.execute(i, command, offset, count, out)
        if k in _INPUT and t.moved and not skip:
            if k is C.Kind.READ_BACKWARD:
                # Stored at descending addresses from the end of the area: the bytes
                # arrive last-first and land in their forward order at its top.
                self._scatter(areas, t.data[: t.moved][::-1], count - t.moved)
            else:
                self._scatter(areas, t.data[: t.moved], 0)
        first = not chf & L.CHF_STARTED
        chf |= L.CHF_STARTED
        residual = count if t.immediate else count - t.moved
        pci = S.SCH_PCI if ccw_flags & C.PCI else 0
        w[b + L.CH_FLAGS] = chf
        if t.dstat:
            self._end(i, addr, S.DEV_CHANNEL_END | S.DEV_DEVICE_END | t.dstat, pci, residual)
            return
        ends_early = not t.immediate and t.moved < count
        long_record = not t.immediate and t.more and not ccw_flags & C.CD
        # Spec A.6: the length check is active when SLI=0 or CD=1 (CD takes precedence).
        if (ends_early or long_record) and (not ccw_flags & C.SLI or ccw_flags & C.CD):
            self._end(
                i,
                addr,
                S.DEV_CHANNEL_END | S.DEV_DEVICE_END,
                pci | S.SCH_INCORRECT_LENGTH,
                residual,
            )
            return
        if ccw_flags & C.CD and not ends_early:
            w[b + L.CH_FLAGS] = chf | L.CHF_DATA_CHAIN
            w[b + L.CH_CMD] = command
            w[b + L.CH_RECORD] = offset + t.moved
        elif ccw_flags & C.CC:
            w[b + L.CH_FLAGS] = chf & ~L.CHF_DATA_CHAIN
        else:
            self._end(i, addr, S.DEV_CHANNEL_END | S.DEV_DEVICE_END, pci, residual)
            return
        w[b + L.CH_CCW] = addr + 8
        if pci or (first and orb1 & O.I):
            self._intermediate(i, addr + 8, pci, z=bool(first and orb1 & O.I))

    def _data_areas(
        self, i: int, orb1: int, fmt1: bool, flags: int, cda: int, count: int
    ) -> list[tuple[int, int]]:
        """Guest ranges for ``count`` bytes at ``cda``, through an IDAL if IDA is set."""
        mem = self._c.memory
        if not flags & C.IDA:
            if (fmt1 and cda & 0x80000000) or (not fmt1 and cda + count > _FMT0_LIMIT):
                raise ChannelProgramCheck
            if not mem.valid(cda, count):
                raise ChannelProgramCheck
            return [(cda, count)]
        fmt2 = bool(orb1 & O.H)
        idaw_size = 8 if fmt2 else 4
        block = (2048 if orb1 & O.T else 4096) if fmt2 else 2048
        if cda & (idaw_size - 1) or (fmt1 and cda & 0x80000000):
            raise ChannelProgramCheck
        areas: list[tuple[int, int]] = []
        left, idal = count, cda
        while left:
            if not mem.valid(idal, idaw_size):
                raise ChannelProgramCheck
            if self.on_access is not None:
                self.on_access(i, idal, idaw_size, ACCESS_IDAW)
            data = int.from_bytes(mem.read(idal, idaw_size), "big")
            if not fmt2 and data & 0x80000000:
                raise ChannelProgramCheck
            if areas and data % block:
                raise ChannelProgramCheck  # only the first IDAW may start mid-block
            n = min(left, block - data % block)
            if not mem.valid(data, n):
                raise ChannelProgramCheck
            areas.append((data, n))
            left -= n
            idal += idaw_size
        return areas

    def _scatter(self, areas: list[tuple[int, int]], data: bytes, skip: int) -> None:
        """Store ``data`` into the areas, starting ``skip`` bytes into them."""
        pos = 0
        for a, n in areas:
            if skip >= n:
                skip -= n
                continue
            if pos >= len(data):
                break
            chunk = data[pos : pos + n - skip]
            self._c.memory.write(a + skip, chunk)
            pos += len(chunk)
            skip = 0

    # ---- status -----------------------------------------------------------------------
    def _status(self, i: int, w0: int) -> None:
        """Store SCSW word 0 with status pending and queue the interruption. Only an
        enabled subchannel can become status pending (spec C.1): otherwise the status
        is dropped."""
        b = L.sch_base(i)
        if not self._w[b + L.PMCW + 1] & P.ENABLED:
            self._w[b + L.SCSW] = w0 & ~(_SC_BITS_CLEARED_BY_STATUS | S.N)
            return
        self._w[b + L.SCSW] = w0
        self._w[b + L.ESW] = (self._w[b + L.PMCW + 2] & P.LPUM) << 8  # format-1 ESW, LPUM
        self._c.make_pending(i)

    def _intermediate(self, i: int, next_ccw: int, pci: int, z: bool) -> None:
        """Intermediate status (spec C.3): PCI and/or initial status (Z); merged into an
        intermediate status that is still pending."""
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        if w0 & S.SC_PENDING:
            w[b + L.SCSW] = w0 | (S.Z if z else 0)
            w[b + L.SCSW + 2] |= pci << S.CSTAT_SHIFT
            return
        w0 = (w0 & ~_SC_BITS_CLEARED_BY_STATUS) | S.SC_INTERMEDIATE | S.SC_PENDING
        w[b + L.SCSW + 1] = next_ccw
        w[b + L.SCSW + 2] = pci << S.CSTAT_SHIFT
        self._status(i, w0 | (S.Z if z else 0))

    def _end(self, i: int, addr: int, dstat: int, cstat: int, residual: int) -> None:
        """End the channel program at CCW ``addr`` with primary (and usually secondary)
        status (spec C.2). Supersedes a pending intermediate status, keeping its PCI."""
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        chf = w[b + L.CH_FLAGS]
        if w0 & S.SC_PENDING:
            cstat |= (w[b + L.SCSW + 2] >> S.CSTAT_SHIFT) & S.SCH_PCI
        late = bool(chf & L.CHF_LATE_DE and dstat & S.DEV_DEVICE_END)
        if late:
            dstat &= ~S.DEV_DEVICE_END
        alert = dstat & (S.DEV_UNIT_CHECK | S.DEV_UNIT_EXCEPTION) or cstat & ~S.SCH_PCI
        sc = S.SC_PRIMARY | S.SC_PENDING | (0 if late else S.SC_SECONDARY)
        sc |= S.SC_ALERT if alert else 0
        w0 = (w0 & ~(_SC_BITS_CLEARED_BY_STATUS | S.AC_SUBCHANNEL_ACTIVE)) | sc
        if not late:
            w0 &= ~S.AC_DEVICE_ACTIVE
        w[b + L.SCSW + 1] = (addr + 8) & _MASK32  # a bad TIC target may sit at 2**32 - 8
        w[b + L.SCSW + 2] = (
            (dstat << S.DSTAT_SHIFT) | (cstat << S.CSTAT_SHIFT) | (residual & 0xFFFF)
        )
        w[b + L.CH_FLAGS] = (chf & ~(L.CHF_LATE_DE | L.CHF_DATA_CHAIN)) | (
            L.CHF_DE_OWED if late else 0
        )
        if dstat & S.DEV_UNIT_CHECK and w[b + L.PMCW + 6] & P.CSENSE:
            # Concurrent sense (spec A.5): sense bytes in the ECW, ERW.S and count, E bit.
            self._c.set_bytes_at(i, L.ECW, self._c.storage.sense(i))
            w[b + L.ESW + 1] = ERW_CONCURRENT_SENSE | (L.SENSE_BYTES << 16)
            w0 |= S.E
        self._status(i, w0)

    def _suspend(self, i: int, addr: int, count: int, pci: int) -> None:
        """CCW S flag with ORB S=1 (spec C.3): suspend before executing the CCW."""
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW] & ~(S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE)
        w0 |= S.AC_SUSPENDED
        w[b + L.CH_CCW] = addr
        if w[b + L.ORB + 1] & O.U and not pci:
            w[b + L.SCSW] = w0  # U: suppress the suspended interruption
            return
        if w0 & S.SC_PENDING:
            w[b + L.SCSW] = w0
            w[b + L.SCSW + 2] |= pci << S.CSTAT_SHIFT
            return
        w[b + L.SCSW + 1] = addr + 8
        w[b + L.SCSW + 2] = (pci << S.CSTAT_SHIFT) | count
        self._status(i, (w0 & ~_SC_BITS_CLEARED_BY_STATUS) | S.SC_INTERMEDIATE | S.SC_PENDING)

    def _resume(self, i: int) -> None:
        """RSCH accepted (spec B.7): refetch the CCW at which the program suspended."""
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW] & ~(S.AC_RESUME_PENDING | S.AC_SUSPENDED)
        w[b + L.SCSW] = w0 | S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE

    def _halt(self, i: int) -> None:
        """Perform the halt function (spec B.2)."""
        w, b = self._w, L.sch_base(i)
        w0 = w[b + L.SCSW]
        active = w0 & S.AC_SUBCHANNEL_ACTIVE
        suspended = w0 & S.AC_SUSPENDED
        dstat = 0
        if active or not w0 & (S.AC_START_PENDING | S.AC_SUSPENDED):
            dstat = S.DEV_DEVICE_END
        if active or suspended:
            w[b + L.SCSW + 1] = w[b + L.CH_LAST_END]
        w[b + L.SCSW + 2] = (dstat << S.DSTAT_SHIFT) | (w[b + L.SCSW + 2] & S.COUNT)
        w[b + L.CH_FLAGS] &= L.CHF_LATE_DE
        self._status(i, (w0 & ~(S.AC | _SC_BITS_CLEARED_BY_STATUS | S.N)) | S.SC_PENDING)

    def _clear(self, i: int) -> None:
        """Perform the clear function (spec B.3, Hercules form, G.6)."""
        c, w, b = self._c, self._w, L.sch_base(i)
        w[b + L.PMCW + 2] &= ~(P.PNOM | P.LPUM)
        w[b + L.PMCW + 3] |= P.POM
        w[b + L.SCSW + 1] = 0
        w[b + L.SCSW + 2] = 0
        for k in range(5):
            w[b + L.ESW + k] = 0
        c.set_bytes_at(i, L.ECW, bytes(32))
        w[b + L.CH_FLAGS] = 0
        c.storage.reset(i)
        self._status(i, S.FC_CLEAR | S.SC_PENDING)

    def _device_end(self, i: int) -> None:
        """Present the device end owed after a separate channel end (secondary status)."""
        w, b = self._w, L.sch_base(i)
        w[b + L.CH_FLAGS] &= ~L.CHF_DE_OWED
        w0 = w[b + L.SCSW] & ~S.AC_DEVICE_ACTIVE
        if w0 & S.SC_PENDING:
            w[b + L.SCSW] = w0 | S.SC_SECONDARY
            w[b + L.SCSW + 2] |= S.DEV_DEVICE_END << S.DSTAT_SHIFT
            return
        w[b + L.SCSW + 2] = (S.DEV_DEVICE_END << S.DSTAT_SHIFT) | (w[b + L.SCSW + 2] & S.COUNT)
        self._status(i, (w0 & ~_SC_BITS_CLEARED_BY_STATUS) | S.SC_SECONDARY | S.SC_PENDING)
