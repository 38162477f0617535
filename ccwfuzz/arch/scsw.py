"""Subchannel status word, command mode (spec A.2), and its field-validity rules.

The masks are module constants because the simulator works on raw words for speed; the
:class:`Scsw` dataclass is the typed view for users, tests and reports.
"""

from __future__ import annotations

import dataclasses

from ccwfuzz.arch._fields import ControlBlock, Field, check_fields

# Word 0 (spec A.2 table).
KEY = 0xF0000000
S = 0x08000000
L = 0x04000000  # ESW format (ESWF)
CC = 0x03000000
CC_SHIFT = 24
F = 0x00800000
P = 0x00400000
I = 0x00200000  # noqa: E741
A = 0x00100000
U = 0x00080000
Z = 0x00040000
E = 0x00020000
N = 0x00010000
RESERVED = 0x00008000  # spec G.17: always zero here
FC_START = 0x00004000
FC_HALT = 0x00002000
FC_CLEAR = 0x00001000
FC = FC_START | FC_HALT | FC_CLEAR
AC_RESUME_PENDING = 0x00000800
AC_START_PENDING = 0x00000400
AC_HALT_PENDING = 0x00000200
AC_CLEAR_PENDING = 0x00000100
AC_SUBCHANNEL_ACTIVE = 0x00000080
AC_DEVICE_ACTIVE = 0x00000040
AC_SUSPENDED = 0x00000020
AC = 0x00000FE0
AC_PENDING_BITS = AC_RESUME_PENDING | AC_START_PENDING | AC_HALT_PENDING | AC_CLEAR_PENDING
SC_ALERT = 0x00000010
SC_INTERMEDIATE = 0x00000008
SC_PRIMARY = 0x00000004
SC_SECONDARY = 0x00000002
SC_PENDING = 0x00000001
SC = 0x0000001F
#: Word-0 bits copied from the ORB when a start function is accepted (spec B.1, HERC).
FROM_ORB = KEY | S | F | P | I | A | U

# Word 2: device status (bits 0-7), subchannel status (8-15), residual count (16-31).
DSTAT_SHIFT = 24
CSTAT_SHIFT = 16
COUNT = 0x0000FFFF

DEV_ATTENTION = 0x80
DEV_STATUS_MODIFIER = 0x40
DEV_CONTROL_UNIT_END = 0x20
DEV_BUSY = 0x10
DEV_CHANNEL_END = 0x08
DEV_DEVICE_END = 0x04
DEV_UNIT_CHECK = 0x02
DEV_UNIT_EXCEPTION = 0x01

SCH_PCI = 0x80
SCH_INCORRECT_LENGTH = 0x40
SCH_PROGRAM_CHECK = 0x20
SCH_PROTECTION_CHECK = 0x10
SCH_CHANNEL_DATA_CHECK = 0x08
SCH_CHANNEL_CONTROL_CHECK = 0x04
SCH_INTERFACE_CONTROL_CHECK = 0x02
SCH_CHAINING_CHECK = 0x01

SIZE = 12


@check_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Scsw(ControlBlock):
    """Command-mode SCSW (spec A.2). ``fc``, ``ac`` and ``sc`` keep their raw masks'
    bit order: e.g. ``fc == 0b100`` is the start function."""

    key: int = 0
    s: int = 0
    l: int = 0  # noqa: E741
    cc: int = 0
    f: int = 0
    p: int = 0
    i: int = 0
    a: int = 0
    u: int = 0
    z: int = 0
    e: int = 0
    n: int = 0
    reserved: int = 0
    fc: int = 0
    ac: int = 0
    sc: int = 0
    cpa: int = 0
    dstat: int = 0
    cstat: int = 0
    count: int = 0

    WORDS = 3
    FIELDS = (
        Field("key", 0, KEY),
        Field("s", 0, S),
        Field("l", 0, L),
        Field("cc", 0, CC),
        Field("f", 0, F),
        Field("p", 0, P),
        Field("i", 0, I),
        Field("a", 0, A),
        Field("u", 0, U),
        Field("z", 0, Z),
        Field("e", 0, E),
        Field("n", 0, N),
        Field("reserved", 0, RESERVED),
        Field("fc", 0, FC),
        Field("ac", 0, AC),
        Field("sc", 0, SC),
        Field("cpa", 1, 0xFFFFFFFF),
        Field("dstat", 2, 0xFF000000),
        Field("cstat", 2, 0x00FF0000),
        Field("count", 2, COUNT),
    )

    @property
    def word0(self) -> int:
        return self.to_words()[0]

    def describe(self) -> str:
        """One line a person can read, e.g. ``FC=start AC=- SC=primary|secondary|pending
        DS=CE|DE CPA=0x1018 count=0``."""
        return describe(self.word0, self.cpa, self.dstat, self.cstat, self.count)


