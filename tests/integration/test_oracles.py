"""Every oracle fires on a broken driver or a hand-written history and
stays silent on ``reference``."""

from __future__ import annotations

import pytest

from ccwfuzz.arch import scsw as S
from ccwfuzz.exec import Pool
from ccwfuzz.oracles import RULES, RunView, check, not_judged, view_of
from ccwfuzz.program import (
    Ccw,
    Op,
    Open,
    Program,
    RandomSource,
    ReadIo,
    ReadSchib,
    RunRequest,
    Ssch,
    WaitIrq,
    random_program,
    seeded_pct,
)
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Record

NOP = Ccw(0x03, 0x60, 1, 0)  # NOP, CC|SLI
LAST = Ccw(0x03, 0x20, 1, 0)
PCI_FIRST = (Ccw(0x03, 0x68, 1, 0),) + (NOP,) * 6 + (LAST,)


def run_until(target: str, ops: tuple[Op, ...], rule: str, seeds: int = 200,
              workers: int = 1, **kw: object) -> tuple[bool, bool]:  # fmt: skip
    """Run ``ops`` on worker 0 (other workers idle) under PCT seeds until ``rule`` fires
    on ``target``; then run the same programs on reference. Returns (fired, reference
    silent)."""
    ws = (ops,) + ((),) * (workers - 1)
    fired = False
    with Pool(target, subchannels=1, workers=workers) as pool:
        for seed in range(seeds):
            p = Program(target=target, subchannels=1, workers=ws,
                        schedule=seeded_pct(seed, 3, workers), **kw)  # type: ignore[arg-type]  # fmt: skip
            if any(f.rule == rule for f in check(view_of(pool.run(RunRequest(p)), p))):
                fired = True
                break
    silent = True
    with Pool(subchannels=1, workers=workers) as pool:
        for s in range(min(seed + 1, 50)):
            p = Program(subchannels=1, workers=ws, schedule=seeded_pct(s, 3, workers), **kw)  # type: ignore[arg-type]
            silent &= not check(view_of(pool.run(RunRequest(p)), p))
    return fired, silent


def test_reference_is_clean_on_random_programs() -> None:
    """Reference produces no finding (a CI-sized sample; `-m slow` runs 10,000)."""
    with Pool() as pool:
        names = pool.lock_names()
        for seed in range(300):
            p = random_program(RandomSource(10_000 + seed))
            r = pool.run(RunRequest(p))
            assert r.outcome == Outcome.DONE
            assert check(view_of(r, p, names)) == [], seed


@pytest.mark.fires("driver.cp-free-final", "memory.poison-read")
def test_cp_free_final_and_poison_fire_on_E1() -> None:
    ops = (Open(0), Ssch(0, PCI_FIRST), WaitIrq(0), WaitIrq(0))
    assert run_until("brokendrivers:FreeOnAnyInterrupt", ops, "driver.cp-free-final") == (
        True,
        True,
    )
    assert run_until("brokendrivers:FreeOnAnyInterrupt", ops, "memory.poison-read") == (True, True)


@pytest.mark.fires("driver.one-cp", "driver.idle-no-cp")
def test_one_cp_and_idle_no_cp_fire() -> None:
    ops = (Open(0), Ssch(0, PCI_FIRST), Ssch(0, (LAST,)))
    target = "brokendrivers:IdleAfterStart"
    assert run_until(target, ops, "driver.one-cp") == (True, True)
    assert run_until(target, ops, "driver.idle-no-cp") == (True, True)


@pytest.mark.fires("driver.retcode")
def test_retcode_fires() -> None:
    ops = (Open(0), Ssch(0, PCI_FIRST), Ssch(0, (LAST,)))
    assert run_until("brokendrivers:WrongBusyCode", ops, "driver.retcode") == (True, True)


@pytest.mark.fires("driver.irb-integrity")
def test_irb_integrity_fires_on_E2() -> None:
    ops = (Open(0), Ssch(0, (LAST,)), ReadIo(0), ReadIo(0))
    helper = (ReadIo(0),) * 4
    fired = False
    with Pool("brokendrivers:UnlockedRegion", subchannels=1, workers=2) as pool:
        for seed in range(400):
            p = Program(target="brokendrivers:UnlockedRegion", subchannels=1,
                        workers=(ops, helper), schedule=seeded_pct(seed, 4, 2))  # fmt: skip
            if any(
                f.rule == "driver.irb-integrity" for f in check(view_of(pool.run(RunRequest(p)), p))
            ):
                fired = True
                break
    assert fired


def test_irb_integrity_strict_flags_hazard_H3_on_reference() -> None:
    """The strict contract treats the upstream clobber (H3: a region write zeroes an
    IRB not yet read) as a finding; the upstream contract does not."""
    ops = (Open(0), Ssch(0, (LAST,)), ReadSchib(0), ReadSchib(0),
           Ssch(0, (LAST,)), ReadIo(0))  # fmt: skip
    hits = {"upstream": 0, "strict": 0}
    with Pool(subchannels=1, workers=1) as pool:
        for seed in range(40):
            for contract in hits:
                p = Program(subchannels=1, workers=(ops,), contract=contract,
                            schedule=seeded_pct(seed, 3, 1))  # fmt: skip
                found = check(view_of(pool.run(RunRequest(p)), p))
                hits[contract] += any(f.rule == "driver.irb-integrity" for f in found)
    assert hits["upstream"] == 0 and hits["strict"] > 0, hits


