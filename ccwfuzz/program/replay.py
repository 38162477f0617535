"""Replay tokens and history fingerprints.

A **replay token** is one printable line that holds a program, the schedule that ran
(the recorded decisions, an explicit ``choices`` list) and the fingerprint of the
history it produced, as Shuttle prints a schedule on failure:
``ccw1.<program digest>.<payload>`` where the payload is the compact JSON of all
three, zlib-compressed and base64url-encoded. Decoding is bounded (token length,
decompressed size) and the program inside goes through the same strict validation as
a program file: a token from another machine cannot run code or exhaust memory.

A **fingerprint** is the number of history records, a digest of all of them, and a
16-bit hash per block of :data:`BLOCK` records, so a replay that differs names the
first block where it diverged (uncontrolled nondeterminism: the driver model read
something the scheduler does not control).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import zlib
from typing import Any

from ccwfuzz.program.encoding import (
    ProgramError,
    digest,
    from_dict,
    parse_json,
    printable,
    to_dict,
)
from ccwfuzz.program.ops import Program
from ccwfuzz.program.schema import HISTORY_VALIDATOR
from ccwfuzz.sync.history import RECORD_WORDS

PREFIX = "ccw1"
BLOCK = 16
MAX_TOKEN = 1 << 20  # a full decision log of 16 actors fits (about 60 K characters)
MAX_PAYLOAD = 1 << 21


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    events: int
    digest: str
    blocks: str  # 4 hex digits per block of BLOCK records

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "digest": self.digest, "blocks": self.blocks}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Fingerprint:
        return Fingerprint(int(d["events"]), str(d["digest"]), str(d["blocks"]))


def fingerprint(raw: bytes) -> Fingerprint:
    """The fingerprint of a run's history (``RunResult.raw``)."""
    size = 4 * RECORD_WORDS * BLOCK
    blocks = "".join(f"{zlib.crc32(raw[k : k + size]) & 0xFFFF:04x}"
                     for k in range(0, len(raw), size))  # fmt: skip
    return Fingerprint(len(raw) // (4 * RECORD_WORDS), hashlib.sha256(raw).hexdigest()[:16],
                       blocks)  # fmt: skip


def first_divergence(expected: Fingerprint, got: Fingerprint) -> int | None:
    """The index of the first record of the first differing block, or None if the two
    histories are the same."""
    if expected == got:
        return None
    for k in range(0, max(len(expected.blocks), len(got.blocks)), 4):
        if expected.blocks[k : k + 4] != got.blocks[k : k + 4]:
            return k // 4 * BLOCK
    return min(expected.events, got.events)


def encode(program: Program, history: Fingerprint | None = None) -> str:
    """The replay token of ``program`` (its schedule included) and, if known, the
    fingerprint its run must reproduce."""
    doc: dict[str, Any] = {"p": to_dict(program, meta=False)}
    if history is not None:
        doc["h"] = history.to_dict()
    raw = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 9)
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{PREFIX}.{digest(program)}.{body}"


def decode(token: str) -> tuple[Program, Fingerprint | None]:
    """The program (schedule included) and fingerprint in a token; ProgramError with
    one line if it is not a valid token."""
    token = token.strip()
    if len(token) > MAX_TOKEN:
        raise ProgramError(f"replay token longer than {MAX_TOKEN} characters")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ProgramError(f"not a replay token (want {PREFIX}.<digest>.<payload>): "
                           f"{printable(token, 40)}")  # fmt: skip
    try:
        raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        inflate = zlib.decompressobj()
        text = inflate.decompress(raw, MAX_PAYLOAD)
        if inflate.unconsumed_tail:
            raise ProgramError("replay token payload too large")
        payload = text.decode("utf-8")
    except (binascii.Error, zlib.error, ValueError):
        raise ProgramError("replay token is damaged (payload does not decode)") from None
    doc = parse_json(payload, "replay token", MAX_PAYLOAD)
    if not isinstance(doc, dict) or not isinstance(doc.get("p"), dict):
        raise ProgramError("replay token is damaged (no program inside)")
    program = from_dict(doc["p"], "replay token")
    if digest(program) != parts[1]:
        raise ProgramError("replay token is damaged (program digest does not match)")
    h = doc.get("h")
    if h is not None and next(iter(HISTORY_VALIDATOR.iter_errors(h)), None) is not None:
        raise ProgramError("replay token is damaged (bad history fingerprint)")
    return program, Fingerprint.from_dict(h) if h is not None else None
