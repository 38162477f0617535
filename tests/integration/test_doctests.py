"""The examples in docstrings run as written: every ccwfuzz module (and the installed
strategies) whose source holds an example is found and run, so a new module's examples
cannot be left out of the list."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import ccwfuzz

#: Modules whose examples need what a test machine may lack (none today).
SKIP: set[str] = set()


def _with_examples() -> list[str]:
    names = ["ccwfuzz.strategies"]
    for m in pkgutil.walk_packages(ccwfuzz.__path__, "ccwfuzz."):
        spec = importlib.util.find_spec(m.name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        if ">>> " in Path(spec.origin).read_text() and m.name not in SKIP:
            names.append(m.name)
    return sorted(set(names))


MODULES = _with_examples()


def test_the_new_modules_are_found() -> None:
    for name in ("ccwfuzz.minimize.choices", "ccwfuzz.campaign.store", "ccwfuzz.watchdog",
                 "ccwfuzz.campaign.settings", "ccwfuzz.timeline"):  # fmt: skip
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0, result
