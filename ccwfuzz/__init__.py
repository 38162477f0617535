"""ccwfuzz: stress and fuzz testing for vfio-ccw-like channel-I/O pass-through designs.

The public API, re-exported thinly and loaded lazily (``import ccwfuzz`` costs almost
nothing; a name is imported from its home module on first use):

* programs: :class:`Program`, the op kinds (:class:`Open`, :class:`Ssch`, ...),
  :class:`HwEvent`, :class:`Schedule`, :class:`Policy`, :func:`random_program`,
  :func:`load`, :func:`loads`, :func:`dumps`, :func:`save`, :func:`digest`;
* choices: :class:`RandomSource`, :class:`ReplaySource`, :class:`RecordingSource`;
* running: :class:`Executor`, :class:`RunRequest`, :class:`RunResult`, :class:`Mode`,
  :class:`Pool` (the persistent actor pool that implements :class:`Executor`);
* judging: :func:`check`, :func:`view_of`, :data:`RULES`, :class:`Finding`;
* engines: :func:`search`, :func:`stress`, :class:`Session`;
* as the command line does: :func:`run`, :func:`replay`, :func:`minimized`,
  :func:`fuzz`, :func:`run_campaign` (:mod:`ccwfuzz.api`);
* drivers: :data:`TARGETS`, :func:`resolve`; the simulator: :class:`ChannelSubsystem`.

Example:
    >>> import ccwfuzz
    >>> with ccwfuzz.Pool(workers=1, subchannels=1) as pool:
    ...     p = ccwfuzz.Program(subchannels=1, workers=((ccwfuzz.Open(0), ccwfuzz.Close(0)),))
    ...     result = pool.run(ccwfuzz.RunRequest(p))
    >>> result.outcome.name, ccwfuzz.check(ccwfuzz.view_of(result, p))
    ('DONE', [])
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PROGRAM = """
    Program Schedule Policy HwEvent Ccw Op Open Close Reset Remove Ssch Hsch Csch ReadIo
    ReadAsync ReadSchib ReadCrw Write Read WaitIrq Yield random_program load loads dumps save
    digest ProgramError RandomSource ReplaySource RecordingSource Executor RunRequest
    RunResult RequestError Mode
"""
_HOME = {
    "ChannelSubsystem": "ccwfuzz.device",
    "TARGETS": "ccwfuzz.driver",
    "resolve": "ccwfuzz.driver",
    "Pool": "ccwfuzz.exec",
    "RULES": "ccwfuzz.oracles",
    "Finding": "ccwfuzz.oracles",
    "check": "ccwfuzz.oracles",
    "view_of": "ccwfuzz.oracles",
    "search": "ccwfuzz.engines",
    "stress": "ccwfuzz.engines",
    "Session": "ccwfuzz.engines",
    "SearchResult": "ccwfuzz.engines",
    "run": "ccwfuzz.api",
    "replay": "ccwfuzz.api",
    "minimized": "ccwfuzz.api",
    "fuzz": "ccwfuzz.api",
    "run_campaign": "ccwfuzz.api",
    "Outcome": "ccwfuzz.api",
    **dict.fromkeys(_PROGRAM.split(), "ccwfuzz.program"),
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'ccwfuzz' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
