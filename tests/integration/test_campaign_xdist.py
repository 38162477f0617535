"""A campaign as pytest tests across two pytest-xdist workers (``--tx 2*popen``, as
two hosts would run them): each worker runs a shard with its own store and folder,
both grow one corpus, a shard with a new finding fails its test, and ``ccwfuzz
campaign --merge`` folds them into one report where each finding key is one row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from ccwfuzz.campaign.reports import SCHEMA

MODULE = """
from ccwfuzz.campaign.shards import shard_tests

test_nightly = shard_tests(["zoo:boxed-busy", "reference"], shards=2, time={time},
                           root={root!r})
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CCWFUZZ_", "PYTEST_"))}


def test_shards_across_two_workers_then_one_report(tmp_path: Path) -> None:
    root = tmp_path / "nightly"
    (tmp_path / "test_nightly.py").write_text(MODULE.format(time=7, root=str(root)))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "no:randomly", "--tx", "2*popen", "--dist", "load", "-rA",
                        "test_nightly.py"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=600, env=_env())  # fmt: skip
    out = r.stdout
    assert "FAILED test_nightly.py::test_nightly[zoo:boxed-busy#" in out, out[-3000:]
    assert "PASSED test_nightly.py::test_nightly[reference#0]" in out
    assert "PASSED test_nightly.py::test_nightly[reference#1]" in out
    assert "new finding(s) on zoo:boxed-busy" in out and "[driver.retcode]" in out
    stores = sorted(p.name for p in (root / "stores").iterdir() if p.suffix == ".db")
    assert stores == ["findings-gw0.db", "findings-gw1.db"]
    shards = sorted(p.name for p in (root / "workers").iterdir())
    assert len(shards) == 4 and {s[:3] for s in shards} == {"gw0", "gw1"}
    assert any((root / "corpus" / "zoo-boxed-busy").iterdir())  # one corpus, shared
    assert not (root / "workers" / shards[0] / "corpus").exists()

    m = subprocess.run([sys.executable, "-m", "ccwfuzz", "campaign", "--merge", str(root)],
                       capture_output=True, text=True, timeout=120, env=_env())  # fmt: skip
    assert m.returncode == 1, m.stdout + m.stderr
    doc = json.loads((root / "summary.json").read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    keys = [f["key"] for f in doc["findings"]]
    assert keys and len(keys) == len(set(keys))  # both workers' sightings, one row a key
    assert all(f["target"] == "zoo:boxed-busy" for f in doc["findings"])
    assert set(doc["targets"]) == {"zoo:boxed-busy", "reference"}
    for f in doc["findings"]:
        if f["reproducer"]:
            assert (root / f["reproducer"]).is_file() and (root / f["timeline"]).is_file()
    assert any(f["count"] >= 2 for f in doc["findings"])  # seen by both shards
    assert 'href="workers/' in (root / "index.html").read_text()
    again = subprocess.run([sys.executable, "-m", "ccwfuzz", "campaign", "--merge", str(root)],
                           capture_output=True, text=True, timeout=120, env=_env())  # fmt: skip
    assert again.returncode == 2 and "no shard campaign to merge" in again.stderr
