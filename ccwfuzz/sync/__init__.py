"""Scheduling points, shared-memory primitives and the run history."""

from __future__ import annotations

from ccwfuzz.sync.history import Ev, History, Record
from ccwfuzz.sync.primitives import (
    Completion,
    EventCounter,
    Kind,
    Mutex,
    SpinLock,
    Table,
    WaitQueue,
)
from ccwfuzz.sync.sched import Context, Mode, Outcome, Policy, RunAborted, Status

__all__ = [
    "Completion",
    "Context",
    "Ev",
    "EventCounter",
    "History",
    "Kind",
    "Mode",
    "Mutex",
    "Outcome",
    "Policy",
    "Record",
    "RunAborted",
    "SpinLock",
    "Status",
    "Table",
    "WaitQueue",
]
