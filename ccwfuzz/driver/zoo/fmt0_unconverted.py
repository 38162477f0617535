"""``zoo:fmt0-unconverted`` -- format-0 CCWs parsed as format 1.

Bug: the format-0 to format-1 conversion ran over zero CCWs, so the guest's format-0
bytes were read as format-1 CCWs: flags, count and data address all come from the
wrong bytes, and the host program does something else than the guest's.
Interleaving: none needed; any start whose ORB has F=0 (spec A.1, A.6).
Fix: c382cbc6dbf5 "vfio-ccw: Fix the conversion of Format-0 CCWs to Format-1" (v5.3
merge window; broken by 7f8e89a8f2fd in the same window).
Caught by: ``driver.translation-equivalence``.
Minimal: 2 ops (open; SSCH of a format-0 chain).
"""

from __future__ import annotations

import struct

from ccwfuzz.arch import ccw as C
from ccwfuzz.driver.reference import Reference


class Fmt0Unconverted(Reference):
    name = "fmt0-unconverted"
    expected_rule = "driver.translation-equivalence"

    @staticmethod
    def convert(raw: bytes, fmt1: bool) -> C.Ccw1:
        return C.Ccw1(*struct.unpack(">BBHI", raw))
