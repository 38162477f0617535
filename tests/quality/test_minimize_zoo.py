"""``minimize`` shrinks every zoo member's first seeded-search finding to at most the
hand-minimal size written in the member's docstring (``Minimal: N ops``, worker ops and
hardware events counted together) plus one, for the same finding key, and the result
replays 10/10.

Budgets are predicate calls, not seconds, so the verdict does not depend on how loaded
the machine is (``python -m ccwfuzz.bench.minimize`` measures the seconds). CI runs one
search seed (2) for a spread of members; ``pytest -m slow`` runs every member, three seeds.
"""

from __future__ import annotations

import importlib
import re

import pytest

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.engines.reproduce import Saved, make_reproducer, same_finding
from ccwfuzz.exec import Pools

MAX_CALLS = 3000
#: (member, search seed) where the shrink ends in a local minimum above the bound: the
#: smallest program is a different one (boxed-busy: a raw region write stands in for
#: the second SSCH). Measured (python -m ccwfuzz.bench.minimize --seeds 1,2,3), kept
#: visible as an expected failure.
LOCAL_MINIMA = {("boxed-busy", 1)}
#: Members of every kind: translation, return codes, lifecycle, hardware-event windows,
#: liveness, locking, IRB integrity.
CI_MEMBERS = ("idle-on-intermediate", "idal-2k-grouped", "boxed-busy", "close-races-todo",
              "todo-outside-mutex", "idle-on-clear", "lock-order-inversion",
              "unlocked-region", "notoper-free-running")  # fmt: skip


def hand_minimal(name: str) -> int:
    doc = importlib.import_module(MEMBERS[name].__module__).__doc__ or ""
    m = re.search(r"^Minimal: (\d+) ops", doc, re.M)
    assert m, f"{name}: no 'Minimal: N ops' line in its docstring"
    return int(m.group(1))


def _check(name: str, seed: int) -> None:
    rule = MEMBERS[name].expected_rule
    pools = Pools()
    try:
        pool = pools(f"zoo:{name}", 2, 3)
        found = search(pool, rule, budget=3000, seed=seed, max_steps=20_000)
        assert found.ok, f"{name}: search seed {seed} found no {rule}"
        rep = make_reproducer(pools, Saved(found.program, found.found.key, None),
                              max_steps=20_000, max_calls=MAX_CALLS, replays=10)  # fmt: skip
        assert rep is not None, f"{name}: the search finding does not replay"
        small = rep.program
        assert small.op_count() <= hand_minimal(name) + 1, (
            f"{name} seed {seed}: {rep.from_ops} -> {small.op_count()} ops, hand-minimal "
            f"{hand_minimal(name)}: {[[o.kind for o in w] for w in small.workers]} "
            f"{[e.event for e in small.channel]}"
        )
        assert rep.key == found.found.key and rep.reliability.label == "10/10 deterministic"
        # the saved reproducer fires its own key from scratch, on a fresh predicate
        holds = same_finding(pools, rep.key, max_steps=20_000)
        assert holds(small).holds
    finally:
        pools.close()


def test_every_member_has_a_hand_minimal_size() -> None:
    assert all(1 <= hand_minimal(n) <= 6 for n in MEMBERS)


@pytest.mark.parametrize("name", CI_MEMBERS)
def test_minimize_reaches_hand_minimal(name: str) -> None:
    _check(name, 2)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MEMBERS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_minimize_reaches_hand_minimal_all(name: str, seed: int) -> None:
    if (name, seed) in LOCAL_MINIMA:
        pytest.xfail("a known local minimum (see LOCAL_MINIMA)")
    _check(name, seed)
