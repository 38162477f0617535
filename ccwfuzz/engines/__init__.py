"""The engines: loops that hand programs to an executor and judge what comes back.

:mod:`.loop` is the one loop they share (inconclusive runs, recorded schedules, replay
tokens); :mod:`.search` looks for one rule, :mod:`.stress` reports every new finding.
The coverage-guided fuzzer and the minimizer join them here. The package root re-exports
the verbs (``ccwfuzz.search``, ``ccwfuzz.stress``), which is why the engines live in
modules of this package rather than in packages named after the verbs.
"""

from __future__ import annotations

from ccwfuzz.engines.loop import Judged, Session, Stats
from ccwfuzz.engines.search import SearchResult, search
from ccwfuzz.engines.stress import Hit, stress

__all__ = ["Hit", "Judged", "SearchResult", "Session", "Stats", "search", "stress"]
