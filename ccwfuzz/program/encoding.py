"""The versioned JSON form of a program, and its validation.

Loading never runs code (plain JSON, checked against a JSON Schema with ``jsonschema``),
and every error names the file, the position and what was expected, in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from ccwfuzz.program.ops import (
    CONTRACTS,
    HW_EVENTS,
    OPS,
    POLICIES,
    Ccw,
    HwEvent,
    Op,
    Program,
    Schedule,
)

FORMAT = "ccwfuzz.program"
VERSION = 1
U32 = {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF}
U16 = {"type": "integer", "minimum": 0, "maximum": 0xFFFF}
U8 = {"type": "integer", "minimum": 0, "maximum": 0xFF}
SCH = {"type": "integer", "minimum": 0, "maximum": 63}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "version", "workers"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "target": {"type": "string", "minLength": 1, "maxLength": 200},
        "subchannels": {"type": "integer", "minimum": 1, "maximum": 64},
        "contract": {"enum": list(CONTRACTS)},
        "meta": {"type": "object"},
        "workers": {
            "type": "array",
            "minItems": 1,
            "maxItems": 12,
            "items": {"type": "array", "maxItems": 256, "items": {"$ref": "#/$defs/op"}},
        },
        "channel": {"type": "array", "maxItems": 256, "items": {"$ref": "#/$defs/event"}},
        "schedule": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "policy": {"enum": list(POLICIES)},
                "seed": U32,
                "depth": {"type": "integer", "minimum": 1, "maximum": 16},
                "choices": {"type": "array", "maxItems": 4096, "items": U32},
            },
        },
    },
    "$defs": {
        "op": {
            "type": "object",
            "required": ["op"],
            "additionalProperties": False,
            "properties": {
                "op": {"enum": list(OPS)},
                "sch": SCH,
                "ccws": {
                    "type": "array",
                    "maxItems": 32,
                    "items": {
                        "type": "array",
                        "prefixItems": [U8, U8, U16, U32],
                        "minItems": 4,
                        "maxItems": 4,
                    },
                },
                "intparm": U32,
                "ctrl": U32,
                "retry": {"type": "boolean"},
                "offset": {"type": "integer", "minimum": 0, "maximum": 0xFFF},
                "data": {"type": "string", "pattern": "^([0-9a-fA-F]{2}){0,256}$"},
                "n": {"type": "integer", "minimum": 0, "maximum": 100000},
            },
        },
        "event": {
            "type": "object",
            "required": ["event"],
            "additionalProperties": False,
            "properties": {
                "event": {"enum": list(HW_EVENTS)},
                "sch": SCH,
                "after": {"type": "integer", "minimum": 0, "maximum": 10000},
                "mask": U8,
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


class ProgramError(ValueError):
    """A program file or document that is not a valid program (one-line message)."""


def to_dict(p: Program) -> dict[str, Any]:
    def op(o: Op) -> dict[str, Any]:
        d: dict[str, Any] = {"op": o.op, "sch": o.sch}
        if o.op == "ssch":
            d.update(ccws=[[c.cmd, c.flags, c.count, c.addr] for c in o.ccws],
                     intparm=o.intparm, ctrl=o.ctrl)  # fmt: skip
        if o.op in ("ssch", "hsch", "csch") and not o.retry:
            d["retry"] = False
        if o.op in ("write", "read"):
            d["offset"] = o.offset
        if o.op == "write":
            d["data"] = o.data.hex()
        if o.op in ("read", "yield"):
            d["n"] = o.n
        return d

    sched: dict[str, Any] = {"policy": p.schedule.policy, "seed": p.schedule.seed,
                             "depth": p.schedule.depth}  # fmt: skip
    if p.schedule.policy in ("choices", "walk"):
        sched["choices"] = list(p.schedule.choices)
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "target": p.target,
        "subchannels": p.subchannels,
        "contract": p.contract,
        "workers": [[op(o) for o in w] for w in p.workers],
        "channel": [
            {"event": e.event, "sch": e.sch, "after": e.after, "mask": e.mask} for e in p.channel
        ],
        "schedule": sched,
    }
    if p.meta:
        out["meta"] = p.meta
    return out


def dumps(p: Program, compact: bool = False) -> str:
    """The JSON text of a program (``compact`` for machine use: no indentation)."""
    if compact:
        return json.dumps(to_dict(p), separators=(",", ":"))
    return json.dumps(to_dict(p), indent=1, sort_keys=False) + "\n"


def from_dict(doc: Any, where: str = "<program>", validate: bool = True) -> Program:
    """Build a program from a decoded document; ``validate=False`` only for documents
    this process or its parent produced (actors reading the run segment)."""
    errors = (
        sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if (validate)
        else []
    )
    if errors:
        e = errors[0]
        path = "/".join(str(x) for x in e.absolute_path) or "(top level)"
        raise ProgramError(f"{where}: at {path}: {_short(e.message)}")
    nsch = doc.get("subchannels", 2)
    for wi, ops in enumerate(doc["workers"]):
        for oi, o in enumerate(ops):
            if o.get("sch", 0) >= nsch:
                raise ProgramError(f"{where}: at workers/{wi}/{oi}/sch: subchannel "
                                   f"{o['sch']} of {nsch}")  # fmt: skip
    for ei, ev in enumerate(doc.get("channel", [])):
        if ev.get("sch", 0) >= nsch:
            raise ProgramError(f"{where}: at channel/{ei}/sch: subchannel {ev['sch']} of {nsch}")
    s = doc.get("schedule", {})
    return Program(
        target=doc.get("target", "reference"),
        subchannels=nsch,
        contract=doc.get("contract", "upstream"),
        meta=doc.get("meta", {}),
        workers=tuple(ops_from_list(ops) for ops in doc["workers"]),
        channel=events_from_list(doc.get("channel", [])),
        schedule=Schedule(
            s.get("policy", "pct"), s.get("seed", 0), s.get("depth", 3), tuple(s.get("choices", []))
        ),
    )


def ops_from_list(ops: list[dict[str, Any]]) -> tuple[Op, ...]:
    """Worker ops from their (already validated) JSON objects."""
    return tuple(
        Op(
            op=o["op"],
            sch=o.get("sch", 0),
            ccws=tuple(Ccw(*c) for c in o.get("ccws", [])),
            intparm=o.get("intparm", 0),
            ctrl=o.get("ctrl", 0x0080FF00),
            retry=o.get("retry", True),
            offset=o.get("offset", 0),
            data=bytes.fromhex(o.get("data", "")),
            n=o.get("n", 0),
        )
        for o in ops
    )


def events_from_list(events: list[dict[str, Any]]) -> tuple[HwEvent, ...]:
    return tuple(
        HwEvent(e["event"], e.get("sch", 0), e.get("after", 0), e.get("mask", 0x80)) for e in events
    )


def loads(text: str, where: str = "<program>", validate: bool = True) -> Program:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProgramError(f"{where}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from None
    return from_dict(doc, where, validate)


def load(path: str | Path) -> Program:
    """Read a program file. Raises :class:`ProgramError` with a one-line message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProgramError(f"{path}: cannot read: {e}") from None
    return loads(text, str(path))


def save(p: Program, path: str | Path) -> None:
    """Write atomically (temp file, then rename): a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(p), encoding="utf-8")
    tmp.replace(path)


def _short(msg: str) -> str:
    return msg if len(msg) <= 160 else msg[:157] + "..."