@pytest.mark.fires("sched.deadlock", "lock.double-acquire", "actor.crash", "sched.step-limit")
def test_deadlock_and_crash_and_limit_fire() -> None:
    ops = (Open(0), Ssch(0, (LAST,)), ReadIo(0))
    with Pool("brokendrivers:ForgetsUnlock", subchannels=1, workers=1) as pool:
        p = Program(target="brokendrivers:ForgetsUnlock", subchannels=1, workers=(ops,))
        found = check(view_of(pool.run(RunRequest(p)), p, pool.lock_names()))
        assert {f.rule for f in found} == {"sched.deadlock", "lock.double-acquire"}
        assert "io_mutex[0]" in next(f for f in found if f.rule == "sched.deadlock").message
    with Pool("brokendrivers:CrashesOnRead", subchannels=1, workers=1) as pool:
        p = Program(target="brokendrivers:CrashesOnRead", subchannels=1, workers=(ops,))
        assert "actor.crash" in [f.rule for f in check(view_of(pool.run(RunRequest(p)), p))]
    with Pool("brokendrivers:EndlessRead", subchannels=1, workers=1) as pool:
        p = Program(target="brokendrivers:EndlessRead", subchannels=1, workers=(ops,))
        assert [f.rule for f in check(view_of(pool.run(RunRequest(p, max_steps=5000)), p))] == [
            "sched.step-limit"
        ]


# ---- hand-written histories: the architecture rules judge the hardware ----------------
def R(seq: int, kind: Ev, *args: int, actor: int = 0) -> Record:
    return Record((seq, actor, kind, *args, *([0] * (5 - len(args)))))


def view(*records: Record, outcome: Outcome = Outcome.DONE) -> RunView:
    return RunView(list(records), outcome, "reference", 1, 1)


FINAL = S.FC_START | S.SC_PRIMARY | S.SC_SECONDARY | S.SC_PENDING


def rules_of(v: RunView) -> list[str]:
    """Findings of the architecture and scheduling rules (these histories carry no
    driver records, which the driver rules would rightly miss)."""
    return [f.rule for f in check(v) if f.rule.startswith(("arch.", "sched."))]


@pytest.mark.fires("arch.cc")
def test_arch_cc_fires_on_wrong_condition_code() -> None:
    ok = view(R(0, Ev.INSTR, 1 | 256, 0, 0, 0, S.FC_START))
    assert rules_of(ok) == []  # no final, but no interruption recorded at all: not judged
    bad = view(R(0, Ev.INSTR, 1 | 256, 0, 0, S.SC_PENDING | S.SC_PRIMARY, 0))
    assert "arch.cc" in rules_of(bad)  # SSCH with status pending must be cc 1
    assert "arch.cc" in rules_of(view(R(0, Ev.INSTR, 3, 0, 0, 0, 0)))  # not operational: cc 3
    # TSCH with nothing pending must be cc 1
    assert "arch.cc" in rules_of(view(R(0, Ev.INSTR, 4 | 256, 0, 0, 0, 0)))
    assert "arch.cc" not in rules_of(view(R(0, Ev.INSTR, 4 | 256, 0, 1, 0, 0)))


@pytest.mark.fires("arch.scsw-valid", "arch.intermediate-not-final")
def test_arch_scsw_valid_and_intermediate_rules() -> None:
    bad = S.SC_PRIMARY | S.SC_INTERMEDIATE | S.SC_PENDING | S.FC_START
    assert "arch.scsw-valid" in rules_of(view(R(0, Ev.INTERRUPT, 0, bad)))
    ended = S.FC_START | S.SC_INTERMEDIATE | S.SC_PENDING
    assert "arch.intermediate-not-final" in rules_of(view(R(0, Ev.INTERRUPT, 0, ended)))
    active = ended | S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE
    assert rules_of(view(R(0, Ev.INTERRUPT, 0, active))) == []  # still active: fine


@pytest.mark.fires("arch.one-final-per-function")
def test_arch_one_final_per_function() -> None:
    start = R(0, Ev.INSTR, 1 | 256, 0, 0, 0, S.FC_START)
    good = view(start, R(1, Ev.INTERRUPT, 0, FINAL))
    assert rules_of(good) == []
    twice = view(start, R(1, Ev.INTERRUPT, 0, FINAL), R(2, Ev.INTERRUPT, 0, FINAL))
    assert rules_of(twice) == ["arch.one-final-per-function"]
    attention = R(1, Ev.INTERRUPT, 0, S.FC_START | S.SC_ALERT | S.SC_PENDING)
    never = view(start, attention)
    assert rules_of(never) == ["arch.one-final-per-function"]
    assert rules_of(view(start)) == []  # no interruption recorded: not judged, not clean
    assert "arch.one-final-per-function" in not_judged(view(start))
    assert rules_of(view(start, outcome=Outcome.DEADLOCK)) == ["sched.deadlock"]


def test_every_rule_has_a_statement_and_spec() -> None:
    for r in RULES.values():
        assert r.statement and r.spec and r.doc, r.id
