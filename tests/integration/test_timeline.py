"""``ccwfuzz timeline`` pages render in a real headless browser (Chromium from the
distribution; ``.ci/run`` installs it and sets CCWFUZZ_REQUIRE_BROWSER=1, so there the
test cannot skip): three zoo reproducers, each screenshot non-blank, every lane label and
the marked violation in the rendered DOM."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from ccwfuzz.driver.zoo import MEMBERS
from ccwfuzz.engines import search
from ccwfuzz.engines.reproduce import Saved, make_reproducer
from ccwfuzz.exec import Pools
from ccwfuzz.program import save

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None and os.environ.get("CCWFUZZ_REQUIRE_BROWSER") != "1",
    reason="no chromium here (CI installs it)",
)


def _png_pixels(data: bytes) -> bytes:
    """The decompressed image data of a PNG (filter bytes included: enough to tell a
    blank page from a drawn one)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + n]
        pos += 12 + n
    return zlib.decompress(idat)


def _browser(*args: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER, "CCWFUZZ_REQUIRE_BROWSER=1 but no chromium on PATH"
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--window-size=1400,1000", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


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
    _browser(f"--screenshot={shot}", page.as_uri())
    pixels = _png_pixels(shot.read_bytes())
    assert len(set(pixels)) > 16, "the screenshot is blank"
    dom = _browser("--dump-dom", page.as_uri()).stdout
    nworkers = len(rep.program.workers)
    for lane in [*(f"worker{i}" for i in range(nworkers)), "channel", "workqueue"]:
        assert f'<th class="lane-label">{lane}</th>' in dom, lane
    assert 'class="violation"' in dom and f"[{rule}]" in dom
