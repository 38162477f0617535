"""Every zoo bug is found by a seeded controlled search with the rule
that must catch it, and reference stays clean over the same budget.

Default budgets fit CI; ``pytest -m slow`` runs ten seeds per member with bigger budgets.
"""

from __future__ import annotations

import pytest

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.exec import Pool
from ccwfuzz.oracles import LockGraph, check, view_of
from ccwfuzz.program import RunRequest
from ccwfuzz.program.replay import decode, fingerprint

BUDGET = 2000  # runs per member in CI (the slowest member needs a few hundred)
SLOW_BUDGET = 5000


def replays(pool: Pool, token: str, key: tuple[str, str, str, str]) -> bool:
    """Run a finding's replay token (earlier lock-order runs first, into one lock
    graph) and say whether the same finding key fires again, with the same history."""
    graph = LockGraph()
    names = pool.lock_names()
    for part in token.split("+"):
        program, history = decode(part)
        result = pool.run(RunRequest(program, max_steps=20_000))
        found = check(view_of(result, program, names, graph))
    assert history is not None and history == fingerprint(result.raw), "replay diverged"
    return key in {f.key for f in found}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.fires(c.expected_rule)) for n, c in MEMBERS.items()]
)
def test_zoo_member_is_found_with_its_rule_and_replays(name: str) -> None:
    cls = MEMBERS[name]
    assert cls.expected_rule, f"{name} declares no expected rule"
    with Pool(f"zoo:{name}") as pool:
        r = search(pool, cls.expected_rule, budget=BUDGET, seed=1, max_steps=20_000)
        assert r.ok, f"{name}: {cls.expected_rule} not found in {r.runs} runs (saw {r.other})"
        assert r.found is not None
        assert replays(pool, r.token, r.found.key), f"{name}: the token does not reproduce"


def test_reference_is_clean_over_the_same_budget() -> None:
    with Pool() as pool:
        r = search(pool, None, budget=BUDGET, seed=1, max_steps=20_000)
    assert not r.ok, r.found.line() if r.found else ""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_zoo_member_is_found_for_ten_seeds(name: str) -> None:
    cls = MEMBERS[name]
    with Pool(f"zoo:{name}") as pool:
        for seed in range(10):
            r = search(pool, cls.expected_rule, budget=SLOW_BUDGET, seed=100 + seed,
                       max_steps=20_000)  # fmt: skip
            assert r.ok, (name, seed, r.runs, r.other)


@pytest.mark.slow
def test_reference_is_clean_over_the_slow_budget() -> None:
    with Pool() as pool:
        for seed in range(4):
            r = search(pool, None, budget=SLOW_BUDGET, seed=100 + seed, max_steps=20_000)
            assert not r.ok, r.found.line() if r.found else ""
