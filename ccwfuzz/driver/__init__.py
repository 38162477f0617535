"""Driver models: the contract, the kernel environment and the reference driver."""

from __future__ import annotations

from ccwfuzz.driver.contract import Driver, Event, State
from ccwfuzz.driver.kernel import Kernel
from ccwfuzz.driver.reference import Reference

TARGETS: dict[str, type[Reference]] = {"reference": Reference}


def resolve(target: str) -> type[Reference]:
    """A driver class by target name (``reference``) or ``module:Class``."""
    if target in TARGETS:
        return TARGETS[target]
    if ":" in target:
        import importlib

        module, _, cls = target.partition(":")
        try:
            found = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"cannot load driver {target!r}: {e}") from None
        return found  # type: ignore[no-any-return]
    raise ValueError(f"unknown target {target!r} (known: {', '.join(sorted(TARGETS))})")


__all__ = ["TARGETS", "Driver", "Event", "Kernel", "Reference", "State", "resolve"]
