"""Our suite: ccwfuzz fuzzes our driver model through its pytest plugin and its
Hypothesis strategies, and must find the early free we planted."""

from __future__ import annotations

import pytest
from ccwfuzz.strategies import programs
from hypothesis import HealthCheck, Phase, given, settings

from ccwfuzz.testing import check

BUGGY = "outside_driver:EarlyFree"
FIXED = "outside_driver:Fixed"


@pytest.mark.ccwfuzz(target=BUGGY, time=30, rule="driver.cp-free-final")
def test_the_fuzzer_finds_the_early_free(ccwfuzz):
    found = ccwfuzz.run(fail=False)
    assert found.rule == "driver.cp-free-final"
    assert found.reproducer is not None and found.reproducer.is_file()
    assert found.timeline is not None and found.timeline.is_file()


@pytest.mark.ccwfuzz(target=FIXED, time=3)
def test_the_fixed_driver_survives_the_fuzzer(ccwfuzz):
    ccwfuzz.run()  # a finding would fail this test with its reproducer


@pytest.fixture(scope="module")
def pool():
    """One actor pool for every example Hypothesis tries (a pool per example would
    spend its time forking)."""
    from ccwfuzz import Pool

    with Pool(BUGGY, subchannels=2, workers=3) as p:
        yield p


def test_hypothesis_finds_the_early_free_too(pool):
    failing = []  # the failing programs Hypothesis ran; it ends with its smallest

    @settings(
        max_examples=3000,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: a CI verdict
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(programs("valid", workers=3, ops=8, subchannels=2, target=BUGGY))
    def early_free_survives(program):
        fired = [f for f in check(program, pool=pool) if f.rule == "driver.cp-free-final"]
        if fired:
            failing.append(program)
        assert not fired

    with pytest.raises(AssertionError):
        early_free_survives()
    # Hypothesis shrank what it found to a handful of ops: a start, the interrupt's
    # wait and what it needs (ccwfuzz minimize gets 2 or 3)
    assert failing[-1].op_count() <= 4, failing[-1]
