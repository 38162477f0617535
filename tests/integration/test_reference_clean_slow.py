"""Reference produces no finding in 10,000 controlled runs of random programs
nor in 60 s of free stress. Long: run with ``pytest -m slow``."""

from __future__ import annotations

import collections

import pytest

from ccwfuzz.engines import stress
from ccwfuzz.exec import Pool
from ccwfuzz.oracles import check, view_of
from ccwfuzz.program import Mode, RandomSource, RunRequest, random_program
from ccwfuzz.sync import Outcome

pytestmark = pytest.mark.slow


def test_reference_clean_in_10000_controlled_runs() -> None:
    findings: collections.Counter[str] = collections.Counter()
    with Pool() as pool:
        names = pool.lock_names()
        for seed in range(10_000):
            p = random_program(RandomSource(1_000_000 + seed))
            r = pool.run(RunRequest(p))
            assert r.outcome == Outcome.DONE, seed
            for f in check(view_of(r, p, names)):
                findings[f.line()] += 1
    assert not findings, findings.most_common(5)


def test_reference_clean_in_60s_free_stress() -> None:
    with Pool() as pool:
        hits = [h.finding.line() for h in stress(pool, 60.0, seed=4242, mode=Mode.FREE)]
    assert hits == []
