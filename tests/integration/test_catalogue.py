"""The oracle catalogue is complete: every registered rule has a docstring, a spec
reference naming real sections, and a test marked ``@pytest.mark.fires(rule)`` that shows
it firing (here, in test_oracles.py or in a zoo quality test); reference stays silent
(tests/quality, test_oracles.py)."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver.contract import State
from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.oracles import RULES, RunView, check
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Record


def R(seq: int, kind: Ev, *args: int, actor: int = 0) -> Record:
    return Record((seq, actor, kind, *args, *([0] * (5 - len(args)))))


def V(*records: Record, outcome: Outcome = Outcome.DONE, **kw: object) -> RunView:
    return RunView(list(records), outcome, "reference", 1, 1, **kw)  # type: ignore[arg-type]


START = R(0, Ev.INSTR, 1 | 256, 0, 0, 0, S.FC_START)
FINAL = S.FC_START | S.SC_PRIMARY | S.SC_SECONDARY | S.SC_PENDING

#: Rules shown firing on a hand-written history here.
HISTORY: dict[str, Callable[[], RunView]] = {
    "arch.pending-cleared": lambda: V(R(0, Ev.INSTR, 1 | 256, 0, 1, FINAL, 0)),
    "arch.unsolicited-fc": lambda: V(
        R(0, Ev.INSTR, 4 | 256, 0, 1, 0, 0),
        R(1, Ev.INTERRUPT, 0, S.FC_START | S.SC_ALERT | S.SC_PENDING),
    ),
    "lock.bad-unlock": lambda: V(R(0, Ev.BAD_UNLOCK, 3, 1)),
    "memory.double-free": lambda: V(R(0, Ev.CP_FREE, 0, 1, 0x20000, State.STANDBY)),
    "memory.leak": lambda: V(states=[State.STANDBY], cp_live=[True]),
    "sched.deadlock": lambda: V(outcome=Outcome.DEADLOCK),
    "sched.step-limit": lambda: V(R(0, Ev.LIMIT, 10), outcome=Outcome.LIMIT),
    "actor.crash": lambda: V(R(0, Ev.CRASH, 1)),
    "arch.cc": lambda: V(R(0, Ev.INSTR, 3, 0, 0, 0, 0)),
    "arch.scsw-valid": lambda: V(R(0, Ev.INTERRUPT, 0, FINAL | S.SC_INTERMEDIATE)),
    "arch.intermediate-not-final": lambda: V(
        R(0, Ev.INTERRUPT, 0, S.FC_START | S.SC_INTERMEDIATE | S.SC_PENDING)
    ),
    "arch.one-final-per-function": lambda: V(
        START, R(1, Ev.INTERRUPT, 0, S.SC_ALERT | S.SC_PENDING)
    ),
}


@pytest.mark.parametrize(
    "rule", [pytest.param(r, marks=pytest.mark.fires(r)) for r in sorted(HISTORY)]
)
def test_rule_fires_on_its_history(rule: str) -> None:
    assert rule in [f.rule for f in check(HISTORY[rule]())]


TESTS = Path(__file__).parents[1]


def fired_by_marker() -> dict[str, list[str]]:
    """Rule id -> the tests marked ``@pytest.mark.fires(rule)`` (directly or on a
    ``pytest.param``), found by importing every test module."""
    out: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        module = importlib.import_module(path.stem)
        for name, fn in vars(module).items():
            if not name.startswith("test_"):
                continue
            for mark in getattr(fn, "pytestmark", []):
                found = [mark] if mark.name == "fires" else []
                if mark.name == "parametrize":
                    found = [m for v in mark.args[1] for m in getattr(v, "marks", ())
                             if m.name == "fires"]  # fmt: skip
                for m in found:
                    for rule in m.args:
                        out.setdefault(rule, []).append(f"{path.name}::{name}")
    return out


def test_every_rule_has_a_test_that_shows_it_firing() -> None:
    fired = fired_by_marker()
    missing = set(RULES) - set(fired)
    assert not missing, f"rules no test marks as firing: {sorted(missing)}"
    unknown = set(fired) - set(RULES)
    assert not unknown, f"tests mark rules that do not exist: {sorted(unknown)}"


#: The section ids of spec/ccw-rules.md (and DESIGN.md's numbered sections).
SECTIONS = (
    {f"A.{k}" for k in range(1, 8)} | {f"B.{k}" for k in range(1, 11)}
    | {f"C.{k}" for k in range(1, 10)} | {f"D.{k}" for k in range(1, 5)}
    | {f"E{k}" for k in range(1, 20)} | {f"G.{k}" for k in range(1, 19)}
    | {f"H{k}" for k in range(1, 5)} | {f"DESIGN {k}" for k in range(1, 10)}
)  # fmt: skip
_ID = re.compile(r"^(DESIGN \d+|[A-H]\.?\d+)(?:-([A-H]\.?\d+))?$")


def section_ids(spec: str) -> tuple[list[str], list[str]]:
    """(ids the reference names, parts that are not ids). Outside parentheses every
    comma-separated part must be an id or a range of ids, followed by an optional
    parenthetical; inside it, id-like words must be real ids (commit ids and words
    may stand there too)."""
    ids, bad = [], []
    outside = re.sub(r"\([^)]*\)", "", spec)
    inside = " ".join(re.findall(r"\(([^)]*)\)", spec))
    for part in filter(None, (p.strip() for p in outside.split(","))):
        m = _ID.match(part.split(" io_todo")[0].strip())
        if not m:
            bad.append(part)
            continue
        ids += [x for x in m.groups() if x]
    ids += re.findall(r"\b(?:[A-H]\.\d+|[EGH]\d+)\b", inside)
    return ids, bad


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_is_documented_with_real_spec_sections(rule_id: str) -> None:
    r = RULES[rule_id]
    assert r.doc and r.statement and r.spec
    ids, bad = section_ids(r.spec)
    assert ids and not bad, f"{rule_id}: {r.spec!r} names no section or has {bad}"
    assert set(ids) <= SECTIONS, f"{rule_id}: not sections: {sorted(set(ids) - SECTIONS)}"


def test_section_check_rejects_made_up_sections() -> None:
    assert section_ids("D.1 (E12)") == (["D.1", "E12"], [])
    assert not set(section_ids("E21")[0]) <= SECTIONS
    assert section_ids("somewhere")[1] == ["somewhere"]
    assert not set(section_ids("B.1-B.11")[0]) <= SECTIONS


def test_section_list_matches_the_spec_when_it_is_here() -> None:
    spec = TESTS.parents[1] / "shared" / "spec" / "ccw-rules.md"
    if not spec.exists():
        pytest.skip("the spec is not next to this checkout")
    text = spec.read_text()
    headings = set(re.findall(r"^(?:### )?([A-G]\.\d+) ", text, re.M))
    headings |= set(re.findall(r"^\| (E\d+) \|", text, re.M))
    headings |= set(re.findall(r"^- (H\d) ", text, re.M))
    assert headings and headings <= SECTIONS, sorted(headings - SECTIONS)
    assert {x for x in SECTIONS if not x.startswith("DESIGN")} <= headings


def test_zoo_members_are_documented() -> None:
    import importlib

    for name, cls in MEMBERS.items():
        module = importlib.import_module(cls.__module__)
        doc = module.__doc__ or ""
        assert f"zoo:{name}" in doc and "Bug:" in doc and "Interleaving:" in doc, name
        assert "Caught by:" in doc and cls.expected_rule in doc, name
        assert cls.expected_rule in RULES, name


def test_close_liveness_survives_a_wrapped_history() -> None:
    """A free run that hangs in close fills the ring; the op each worker was in is kept
    outside it, so the livelock is still attributed to close."""
    from ccwfuzz.program.ops import OPS

    close = OPS.index("close") + 1
    v = V(outcome=Outcome.HANG, current_ops=[(close, 0)])
    assert "driver.close-liveness" in [f.rule for f in check(v)]
    assert "driver.close-liveness" not in [f.rule for f in check(V(outcome=Outcome.HANG))]


def test_free_mode_timeout_is_a_hang_not_done() -> None:
    """A free run that runs out of time is a HANG (a livelock), never a clean DONE."""
    from ccwfuzz.exec import Pool
    from ccwfuzz.program import Mode, Program, RunRequest, Yield

    prog = Program(subchannels=1, workers=((Yield(0, n=10**8),),))
    with Pool(subchannels=1, workers=1) as pool:
        r = pool.run(RunRequest(prog, Mode.FREE, timeout=0.2))
    assert r.outcome == Outcome.HANG
    assert r.current_ops == [(__import__("ccwfuzz").program.ops.OPS.index("yield") + 1, 0)]


def test_an_inconclusive_ending_keeps_what_the_history_shows() -> None:
    """A free run stopped by its clock: a lock taken twice is still a finding, the
    hang itself is not (the rules that judge endings are left out)."""
    v = V(R(0, Ev.DOUBLE_ACQUIRE, 3), outcome=Outcome.HANG)
    assert {f.rule for f in check(v)} >= {"lock.double-acquire", "sched.deadlock"}
    assert [f.rule for f in check(v, endings=False)] == ["lock.double-acquire"]
    assert {r.id for r in RULES.values() if r.judges_ending} == {
        "sched.deadlock", "sched.step-limit", "driver.close-liveness"}  # fmt: skip