_FC_NAMES = ((FC_START, "start"), (FC_HALT, "halt"), (FC_CLEAR, "clear"))
_AC_NAMES = (
    (AC_RESUME_PENDING, "resume-pending"), (AC_START_PENDING, "start-pending"),
    (AC_HALT_PENDING, "halt-pending"), (AC_CLEAR_PENDING, "clear-pending"),
    (AC_SUBCHANNEL_ACTIVE, "subchannel-active"), (AC_DEVICE_ACTIVE, "device-active"),
    (AC_SUSPENDED, "suspended"),
)  # fmt: skip
_SC_NAMES = (
    (SC_ALERT, "alert"), (SC_INTERMEDIATE, "intermediate"), (SC_PRIMARY, "primary"),
    (SC_SECONDARY, "secondary"), (SC_PENDING, "pending"),
)  # fmt: skip
_DEV_NAMES = ("ATTN", "SM", "CUE", "BUSY", "CE", "DE", "UC", "UE")
_SCH_NAMES = ("PCI", "IL", "PGM", "PROT", "CDC", "CCC", "IFCC", "CHAIN")


def _names(value: int, table: tuple[tuple[int, str], ...]) -> str:
    return "|".join(n for m, n in table if value & m) or "-"


def _bits(value: int, names: tuple[str, ...]) -> str:
    return "|".join(n for k, n in enumerate(names) if value & (0x80 >> k)) or "-"


def describe(w0: int, cpa: int = 0, dstat: int = 0, cstat: int = 0, count: int = 0) -> str:
    """Human-readable SCSW (spec A.2 names)."""
    parts = [f"FC={_names(w0, _FC_NAMES)}", f"AC={_names(w0, _AC_NAMES)}",
             f"SC={_names(w0, _SC_NAMES)}"]  # fmt: skip
    if w0 & CC:
        parts.append(f"deferred-cc={(w0 & CC) >> CC_SHIFT}")
    parts += [f"{flag}" for flag, m in (("Z", Z), ("E", E), ("N", N)) if w0 & m]
    if w0 & SC_PENDING:
        parts += [f"DS={_bits(dstat, _DEV_NAMES)}", f"SS={_bits(cstat, _SCH_NAMES)}",
                  f"CPA={cpa:#x}", f"count={count}"]  # fmt: skip
    return " ".join(parts)


def is_solicited(w0: int) -> bool:
    """Spec A.2: unsolicited iff deferred cc 0 and SC is exactly alert + pending."""
    return not ((w0 & CC) == 0 and (w0 & SC) == (SC_ALERT | SC_PENDING))


def is_final(w0: int) -> bool:
    """Spec C.1 (vfio-ccw contract): final iff neither subchannel- nor device-active."""
    return not (w0 & (AC_SUBCHANNEL_ACTIVE | AC_DEVICE_ACTIVE))


