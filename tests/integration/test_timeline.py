"""``ccwfuzz timeline`` pages render in a real headless browser (Chromium from the
distribution; ``.ci/run`` installs it and sets CCWFUZZ_REQUIRE_BROWSER=1, so there the
test cannot skip): three zoo reproducers, each screenshot non-blank, every lane label and
the marked violation in the rendered DOM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from browser import dom, needs_browser, screenshot_is_drawn

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.engines.reproduce import Saved, make_reproducer
from ccwfuzz.exec import Pools
from ccwfuzz.program import save

pytestmark = needs_browser


@pytest.mark.parametrize("name", ["idle-on-intermediate", "idle-on-clear", "global-serialize"])
def test_zoo_timeline_renders(tmp_path: Path, name: str) -> None:
    rule = MEMBERS[name].expected_rule
    with Pools() as pools:
        found = search(pools(f"zoo:{name}", 2, 3), rule, budget=2000, seed=1, max_steps=20_000)
        assert found.program is not None and found.found is not None
        rep = make_reproducer(pools, Saved(found.program, found.found.key, None),
                              max_steps=20_000, max_calls=1500, replays=3)  # fmt: skip
    assert rep is not None
    repro, page, shot = tmp_path / "repro.json", tmp_path / "t.html", tmp_path / "t.png"
    save(rep.program, repro)
    r = subprocess.run([sys.executable, "-m", "ccwfuzz", "timeline", str(repro), "-o", str(page)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert screenshot_is_drawn(page, shot), "the screenshot is blank"
    rendered = dom(page)
    nworkers = len(rep.program.workers)
    for lane in [*(f"worker{i}" for i in range(nworkers)), "channel", "workqueue"]:
        assert f'<th class="lane-label">{lane}</th>' in rendered, lane
    assert 'class="violation"' in rendered and f"[{rule}]" in rendered
