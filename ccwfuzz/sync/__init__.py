"""Scheduling points, both sides of the scheduler, shared-memory primitives and the run
history."""

from __future__ import annotations

from ccwfuzz.sync.control import Controller
from ccwfuzz.sync.history import Ev, History, Record
from ccwfuzz.sync.policy import Policy
from ccwfuzz.sync.primitives import (
    Completion,
    EventCounter,
    Kind,
    Mutex,
    SpinLock,
    Table,
    WaitQueue,
)
from ccwfuzz.sync.sched import Context, RunAborted
from ccwfuzz.sync.words import Cmd, Mode, Outcome, Status

__all__ = [
    "Cmd",
    "Completion",
    "Context",
    "Controller",
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
