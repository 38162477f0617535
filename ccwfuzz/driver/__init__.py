"""Driver models: the contract, the kernel environment and the reference driver."""

from __future__ import annotations

from ccwfuzz.driver.contract import ATTRIBUTES, ENTRY_POINTS, Driver, Event, State
from ccwfuzz.driver.kernel import Kernel
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Kind

MAX_PRIVATE_WORDS = 1 << 16  # per subchannel
MAX_PRIVATE_LOCKS = 32

TARGETS: dict[str, type[Driver]] = {"reference": Reference}


def _register_zoo() -> None:
    from ccwfuzz.driver.zoo import MEMBERS

    for name, cls in MEMBERS.items():
        TARGETS[f"zoo:{name}"] = cls


_register_zoo()


def missing(cls: object) -> list[str]:
    """What a driver class lacks of the contract (empty: it can be run)."""
    out = [a for a in (*ATTRIBUTES, *ENTRY_POINTS) if not hasattr(cls, a)]
    init = getattr(cls, "initial_state", None)
    if init is not None and not (isinstance(init, int) and init in set(State)):
        out.append("initial_state (not a State)")
    words = getattr(cls, "private_words", 0)
    if not isinstance(words, int) or not 0 <= words <= MAX_PRIVATE_WORDS:
        out.append(f"private_words (an int from 0 to {MAX_PRIVATE_WORDS})")
    locks = getattr(cls, "private_locks", ())
    if (
        not isinstance(locks, tuple)
        or len(locks) > MAX_PRIVATE_LOCKS
        or not all(
            isinstance(x, tuple)
            and len(x) == 2
            and isinstance(x[0], str)
            and isinstance(x[1], Kind)
            for x in locks
        )
    ):
        out.append(f"private_locks (a tuple of at most {MAX_PRIVATE_LOCKS} (name, Kind) pairs)")
    return out


def resolve(target: str, allow_import: bool = True) -> type[Driver]:
    """A driver class by target name (``reference``) or ``module:Class``.

    ``allow_import=False`` refuses ``module:Class``: importing a module runs its code,
    so a target named by a program *file* (which may come from another machine) must
    be a built-in one; the command line's ``--target`` is trusted.
    """
    if target in TARGETS:
        return TARGETS[target]
    if target.startswith("zoo:"):
        raise ValueError(f"no zoo member {target[4:]!r} (ccwfuzz targets lists them)")
    if ":" in target:
        if not allow_import:
            raise ValueError(f"target {target!r} is not built in; pass --target {target} "
                             "to load it")  # fmt: skip
        import importlib

        module, _, cls = target.partition(":")
        try:
            found = getattr(importlib.import_module(module), cls)
        except Exception as e:  # any failure to import is bad input
            raise ValueError(f"cannot load driver {target!r}: {type(e).__name__}: {e}") from None
        if not isinstance(found, type):
            raise ValueError(f"{target!r} is not a class")
        lacks = missing(found)
        if lacks:
            raise ValueError(f"{target!r} is not a driver: it lacks {', '.join(lacks)} "
                             "(ccwfuzz check-driver explains)")  # fmt: skip
        return found
    raise ValueError(f"unknown target {target!r} (known: {', '.join(sorted(TARGETS))})")


__all__ = ["TARGETS", "Driver", "Event", "Kernel", "Reference", "State", "missing", "resolve"]
