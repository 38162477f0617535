"""Exports of a reproducer: a standalone pytest test (:func:`pytest_source`).

The test holds the program as Python code a person can read and edit (op by op, only
fields that differ from their defaults, addresses in hex), not a blob; it is rendered
from a Jinja2 template (``templates/regression_test.py.j2``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jinja2

from ccwfuzz.program import Program
from ccwfuzz.program.ops import Ccw, HwEvent, Op, Schedule, specs

#: Fields shown in hex: addresses, command codes and flag words.
HEX_FIELDS = {"ctrl", "at", "cpa", "cmd", "flags", "addr", "offset", "mask", "intparm"}


def _value(name: str, v: Any) -> str:
    if isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return hex(v) if name in HEX_FIELDS and v > 9 else str(v)
    if isinstance(v, bytes):
        return f"bytes.fromhex({v.hex()!r})" if v else 'b""'
    if isinstance(v, tuple) and all(isinstance(c, Ccw) for c in v):
        inner = ", ".join(_ccw(c) for c in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return repr(v)


def _ccw(c: Ccw) -> str:
    return (f"Ccw(cmd={_value('cmd', c.cmd)}, flags={_value('flags', c.flags)}, "
            f"count={c.count}, addr={_value('addr', c.addr)})")  # fmt: skip


def _call(item: Op | HwEvent) -> str:
    args = [f"{n}={_value(n, getattr(item, n))}" for n, _, d in specs(type(item))
            if getattr(item, n) != d or n == "sch"]  # fmt: skip
    return f"{type(item).__name__}({', '.join(args)})"


def _schedule(s: Schedule) -> str:
    parts = [f"Policy.{s.policy.name}"]
    for name in ("priorities", "changes", "choices"):
        v = getattr(s, name)
        if v:
            parts.append(f"{name}={v!r}")
    return f"Schedule({', '.join(parts)})"


def _literal(v: Any) -> str:
    """A Python literal, strings in double quotes (as ruff formats them)."""
    return json.dumps(v) if isinstance(v, str) else repr(v)


def test_name(rule: str, where: str) -> str:
    """A Python identifier for the test of a finding (``driver_cp_free_final``)."""
    text = re.sub(r"[^a-z0-9]+", "_", f"{rule} {where}".lower()).strip("_")
    return text[:60].rstrip("_") or "finding"


def pytest_source(program: Program, rule: str, where: str) -> str:
    """The source of a pytest test that fails while ``rule`` fires at ``where`` on
    ``program`` and passes once it does not.

    Example:
        >>> from ccwfuzz.program import Open
        >>> src = pytest_source(Program(workers=((Open(0),),)), "driver.retcode", "ret")
        >>> "Open(sch=0)" in src and "def test_driver_retcode_ret" in src
        True
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ccwfuzz", "templates"),
        autoescape=False,  # Python source; every value is rendered through repr/hex
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["py"] = _literal
    kinds = {type(o).__name__ for w in program.workers for o in w}
    if any(isinstance(o, Op) and getattr(o, "ccws", ()) for w in program.workers for o in w):
        kinds.add("Ccw")
    if program.channel:
        kinds.add("HwEvent")
    imports = sorted(kinds | {"Policy", "Program", "Schedule"})
    return env.get_template("regression_test.py.j2").render(
        rule=rule, where=where, target=program.target, subchannels=program.subchannels,
        contract=program.contract, imports=imports,
        workers=[[_call(o) for o in w] for w in program.workers],
        channel=[_call(e) for e in program.channel], schedule=_schedule(program.schedule),
        name=test_name(rule, where), reliability=program.meta.get("reliability", "unmeasured"),
    )  # fmt: skip
