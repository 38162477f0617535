"""A segment never outlives its owner, however the owner ends."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ccwfuzz.arch import Ccw1, Orb, ccw, sid
from ccwfuzz.arch import scsw as S
from ccwfuzz.device import ChannelSubsystem, CssConfig, Segment, list_segments, sweep_stale
from ccwfuzz.device.segment import SHM_DIR, owner_alive

OWNER = textwrap.dedent(
    """
    import sys, time
    from ccwfuzz.device import ChannelSubsystem
    css = ChannelSubsystem.create(2)
    print(css.name, flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)
    if sys.argv[1] == "raise":
        raise RuntimeError("boom")
    time.sleep(60)
    """
)


def _owner(mode: str) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-c", OWNER, mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert p.stdout is not None
    name = p.stdout.readline().strip()
    assert name.startswith("ccwfuzz-"), p.stderr.read() if p.stderr else ""
    return p, name


def _exists(name: str) -> bool:
    return os.path.exists(os.path.join(SHM_DIR, name))


def test_segment_is_owner_only() -> None:
    """Segments are created readable and writable by the owner only."""
    with ChannelSubsystem.create(1) as css:
        mode = stat.S_IMODE(os.stat(os.path.join(SHM_DIR, css.name)).st_mode)
        assert mode == 0o600


def test_close_unlinks_and_attacher_does_not() -> None:
    css = ChannelSubsystem.create(1)
    other = ChannelSubsystem.attach(css.name)
    other.close()
    assert _exists(css.name)
    css.close()
    assert not _exists(css.name)
    css.close()  # idempotent


def test_exception_inside_with_unlinks() -> None:
    with pytest.raises(RuntimeError), ChannelSubsystem.create(1) as css:
        name = css.name
        raise RuntimeError
    assert not _exists(name)


@pytest.mark.parametrize("mode", ["exit", "raise"])
def test_owner_exit_without_close_unlinks(mode: str) -> None:
    p, name = _owner(mode)
    p.wait(timeout=30)
    assert not _exists(name)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_owner_killed_by_signal_unlinks(sig: signal.Signals) -> None:
    p, name = _owner("sleep")
    assert _exists(name)
    p.send_signal(sig)
    p.wait(timeout=30)
    assert not _exists(name)


def test_sigkill_leftover_is_swept_by_next_start() -> None:
    """SIGKILL leaves the segment; the next start removes it (owner dead)."""
    p, name = _owner("sleep")
    assert owner_alive(name)
    p.kill()
    p.wait(timeout=30)
    assert not owner_alive(name)  # (a parallel test's start may already have swept it)
    with ChannelSubsystem.create(1):
        assert not _exists(name)


def test_sweep_keeps_live_owners_and_foreign_names() -> None:
    with ChannelSubsystem.create(1) as css:
        foreign = Path(SHM_DIR) / "ccwfuzz-not-ours"
        foreign.write_bytes(b"")
        try:
            assert css.name not in sweep_stale()
            assert _exists(css.name) and foreign.exists()
        finally:
            foreign.unlink()


def test_reused_pid_is_not_the_owner() -> None:
    """A name whose pid is alive but whose start time differs is stale."""
    fake = f"ccwfuzz-{os.getpid()}-1-deadbeef"
    (Path(SHM_DIR) / fake).write_bytes(b"")
    try:
        assert not owner_alive(fake)
        sweep_stale()  # (another ccwfuzz process may sweep it first: either way it goes)
        assert not _exists(fake)
    finally:
        if _exists(fake):
            os.unlink(os.path.join(SHM_DIR, fake))


def _child_starts_io(name: str) -> None:
    css = ChannelSubsystem.attach(name)
    css.memory.write(0x1000, Ccw1(ccw.CMD_NOP).to_bytes())
    assert css.ssch(sid.make(1), Orb(cpa=0x1000).to_bytes()) == 0
    css.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_other_process_sees_and_changes_same_state(method: str) -> None:
    """All state at fixed offsets in the segment, shared by attach."""
    with ChannelSubsystem.create(2, config=CssConfig(enabled=True)) as css:
        p = mp.get_context(method).Process(target=_child_starts_io, args=(css.name,))
        p.start()
        p.join(60)
        assert p.exitcode == 0
        assert css.scsw(1).fc == S.FC_START >> 12
        css.channel.run_until_idle()
        assert css.tsch(sid.make(1))[0] == 0
        assert _exists(css.name)  # the attacher's exit did not unlink it


def test_attach_rejects_foreign_segment() -> None:
    from ccwfuzz.device import LayoutError

    with Segment.create(4096) as seg, pytest.raises(LayoutError):
        ChannelSubsystem.attach(seg.name)
    with pytest.raises(FileNotFoundError):
        ChannelSubsystem.attach("ccwfuzz-1-1-gone")


def test_1024_subchannels_fit() -> None:
    with ChannelSubsystem.create(1024, config=CssConfig(enabled=True)) as css:
        css.memory.write(0x1000, Ccw1(ccw.CMD_NOP).to_bytes())
        assert css.ssch(sid.make(1023), Orb(cpa=0x1000).to_bytes()) == 0
        css.channel.run_until_idle()
        assert css.tsch(sid.make(1023))[0] == 0
        assert css.stsch(sid.make(1024))[0] == 3


def test_no_segments_left_by_this_module() -> None:
    """Checked after the tests above in this process."""
    time.sleep(0.05)
    mine = [n for n in list_segments() if n.split("-")[1] == str(os.getpid())]
    assert mine == []


def test_a_segment_names_its_xdist_worker_and_is_still_swept(monkeypatch):
    from ccwfuzz.device.segment import make_name

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    name = make_name()
    assert f"-{os.getpid()}-" in name and "-gw7-" in name
    assert owner_alive(name)  # ours, and we run
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "../../etc")  # not a worker id: left out
    assert "etc" not in make_name() and "/" not in make_name()
    dead = Path(SHM_DIR) / "ccwfuzz-99999997-0-gw3-deadbeef"
    dead.write_bytes(b"")
    try:
        assert dead.name in list_segments() and not owner_alive(dead.name)
        assert dead.name in sweep_stale() and not dead.exists()
    finally:
        dead.unlink(missing_ok=True)
