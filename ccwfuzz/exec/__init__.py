"""Actors, the persistent pool, and runs."""

from __future__ import annotations

from ccwfuzz.exec.pool import DriverStartError, Pool, PoolError, Pools
from ccwfuzz.program.run import RunResult

__all__ = ["DriverStartError", "Pool", "PoolError", "Pools", "RunResult"]
