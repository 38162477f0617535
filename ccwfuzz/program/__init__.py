"""Programs: plain data, their JSON form, and random generation."""

from __future__ import annotations

from ccwfuzz.program.encoding import ProgramError, dumps, load, loads, save
from ccwfuzz.program.generate import ChoiceSource, RandomSource, random_program
from ccwfuzz.program.ops import Ccw, HwEvent, Op, Program, Schedule

__all__ = [
    "Ccw",
    "ChoiceSource",
    "HwEvent",
    "Op",
    "Program",
    "ProgramError",
    "RandomSource",
    "Schedule",
    "dumps",
    "load",
    "loads",
    "random_program",
    "save",
]
