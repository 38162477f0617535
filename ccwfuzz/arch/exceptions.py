"""Program interruptions raised by the I/O instructions (spec B)."""

from __future__ import annotations


class ProgramInterruption(Exception):  # noqa: N818 - architecture vocabulary
    """An I/O instruction was suppressed with a program interruption; nothing changed."""

    code: int = 0

    def __init__(self, instruction: str, reason: str) -> None:
        super().__init__(f"{instruction}: {reason}")
        self.instruction = instruction
        self.reason = reason


class OperandException(ProgramInterruption):
    """Operand exception (code 0x15): invalid SID, ORB or SCHIB contents."""

    code = 0x15


class SpecificationException(ProgramInterruption):
    """Specification exception (code 0x06): misaligned operand address."""

    code = 0x06


class AccessException(ProgramInterruption):
    """Addressing exception (code 0x05): operand not accessible (e.g. too short)."""

    code = 0x05
