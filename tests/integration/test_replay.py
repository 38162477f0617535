"""Schedules are recorded data: every run's decisions replay it, findings print replay
tokens that reproduce them, and a replay that differs says so (uncontrolled
nondeterminism) instead of silently differing."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccwfuzz.engines import stress
from ccwfuzz.exec import Pool
from ccwfuzz.oracles import check, view_of
from ccwfuzz.program import (
    Mode,
    Policy,
    ProgramError,
    RandomSource,
    RunRequest,
    Schedule,
    random_program,
)
from ccwfuzz.program.replay import decode, encode, fingerprint, first_divergence

HERE = Path(__file__).parent
BROKEN = "brokendrivers:FreeOnAnyInterrupt"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(HERE))
    return subprocess.run([sys.executable, "-m", "ccwfuzz", *args], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


def test_recorded_decisions_replay_every_policy() -> None:
    """A run's recorded decisions, as a ``choices`` schedule, give the same history
    byte for byte, whichever policy took them (PCT and walk programs, 60 of them)."""
    policies = set()
    with Pool() as pool:
        for seed in range(60):
            p = random_program(RandomSource(seed))
            policies.add(p.schedule.policy)
            r = pool.run(RunRequest(p))
            assert not r.decisions_truncated
            q = dataclasses.replace(p, schedule=Schedule(Policy.CHOICES, choices=r.decisions))
            again = pool.run(RunRequest(q))
            assert again.raw == r.raw, seed
            assert again.decisions == r.decisions, seed
    assert policies == {Policy.PCT, Policy.WALK, Policy.LAG}


def test_dropping_an_op_moves_no_change_point() -> None:
    """The scheduler runs the change points the schedule carries, whatever the
    program's length (they used to be drawn from its op count at run time)."""
    from ccwfuzz.sync import words as W

    p = next(q for s in range(100) if (q := random_program(RandomSource(s))).schedule.policy
             == Policy.PCT and len(q.schedule.changes) >= 2)  # fmt: skip
    shorter = dataclasses.replace(p, workers=(p.workers[0][:-1], *p.workers[1:]))
    with Pool() as pool:
        for q in (p, shorter):
            pool.run(RunRequest(q))
            loaded = [pool.control[W.CHANGES + k] for k in range(pool.control[W.S_NCHANGES])]
            assert loaded == list(p.schedule.changes)


def test_controlled_findings_replay_from_their_tokens_10_of_10() -> None:
    with Pool(BROKEN) as pool:
        hits = list(stress(pool, 3.0, seed=2, mode=Mode.CONTROLLED))
        assert hits, "the broken driver must give findings"
        for hit in hits:
            program, history = decode(hit.token)
            assert history is not None
            for _ in range(10):
                r = pool.run(RunRequest(program))
                assert fingerprint(r.raw) == history
                assert hit.finding.key in {f.key for f in check(view_of(r, program))}
    token = hits[0].token
    rule = hits[0].finding.rule
    for _ in range(10):  # the command a user pastes, in a fresh process each time
        out = _cli("run", "--target", BROKEN, "--token", token)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"FINDING [{rule}]" in out.stdout
        assert "NONDETERMINISM" not in out.stdout


def test_free_findings_print_tokens(tmp_path: Path) -> None:
    out = _cli("stress", "--target", BROKEN, "--time", "4", "--out", str(tmp_path))
    assert out.returncode == 1, out.stdout + out.stderr
    findings = out.stdout.count("FINDING [")
    assert findings and out.stdout.count("  token: ccwfuzz replay") == findings


def test_uncontrolled_nondeterminism_is_reported() -> None:
    """A driver that reads the clock: its replay differs, and the replay says where."""
    target = "brokendrivers:ReadsTheClock"
    p = dataclasses.replace(random_program(RandomSource(3)), target=target)
    with Pool(target) as pool:
        r = pool.run(RunRequest(p))
        again = pool.run(RunRequest(p))
    at = first_divergence(fingerprint(r.raw), fingerprint(again.raw))
    assert at is not None
    first_read = next(k for k, rec in enumerate(r.records) if rec.kind.name == "TODO")
    assert at <= first_read < at + 16
    recorded = dataclasses.replace(p, schedule=Schedule(Policy.CHOICES, choices=r.decisions))
    out = _cli("run", "--target", target, "--token", encode(recorded, fingerprint(r.raw)))
    assert "UNCONTROLLED NONDETERMINISM" in out.stdout, out.stdout + out.stderr
    assert f"from event {at} on" in out.stdout
    clean = _cli("run", "--token", encode(_recorded_reference()))
    assert clean.returncode == 0 and "NONDETERMINISM" not in clean.stdout


def _recorded_reference() -> object:
    p = random_program(RandomSource(3))
    with Pool() as pool:
        r = pool.run(RunRequest(p))
    return dataclasses.replace(p, schedule=Schedule(Policy.CHOICES, choices=r.decisions))


@pytest.mark.parametrize(
    "token",
    ["", "ccw1", "ccw1.x.y", "ccw2.0.AAAA", "ccw1.0123456789abcdef.!!!!",
     "ccw1.0123456789abcdef." + "A" * 70000],
)  # fmt: skip
def test_damaged_tokens_are_one_line_errors(token: str) -> None:
    with pytest.raises(ProgramError) as e:
        decode(token)
    assert "\n" not in str(e.value)


def test_token_with_a_zip_bomb_is_refused() -> None:
    import base64
    import zlib

    bomb = zlib.compress(b"[" * (1 << 24), 9)
    body = base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    with pytest.raises(ProgramError, match=r"too large|damaged"):
        decode(f"ccw1.0123456789abcdef.{body}")


def test_token_fingerprint_is_validated() -> None:
    import base64
    import json
    import zlib

    from ccwfuzz.program import Program, digest
    from ccwfuzz.program.encoding import to_dict

    p = Program(subchannels=1, workers=((),))
    for h in ('{"events": Infinity, "digest": "00", "blocks": ""}', '{"events": 1}', '"x"'):
        text = f'{{"p": {json.dumps(to_dict(p, meta=False))}, "h": {h}}}'
        body = base64.urlsafe_b64encode(zlib.compress(text.encode())).decode().rstrip("=")
        with pytest.raises(ProgramError):
            decode(f"ccw1.{digest(p)}.{body}")
