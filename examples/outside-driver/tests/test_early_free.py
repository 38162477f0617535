"""Our suite: ccwfuzz fuzzes our driver model through its pytest plugin and its
Hypothesis strategies, and must find the early free we planted."""

from __future__ import annotations

import re

import pytest
from ccwfuzz.strategies import programs
from hypothesis import HealthCheck, Phase, given, settings

from ccwfuzz.testing import assert_clean

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
        assert_clean(program, pool=pool, rule="driver.cp-free-final")

    with pytest.raises(AssertionError) as failed:
        early_free_survives()
    # what Hypothesis reports is its smallest failing program, with a replay token:
    # "[driver.cp-free-final] on outside_driver:EarlyFree: ..., 2 ops
    #    replay: ccwfuzz replay ccw1...."
    message = str(failed.value)
    assert message.startswith("[driver.cp-free-final]") and "ccwfuzz replay ccw1." in message
    ops = int(re.search(r", (\d+) ops\n", message).group(1))
    assert ops <= 4, message  # shrunk to a handful of ops (ccwfuzz minimize gets 2 or 3)
