"""Nightly campaigns (DESIGN sections 7-8): phases per target under one parent, the
findings store across nights, the report. See :mod:`ccwfuzz.campaign.run`.

The names below load lazily: the command line reads :mod:`.settings` to build its
parser, and that must not import the engines behind :mod:`.run`."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "EXIT_FAILED": "run", "EXIT_NEW": "run", "EXIT_OK": "run", "Campaign": "run",
    "PROFILES": "settings", "SETTINGS": "settings", "Settings": "settings",
    "resolve": "settings", "Store": "store",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


__all__ = sorted(_WHERE)
