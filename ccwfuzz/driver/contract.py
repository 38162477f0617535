"""The driver contract: what a vfio-ccw-like driver model implements.

A driver is a class constructed as ``cls(kernel)`` with one
:class:`~ccwfuzz.driver.kernel.Kernel` per run segment (it is built once, before the
actor processes fork, and shared by all of them). It declares:

``name``            a short name for reports (``ClassVar[str]``)
``initial_state``   the FSM :class:`State` every subchannel starts a run in (STANDBY for
                    a vfio-ccw mdev that is probed but not yet opened)
``private_words``   optional: words per subchannel of its own (``kernel.private(sch)``)
``private_locks``   optional: ``(name, Kind)`` primitives per subchannel of its own
                    (``kernel.lock(sch, name)``; the name is the lock class for
                    ``lock.order``)

and the entry points below. Every method receives the calling actor's
:class:`~ccwfuzz.sync.Context` (for scheduling points, locks and the history) and a
subchannel index. All driver state must live in the kernel's shared words: any actor
process can run any entry point, and nothing in a process's own heap is seen by the
others. The toolkit methods of the kernel write the history the oracles judge.

Userspace side (called by worker actors, like QEMU's ``pread``/``pwrite`` on the region
file, spec A.7):
    ``region_write(ctx, sch, offset, data) -> int``  bytes written or ``-errno``
    ``region_read(ctx, sch, offset, n) -> bytes | int``  data or ``-errno``
    ``open``, ``close``, ``reset``, ``remove`` ``(ctx, sch) -> int``  0 or ``-errno``
Hardware side (called by the channel actor, in interrupt context):
    ``irq(ctx, sch)``  the top half for an I/O interruption on ``sch``
    ``sch_event(ctx, sch)``  a machine check: the subchannel went away or came back
Work queue (called by the work-queue actor, one item at a time):
    ``todo(ctx, sch)``  the bottom half queued by the top half
Read by the pool after a run (no context, no scheduling point):
    ``state(sch) -> State``  the FSM state now
    ``cp_live(sch) -> bool``  whether a channel program is allocated
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, ClassVar, Protocol

from ccwfuzz.sync import Context, Kind

if TYPE_CHECKING:
    from ccwfuzz.driver.kernel import Kernel

#: Entry points and attributes every driver class has (``check-driver`` names the
#: missing ones). ``private_words`` and ``private_locks`` are optional.
ENTRY_POINTS = ("region_write", "region_read", "open", "close", "reset", "remove", "irq",
                "todo", "sch_event", "state", "cp_live")  # fmt: skip
ATTRIBUTES = ("name", "initial_state")

# Linux errno values used by the contract (spec D).
EIO, EBADF, ENOMEM, EACCES, EFAULT, EBUSY, ENODEV, EINVAL, EAGAIN, EOPNOTSUPP = (
    5, 9, 12, 13, 14, 16, 19, 22, 11, 95,
)  # fmt: skip
ERRNO_NAMES = {
    EIO: "EIO", EBADF: "EBADF", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT",
    EBUSY: "EBUSY", ENODEV: "ENODEV", EINVAL: "EINVAL", EAGAIN: "EAGAIN",
    EOPNOTSUPP: "EOPNOTSUPP",
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
    initial_state: ClassVar[State]
    private_words: ClassVar[int]
    private_locks: ClassVar[tuple[tuple[str, Kind], ...]]

    def __init__(self, kernel: Kernel) -> None: ...

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
