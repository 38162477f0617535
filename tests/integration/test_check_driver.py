"""``ccwfuzz check-driver``: accepts reference and every zoo member, and names what each
deliberately incomplete driver lacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ccwfuzz.driver import resolve
from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines.conformance import check_driver
from ccwfuzz.exec import Pool

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _report(target: str) -> list[str]:
    with Pool(target, subchannels=1, workers=2) as pool:
        report = check_driver(pool, resolve(target))
    return report.problems


@pytest.mark.parametrize("target", ["reference", *(f"zoo:{n}" for n in MEMBERS)])
def test_check_driver_accepts_built_in_drivers(target: str) -> None:
    assert _report(target) == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": TESTS}
    return subprocess.run([sys.executable, "-m", "ccwfuzz", "check-driver", *args],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip


def test_check_driver_names_missing_attributes_with_exit_1() -> None:
    r = _cli("drivers.incomplete:NoInitialState")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "initial_state" in r.stdout and "cp_live" in r.stdout and "irq" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_check_driver_names_the_records_a_quiet_driver_never_writes() -> None:
    problems = " ".join(_report("drivers.incomplete:QuietDriver"))
    assert "kernel.answer()" in problems
    assert "kernel.processed()" in problems
    assert "kernel.signal_io()" in problems


def test_check_driver_says_an_ssch_bypassed_the_toolkit() -> None:
    problems = " ".join(_report("drivers.incomplete:NeverKicks"))
    assert "no SSCH was recorded" in problems and "kernel.issue()" in problems


def test_check_driver_cli_exit_codes() -> None:
    ok = _cli("reference")
    assert ok.returncode == 0 and "ok:" in ok.stdout
    bad = _cli("no.such.module:Driver")
    assert bad.returncode == 2 and "cannot load driver" in bad.stderr


def test_record_catalogue_doc_is_generated_from_the_code() -> None:
    from ccwfuzz.sync.history import catalogue

    with open(os.path.join(os.path.dirname(TESTS), "docs", "records.md"), encoding="utf-8") as f:
        assert f.read() == catalogue(), "regenerate: ccwfuzz records > docs/records.md"


def test_a_crash_keeps_its_traceback_on_replay(tmp_path: object) -> None:
    import dataclasses

    from ccwfuzz.oracles import check, view_of
    from ccwfuzz.program import Program, RunRequest
    from ccwfuzz.program.ops import Open, ReadIo

    target = "brokendrivers:CrashesOnRead"
    prog = Program(target=target, subchannels=1, workers=((Open(0), ReadIo(0)),))
    with Pool(target, subchannels=1, workers=1) as pool:
        result = pool.run(RunRequest(prog))
        again = pool.run(RunRequest(dataclasses.replace(prog)))
    (f,) = [f for f in check(view_of(result, prog)) if f.rule == "actor.crash"]
    assert "RuntimeError: boom" in f.message and f.where.endswith(":region_read")
    assert 'raise RuntimeError("boom")' in result.crashes[0]
    assert again.crashes == result.crashes
