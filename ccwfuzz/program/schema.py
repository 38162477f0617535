"""The JSON Schema of a program file, generated from the op declarations, and a
validator that is strict about types (``1.0`` is not an integer, ``true`` is not 1).

Validation is lazy: the first error ends it, so a file with a hundred thousand bad ops
costs no more than one with a single bad op, and array sizes are checked before items.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema import validators

from ccwfuzz.program.ops import (
    CONTRACTS,
    HW_EVENTS,
    MAX_CHANGES,
    MAX_CHOICES,
    MAX_SUBCHANNELS,
    OP_KINDS,
    HwEvent,
    Policy,
    Spec,
    specs,
)
from ccwfuzz.sync.words import MAX_ACTORS

FORMAT = "ccwfuzz.program"
VERSION = 2
MAX_WORKERS = MAX_ACTORS - 2  # the channel and the work queue are the other two
MAX_OPS = 256  # per worker
MAX_EVENTS = 256
#: Printable ASCII only: nothing a file says can drive the terminal.
TEXT = {"type": "string", "maxLength": 500, "pattern": "^[\\x20-\\x7e]*$"}
NAME = {"type": "string", "maxLength": 200, "pattern": "^[A-Za-z0-9_.:-]+$"}
HEX = {"type": "string", "maxLength": 1 << 16, "pattern": "^[0-9a-f]*$"}


def _int(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi}


def _array(items: dict[str, Any], most: int) -> dict[str, Any]:
    # maxItems before items: with lazy validation a huge array costs one check.
    return {"type": "array", "maxItems": most, "items": items}


def spec_schema(spec: Spec) -> dict[str, Any]:
    """The JSON Schema of one declared field."""
    if spec.kind == "int":
        return _int(spec.lo, spec.hi)
    if spec.kind == "bool":
        return {"type": "boolean"}
    if spec.kind == "enum":
        return {"enum": list(spec.names)}
    if spec.kind == "bytes":
        return {"type": "string", "maxLength": 2 * spec.hi, "pattern": "^([0-9a-fA-F]{2})*$"}
    if spec.kind == "ccws":
        u8, u16, u32 = _int(0, 0xFF), _int(0, 0xFFFF), _int(0, 0xFFFFFFFF)
        ccw = {"type": "array", "minItems": 4, "maxItems": 4, "prefixItems": [u8, u8, u16, u32]}
        return _array(ccw, spec.hi)
    raise AssertionError(spec.kind)


def _op_schema() -> dict[str, Any]:
    branches = []
    for kind, cls in OP_KINDS.items():
        props: dict[str, Any] = {"op": {"const": kind}}
        props.update({name: spec_schema(spec) for name, spec, _ in specs(cls)})
        branches.append({
            "if": {"properties": {"op": {"const": kind}}},
            "then": {"properties": props, "additionalProperties": False},
        })  # fmt: skip
    return {"type": "object", "required": ["op"],
            "properties": {"op": {"enum": list(OP_KINDS)}}, "allOf": branches}  # fmt: skip


def _event_schema() -> dict[str, Any]:
    props = {name: spec_schema(spec) for name, spec, _ in specs(HwEvent)}
    return {"type": "object", "required": ["event"], "additionalProperties": False,
            "properties": props}  # fmt: skip


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "version", "workers"],
    "additionalProperties": False,
    "properties": {
        "format": {"type": "string", "const": FORMAT},
        "version": {"type": "integer", "const": VERSION},
        "target": NAME,
        "subchannels": _int(1, MAX_SUBCHANNELS),
        "contract": {"enum": list(CONTRACTS)},
        "meta": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "mode": {"enum": ["controlled", "free"]},
                "rule": {"type": "string", "maxLength": 64, "pattern": "^[a-z0-9][a-z0-9.-]*$"},
                "key": _array(TEXT, 4),
                "note": TEXT,
                # A fuzzer finding: the choices its input decoded to, and the input.
                "choices": _array(_int(0, (1 << 32) - 1), MAX_CHOICES),
                "input": HEX,
                "found_after": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "execs": _int(0, 1 << 62),
                        "seconds": {"type": "number", "minimum": 0},
                    },
                },
                # A minimized reproducer: "10/10 deterministic", and where it came from.
                "reliability": {
                    "type": "string",
                    "maxLength": 64,
                    "pattern": "^[0-9]+/[0-9]+ [a-z ]+$",
                },
                "minimized": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "from_ops": _int(0, 1 << 24),
                        "ops": _int(0, 1 << 24),
                        "runs": _int(0, 1 << 62),
                        "seconds": {"type": "number", "minimum": 0},
                    },
                },
                "history": {
                    "type": "object",
                    "required": ["events", "digest", "blocks"],
                    "additionalProperties": False,
                    "properties": {"events": _int(0, 1 << 24), "digest": HEX, "blocks": HEX},
                },
            },
        },
        "workers": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_WORKERS,
            "items": _array({"$ref": "#/$defs/op"}, MAX_OPS),
        },
        "channel": _array({"$ref": "#/$defs/event"}, MAX_EVENTS),
        "schedule": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "policy": {"enum": [p.value for p in Policy]},
                "priorities": _array(_int(0, 1 << 16), 16),
                "changes": {**_array(_int(1, 1 << 30), MAX_CHANGES), "uniqueItems": True},
                "choices": _array(_int(0, 0xFFFFFFFF), MAX_CHOICES),
            },
        },
    },
    "$defs": {"op": _op_schema(), "event": _event_schema()},
}
assert set(HW_EVENTS) == set(SCHEMA["$defs"]["event"]["properties"]["event"]["enum"])


def _strict_integer(checker: Any, instance: Any) -> bool:
    del checker
    return isinstance(instance, int) and not isinstance(instance, bool)


_Strict = validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)
VALIDATOR = _Strict(SCHEMA)


HISTORY_VALIDATOR = _Strict(SCHEMA["properties"]["meta"]["properties"]["history"])


def first_error(doc: Any) -> tuple[str, str] | None:
    """``(path, message)`` of the first schema violation in ``doc``, or None."""
    e = next(iter(VALIDATOR.iter_errors(doc)), None)
    if e is None:
        return None
    path = "/".join(str(x) for x in e.absolute_path) or "(top level)"
    return path, e.message
