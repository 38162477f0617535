"""Three bugs planted in :class:`ScratchDriver`, each one that ccwfuzz must catch.

Each class changes one step of the from-scratch driver and names, in ``expected_rule``, the
ccwfuzz rule that must report it (``ccwfuzz stress --target drivers.scratch_bugs:<Class>``).
"""

from __future__ import annotations

from typing import ClassVar

from ccwfuzz.arch import scsw
from ccwfuzz.driver.contract import State
from ccwfuzz.sync import Context
from drivers.scratch import GONE, ScratchDriver


class FreeOnIntermediate(ScratchDriver):
    """The bottom half frees the channel program on any solicited interrupt (spec E1).

    Bug: ``io_todo`` frees the cp (and goes IDLE) without checking that the status is final,
    as before upstream 50b7f1b7 ("only free cp on final interrupt").

    Interleaving: a guest program with a PCI flag starts; the channel presents intermediate
    status (subchannel still active); the bottom half frees the program and sets IDLE while
    the channel keeps fetching CCWs from the poisoned slot, and a new SSCH may be accepted.

    Caught by: ``driver.cp-free-final`` (a cp freed while its start has not ended).
    """

    name: ClassVar[str] = "scratch-free-on-intermediate"
    expected_rule: ClassVar[str] = "driver.cp-free-final"

    def _frees_cp(self, sch: int, w0: int, before: State, aim: int) -> bool:
        """Bug: no ``is_final`` check."""
        return scsw.is_solicited(w0) and self.kernel.cp_live(sch) and before == State.CP_PENDING


class ByteCountOnError(ScratchDriver):
    """The I/O region write returns the byte count whatever the FSM answered (spec D.4, B.1).

    Bug: ``vfio_ccw_mdev_write_io_region`` ignores ``ret_code`` and always returns ``count``,
    so QEMU maps every refused start (-EBUSY, -EIO, -EFAULT, ...) to guest cc 0 and waits for
    an interrupt that never comes.

    Interleaving: any refused start, e.g. SSCH while CP_PENDING (-EBUSY) or on a device that is
    not open for I/O (STANDBY: -EIO); the FSM answers an error, userspace reads success.

    Caught by: ``driver.user-answer`` (what a region write returned is not what the FSM
    answered).
    """

    name: ClassVar[str] = "scratch-byte-count-on-error"
    expected_rule: ClassVar[str] = "driver.user-answer"

    def _io_write(self, ctx: Context, sch: int, off: int, data: bytes) -> int:
        """Bug: the FSM's answer is dropped."""
        super()._io_write(ctx, sch, off, data)
        return len(data)


class IdleOnAnyFinal(ScratchDriver):
    """The bottom half goes IDLE on every final interrupt (spec E13).

    Bug: ``io_todo`` sets IDLE whenever the status is final, not only when it freed the cp,
    as before upstream 2af7a834 ("Serialize FSM IDLE state with I/O completion").

    Interleaving: HSCH/CSCH on an idle subchannel; the new SSCH is accepted (CP_PENDING, cp
    live) once the top half took the halt/clear status; the bottom half then processes that
    final status, which is aimed at no program and frees nothing, yet sets IDLE. An attention
    while CP_PENDING does the same. The FSM says IDLE with a program still live, so a second
    SSCH can be started over it.

    Caught by: ``driver.idle-no-cp`` (state IDLE with a live channel program).
    """

    name: ClassVar[str] = "scratch-idle-on-any-final"
    expected_rule: ClassVar[str] = "driver.idle-no-cp"

    def _goes_idle(self, w0: int, before: State, freed: bool) -> bool:
        """Bug: any final status, freed or not."""
        return freed or (scsw.is_final(w0) and before not in GONE)
