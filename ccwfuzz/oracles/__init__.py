"""Oracles: pure functions of a run history (DESIGN section 5), registered by rule id."""

from __future__ import annotations

from ccwfuzz.oracles import arch, driver, locking, runtime, translation
from ccwfuzz.oracles.locking import LockGraph
from ccwfuzz.oracles.registry import RULES, Finding, Rule, RunView, check, not_judged, view_of

__all__ = [
    "RULES",
    "Finding",
    "LockGraph",
    "Rule",
    "RunView",
    "arch",
    "check",
    "driver",
    "locking",
    "not_judged",
    "runtime",
    "translation",
    "view_of",
]
