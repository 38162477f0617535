"""Pure architecture layer: control-block formats and rule helpers (spec A, B, C).

Nothing here touches shared memory or processes; every function is a function of its
arguments. Submodules keep the masks as module constants (``scsw.FC_START``) for code
that works on raw words, and typed dataclasses for everything else.
"""

from __future__ import annotations

from ccwfuzz.arch import ccw, irb, orb, schib, scsw, sid
from ccwfuzz.arch.ccw import Ccw0, Ccw1
from ccwfuzz.arch.exceptions import (
    AccessException,
    OperandException,
    ProgramInterruption,
    SpecificationException,
)
from ccwfuzz.arch.irb import Erw, Irb
from ccwfuzz.arch.orb import Orb
from ccwfuzz.arch.schib import Pmcw, Schib
from ccwfuzz.arch.scsw import Scsw

__all__ = [
    "AccessException",
    "Ccw0",
    "Ccw1",
    "Erw",
    "Irb",
    "OperandException",
    "Orb",
    "Pmcw",
    "ProgramInterruption",
    "Schib",
    "Scsw",
    "SpecificationException",
    "ccw",
    "irb",
    "orb",
    "schib",
    "scsw",
    "sid",
]
