"""The ``ccwfuzz`` command: demo, clean, usage errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ccwfuzz import demo


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccwfuzz", *args], capture_output=True, text=True, timeout=120
    )


def test_demo_runs_and_handles_interruptions() -> None:
    lines: list[str] = []
    assert demo.run(2, lines.append) == 6
    text = "\n".join(lines)
    assert "b'ccwfuzz says hi!'" in text
    assert "SC=intermediate|pending Z" in text  # ORB I initial status
    assert "SS=PCI" in text
    assert "AC=suspended" in text
    assert "FC=start|halt" in text


def test_demo_command_exit_0() -> None:
    r = _run("demo")
    assert r.returncode == 0, r.stderr
    assert "interruptions handled" in r.stdout


@pytest.mark.parametrize(
    "args", [("demo", "--subchannels", "0"), ("demo", "--subchannels", "x"), ("nope",), ()]
)
def test_usage_errors_exit_2_without_traceback(args: tuple[str, ...]) -> None:
    r = _run(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("ccwfuzz")


def test_clean_command() -> None:
    r = _run("clean")
    assert r.returncode == 0 and "stale segment(s) removed" in r.stdout


def test_bench_command_json() -> None:
    import json

    r = _run("bench", "--seconds", "0.05", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [row["subchannels"] for row in data["rows"]] == [4, 1024]
    assert all(row["cycles_per_s"] > 0 for row in data["rows"])


HERE = __import__("pathlib").Path(__file__).parent


def _run_env(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, PYTHONPATH=str(HERE))
    return subprocess.run([sys.executable, "-m", "ccwfuzz", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=cwd)  # fmt: skip


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ('{"format": ', "not JSON"),
        ('{"format": "ccwfuzz.program", "version": 2, "workers": [[{"op": "ssch", "sch": 7}]]}',
         "subchannel 7"),
        ('{"format": "ccwfuzz.program", "version": 99, "workers": [[]]}', "at version"),
        ('{"format": "ccwfuzz.program", "version": 2, "workers": [[{"op": "x"}]]}', "workers/0/0/op"),
        ('{"format": "ccwfuzz.program", "version": 2, "target": "os:system", "workers": [[]]}',
         "not built in"),
    ],
)  # fmt: skip
def test_run_rejects_bad_program_files(tmp_path, content: str, expect: str) -> None:  # type: ignore[no-untyped-def]
    """One clear error line (file, position, what), exit 2."""
    f = tmp_path / "p.json"
    f.write_text(content)
    r = _run("run", str(f))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and expect in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_stress_reference_is_clean_and_exits_0(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = _run("stress", "--time", "3", "--out", str(tmp_path / "f"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 finding(s)" in r.stdout
    assert not (tmp_path / "f").exists()


def test_stress_finding_is_saved_and_replays(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "f"
    r = _run_env("stress", "--target", "brokendrivers:FreeOnAnyInterrupt", "--time", "5",
                 "--mode", "controlled", "--out", str(out))  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FINDING [driver.cp-free-final]" in r.stdout
    assert "--target brokendrivers:FreeOnAnyInterrupt" in r.stdout
    saved = sorted(out.glob("*.json"))
    assert saved
    refused = _run_env("run", str(saved[0]))
    assert refused.returncode == 2 and "--target" in refused.stderr  # files cannot import
    replay = _run_env("run", str(saved[0]), "--target", "brokendrivers:FreeOnAnyInterrupt",
                      "--history", str(tmp_path / "h.jsonl"))  # fmt: skip
    assert replay.returncode == 1, replay.stdout + replay.stderr
    rule = saved[0].name.rsplit("-", 1)[0]
    assert f"[{rule}]" in replay.stdout
    assert (tmp_path / "h.jsonl").read_text().count("\n") > 10


def test_rules_and_targets_list() -> None:
    r = _run("rules")
    assert r.returncode == 0 and "driver.cp-free-final" in r.stdout and "E10" in r.stdout
    t = _run("targets")
    assert t.returncode == 0
    from ccwfuzz.driver import TARGETS

    lines = t.stdout.splitlines()
    named = [line for line in lines[1:] if not line.lstrip().startswith("overrides:")]
    assert lines[1].startswith("reference") and len(named) == len(TARGETS)
    assert any(line.startswith("zoo:free-unrelated") and "driver.cp-free-final" in line
               for line in lines)  # fmt: skip
