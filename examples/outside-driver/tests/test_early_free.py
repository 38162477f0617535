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
    # Shrinking a whole program is ccwfuzz minimize's job (the fixture above does it);
    # this test only asks Hypothesis to find a failing program.
    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(programs("valid", workers=3, ops=8, subchannels=2, target=BUGGY))
    def early_free_survives(program):
        found = check(program, pool=pool)
        assert not [f for f in found if f.rule == "driver.cp-free-final"]

    with pytest.raises(AssertionError):
        early_free_survives()
