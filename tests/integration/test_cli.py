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
