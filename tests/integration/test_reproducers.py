"""``ccwfuzz replay``, ``minimize`` and ``export`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ccwfuzz.engines import search
from ccwfuzz.exec import Pool
from ccwfuzz.program import load, save

MEMBER, RULE = "zoo:idle-on-intermediate", "driver.cp-free-final"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccwfuzz", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def finding(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with Pool(MEMBER) as pool:
        r = search(pool, RULE, budget=500, seed=1, max_steps=20_000)
    assert r.ok and r.program is not None
    path = tmp_path_factory.mktemp("finding") / "finding.json"
    save(r.program, path)
    return path


def test_minimize_then_replay_then_export(finding: Path, tmp_path: Path) -> None:
    out = tmp_path / "repro.json"
    r = _cli("minimize", str(finding), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "10/10 deterministic" in r.stdout and "token: ccw1." in r.stdout
    small = load(out)
    assert small.op_count() <= 3 < load(finding).op_count()
    assert small.meta["reliability"] == "10/10 deterministic"
    assert small.meta["key"] == load(finding).meta["key"]

    r = _cli("replay", str(out))
    assert r.returncode == 1 and f"[{RULE}]" in r.stdout and "UNCONTROLLED" not in r.stdout
    r = _cli("replay", str(out), "--target", "reference")
    assert r.returncode == 0 and "did not reproduce" in r.stdout, r.stdout
    assert "UNCONTROLLED" not in r.stdout  # another driver's history is not a divergence
    r = _cli("replay", str(out), "--target", MEMBER)  # the saved target: still compared
    assert r.returncode == 1 and "UNCONTROLLED" not in r.stdout

    test = tmp_path / "test_regression.py"
    r = _cli("export", str(out), "--pytest", str(test))
    assert r.returncode == 0, r.stderr
    text = test.read_text()
    assert "PROGRAM = Program(" in text and "Ssch(" in text
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)]
    failing = subprocess.run(run, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert failing.returncode == 1 and RULE in failing.stdout
    test.write_text(text.replace(f'target="{MEMBER}"', 'target="reference"'))
    fixed = subprocess.run(run, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout


def test_a_free_finding_is_made_deterministic(tmp_path: Path) -> None:
    r = _cli("stress", "--target", MEMBER, "--time", "6", "--out", str(tmp_path / "s"))
    assert r.returncode == 1, r.stdout
    saved = sorted((tmp_path / "s").glob(f"{RULE}-*.json"))
    assert saved, r.stdout
    assert load(saved[0]).meta["mode"] == "free"
    r = _cli("minimize", str(saved[0]), "-o", str(tmp_path / "repro.json"))
    assert r.returncode == 0, r.stderr
    assert "made deterministic:" in r.stdout + r.stderr, r.stdout + r.stderr
    assert _cli("replay", str(tmp_path / "repro.json")).returncode == 1


def test_a_program_that_shows_nothing_is_not_minimized(tmp_path: Path) -> None:
    p = tmp_path / "clean.json"
    p.write_text(json.dumps({"format": "ccwfuzz.program", "version": 2,
                             "workers": [[{"op": "open"}, {"op": "close"}]]}))  # fmt: skip
    r = _cli("minimize", str(p), "-o", str(tmp_path / "out.json"))
    assert r.returncode == 3 and "nothing to minimize" in r.stderr
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"format": "ccwfuzz.program", "version": 2, "workers": [[{"op": "op', "JSON"),
        ('{"format": "ccwfuzz.program", "version": 99, "workers": [[]]}', "version"),
        ('{"format": "ccwfuzz.program", "version": 2, "target": "os:system",'
         ' "workers": [[]]}', "target"),
        ("ccw1.0000.AAAA", "token"),
        ("\x00\x01binary", "--target"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["replay", "minimize", "export"])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str, says: str,
                                          command: str) -> None:  # fmt: skip
    f = tmp_path / "bad"
    f.write_text(content)
    extra = {"replay": [], "minimize": ["-o", str(tmp_path / "o.json")],
             "export": ["--pytest", str(tmp_path / "t.py")]}[command]  # fmt: skip
    r = _cli(command, str(f), *extra)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccwfuzz: ") and "Traceback" not in r.stderr
    assert says.lower() in lines[0].lower(), lines[0]


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "big.json"
    f.write_bytes(b"{" + b" " * (2 << 20) + b"}")
    r = _cli("replay", str(f))
    assert r.returncode == 2 and "larger than" in r.stderr
