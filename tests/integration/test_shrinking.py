"""Hypothesis shrinks a failing whole program to about the size ``ccwfuzz minimize``
reaches (issue 13, item 2).

A ``@given(ccwfuzz.strategies.programs(...))`` property that a zoo member breaks is run
under fixed Hypothesis seeds; Hypothesis' own shrinker shrinks the failure. The first
failing program Hypothesis met is then minimized by ccwfuzz's program-level
minimizer (what ``ccwfuzz minimize`` runs), and the two sizes are compared, op for op.
Both run in controlled mode, so every verdict, and with a fixed seed every example
Hypothesis tries, is the same on any machine however loaded.
"""

from __future__ import annotations

import pytest
from ccwfuzz.strategies import programs
from hypothesis import HealthCheck, Phase, given, seed, settings

from ccwfuzz.bench.hypothesis_shrink import (
    MAX_STEPS,
    SUBCHANNELS,
    WORKERS,
    fired,
    hypothesis_shrinks,
)
from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines.reproduce import same_finding
from ccwfuzz.exec import Pool
from ccwfuzz.minimize import minimize
from ccwfuzz.program import Program, dumps, loads

SEEDS = (1, 2, 3)


@pytest.mark.parametrize("member", ["boxed-busy", "single-irb-slot"])
def test_hypothesis_shrinks_about_as_far_as_ccwfuzz_minimize(member):
    rule, target = MEMBERS[member].expected_rule, f"zoo:{member}"
    sizes = []
    with Pool(target, subchannels=SUBCHANNELS, workers=WORKERS) as pool:
        for at in SEEDS:
            got = hypothesis_shrinks(pool, target, rule, at)
            assert got is not None, f"seed {at}: Hypothesis found no failure"
            first, shrunk = got["first"], got["shrunk"]
            # what Hypothesis reports is an ordinary program: saved and loaded again, it
            # still fires the same finding
            assert fired(pool, loads(dumps(shrunk)), rule) is not None
            holds = same_finding(lambda t, s, w: pool, got["key"], max_steps=MAX_STEPS)
            small = minimize(first, holds, max_calls=2000).program
            sizes.append((at, first.op_count(), shrunk.op_count(), small.op_count()))
    # (seed, ops found, ops after Hypothesis' shrinking, ops after ccwfuzz minimize)
    for _, found, by_hypothesis, by_minimize in sizes:
        assert by_hypothesis <= by_minimize + 1, sizes
        assert by_hypothesis < found, sizes


def test_a_hypothesis_failure_is_one_replay_command_away():
    import re
    import subprocess
    import sys

    from ccwfuzz.testing import assert_clean

    target = "zoo:boxed-busy"
    with Pool(target, subchannels=SUBCHANNELS, workers=WORKERS) as pool:

        @seed(1)
        @settings(max_examples=200, deadline=None, database=None,
                  phases=[Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(programs(workers=WORKERS, subchannels=SUBCHANNELS, target=target))
        def clean(program: Program) -> None:
            assert_clean(program, pool=pool, rule="driver.retcode", max_steps=MAX_STEPS)

        with pytest.raises(AssertionError) as failed:
            clean()
    message = str(failed.value)
    assert message.startswith("[driver.retcode] on zoo:boxed-busy:"), message
    ops = int(re.search(r", (\d+) ops\n", message).group(1))
    assert ops <= 4, message  # what Hypothesis shrank it to
    token = re.search(r"ccwfuzz replay (ccw1\.\S+)", message).group(1)
    replay = subprocess.run([sys.executable, "-m", "ccwfuzz", "replay", token],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert replay.returncode == 1 and "driver.retcode" in replay.stdout, replay.stdout
