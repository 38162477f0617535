"""``ccwfuzz campaign`` end to end: a zoo target ends with exit 1 and its finding
minimized in the report; the next night knows it; ``reference`` ends clean; a shard
killed mid-fuzz is restarted and said so; the report's files validate (summary.json
against its schema, junit.xml parses) and the page renders in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from browser import dom, needs_browser, screenshot_is_drawn

from ccwfuzz.campaign.reports import SCHEMA
from ccwfuzz.program import load

MEMBER = "zoo:boxed-busy"


def _campaign(*args: str, env: dict[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    e = {k: v for k, v in os.environ.items() if not k.startswith("CCWFUZZ_")}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "ccwfuzz", "campaign", *args],
                          capture_output=True, text=True, timeout=timeout, env=e)  # fmt: skip


def _summary(out: Path) -> dict:
    doc = json.loads((out / "summary.json").read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    return doc


@pytest.fixture(scope="module")
def night1(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("campaign") / "zoo"
    r = _campaign("--target", MEMBER, "--out", str(out), env={"CCWFUZZ_TIME": "14"})
    return out, r


def test_a_zoo_target_ends_with_its_finding_minimized(
    night1: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, r = night1
    assert r.returncode == 1, r.stdout + r.stderr
    assert "NEW FINDING [driver.retcode]" in r.stdout and "new findings:" in r.stdout
    doc = _summary(out)
    assert doc["outcome"] == "new findings" and doc["counts"]["new"] >= 1
    assert doc["settings"]["time"] == {"value": 14.0, "source": "env CCWFUZZ_TIME"}
    assert doc["settings"]["targets"]["source"] == "command line"
    fig = doc["targets"][MEMBER]
    assert fig["regression_inputs"] > 0 and fig["fuzz_execs"] > 0 and fig["stress_runs"] > 0
    done = [f for f in doc["findings"] if f["triage"] == "minimized"]
    assert done, doc["findings"]
    for f in done:
        assert f["new"] and f["reliability"] == "10/10 deterministic"
        assert f["ops"] <= f["from_ops"]
        repro = load(out / f["reproducer"])
        assert repro.meta["key"] == f["key"].split(" | ")
        lanes = (out / f["timeline"]).read_text().count('class="lane-label"')
        assert lanes == len(repro.workers) + 2  # the workers, the channel, the work queue


def test_junit_has_a_case_per_family_and_fails_the_new_ones(
    night1: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = night1
    root = ET.parse(out / "junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert {"driver", "arch", "lock", "memory"} <= set(cases)
    assert cases["driver"].find("failure") is not None
    assert cases["memory"].find("failure") is None
    assert suite.get("failures") == str(sum(c.find("failure") is not None for c in cases.values()))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert float(props["fuzz_exec_per_s"]) > 0 and int(props["features"]) > 0


@needs_browser
def test_the_report_page_renders(
    night1: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, _ = night1
    page = out / "index.html"
    assert screenshot_is_drawn(page, tmp_path / "report.png", size="1400,2000")
    rendered = dom(page)
    for part in ('id="plot-exec"', 'id="plot-coverage"', 'id="plot-findings"', 'id="plot-rules"'):
        assert part in rendered
    assert (
        rendered.count("<svg") >= 4 and 'id="findings"' in rendered and "driver.retcode" in rendered
    )
    assert 'href="timelines/' in rendered and 'href="reproducers/' in rendered
    assert not re.search(r'(src|href)="https?:', page.read_text())  # opens offline
    assert "<script" not in page.read_text()


def test_the_next_night_knows_what_the_first_found(
    night1: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = night1
    first = {f["key"] for f in _summary(out)["findings"]}
    r = _campaign("--target", MEMBER, "--out", str(out), "--time", "8")
    doc = _summary(out)
    assert doc["campaign"] == 2
    again = [f for f in doc["findings"] if f["key"] in first]
    assert again and not any(f["new"] for f in again)
    assert all(f["count"] >= 2 for f in again)
    assert r.returncode == (1 if doc["counts"]["new"] else 0), r.stdout


def test_reference_ends_clean(tmp_path: Path) -> None:
    r = _campaign("--out", str(tmp_path / "ref"), "--time", "8")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = _summary(tmp_path / "ref")
    assert doc["outcome"] == "clean" and doc["findings"] == [] and doc["events"] == []
    assert "clean: 0 new and 0 known" in r.stdout


def test_a_killed_shard_is_restarted_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "kill"
    killed: list[int] = []

    def kill_first_shard() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for status in out.glob("runs/*/fuzz/*/shards/0.json"):
                try:
                    pid = json.loads(status.read_text())["pid"]
                except (OSError, ValueError, KeyError):
                    continue
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.2)

    t = threading.Thread(target=kill_first_shard)
    t.start()
    r = _campaign("--out", str(out), "--time", "16", "--stress-share", "0.1")
    t.join()
    assert killed, "the shard never wrote its status"
    assert r.returncode == 0, r.stdout + r.stderr  # the tool's fault is never a finding
    doc = _summary(out)
    kinds = [e["kind"] for e in doc["events"]]
    assert "died" in kinds and "restarted" in kinds and doc["findings"] == []
    page = (out / "index.html").read_text()
    assert "restarted" in page and "exit -9" in page


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [(["--time", "soon"], {}, "argument --time: not a duration"),
     (["--target", "zoo:nope"], {}, "no zoo member 'nope'"),
     ([], {"CCWFUZZ_JOBS": "0"}, "CCWFUZZ_JOBS='0': 0 is not in 1..256"),
     ([], {"CCWFUZZ_PROFILE": "weekly"}, "profile 'weekly'")],
)  # fmt: skip
def test_bad_settings_get_one_line_and_exit_2(tmp_path: Path, args: list[str], env: dict[str, str],
                                              says: str) -> None:  # fmt: skip
    r = _campaign("--out", str(tmp_path / "x"), *args, env=env, timeout=60)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "x").exists()


def test_a_store_that_is_not_one_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "c"
    out.mkdir()
    (out / "findings.db").write_bytes(b"not a database, but someone's file")
    r = _campaign("--out", str(out), "--time", "5", timeout=60)
    assert r.returncode == 2 and "cannot be used: file is not a database" in r.stderr
    assert (out / "findings.db").read_bytes() == b"not a database, but someone's file"
    r = _campaign("--resume", str(tmp_path / "nothing-here"), timeout=60)
    assert r.returncode == 2 and "no campaign there" in r.stderr
    r = _campaign("--resume", str(out), "--time", "5", timeout=60)
    assert r.returncode == 2 and "--time cannot change them" in r.stderr
