"""Issue 4 item 4: every zoo bug is found by a seeded controlled search with the rule
that must catch it, and reference stays clean over the same budget.

Default budgets fit CI; ``pytest -m slow`` runs ten seeds per member with bigger budgets.
"""

from __future__ import annotations

import pytest

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.exec import Pool
from ccwfuzz.search import search

BUDGET = 2000  # runs per member in CI (the slowest member needs a few hundred)
SLOW_BUDGET = 5000


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_zoo_member_is_found_with_its_rule(name: str) -> None:
    cls = MEMBERS[name]
    assert cls.expected_rule, f"{name} declares no expected rule"
    with Pool(f"zoo:{name}") as pool:
        r = search(pool, cls.expected_rule, budget=BUDGET, seed=1, max_steps=10_000)
    assert r.ok, f"{name}: {cls.expected_rule} not found in {r.runs} runs (saw {r.other})"
    assert r.found is not None and r.found.key[3] == f"zoo:{name}"


def test_reference_is_clean_over_the_same_budget() -> None:
    with Pool() as pool:
        r = search(pool, None, budget=BUDGET, seed=1, max_steps=10_000)
    assert not r.ok, r.found.line() if r.found else ""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_zoo_member_is_found_for_ten_seeds(name: str) -> None:
    cls = MEMBERS[name]
    with Pool(f"zoo:{name}") as pool:
        for seed in range(10):
            r = search(pool, cls.expected_rule, budget=SLOW_BUDGET, seed=100 + seed,
                       max_steps=10_000)  # fmt: skip
            assert r.ok, (name, seed, r.runs, r.other)


@pytest.mark.slow
def test_reference_is_clean_over_the_slow_budget() -> None:
    with Pool() as pool:
        for seed in range(4):
            r = search(pool, None, budget=SLOW_BUDGET, seed=100 + seed, max_steps=10_000)
            assert not r.ok, r.found.line() if r.found else ""
