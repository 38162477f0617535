"""The versioned JSON form of a program, its loader, and its content hash.

Loading never runs code (plain JSON, checked against :mod:`ccwfuzz.program.schema`),
and it is bounded *before* parsing: a file larger than :data:`MAX_FILE_BYTES` or nested
deeper than :data:`MAX_DEPTH` is refused unread or unparsed, integers longer than 20
digits, ``NaN``/``Infinity`` and duplicate keys are refused while parsing, and the
first schema violation ends validation. Every error is one printable line naming the
file, the position and what was expected (:class:`ProgramError`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from ccwfuzz.program import schema
from ccwfuzz.program.ops import (
    OP_KINDS,
    Ccw,
    HwEvent,
    Op,
    Policy,
    Program,
    Schedule,
    Spec,
    specs,
)

FORMAT, VERSION = schema.FORMAT, schema.VERSION
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 16
# Unrolled ("normal* (special normal*)*"): a long string costs no backtracking stack,
# and an unterminated one runs to the end of the text instead of failing (a failed match
# would be retried from every later quote: quadratic).
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class ProgramError(ValueError):
    """A program file or document that is not a valid program (one printable line)."""


def printable(text: str, limit: int = 160) -> str:
    """``text`` with every non-printable character escaped, cut to ``limit``: what a
    file says reaches the terminal only through this."""
    out = "".join(c if c.isprintable() and ord(c) < 0x7F else f"\\x{ord(c):02x}"
                  if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in text[: 4 * limit])  # fmt: skip
    return out if len(out) <= limit else out[: limit - 3] + "..."


# ---- to JSON ------------------------------------------------------------------------
def _value(spec: Spec, v: Any) -> Any:
    if spec.kind == "bytes":
        return v.hex()
    if spec.kind == "ccws":
        return [[c.cmd, c.flags, c.count, c.addr] for c in v]
    return v


def op_to_dict(o: Op) -> dict[str, Any]:
    """An op's JSON object: its kind, ``sch``, and every field not at its default."""
    d: dict[str, Any] = {"op": o.kind, "sch": o.sch}
    for name, spec, default in specs(type(o)):
        v = getattr(o, name)
        if name != "sch" and v != default:
            d[name] = _value(spec, v)
    return d


def event_to_dict(e: HwEvent) -> dict[str, Any]:
    return {name: getattr(e, name) for name, _, _ in specs(HwEvent)}


def schedule_to_dict(s: Schedule) -> dict[str, Any]:
    d: dict[str, Any] = {"policy": s.policy.value}
    if s.policy in (Policy.PCT, Policy.LAG):
        d.update(priorities=list(s.priorities), changes=list(s.changes))
    if s.policy != Policy.PCT:
        d["choices"] = list(s.choices)
    return d


def to_dict(p: Program, meta: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "target": p.target,
        "subchannels": p.subchannels,
        "contract": p.contract,
        "workers": [[op_to_dict(o) for o in w] for w in p.workers],
        "channel": [event_to_dict(e) for e in p.channel],
        "schedule": schedule_to_dict(p.schedule),
    }
    if meta and p.meta:
        out["meta"] = p.meta
    return out


def dumps(p: Program, compact: bool = False) -> str:
    """The JSON text of a program (``compact`` for machine use: no indentation)."""
    if compact:
        return json.dumps(to_dict(p), separators=(",", ":"))
    return json.dumps(to_dict(p), indent=1) + "\n"


