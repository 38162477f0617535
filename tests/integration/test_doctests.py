"""The examples in docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ccwfuzz.arch.ccw", "ccwfuzz.arch.sid", "ccwfuzz.device.channel", "ccwfuzz.device.css",
    "ccwfuzz.device.memory", "ccwfuzz.device.events", "ccwfuzz.device.segment",
    "ccwfuzz.exec.pool", "ccwfuzz.strategies", "ccwfuzz.choices", "ccwfuzz.program.encoding",
    "ccwfuzz.program.generate", "ccwfuzz.program.chains", "ccwfuzz.engines.search",
    "ccwfuzz.minimize", "ccwfuzz.minimize.shrink", "ccwfuzz.minimize.passes",
    "ccwfuzz.engines.reproduce", "ccwfuzz.engines.mutate", "ccwfuzz.export",
    "ccwfuzz.testing", "ccwfuzz.timeline",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0, result
