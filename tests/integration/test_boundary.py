"""Rules judged at the userspace boundary: what the workers received, compared with the
FSM's answer and the contract (spec D.1, D.4). Each fires on a driver whose bug sits
between the point the driver records and what userspace gets, and is silent on
``reference``."""

from __future__ import annotations

import pytest

from ccwfuzz.engines import search
from ccwfuzz.exec import Pool

BROKEN = "brokendrivers"
CASES = [
    ("IgnoresRetCode", "driver.user-answer"),
    ("RetAfterUnlock", "driver.user-answer"),
    ("UntranslatedCpa", "driver.irb-translated"),
    ("OpenLeavesStandby", "driver.lifecycle"),
]


@pytest.mark.parametrize(
    ("cls", "rule"), [pytest.param(c, r, marks=pytest.mark.fires(r)) for c, r in CASES]
)
def test_boundary_rule_fires_on_a_driver_that_breaks_it(cls: str, rule: str) -> None:
    with Pool(f"{BROKEN}:{cls}") as pool:
        r = search(pool, rule, budget=1500, seed=3, max_steps=10_000)
    assert r.ok, f"{cls}: {rule} not found in {r.runs} runs (saw {r.other})"


def test_boundary_rules_are_silent_on_reference() -> None:
    rules = {rule for _, rule in CASES}
    with Pool() as pool:
        for rule in sorted(rules):
            r = search(pool, rule, budget=400, seed=5, max_steps=10_000)
            assert not r.ok, f"reference: {r.found.line() if r.found else rule}"
