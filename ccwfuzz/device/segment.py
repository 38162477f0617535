"""Named shared-memory segments that never outlive their owner.

A segment's name is ``ccwfuzz-<pid>-<start>-<random>``: the owner's pid and its process
start time (so a reused pid is not mistaken for the owner). The owner unlinks it on
:meth:`Segment.close`, at interpreter exit, and on SIGTERM/SIGHUP; a SIGKILLed owner
cannot clean up, so every new segment first sweeps names whose owner is gone
(:func:`sweep_stale`).

We bypass :mod:`multiprocessing.resource_tracker` (before Python 3.13 it also tracks
*attached* segments and unlinks them when an attacher exits, and it costs a helper
process); cleanup is ours, and tested.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from multiprocessing import resource_tracker, shared_memory
from types import FrameType
from typing import Any

import psutil

PREFIX = "ccwfuzz"
SHM_DIR = "/dev/shm"
#: ``ccwfuzz-<pid>-<start token>-[<pytest-xdist worker>-]<random>``: the owner, so a
#: sweep can tell a dead owner's segment, and under xdist the worker (``gw0``) whose test
#: made it.
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-([0-9a-f]+)-(?:gw\d+-)?[0-9a-f]+$")
_XDIST = re.compile(r"^gw\d+$")

_lock = threading.Lock()
_owned: dict[str, tuple[int, shared_memory.SharedMemory]] = {}
_handlers_installed = False


def _start_token(pid: int) -> str | None:
    try:
        return format(int(psutil.Process(pid).create_time() * 100), "x")
    except (psutil.Error, ValueError, OverflowError, OSError):  # gone, not ours, nonsense
        return None


def make_name() -> str:
    """A fresh segment name owned by this process (and naming its pytest-xdist worker).

    Example:
        >>> make_name().startswith(f"ccwfuzz-{os.getpid()}-")
        True
    """
    pid = os.getpid()
    token = _start_token(pid) or "0"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    tag = f"{worker}-" if _XDIST.match(worker) else ""
    return f"{PREFIX}-{pid}-{token}-{tag}{secrets.token_hex(4)}"


def owner_alive(name: str) -> bool:
    """Whether the process that created segment ``name`` still runs (True if unknown)."""
    m = _NAME_RE.match(name.lstrip("/"))
    if not m:
        return True
    pid, token = int(m.group(1)), m.group(2)
    if not 0 < pid < 1 << 22:  # not a pid this kernel hands out (pid_max <= 2**22)
        return False
    return _start_token(pid) == token


def list_segments() -> list[str]:
    """Names of ccwfuzz segments currently in ``/dev/shm``."""
    try:
        return sorted(n for n in os.listdir(SHM_DIR) if _NAME_RE.match(n))
    except OSError:
        return []


def sweep_stale() -> list[str]:
    """Unlink segments whose owner process is dead; return their names. A name it may
    not remove (another user's segment, a directory planted under a segment's name) is
    left alone: the sweep never fails a run."""
    removed = []
    for name in list_segments():
        path = os.path.join(SHM_DIR, name)
        try:
            if owner_alive(name) or not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            os.unlink(path)
        except OSError:
            continue
        removed.append(name)
    return removed


@contextlib.contextmanager
def _untracked() -> Iterator[None]:
    """Keep SharedMemory from talking to the resource tracker (see module docstring)."""
    with _lock:
        saved = resource_tracker.register, resource_tracker.unregister
        resource_tracker.register = _no_track  # type: ignore[assignment]
        resource_tracker.unregister = _no_track  # type: ignore[assignment]
        try:
            yield
        finally:
            resource_tracker.register, resource_tracker.unregister = saved


def _no_track(name: str, rtype: str) -> None:
    del name, rtype


def _open(name: str, create: bool, size: int) -> shared_memory.SharedMemory:
    kwargs: dict[str, Any] = {"name": name, "create": create, "size": size}
    if sys.version_info >= (3, 13):
        kwargs["track"] = False
        return shared_memory.SharedMemory(**kwargs)
    with _untracked():
        return shared_memory.SharedMemory(**kwargs)


def _unlink(shm: shared_memory.SharedMemory) -> None:
    with contextlib.suppress(FileNotFoundError), _untracked():
        shm.unlink()


def _cleanup_owned() -> None:
    pid = os.getpid()
    with _lock:
        items = list(_owned.items())
    for name, (owner, shm) in items:
        if owner == pid:
            _unlink(shm)
            _owned.pop(name, None)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    del frame
    _cleanup_owned()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    """Unlink owned segments on SIGTERM/SIGHUP, where the default action would skip
    atexit. Only where nobody installed a handler already, and only from the main
    thread. SIGINT needs nothing: KeyboardInterrupt unwinds and atexit runs."""
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True
    atexit.register(_cleanup_owned)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_signal)


class Segment:
    """One shared-memory segment: create (owner) or attach (by name).

    Example:
        >>> with Segment.create(4096) as seg:
        ...     seg.buf[0] = 7
        ...     other = Segment.attach(seg.name)
        ...     value = other.buf[0]
        ...     other.close()
        >>> value
        7
    """

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self._shm = shm
        self.owner = owner
        self.name: str = shm.name.lstrip("/")
        buf = shm.buf
        assert buf is not None
        self.buf: memoryview = buf
        self._views: list[memoryview] = []
        self._closed = False

    @classmethod
    def create(cls, size: int) -> Segment:
        """Create a zero-filled segment of ``size`` bytes, mode 0600, owned by this
        process. Stale segments of dead owners are swept first."""
        sweep_stale()
        _install_handlers()
        shm = _open(make_name(), True, size)
        with _lock:
            _owned[shm.name.lstrip("/")] = (os.getpid(), shm)
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, name: str) -> Segment:
        """Attach to an existing segment (FileNotFoundError if it is gone)."""
        return cls(_open(name, False, 0), owner=False)

    def words(self) -> memoryview:
        """The whole segment as native unsigned 32-bit words (released on close)."""
        v = self.buf.cast("I")
        self._views.append(v)
        return v

    def close(self) -> None:
        """Release views and unmap; the owner also unlinks. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.owner and os.getpid() == _owned.get(self.name, (os.getpid(), None))[0]:
            _unlink(self._shm)
            with _lock:
                _owned.pop(self.name, None)
        for v in self._views:
            v.release()
        self._views.clear()
        self.buf.release()
        with contextlib.suppress(BufferError):
            self._shm.close()

    def __enter__(self) -> Segment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
