"""No oracle raises, whatever the history: every rule is fed randomly mutated
histories (words overwritten with boundary and random values, records dropped,
duplicated, swapped and truncated) taken from real runs of ``reference`` and of zoo
members. A malformed record is dropped by the view; a well-formed but impossible
sequence must still be judged without an exception."""

from __future__ import annotations

import dataclasses
import random

import pytest

from ccwfuzz.choices import RandomSource
from ccwfuzz.exec import Pool
from ccwfuzz.oracles import RULES, LockGraph, RunView, view_of
from ccwfuzz.program.generate import random_program
from ccwfuzz.program.run import RunRequest
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Record

BOUNDARY = (0, 1, 2, 3, 4, 5, 0xFF, 0x100, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


def _histories(target: str, n: int) -> list[RunView]:
    src = RandomSource(11)
    views = []
    with Pool(target, workers=3, subchannels=2) as pool:
        for _ in range(n):
            prog = dataclasses.replace(random_program(src, workers=3, subchannels=2),
                                       target=target)  # fmt: skip
            r = pool.run(RunRequest(prog))
            views.append(view_of(r, prog, pool.lock_names()))
    return views


def _mutate(rng: random.Random, records: list[Record]) -> list[Record]:
    rows = [list(r) for r in records]
    for _ in range(rng.randint(1, 12)):
        if not rows:
            break
        op = rng.randrange(6)
        i = rng.randrange(len(rows))
        if op == 0:  # one word: a boundary value
            rows[i][rng.randrange(1, 8)] = rng.choice(BOUNDARY)
        elif op == 1:  # one word: anything
            rows[i][rng.randrange(1, 8)] = rng.getrandbits(32)
        elif op == 2:
            del rows[i]
        elif op == 3:
            rows.insert(rng.randrange(len(rows) + 1), list(rows[i]))
        elif op == 4:
            j = rng.randrange(len(rows))
            rows[i], rows[j] = rows[j], rows[i]
        else:
            del rows[rng.randrange(len(rows)) :]
    return [Record(row) for row in rows]


@pytest.mark.parametrize("target", ["reference", "zoo:idle-on-clear", "zoo:lock-order-inversion"])
def test_no_oracle_raises_on_mutated_histories(target: str) -> None:
    rng = random.Random(target)
    views = _histories(target, 25)
    graph = LockGraph()
    judged = 0
    for base in views:
        for _ in range(40):
            records = _mutate(rng, base.records)
            outcome = rng.choice(list(Outcome))
            view = dataclasses.replace(base, records=records, outcome=outcome,
                                       lock_graph=graph, malformed=0)  # fmt: skip
            for rule in RULES.values():
                try:
                    rule.check(view)
                except Exception as e:
                    pytest.fail(f"{rule.id} raised {type(e).__name__}: {e} on a {target} history")
                judged += 1
    assert judged == len(views) * 40 * len(RULES)


def test_malformed_records_are_dropped_and_counted() -> None:
    view = _histories("reference", 1)[0]
    n = len(view.records)
    bad = [*view.records, Record([n, 99, 3, 1, 0, 0, 0, 0]), Record([n + 1, 0, 250, 0, 0, 0, 0, 0])]
    again = dataclasses.replace(view, records=bad, malformed=0)
    assert again.malformed == 2 and len(again.records) == n
