"""``zoo:prefetch-error-leak`` (spec E9) -- a failed translation leaves pages pinned.

Bug: when translating a later CCW failed, ``cp_init`` returned the error without
releasing what the earlier CCWs had pinned: the guest pages stay pinned with no
channel program owning them.
Interleaving: none needed; a start whose first data CCW is valid and a later one names
memory outside the guest (pinning fails, -EFAULT).
Fix: 8b515be512a2 "vfio-ccw: Fix memory leak and don't call cp_free in cp_init" (v5.3)
and ca5c75074435 "free all memory if cp_init() fails" (2026).
Caught by: ``memory.leak``.
Minimal: 2 ops (open; SSCH whose prefetch fails).
"""

from __future__ import annotations

from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class PrefetchErrorLeak(Reference):
    name = "prefetch-error-leak"
    expected_rule = "memory.leak"

    def prefetch_failed(self, ctx: Context, sch: int) -> None:
        pass  # nothing unpinned
