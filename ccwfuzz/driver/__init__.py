"""Driver models: the contract, the kernel environment and the reference driver."""

from __future__ import annotations

from ccwfuzz.driver.contract import Driver, Event, State
from ccwfuzz.driver.kernel import Kernel
from ccwfuzz.driver.reference import Reference

TARGETS: dict[str, type[Reference]] = {"reference": Reference}


def _register_zoo() -> None:
    from ccwfuzz.driver.zoo import MEMBERS

    for name, cls in MEMBERS.items():
        TARGETS[f"zoo:{name}"] = cls


_register_zoo()


def resolve(target: str, allow_import: bool = True) -> type[Reference]:
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
        except (ImportError, AttributeError) as e:
            raise ValueError(f"cannot load driver {target!r}: {e}") from None
        if not (isinstance(found, type) and hasattr(found, "region_write")
                and hasattr(found, "todo")):  # fmt: skip
            raise ValueError(f"{target!r} is not a driver class (see ccwfuzz.driver.contract)")
        return found
    raise ValueError(f"unknown target {target!r} (known: {', '.join(sorted(TARGETS))})")


__all__ = ["TARGETS", "Driver", "Event", "Kernel", "Reference", "State", "resolve"]
