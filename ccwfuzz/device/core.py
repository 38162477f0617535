"""The state shared by the instruction layer, the channel and the event injector.

:class:`Core` wraps one attached segment: typed views, guest memory, the devices, the
pending-interruption queue and the channel's work queue. It owns no logic beyond the
bookkeeping every layer needs (make an interruption pending, withdraw it, queue work).
"""

from __future__ import annotations

import dataclasses
import struct

from ccwfuzz.arch import scsw
from ccwfuzz.device import layout as L
from ccwfuzz.device.devices import StorageDevice
from ccwfuzz.device.memory import GuestMemory
from ccwfuzz.device.qlist import SchList


class LayoutError(ValueError):
    """The segment is not a channel subsystem of this layout version."""


@dataclasses.dataclass(frozen=True, slots=True)
class CssConfig:
    """Choices where implementations disagree (spec G); stored in the segment header so
    every attached process behaves the same.

    Attributes:
        pmcw_reserved_mask: flags-halfword bits that make MSCH an operand exception
            (spec G.1; default 0xC300 as upstream QEMU and kvm-unit-tests).
        no_path: ``"deferred"`` (PoP and QEMU: SSCH cc 0, then deferred cc 3) or
            ``"immediate"`` (Hercules: SSCH cc 3) when no channel path is usable (G.5).
        memory_size: bytes of guest memory.
        device_block: bytes of storage behind each storage device.
        enabled: whether subchannels start enabled (PMCW E=1); the architecture's
            default is disabled, and a driver enables at open (spec D.1 ``fsm_open``).
        host_frames: 4-KiB host page frames above guest memory that a pass-through
            driver maps guest pages into when it pins them (vfio ``pin_pages``); the
            channel reaches guest data only through them (see
            :class:`~ccwfuzz.device.memory.GuestMemory`).
    """

    pmcw_reserved_mask: int = 0xC300
    no_path: str = "deferred"
    memory_size: int = 1 << 20
    device_block: int = 4096
    enabled: bool = False
    host_frames: int = 0

    def __post_init__(self) -> None:
        if self.no_path not in ("deferred", "immediate"):
            raise ValueError(f"no_path must be 'deferred' or 'immediate', not {self.no_path!r}")
        if not 0 < self.memory_size <= 1 << 31 or self.memory_size % 8:
            raise ValueError("memory_size must be a positive multiple of 8, at most 2 GiB")
        if not 0 < self.device_block <= 1 << 24:
            raise ValueError("device_block must be between 1 byte and 16 MiB")
        if not 0 <= self.host_frames <= 1 << 16:
            raise ValueError("host_frames must be between 0 and 65536")
        if not 0 <= self.pmcw_reserved_mask <= 0xFFFF:
            raise ValueError("pmcw_reserved_mask is a 16-bit mask")


class Core:
    """Views and bookkeeping over one channel-subsystem region of a segment."""

    def __init__(self, region: memoryview) -> None:
        if len(region) < 4 * L.HEADER_WORDS or len(region) % 4:
            raise LayoutError("region too small for a channel subsystem")
        w = region.cast("I")
        if w[L.H_MAGIC] != L.MAGIC:
            w.release()
            raise LayoutError("region does not hold a ccwfuzz channel subsystem")
        if w[L.H_VERSION] != L.VERSION:
            version = w[L.H_VERSION]
            w.release()
            raise LayoutError(f"channel subsystem layout v{version}, this code reads v{L.VERSION}")
        self.w = w
        self.buf = region
        self.nsch: int = w[L.H_NSCH]
        self.memory = GuestMemory(
            region, w[L.H_MEM_OFFSET], w[L.H_MEM_SIZE],
            frames_base=w[L.H_FRAMES_BASE], frames=w[L.H_FRAMES], table=w[L.H_FRAME_TABLE],
        )  # fmt: skip
        self.storage = StorageDevice(w, region, w[L.H_DEV_OFFSET], w[L.H_DEV_BLOCK])
        self.irq = SchList(
            w, (L.H_IRQ_HEAD, L.H_IRQ_TAIL, L.H_IRQ_COUNT), (L.IRQ_PREV, L.IRQ_NEXT, L.IRQ_QUEUED)
        )
        self.work = SchList(
            w,
            (L.H_WORK_HEAD, L.H_WORK_TAIL, L.H_WORK_COUNT),
            (L.WORK_PREV, L.WORK_NEXT, L.WORK_QUEUED),
        )

    def release(self) -> None:
        """Drop the views into the region (before its segment is closed)."""
        self.w.release()

    @property
    def flags(self) -> int:
        return self.w[L.H_FLAGS]

    def make_pending(self, index: int) -> None:
        """Status just became pending: queue an I/O interruption (spec C.9: at most one
        per subchannel; a queued one keeps its place when its status is replaced)."""
        if self.irq.push(index):
            w = self.w
            w[L.H_STAMP] = (w[L.H_STAMP] + 1) & 0xFFFFFFFF
            w[L.sch_base(index) + L.IRQ_STAMP] = w[L.H_STAMP]

    def withdraw(self, index: int) -> None:
        self.irq.remove(index)

    def has_work(self, index: int) -> bool:
        b = L.sch_base(index)
        w0 = self.w[b + L.SCSW]
        return bool(w0 & (scsw.AC_PENDING_BITS | scsw.AC_SUBCHANNEL_ACTIVE)) or bool(
            self.w[b + L.CH_FLAGS] & L.CHF_DE_OWED
        )

    def schedule(self, index: int) -> None:
        self.work.push(index)

    # ---- control blocks as bytes --------------------------------------------------
    def words(self, index: int, offset: int, count: int) -> tuple[int, ...]:
        b = L.sch_base(index) + offset
        return tuple(self.w[b : b + count])

    def pack_words(self, index: int, offset: int, count: int) -> bytes:
        return struct.pack(f">{count}I", *self.words(index, offset, count))

    def bytes_at(self, index: int, offset: int, n: int) -> bytes:
        o = 4 * (L.sch_base(index) + offset)
        return bytes(self.buf[o : o + n])

    def set_bytes_at(self, index: int, offset: int, data: bytes) -> None:
        o = 4 * (L.sch_base(index) + offset)
        self.buf[o : o + len(data)] = data