def digest(p: Program) -> str:
    """The program's content hash (everything but ``meta``), for dedup and tokens.

    Example:
        >>> from ccwfuzz.program.ops import Open
        >>> a = Program(workers=((Open(0),),))
        >>> digest(a) == digest(Program(workers=((Open(0),),), meta={"note": "x"}))
        True
    """
    text = json.dumps(to_dict(p, meta=False), separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---- from JSON ----------------------------------------------------------------------
def _field(spec: Spec, v: Any) -> Any:
    if spec.kind == "bytes":
        return bytes.fromhex(v)
    if spec.kind == "ccws":
        return tuple(Ccw(*c) for c in v)
    return v


def op_from_dict(d: dict[str, Any]) -> Op:
    cls = OP_KINDS[d["op"]]
    return cls(**{name: _field(spec, d[name]) for name, spec, _ in specs(cls) if name in d})


def event_from_dict(d: dict[str, Any]) -> HwEvent:
    return HwEvent(**{name: d[name] for name, _, _ in specs(HwEvent) if name in d})


def schedule_from_dict(d: dict[str, Any]) -> Schedule:
    return Schedule(
        Policy(d.get("policy", Policy.CHOICES.value)),
        tuple(d.get("priorities", ())),
        tuple(d.get("changes", ())),
        tuple(d.get("choices", ())),
    )


def from_dict(doc: Any, where: str = "<program>") -> Program:
    """Validate a decoded document and build the program; :class:`ProgramError` with
    the first violation otherwise."""
    err = schema.first_error(doc)
    if err is not None:
        raise ProgramError(f"{where}: at {err[0]}: {printable(err[1])}")
    nsch = doc.get("subchannels", 2)
    for wi, ops in enumerate(doc["workers"]):
        for oi, o in enumerate(ops):
            if o.get("sch", 0) >= nsch:
                raise ProgramError(f"{where}: at workers/{wi}/{oi}/sch: subchannel "
                                   f"{o['sch']} of {nsch}")  # fmt: skip
    for ei, ev in enumerate(doc.get("channel", [])):
        if ev.get("sch", 0) >= nsch:
            raise ProgramError(f"{where}: at channel/{ei}/sch: subchannel {ev['sch']} of {nsch}")
    sched = schedule_from_dict(doc.get("schedule", {}))
    if sched.policy == Policy.PCT and len(sched.priorities) != len(doc["workers"]) + 2:
        actors = len(doc["workers"]) + 2
        raise ProgramError(f"{where}: at schedule/priorities: need one per actor ({actors}: "
                           "the workers, the channel, the work queue)")  # fmt: skip
    return Program(
        target=doc.get("target", "reference"),
        subchannels=nsch,
        contract=doc.get("contract", "upstream"),
        meta=doc.get("meta", {}),
        workers=tuple(tuple(op_from_dict(o) for o in ops) for ops in doc["workers"]),
        channel=tuple(event_from_dict(e) for e in doc.get("channel", [])),
        schedule=sched,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number here")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 20:
        raise ValueError(f"integer of {len(text)} digits")
    return int(text)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {printable(k, 40)!r}")
        out[k] = v
    return out


def _depth(text: str) -> int:
    """How deeply brackets nest in ``text`` (strings ignored); linear, no recursion."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    depth = most = 0
    for c in brackets:
        if c in "[{":
            depth += 1
            most = max(most, depth)
        else:
            depth -= 1
    return most


def parse_json(text: str, where: str, limit: int = MAX_FILE_BYTES) -> Any:
    """Strict, bounded JSON: size and depth checked first, no ``NaN``/``Infinity``, no
    integer over 20 digits, no duplicate key; ProgramError with one line otherwise."""
    if len(text) > limit:
        raise ProgramError(f"{where}: larger than {limit} bytes")
    if _depth(text) > MAX_DEPTH:
        raise ProgramError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_int=_int, parse_constant=_no_constant,
                          object_pairs_hook=_pairs)  # fmt: skip
    except json.JSONDecodeError as e:
        raise ProgramError(f"{where}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise ProgramError(f"{where}: not a program: {printable(str(e))}") from None


def loads(text: str, where: str = "<program>") -> Program:
    """Parse and validate a program's JSON text (bounded; see the module docstring)."""
    return from_dict(parse_json(text, where), where)


def load(path: str | Path) -> Program:
    """Read a program file. Raises :class:`ProgramError` with a one-line message."""
    where = printable(str(path), 200)
    data = read_bounded(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProgramError(f"{where}: not UTF-8 (byte {e.start})") from None
    return loads(text, where)


def read_bounded(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (never a FIFO or device:
    opened non-blocking and checked before reading); :class:`ProgramError` otherwise."""
    where = printable(str(path), 200)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ProgramError(f"{where}: cannot read: {printable(e.strerror or str(e))}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ProgramError(f"{where}: not a regular file")
        if st.st_size > limit:
            raise ProgramError(f"{where}: larger than {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise ProgramError(f"{where}: cannot read: {printable(e.strerror or str(e))}") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while being read
        raise ProgramError(f"{where}: larger than {limit} bytes")
    return data


def save(p: Program, path: str | Path) -> None:
    """Write atomically (temp file, fsync, rename): a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(dumps(p))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
