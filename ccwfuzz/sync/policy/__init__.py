"""Schedule policies: how the controlled scheduler picks the next actor.

One small module per policy, each an instance of :class:`SchedulePolicy` behind the
same three calls. A policy decides only from the scheduler words and its own schedule
data in the segment (never from a clock or a PRNG), so the same program and schedule
give the same decisions. Whatever a policy decides, the scheduler records it as the
index of the chosen actor among the runnable ones, so every run can be replayed with
the ``choices`` policy (:mod:`.choices`).
"""

from __future__ import annotations

from ccwfuzz.sync.policy import choices, lag, order, pct, walk
from ccwfuzz.sync.policy.base import Policy, SchedulePolicy

POLICIES: dict[Policy, SchedulePolicy] = {
    p.policy: p for p in (pct.POLICY, choices.POLICY, walk.POLICY, order.POLICY, lag.POLICY)
}
#: Policies by their word code (index 0 unused: a zeroed segment names no policy).
BY_CODE: list[SchedulePolicy] = [POLICIES[Policy.CHOICES]] * (1 + max(p.code for p in Policy))
for _p in POLICIES.values():
    BY_CODE[_p.policy.code] = _p

__all__ = ["BY_CODE", "POLICIES", "Policy", "SchedulePolicy"]
