"""The pytest plugin as another project meets it: a marked test on a zoo member fails
with the rule, a reproducer and a timeline, one on ``reference`` passes, statistics
reach the terminal summary and JUnit, the seed is the controller's under xdist, the
corpus replays alone with ``--ccwfuzz-replay-only``, and bad markers and options are
one-line usage errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
MODULE = """
import pytest

@pytest.mark.ccwfuzz(target="zoo:boxed-busy", time=20)
def test_buggy(ccwfuzz):
    ccwfuzz.run()

@pytest.mark.ccwfuzz(time=1, workers=2)
def test_reference(ccwfuzz):
    assert ccwfuzz.run().runs > 0
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CCWFUZZ_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *args], cwd=folder, capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip


def _seeds(out: str) -> dict[str, str]:
    return dict(re.findall(r"^test_mine\.py::(\w+): \S+ seed (\d+):", out, re.M))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "test_mine.py").write_text(MODULE)
    return tmp_path


def test_a_marked_zoo_test_fails_with_its_finding(project: Path) -> None:
    r = _pytest(project, "--ccwfuzz-seed", "7", "--junitxml", "junit.xml")
    out = r.stdout
    assert r.returncode == 1, out[-3000:]
    assert "FAILED test_mine.py::test_buggy" in out and "PASSED test_mine.py::test_reference" in out
    assert "ccwfuzz: seed 7" in out  # the report header
    assert "[driver.retcode] on zoo:boxed-busy" in out
    repro = re.search(r"reproducer: (\S+\.json)", out)
    timeline = re.search(r"timeline: +(\S+\.html)", out)
    assert repro and timeline, out[-3000:]
    assert Path(repro.group(1)).is_file() and Path(timeline.group(1)).is_file()
    assert Path(repro.group(1)).parent.name.startswith("main-")
    assert "Traceback" not in out
    assert re.search(r"ccwfuzz: 2 test\(s\), \d+ runs, 1 finding\(s\)", out)
    junit = (project / "junit.xml").read_text()
    assert '<property name="ccwfuzz_rule" value="driver.retcode"' in junit
    assert re.search(r'<property name="ccwfuzz_runs" value="[1-9]\d*"', junit)
    # the reference test searched its whole time: its runs reached coverage features
    assert re.search(
        r"test_reference: reference seed \d+: .* runs \(\S+/s\), [1-9]\d* features", out
    )
    assert re.search(r'<property name="ccwfuzz_coverage" value="[1-9]\d*"', junit)
    replay = subprocess.run([sys.executable, "-m", "ccwfuzz", "replay", repro.group(1)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "driver.retcode" in replay.stdout, replay.stdout + replay.stderr


def test_under_xdist_the_seeds_are_the_controllers(project: Path) -> None:
    plain = _pytest(project, "--ccwfuzz-seed", "11")
    spread = _pytest(project, "--ccwfuzz-seed", "11", "-n", "2")
    assert spread.returncode == 1, spread.stdout[-3000:]
    assert "FAILED test_mine.py::test_buggy" in spread.stdout
    assert "PASSED test_mine.py::test_reference" in spread.stdout
    assert _seeds(plain.stdout) == _seeds(spread.stdout) and len(_seeds(plain.stdout)) == 2
    folders = [p.name for p in (project / "reports" / "pytest").iterdir()]
    assert any(f.startswith("gw") for f in folders)  # resources named by worker


def test_replay_only_replays_the_corpus_and_finds_a_regression(project: Path) -> None:
    r = _pytest(project, "--ccwfuzz-replay-only", f"--ccwfuzz-corpus={CORPORA}")
    out = r.stdout
    assert "FAILED test_mine.py::test_buggy" in out, out[-3000:]
    assert re.search(r"test_buggy: zoo:boxed-busy seed \d+: [1-9]\d* replayed, 0 runs", out)
    assert re.search(r"test_reference: reference seed \d+: \d+ replayed, 0 runs", out)


@pytest.mark.parametrize(("marker", "says"), [
    ("target='zoo:boxed-busy', speed=3", "unknown ccwfuzz marker key 'speed'"),
    ("target='nosuch.module:Driver'", "cannot load driver 'nosuch.module:Driver'"),
    ("mode='wild'", "mode='wild': choose controlled or free"),
    ("workers=0", "workers=0: a whole number in 1..14"),
    ("time='soon'", "time='soon': not a positive duration"),
])  # fmt: skip
def test_a_bad_marker_is_a_usage_error(tmp_path: Path, marker: str, says: str) -> None:
    (tmp_path / "test_bad.py").write_text(
        f"import pytest\n@pytest.mark.ccwfuzz({marker})\ndef test_x(ccwfuzz):\n    ccwfuzz.run()\n"
    )
    r = _pytest(tmp_path)
    assert r.returncode == 4, r.stdout + r.stderr
    assert f"test_bad.py::test_x: {says}" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize(("option", "says"), [
    (["--ccwfuzz-time", "-3"], "--ccwfuzz-time '-3': not a positive duration"),
    (["--ccwfuzz-seed", "x"], "--ccwfuzz-seed 'x': a whole number below 2**32"),
    (["--ccwfuzz-profile", "weekly"], "--ccwfuzz-profile 'weekly': choose dev, ci or nightly"),
])  # fmt: skip
def test_a_bad_option_is_a_usage_error(project: Path, option: list[str], says: str) -> None:
    r = _pytest(project, *option)
    assert r.returncode == 4, r.stdout + r.stderr
    assert says in r.stderr and "Traceback" not in r.stderr


FIXTURES = """
import pytest
from ccwfuzz.arch import sid

@pytest.mark.ccwfuzz(target="zoo:boxed-busy", workers=2, subchannels=1)
def test_fixtures(ccwfuzz_target, ccwfuzz_driver, ccwfuzz_pool, ccwfuzz_css):
    assert ccwfuzz_target == "zoo:boxed-busy"
    assert ccwfuzz_driver.name == "boxed-busy"
    assert (ccwfuzz_pool.target, ccwfuzz_pool.nworkers, ccwfuzz_pool.nsch) == (
        "zoo:boxed-busy", 2, 1)
    assert ccwfuzz_css.subchannels == 2
    cc, _ = ccwfuzz_css.stsch(sid.make(0))
    assert cc == 0

def test_unmarked_gets_the_defaults(ccwfuzz_target, ccwfuzz_pool):
    assert ccwfuzz_target == "reference" and ccwfuzz_pool.nworkers == 3
"""


def test_the_fixtures_give_what_the_marker_says(tmp_path: Path) -> None:
    (tmp_path / "test_fixtures.py").write_text(FIXTURES)
    r = _pytest(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "2 passed" in r.stdout


def test_pytest_runs_with_xdist_disabled(project: Path) -> None:
    # the xdist hook is optional: without it pytest must not reject the plugin
    r = _pytest(project, "-p", "no:xdist", "-k", "reference")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "PASSED test_mine.py::test_reference" in r.stdout
