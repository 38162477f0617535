"""Shared fixtures. Every test session checks that it leaves no segment behind."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from ccwfuzz.arch import Ccw0, Ccw1, Irb, Orb, Scsw, sid
from ccwfuzz.device import ChannelSubsystem, CssConfig, list_segments

# Driver models kept for tests (``tests/drivers``) load as ``drivers.<module>:<Class>``.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PROGRAM = 0x1000  # where tests put channel programs
DATA = 0x8000  # where tests put data areas


def _mine() -> set[str]:
    """Segments created by this process (names carry the owner's pid)."""
    return {n for n in list_segments() if n.split("-")[1] == str(os.getpid())}


@pytest.fixture(autouse=True, scope="session")
def no_leaked_segments() -> Iterator[None]:
    before = _mine()
    yield
    leaked = _mine() - before
    assert not leaked, f"test session leaked shared-memory segments: {sorted(leaked)}"


class Rig:
    """A channel subsystem plus the few guest-side moves most tests make."""

    def __init__(self, css: ChannelSubsystem) -> None:
        self.css = css

    def sid(self, index: int = 0) -> int:
        return sid.make(index)

    def program(self, ccws: list[Ccw1] | list[Ccw0], at: int = PROGRAM) -> int:
        self.css.memory.write(at, b"".join(c.to_bytes() for c in ccws))
        return at

    def start(self, ccws: list[Ccw1] | list[Ccw0], index: int = 0, **orb: int) -> int:
        orb.setdefault("cpa", self.program(ccws))
        return self.css.ssch(self.sid(index), Orb(**orb).to_bytes())

    def run(self) -> int:
        return self.css.channel.run_until_idle()

    def tsch(self, index: int = 0) -> tuple[int, Irb]:
        cc, raw = self.css.tsch(self.sid(index))
        return cc, Irb.from_bytes(raw) if raw else Irb()

    def scsw(self, index: int = 0) -> Scsw:
        return self.css.scsw(index)


@pytest.fixture
def css() -> Iterator[ChannelSubsystem]:
    with ChannelSubsystem.create(subchannels=4, config=CssConfig(enabled=True)) as c:
        yield c


@pytest.fixture
def rig(css: ChannelSubsystem) -> Rig:
    return Rig(css)
