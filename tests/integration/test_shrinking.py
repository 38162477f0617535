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

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines.reproduce import judge_once, same_finding
from ccwfuzz.exec import Pool
from ccwfuzz.minimize import minimize
from ccwfuzz.program import Program, dumps, loads

SEEDS = (1, 2, 3)
WORKERS, SUBCHANNELS, MAX_STEPS = 3, 2, 20_000


def _fired(pool: Pool, program: Program, rule: str) -> tuple[str, ...] | None:
    judged = judge_once(pool, program, max_steps=MAX_STEPS)
    hits = [f for f in judged.findings if f.rule == rule] if judged is not None else []
    return hits[0].key if hits else None


def hypothesis_shrinks(pool: Pool, target: str, rule: str, at: int
                       ) -> tuple[Program, tuple[str, ...], Program]:  # fmt: skip
    """The first failing program Hypothesis met under seed ``at``, its finding's key,
    and the program Hypothesis shrank the failure to (the last one it ran: Hypothesis
    ends by replaying its minimal example)."""
    failing: list[tuple[Program, tuple[str, ...]]] = []

    @seed(at)
    @settings(max_examples=1000, deadline=None, database=None,
              phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(programs("valid", workers=WORKERS, ops=8, subchannels=SUBCHANNELS, target=target))
    def never_fires(program: Program) -> None:
        key = _fired(pool, program, rule)
        if key is not None:
            failing.append((program, key))
        assert key is None, rule

    with pytest.raises(AssertionError):
        never_fires()
    (first, key), (shrunk, _) = failing[0], failing[-1]
    return first, key, shrunk


@pytest.mark.parametrize("member", ["boxed-busy", "single-irb-slot"])
def test_hypothesis_shrinks_about_as_far_as_ccwfuzz_minimize(member):
    rule, target = MEMBERS[member].expected_rule, f"zoo:{member}"
    sizes = []
    with Pool(target, subchannels=SUBCHANNELS, workers=WORKERS) as pool:
        for at in SEEDS:
            first, key, shrunk = hypothesis_shrinks(pool, target, rule, at)
            # what Hypothesis reports is an ordinary program: saved and loaded again, it
            # still fires the same finding
            assert _fired(pool, loads(dumps(shrunk)), rule) is not None
            holds = same_finding(lambda t, s, w: pool, key, max_steps=MAX_STEPS)
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
