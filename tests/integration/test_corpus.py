"""The committed seed corpora: the reference one replays clean (a regression test run
by the normal suite), every zoo member has one, and ``ccwfuzz corpus merge`` keeps
every feature and resumes after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines.fuzz import decode
from ccwfuzz.engines.loop import Session
from ccwfuzz.exec import Pool
from ccwfuzz.fuzzing import seed_corpus, slug
from ccwfuzz.program import load
from ccwfuzz.program.replay import fingerprint

ROOT = Path(__file__).resolve().parents[2] / "corpora"
REGRESSIONS = Path(__file__).resolve().parents[1] / "regressions"


def test_reference_corpus_replays_without_a_finding() -> None:
    inputs = sorted(p for p in (ROOT / "reference").iterdir() if not p.name.startswith("."))
    assert len(inputs) >= 20
    assert any(p.name.startswith("regress-") for p in inputs)
    bad = []
    with Pool("reference") as pool:
        session = Session(pool, max_steps=20_000)
        for p in inputs:
            program, _ = decode(p.read_bytes(), workers=3, subchannels=2, ops=8,
                                target="reference", draw="valid")  # fmt: skip
            judged = session.judge(program)
            assert judged is not None, f"{p.name}: inconclusive run"
            bad += [f"{p.name}: {f.line()}" for f in judged.findings]
    assert not bad, "\n".join(bad)


def test_regression_programs_replay_clean_and_unchanged() -> None:
    """Programs that once showed a false finding on ``reference``, kept as program
    files with their recorded decisions (a corpus input means another program once
    the decoder changes): each replays clean, with the history it was saved with."""
    files = sorted(REGRESSIONS.glob("*.json"))
    assert files
    for f in files:
        program = load(f)
        with Pool("reference", program.subchannels, len(program.workers)) as pool:
            judged = Session(pool, max_steps=20_000).judge(program)
            assert judged is not None, f"{f.name}: inconclusive run"
            assert not judged.findings, f"{f.name}: {judged.findings[0].line()}"
            want = program.meta["history"]
            assert fingerprint(judged.result.raw).to_dict() == want, f"{f.name}: history changed"


def test_every_zoo_member_has_a_seed_corpus() -> None:
    for name in MEMBERS:
        d = seed_corpus(f"zoo:{name}")
        assert d is not None and d.name == slug(f"zoo:{name}")
        assert len(list(d.iterdir())) >= 5, name


def _merge(out: Path, src: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ccwfuzz", "corpus", "merge", str(out),
                             str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def test_merge_keeps_every_feature_and_resumes_after_a_kill(tmp_path: Path) -> None:
    src = ROOT / "zoo-unlocked-region"
    whole = _merge(tmp_path / "whole", src)
    out, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err
    features = int(out.split(", ")[-1].split()[0])
    kept = sorted(p.name for p in (tmp_path / "whole").iterdir())
    assert 0 < len(kept) <= len(list(src.iterdir()))
    # Again, killed once the state file holds some inputs; then resumed.
    killed = _merge(tmp_path / "resumed", src)
    state = tmp_path / "resumed" / ".merge-state.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
            not state.exists() or len(state.read_text().splitlines()) < 5):  # fmt: skip
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    done_before = len(state.read_text().splitlines())
    assert 5 <= done_before < len(list(src.iterdir()))
    resumed = _merge(tmp_path / "resumed", src)
    out2, err2 = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err2
    assert int(out2.split(", ")[-1].split()[0]) == features
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == kept
    assert not state.exists()
