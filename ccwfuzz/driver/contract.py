"""The driver contract: what a vfio-ccw-like driver model implements.

A driver is a class with a ``name`` and the entry points below. Every method receives the
calling actor's :class:`~ccwfuzz.sync.Context` (for scheduling points, locks and the
history) and a subchannel index. All driver state lives in the :class:`Kernel`'s shared
words, so any actor process can run any entry point. Third-party drivers plug in by
``module:Class``; the zoo of buggy variants subclasses the reference.

Userspace side (called by worker actors, like QEMU's ``pread``/``pwrite`` on the region
file, spec A.7):
    ``region_write(ctx, sch, offset, data) -> int``  bytes written or ``-errno``
    ``region_read(ctx, sch, offset, n) -> bytes | int``  data or ``-errno``
    ``open``, ``close``, ``reset``, ``remove`` ``(ctx, sch) -> int``
Hardware side (called by the channel actor, in interrupt context):
    ``irq(ctx, sch)``  the top half for an I/O interruption on ``sch``
    ``sch_event(ctx, sch)``  a machine check: the subchannel went away or came back
Work queue (called by the work-queue actor, one item at a time):
    ``todo(ctx, sch)``  the bottom half queued by the top half
"""

from __future__ import annotations

import enum
from typing import ClassVar, Protocol

from ccwfuzz.sync import Context

# Linux errno values used by the contract (spec D).
EIO, ENOMEM, EACCES, EFAULT, EBUSY, ENODEV, EINVAL, EAGAIN, EOPNOTSUPP = (
    5, 12, 13, 14, 16, 19, 22, 11, 95,
)  # fmt: skip
ERRNO_NAMES = {
    EIO: "EIO", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY",
    ENODEV: "ENODEV", EINVAL: "EINVAL", EAGAIN: "EAGAIN", EOPNOTSUPP: "EOPNOTSUPP",
}  # fmt: skip

# Region file offsets (spec A.7): index << 10.
REGION_SHIFT = 10
IO_REGION, ASYNC_REGION, SCHIB_REGION, CRW_REGION = 0, 1, 2, 3
IO_REGION_SIZE, ASYNC_REGION_SIZE, SCHIB_REGION_SIZE, CRW_REGION_SIZE = 124, 8, 52, 8
ORB_AREA, SCSW_AREA, IRB_AREA, RET_CODE = 0, 12, 24, 120
ASYNC_CMD_HSCH, ASYNC_CMD_CSCH = 1, 2


class State(enum.IntEnum):
    """vfio-ccw FSM states (spec D)."""

    NOT_OPER = 0
    STANDBY = 1
    IDLE = 2
    CP_PROCESSING = 3
    CP_PENDING = 4


class Event(enum.IntEnum):
    """vfio-ccw FSM events (spec D)."""

    NOT_OPER = 0
    IO_REQ = 1
    INTERRUPT = 2
    ASYNC_REQ = 3
    OPEN = 4
    CLOSE = 5


def errno_name(ret: int) -> str:
    return f"-{ERRNO_NAMES.get(-ret, str(-ret))}" if ret < 0 else str(ret)


class Driver(Protocol):
    """What the actors call. See the module docstring."""

    name: ClassVar[str]

    def region_write(self, ctx: Context, sch: int, offset: int, data: bytes) -> int: ...
    def region_read(self, ctx: Context, sch: int, offset: int, n: int) -> bytes | int: ...
    def open(self, ctx: Context, sch: int) -> int: ...
    def close(self, ctx: Context, sch: int) -> int: ...
    def reset(self, ctx: Context, sch: int) -> int: ...
    def remove(self, ctx: Context, sch: int) -> int: ...
    def irq(self, ctx: Context, sch: int) -> None: ...
    def todo(self, ctx: Context, sch: int) -> None: ...
    def sch_event(self, ctx: Context, sch: int) -> None: ...
    def state(self, sch: int) -> State: ...
    def cp_live(self, sch: int) -> bool: ...
