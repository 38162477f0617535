"""Headless Chromium for the page checks (timelines, campaign reports): Chromium from
the distribution; ``.ci/run`` installs it and sets CCWFUZZ_REQUIRE_BROWSER=1, so there a
page test cannot skip."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    BROWSER is None and os.environ.get("CCWFUZZ_REQUIRE_BROWSER") != "1",
    reason="no chromium here (CI installs it)",
)


def png_pixels(data: bytes) -> bytes:
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


def browser(*args: str, size: str = "1400,1000") -> subprocess.CompletedProcess[str]:
    assert BROWSER, "CCWFUZZ_REQUIRE_BROWSER=1 but no chromium on PATH"
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--window-size={size}", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def screenshot_is_drawn(page: Path, shot: Path, size: str = "1400,1000") -> bool:
    """Take a screenshot of ``page`` into ``shot``; whether it is more than one colour."""
    browser(f"--screenshot={shot}", page.as_uri(), size=size)
    return len(set(png_pixels(shot.read_bytes()))) > 16


def dom(page: Path) -> str:
    """The page's DOM after rendering."""
    return browser("--dump-dom", page.as_uri()).stdout
