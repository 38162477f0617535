"""``examples/outside-driver`` as another team has it: installed with ccwfuzz into a fresh
virtual environment (no editable install, no path tricks), its own suite finds the bug
planted in its own driver model through the plugin and the strategies, plainly and
across two pytest-xdist workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "outside-driver"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    base = tmp_path
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    work = base / "project"  # a copy: building it writes beside its sources
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("reports", "build", "*.egg-info"))
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT), str(work)],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return python, work


def _suite(python: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CCWFUZZ_", "PYTEST_", "PYTHON", "VIRTUAL_ENV"))}  # fmt: skip
    return subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
                          cwd=work, capture_output=True, text=True, timeout=600, env=env)  # fmt: skip


def test_the_outside_suite_finds_its_planted_bug(project: tuple[Path, Path]) -> None:
    # One test, so one install: under the main suite's own xdist, two workers would
    # otherwise build the same checkout at once.
    python, work = project
    for xdist in ((), ("-n", "2")):
        r = _suite(python, work, *xdist)
        out = r.stdout
        assert r.returncode == 0, out[-4000:] + r.stderr[-2000:]
        assert "PASSED tests/test_early_free.py::test_the_fuzzer_finds_the_early_free" in out
        assert "PASSED tests/test_early_free.py::test_hypothesis_finds_the_early_free_too" in out
        assert "outside_driver:EarlyFree seed" in out and "1 finding(s)" in out
        assert "ccwfuzz: seed" in out  # the plugin loaded from the installed distribution
    where = subprocess.run([str(python), "-c", "import ccwfuzz; print(ccwfuzz.__file__)"],
                           cwd=work, capture_output=True, text=True)  # fmt: skip
    assert str(ROOT) not in where.stdout  # the installed copy, not this checkout
    reports = work / "reports" / "ccwfuzz"
    assert any(p.name.startswith("gw") for p in reports.iterdir())  # per-worker names
    assert any(reports.glob("*/driver.cp-free-final.json"))
