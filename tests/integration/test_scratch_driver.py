"""The from-scratch driver an outside team would write from ``docs/writing-a-driver.md``
alone (``tests/drivers/scratch.py``; it subclasses nothing of the reference): the
contract checker accepts it, it is clean on random programs in both modes, and each bug
planted into it (``tests/drivers/scratch_bugs.py``) is caught with the rule it names.
The long budgets (10,000 controlled runs, 60 s free) are in the slow suite."""

from __future__ import annotations

import inspect

import pytest
from drivers import scratch, scratch_bugs

from ccwfuzz.driver import resolve
from ccwfuzz.driver.reference import Reference
from ccwfuzz.engines import search, stress
from ccwfuzz.engines.conformance import check_driver
from ccwfuzz.engines.loop import Session
from ccwfuzz.exec import Pool
from ccwfuzz.program import Mode

TARGET = "drivers.scratch:ScratchDriver"
BUGS = [
    cls
    for _, cls in inspect.getmembers(scratch_bugs, inspect.isclass)
    if issubclass(cls, scratch.ScratchDriver) and cls is not scratch.ScratchDriver
]


def test_scratch_driver_is_written_from_scratch() -> None:
    assert not issubclass(scratch.ScratchDriver, Reference)
    assert len(BUGS) >= 3 and len({b.expected_rule for b in BUGS}) >= 3


def test_check_driver_accepts_the_scratch_driver() -> None:
    with Pool(TARGET, subchannels=1, workers=2) as pool:
        report = check_driver(pool, resolve(TARGET))
    assert report.problems == [] and report.notes == [], report.lines()


def test_scratch_driver_clean_on_random_programs_both_modes() -> None:
    with Pool(TARGET) as pool:
        session = Session(pool, seed=21, budget=400, max_steps=20_000)
        found = [f.line() for j in session for f in j.findings if f.rule not in scratch.PRE_PINNING]
        assert found == []
        hits = [h.finding.line() for h in stress(pool, 4.0, seed=22, mode=Mode.FREE)
                if h.finding.rule not in scratch.PRE_PINNING]  # fmt: skip
    assert hits == []


@pytest.mark.parametrize(
    "bug", [pytest.param(b, marks=pytest.mark.fires(b.expected_rule), id=b.__name__) for b in BUGS]
)
def test_planted_bug_is_caught_with_its_rule(bug: type) -> None:
    with Pool(f"drivers.scratch_bugs:{bug.__name__}") as pool:
        r = search(pool, bug.expected_rule, budget=2000, seed=1, max_steps=20_000)
    assert r.ok, f"{bug.__name__}: {bug.expected_rule} not found in {r.runs} runs ({r.other})"