def validity_violations(w0: int) -> list[str]:
    """Architectural consistency problems of a stored SCSW word 0 (spec A.2, C.1).

    An empty list means the word is one the architecture allows: FC/AC/SC combinations
    that can occur, and the conditionally-valid fields (deferred cc, Z, E, N) set only
    where spec A.2 says they are meaningful. Fields that are merely *not meaningful* may
    hold stale values (key, S, F, P, I, A, U, status bytes), as on real machines.
    """
    bad: list[str] = []
    fc, ac, sc = w0 & FC, w0 & AC, w0 & SC
    pending = bool(sc & SC_PENDING)
    if w0 & RESERVED:
        bad.append("reserved bit 16 set (spec G.17)")
    if (w0 & CC) == 2 << CC_SHIFT:
        bad.append("deferred cc 2 is reserved (spec A.2)")
    if w0 & CC and not (fc & FC_START and pending):
        bad.append("deferred cc without FC start and status pending (spec A.2)")
    if w0 & Z and not (fc & FC_START and sc & SC_INTERMEDIATE):
        bad.append("Z without FC start and intermediate status (spec A.2)")
    if w0 & E and not (pending and not sc & SC_INTERMEDIATE and sc & SC_ALERT):
        bad.append("E without pending, non-intermediate alert status (spec A.2)")
    if w0 & N and not (fc and pending and (not sc & SC_INTERMEDIATE or ac & AC_SUSPENDED)):
        bad.append("N outside its validity condition (spec A.2)")
    if sc and not pending:
        bad.append("status-control bits without status pending (spec C.1)")
    if fc & FC_CLEAR and fc & (FC_START | FC_HALT):
        bad.append("clear function together with start or halt (spec B.3)")
    if ac & AC_CLEAR_PENDING and not fc & FC_CLEAR:
        bad.append("clear pending without FC clear (spec B.3)")
    if ac & AC_HALT_PENDING and not fc & FC_HALT:
        bad.append("halt pending without FC halt (spec B.2)")
    if ac & (AC_START_PENDING | AC_RESUME_PENDING | AC_SUSPENDED) and not fc & FC_START:
        bad.append("start/resume pending or suspended without FC start (spec B.1, B.7)")
    if ac & AC_SUSPENDED and ac & (AC_SUBCHANNEL_ACTIVE | AC_START_PENDING):
        bad.append("suspended while subchannel active or start pending (spec C.3)")
    if ac & AC_SUBCHANNEL_ACTIVE and not ac & AC_DEVICE_ACTIVE:
        bad.append("subchannel active without device active (spec C.1)")
    if ac & AC_SUBCHANNEL_ACTIVE and not fc & (FC_START | FC_HALT):
        bad.append("subchannel active without a start or halt function (spec C.1)")
    if sc & SC_INTERMEDIATE and sc & (SC_PRIMARY | SC_SECONDARY):
        bad.append("intermediate together with primary or secondary status (spec C.1)")
    if sc & SC_INTERMEDIATE and not fc & FC_START:
        bad.append("intermediate status without FC start (spec C.3)")
    if sc & SC_PRIMARY and ac & AC_SUBCHANNEL_ACTIVE:
        bad.append("primary status while subchannel active (spec C.1)")
    if sc & SC_SECONDARY and ac & AC_DEVICE_ACTIVE:
        bad.append("secondary status while device active (spec C.1)")
    if (
        pending
        and sc & SC_INTERMEDIATE
        and not ac & (AC_SUBCHANNEL_ACTIVE | AC_DEVICE_ACTIVE | AC_SUSPENDED)
    ):
        bad.append("intermediate status on a function that is not active (spec C.1)")
    return bad


def is_final_for_start(w0: int) -> bool:
    """Word 0 ends a start function for the guest: FC start with status pending, and
    primary status or a deferred condition code (spec C.2, C.5); not intermediate
    status, not a halt's or clear's status.

    Example:
        >>> is_final_for_start(FC_START | SC_PRIMARY | SC_SECONDARY | SC_PENDING)
        True
        >>> is_final_for_start(FC_START | AC_SUBCHANNEL_ACTIVE | AC_DEVICE_ACTIVE
        ...                    | SC_INTERMEDIATE | SC_PENDING)
        False
    """
    if w0 & (FC_HALT | FC_CLEAR) or not w0 & FC_START or not w0 & SC_PENDING:
        return False
    return bool(w0 & SC_PRIMARY or (w0 & CC and w0 & SC_ALERT))
