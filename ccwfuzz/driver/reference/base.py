"""What every part of the reference driver shares: the kernel toolkit it runs on, the
FSM state accessors and the region helpers (``vfio_ccw_private.h``)."""

from __future__ import annotations

from typing import ClassVar

from ccwfuzz.driver.contract import Event, State
from ccwfuzz.driver.kernel import D_STATE, POISON_WORD, Kernel
from ccwfuzz.sync import Context, Kind
from ccwfuzz.sync.history import Instr

#: FSM states a state write never leaves (README "reference", deviation 4).
TERMINAL = frozenset({State.NOT_OPER})


class Base:
    """The driver's private structure and the toolkit calls every file uses."""

    name: ClassVar[str] = "reference"
    initial_state: ClassVar[State] = State.STANDBY
    #: For zoo members: the oracle rule that must catch the bug.
    expected_rule: ClassVar[str] = ""
    #: Per-subchannel words and primitives of the driver's own (none: the kernel's).
    private_words: ClassVar[int] = 0
    private_locks: ClassVar[tuple[tuple[str, Kind], ...]] = ()

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.css = kernel.css
        self.w = kernel.w

    # ---- the FSM state (spec D) --------------------------------------------------
    def state(self, sch: int) -> State:
        return self.k.state(sch)

    def cp_live(self, sch: int) -> bool:
        return self.k.cp_live(sch)

    def get_state(self, ctx: Context, sch: int) -> State:
        return self.k.read_state(ctx, sch)

    def set_state(self, ctx: Context, sch: int, new: State, event: int = 0xFF) -> None:
        """Write the FSM state. NOT_OPER is terminal (spec D.1: only a fresh probe
        leaves it): a write that would leave it is dropped. Upstream's FSM dispatch is
        not atomic with ``sch_event``, so a racing request, open, close or bottom half
        can overwrite NOT_OPER there (README "reference", deviation 4)."""
        self.k.set_state(ctx, sch, new, event, sticky=TERMINAL)

    def fsm_event(self, ctx: Context, sch: int, event: Event) -> None:
        raise NotImplementedError  # fsm.py

    # ---- helpers ------------------------------------------------------------------
    def instr(self, ctx: Context, sch: int, name: str, operand: bytes | None = None) -> int:
        """Issue an instruction by name (``"ssch"``, ...) through the toolkit."""
        return self.k.issue(ctx, sch, Instr[name.upper()], operand)

    def copy_in(self, ctx: Context, sch: int, area: int, off: int, data: bytes) -> None:
        self.k.copy_in(ctx, sch, area, off, data)

    def copy_out(self, ctx: Context, sch: int, area: int, off: int, n: int) -> bytes:
        return self.k.copy_out(ctx, sch, area, off, n)

    def io_ret(self, sch: int) -> int:
        return self.k.io_ret(sch)

    def set_io_ret(self, sch: int, ret: int) -> None:
        self.k.set_io_ret(sch, ret)

    def cmd_ret(self, sch: int) -> int:
        return self.k.cmd_ret(sch)

    def set_cmd_ret(self, sch: int, ret: int) -> None:
        self.k.set_cmd_ret(sch, ret)


__all__ = ["D_STATE", "POISON_WORD", "TERMINAL", "Base"]
