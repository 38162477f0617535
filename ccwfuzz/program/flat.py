"""The flat form of an actor's part of a program: 32-bit words, written into the run
segment by the executor and decoded once per run by the actor that runs it.

Generated from the op declarations (:func:`ccwfuzz.program.ops.specs`), so it cannot
disagree with the JSON form: an op is its code, then each declared field in order
(integers and booleans one word, bytes a length and the packed words, CCWs a count and
two words each); an event is its declared fields in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ccwfuzz.program.ops import HW_EVENTS, OP_KINDS, Ccw, HwEvent, Op, Spec, specs

_BY_CODE = {cls.code: cls for cls in OP_KINDS.values()}
_SPECS = {cls: specs(cls) for cls in [*OP_KINDS.values(), HwEvent]}


def _put(out: list[int], spec: Spec, v: Any) -> None:
    if spec.kind == "bytes":
        out.append(len(v))
        padded = v + bytes(-len(v) % 4)
        out.extend(int.from_bytes(padded[k : k + 4], "little") for k in range(0, len(v), 4))
    elif spec.kind == "ccws":
        out.append(len(v))
        for c in v:
            out += [c.cmd << 24 | c.flags << 16 | c.count, c.addr]
    elif spec.kind == "enum":
        out.append(spec.names.index(v))
    else:
        out.append(int(v))


def _get(words: Sequence[int], k: int, spec: Spec) -> tuple[Any, int]:
    if spec.kind == "bytes":
        n = words[k]
        raw = b"".join(w.to_bytes(4, "little") for w in words[k + 1 : k + 1 + (n + 3) // 4])
        return raw[:n], k + 1 + (n + 3) // 4
    if spec.kind == "ccws":
        n = words[k]
        ccws = tuple(
            Ccw(words[j] >> 24, words[j] >> 16 & 0xFF, words[j] & 0xFFFF, words[j + 1])
            for j in range(k + 1, k + 1 + 2 * n, 2)
        )
        return ccws, k + 1 + 2 * n
    if spec.kind == "enum":
        return spec.names[words[k]], k + 1
    if spec.kind == "bool":
        return bool(words[k]), k + 1
    return int(words[k]), k + 1


def flatten_ops(ops: Sequence[Op]) -> list[int]:
    out = [len(ops)]
    for o in ops:
        out.append(o.code)
        for name, spec, _ in _SPECS[type(o)]:
            _put(out, spec, getattr(o, name))
    return out


def unflatten_ops(words: Sequence[int]) -> tuple[Op, ...]:
    ops, k = [], 1
    for _ in range(words[0]):
        cls = _BY_CODE[words[k]]
        k += 1
        fields = {}
        for name, spec, _ in _SPECS[cls]:
            fields[name], k = _get(words, k, spec)
        ops.append(cls(**fields))
    return tuple(ops)


def flatten_events(events: Sequence[HwEvent]) -> list[int]:
    out = [len(events)]
    for e in events:
        for name, spec, _ in _SPECS[HwEvent]:
            _put(out, spec, getattr(e, name))
    return out


def unflatten_events(words: Sequence[int]) -> tuple[HwEvent, ...]:
    events, k = [], 1
    for _ in range(words[0]):
        fields = {}
        for name, spec, _ in _SPECS[HwEvent]:
            fields[name], k = _get(words, k, spec)
        events.append(HwEvent(**fields))
    return tuple(events)


assert _SPECS[HwEvent][0][1].names == HW_EVENTS
