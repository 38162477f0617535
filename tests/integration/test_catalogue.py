"""Issue 4 item 2: the oracle catalogue is complete. Every registered rule has a
docstring, a spec reference, a case where it fires (run here, in test_oracles.py or by a
zoo quality test) and stays silent on reference (tests/quality, test_oracles.py)."""

from __future__ import annotations

from collections.abc import Callable

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
    "arch.unsolicited-fc": lambda: V(R(0, Ev.INTERRUPT, 0, S.FC_START | S.SC_ALERT | S.SC_PENDING)),
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
    "arch.one-final-per-function": lambda: V(START),
}
#: Rules shown firing on tiny broken drivers in test_oracles.py.
BROKEN = {"driver.irb-integrity", "driver.one-cp", "driver.idle-no-cp", "driver.retcode",
          "driver.cp-free-final", "memory.poison-read", "sched.deadlock", "actor.crash",
          "sched.step-limit", "lock.double-acquire"}  # fmt: skip
#: Rules the zoo quality tests find (tests/quality/test_zoo.py).
ZOO = {cls.expected_rule for cls in MEMBERS.values()}


@pytest.mark.parametrize("rule", sorted(HISTORY))
def test_rule_fires_on_its_history(rule: str) -> None:
    assert rule in [f.rule for f in check(HISTORY[rule]())]


def test_every_rule_fires_somewhere() -> None:
    missing = set(RULES) - set(HISTORY) - BROKEN - ZOO
    assert not missing, f"rules with no firing test: {sorted(missing)}"
    unknown = (set(HISTORY) | BROKEN | ZOO) - set(RULES)
    assert not unknown, unknown


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_is_documented(rule_id: str) -> None:
    r = RULES[rule_id]
    assert r.doc and r.statement and r.spec
    assert any(c.isdigit() or c in "ABCDEG" for c in r.spec), r.spec  # names a spec section


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
