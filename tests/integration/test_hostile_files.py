"""Hostile program files: ``ccwfuzz run FILE`` refuses every malformed one cleanly.

A generated set of malformed inputs (bad encodings and non-JSON, wrong JSON types,
out-of-range numbers, size and nesting bombs, unknown names, abused ``meta``, and paths
that are not readable regular files) is fed, one per subprocess, to the real command
``python -m ccwfuzz run FILE``. Each case is the valid base document with one thing
broken, so it is malformed under any reasonable format version. For every case:

* the exit status is exactly 2;
* stderr is exactly one non-empty line starting with ``ccwfuzz: ``;
* neither stream holds a traceback, and nothing from the file reaches the terminal
  unescaped: no byte below 0x20 (other than newlines), no ESC, no DEL, no C1 or bidi
  control characters, and stderr is valid UTF-8;
* the process uses under 2 s of CPU time (wall time depends on the machine's load;
  a hang is caught by a timeout) and a peak RSS under 100 MB (the child's own
  rusage, from ``os.wait4`` in a small spawner process, see :data:`SPAWNER`); a hung
  child is killed after a generous timeout so a hang shows up as a failed time
  assertion, never as a stuck test run.

A positive control runs the valid base document and checks it is *not* refused, which
shows that the harness can tell a refusal from a run.
"""

from __future__ import annotations

import codecs
import functools
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TIME_LIMIT_S = 2.0
RSS_LIMIT_KIB = 100 * 1024  # ru_maxrss is in KiB on Linux
TIMEOUT_S = 20.0  # a hung child is killed after this; the time assertion then fails
CONTROL_TIMEOUT_S = 120.0
#: Address-space cap for hostile runs: protects the machine if a loader balloons (such a
#: run fails its RSS assertion well before reaching the cap).
ADDRESS_SPACE_CAP = 1 << 30
MIB = 1 << 20
CLASSES = ("json", "type", "range", "bomb", "name", "meta", "path")
PROGRAM_NAME = "program.json"


# ---- the base document ----------------------------------------------------------------
@functools.cache
def format_version() -> int:
    """The program format version the loader expects (2 if it does not say)."""
    try:
        from ccwfuzz.program import encoding
    except Exception:  # the loader is being rewritten: never let that break collection
        return 2
    version = getattr(encoding, "VERSION", 2)
    return version if isinstance(version, int) and not isinstance(version, bool) else 2


def base_doc() -> dict[str, Any]:
    """A valid program document; every hostile case breaks exactly one thing in it."""
    return {
        "format": "ccwfuzz.program",
        "version": format_version(),
        "target": "reference",
        "subchannels": 1,
        "workers": [
            [
                {"op": "open", "sch": 0},
                {"op": "ssch", "sch": 0, "ccws": [[3, 32, 1, 0]], "intparm": 7, "ctrl": 8453888},
                {"op": "wait_irq", "sch": 0},
                {"op": "close", "sch": 0},
            ]
        ],
        "channel": [{"event": "attention", "sch": 0, "after": 3}],
        "schedule": {"policy": "choices", "choices": [0, 1, 2]},
    }


def _node(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def with_value(where: str, value: Any) -> dict[str, Any]:
    """The base document with the value at ``where`` (``a/0/b``) set (or added)."""
    doc = base_doc()
    *parents, last = where.split("/")
    parent = _node(doc, parents)
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value
    return doc


def without(key: str) -> dict[str, Any]:
    doc = base_doc()
    del doc[key]
    return doc


def with_op(op: dict[str, Any]) -> dict[str, Any]:
    """The base document with ``op`` appended to worker 0."""
    doc = base_doc()
    doc["workers"][0].append(op)
    return doc


def encode(doc: Any, raw: dict[str, str] | None = None, ascii_only: bool = True) -> bytes:
    """``doc`` as JSON bytes; each ``raw`` marker string is replaced by raw JSON text
    (for what :func:`json.dumps` cannot write: NaN, huge literals, bad nesting...)."""
    text = json.dumps(doc, ensure_ascii=ascii_only)
    for marker, replacement in (raw or {}).items():
        quoted = json.dumps(marker)
        assert text.count(quoted) == 1, marker
        text = text.replace(quoted, replacement)
    return text.encode("utf-8")


def raw_at(where: str, text: Callable[[], str]) -> Callable[[], bytes]:
    """Content: the base document with raw JSON ``text()`` as the value at ``where``."""
    marker = "@@RAW@@"
    return lambda: encode(with_value(where, marker), {marker: text()})


# ---- the cases -------------------------------------------------------------------------
#: case id -> function making the case under a temporary directory and returning the
#: path to give ``ccwfuzz run`` (contents are generated only when the case runs).
CASES: dict[str, Callable[[Path], Path | str]] = {}


def path_case(case_id: str, make: Callable[[Path], Path | str]) -> None:
    assert case_id not in CASES, case_id
    assert case_id.split("-")[0] in CLASSES, case_id
    CASES[case_id] = make


def file_case(case_id: str, content: Callable[[], bytes]) -> None:
    def make(tmp: Path) -> Path:
        path = tmp / PROGRAM_NAME
        path.write_bytes(content())
        return path

    path_case(case_id, make)


def doc_case(case_id: str, build: Callable[[], Any], ascii_only: bool = True) -> None:
    file_case(case_id, lambda: encode(build(), ascii_only=ascii_only))


def _base_text() -> str:
    return encode(base_doc()).decode()


def _replace_once(old: str, new: bytes) -> Callable[[], bytes]:
    def content() -> bytes:
        text = _base_text().encode()
        assert text.count(old.encode()) == 1, old
        return text.replace(old.encode(), new)

    return content


def _utf16(bom: bytes, codec: str) -> Callable[[], bytes]:
    return lambda: bom + _base_text().encode(codec)


def _nested(depth: int, opening: str, closing: str, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


# 1. not JSON, or not UTF-8 JSON
file_case("json-empty", lambda: b"")
file_case("json-whitespace-only", lambda: b" \n\t\r\n ")
file_case("json-truncated-half", lambda: _base_text().encode()[: len(_base_text()) // 2])
file_case("json-truncated-one-brace", lambda: b"{")
file_case("json-trailing-garbage", lambda: _base_text().encode() + b" }{")
file_case("json-binary-garbage", lambda: random.Random(0).randbytes(4096))
file_case("json-ansi-garbage", lambda: b"\x1b[2J\x1b[31m\x07\x08\x7f\x9b not json \x00\r\n")
file_case("json-raw-esc-in-string", _replace_once('"reference"', b'"\x1b[31mreference"'))
file_case("json-raw-newline-in-string", _replace_once('"reference"', b'"refer\nence"'))
file_case("json-invalid-utf8", _replace_once('"reference"', b'"ref\xc3\x28erence"'))
file_case("json-invalid-utf8-lone-byte", _replace_once('"reference"', b'"\xffreference"'))
file_case("json-utf8-encoded-surrogate", _replace_once('"reference"', b'"\xed\xa0\x80"'))
file_case("json-lone-surrogate-escape", _replace_once('"reference"', b'"\\ud800"'))
file_case("json-utf16le-bom", _utf16(codecs.BOM_UTF16_LE, "utf-16-le"))
file_case("json-utf16be-bom", _utf16(codecs.BOM_UTF16_BE, "utf-16-be"))
file_case("json-nan-subchannels", raw_at("subchannels", lambda: "NaN"))
file_case("json-infinity-intparm", raw_at("workers/0/1/intparm", lambda: "Infinity"))
file_case("json-minus-infinity-after", raw_at("channel/0/after", lambda: "-Infinity"))
file_case("json-nan-sch", raw_at("workers/0/0/sch", lambda: "NaN"))
file_case("json-python-literal", lambda: repr(base_doc()).encode())
doc_case("json-top-array", lambda: [base_doc()])
doc_case("json-top-string", lambda: "ccwfuzz.program")
doc_case("json-top-number", lambda: 2)
doc_case("json-top-null", lambda: None)
doc_case("json-top-true", lambda: True)
file_case(
    "json-duplicate-format",
    lambda: b'{"format": "ccwfuzz.program", ' + _base_text().encode()[1:],
)
file_case(
    "json-duplicate-key-in-op",
    raw_at("workers/0/0", lambda: '{"op": "open", "sch": 0, "sch": 0}'),
)

# 2. wrong JSON types: whole-number floats, booleans, strings, null, wrong shapes
_value: Any  # one loop variable across the tables below
for _case_id, _where, _value in [
    ("type-float-subchannels", "subchannels", 1.0),
    ("type-float-sch", "workers/0/0/sch", 0.0),
    ("type-float-intparm", "workers/0/1/intparm", 7.0),
    ("type-float-after", "channel/0/after", 3.0),
    ("type-float-ccw-cmd", "workers/0/1/ccws/0/0", 3.0),
    ("type-float-ccw-count", "workers/0/1/ccws/0/2", 1.0),
    ("type-float-choice", "schedule/choices/1", 1.0),
]:
    doc_case(_case_id, functools.partial(with_value, _where, _value))
doc_case("type-float-version", lambda: with_value("version", float(format_version())))
doc_case("type-string-version", lambda: with_value("version", str(format_version())))
for _case_id, _where, _value in [
    ("type-bool-subchannels", "subchannels", True),
    ("type-bool-sch", "workers/0/0/sch", False),
    ("type-bool-intparm", "workers/0/1/intparm", True),
    ("type-bool-after", "channel/0/after", True),
    ("type-bool-choice", "schedule/choices/0", False),
    ("type-int-retry-1", "workers/0/1/retry", 1),
    ("type-int-retry-0", "workers/0/1/retry", 0),
    ("type-string-retry", "workers/0/1/retry", "true"),
    ("type-string-subchannels", "subchannels", "1"),
    ("type-string-sch", "workers/0/0/sch", "0"),
    ("type-string-intparm", "workers/0/1/intparm", "7"),
    ("type-string-ctrl", "workers/0/1/ctrl", "0x810000"),
    ("type-string-ccw-cmd", "workers/0/1/ccws/0/0", "3"),
    ("type-null-sch", "workers/0/0/sch", None),
    ("type-null-workers", "workers", None),
    ("type-object-workers", "workers", {"0": [{"op": "open", "sch": 0}]}),
    ("type-string-op", "workers/0/0", "open"),
    ("type-string-ccws", "workers/0/1/ccws", "03200100"),
    ("type-short-ccw", "workers/0/1/ccws/0", [3, 32, 1]),
    ("type-list-schedule", "schedule", ["choices", [0, 1, 2]]),
    ("type-object-channel", "channel", {"event": "attention"}),
]:
    doc_case(_case_id, functools.partial(with_value, _where, _value))

# 3. out-of-range numbers (huge ones and exponent forms as raw JSON text)
for _case_id, _where, _value in [
    ("range-negative-sch", "workers/0/0/sch", -1),
    ("range-sch-equals-subchannels", "workers/0/1/sch", 1),
    ("range-channel-sch-beyond", "channel/0/sch", 5),
    ("range-subchannels-zero", "subchannels", 0),
    ("range-subchannels-million", "subchannels", 10**6),
    ("range-subchannels-negative", "subchannels", -1),
    ("range-intparm-2-32", "workers/0/1/intparm", 2**32),
    ("range-intparm-negative", "workers/0/1/intparm", -1),
    ("range-ctrl-2-64", "workers/0/1/ctrl", 2**64),
    ("range-ccw-cmd-256", "workers/0/1/ccws/0/0", 256),
    ("range-ccw-count-65536", "workers/0/1/ccws/0/2", 65536),
    ("range-negative-choice", "schedule/choices/0", -1),
]:
    doc_case(_case_id, functools.partial(with_value, _where, _value))
file_case("range-intparm-5000-digits", raw_at("workers/0/1/intparm", lambda: "9" * 5000))
file_case("range-sch-100000-digits", raw_at("workers/0/0/sch", lambda: "1" + "0" * 99_999))
file_case("range-negative-5000-digits", raw_at("subchannels", lambda: "-" + "9" * 5000))
file_case("range-after-1e400", raw_at("channel/0/after", lambda: "1e400"))
file_case("range-intparm-minus-1e400", raw_at("workers/0/1/intparm", lambda: "-1e400"))
file_case("range-sch-minus-zero-float", raw_at("workers/0/0/sch", lambda: "-0.0"))
file_case("range-sch-0e0", raw_at("workers/0/0/sch", lambda: "0e0"))
file_case("range-intparm-7e0", raw_at("workers/0/1/intparm", lambda: "7e0"))
file_case("range-choice-1e-400", raw_at("schedule/choices/1", lambda: "1e-400"))

# 4. size and shape bombs
file_case("bomb-deep-list-100k", lambda: _nested(100_000, "[", "]").encode())
file_case("bomb-deep-object-100k", lambda: _nested(100_000, '{"a":', "}", "1").encode())
file_case("bomb-deep-list-in-workers", raw_at("workers", lambda: _nested(100_000, "[", "]")))
doc_case("bomb-20mb-meta-string", lambda: with_value("meta", {"note": "A" * (20 * MIB)}))
doc_case("bomb-20mb-data-hex", lambda: with_op({"op": "write", "sch": 0, "data": "00" * 10 * MIB}))
file_case(
    "bomb-1m-ops",
    raw_at("workers/0", lambda: "[" + ",".join(['{"op":"open","sch":0}'] * 10**6) + "]"),
)
file_case(
    "bomb-100k-invalid-ops",
    raw_at("workers/0", lambda: "[" + ",".join(['{"op":"nope","sch":-1}'] * 10**5) + "]"),
)
file_case(
    "bomb-100k-ccws",
    raw_at("workers/0/1/ccws", lambda: "[" + ",".join(["[3,32,1,0]"] * 10**5) + "]"),
)
file_case(
    "bomb-10k-workers",
    raw_at("workers", lambda: "[" + ",".join(['[{"op":"open","sch":0}]'] * 10**4) + "]"),
)
file_case(
    "bomb-1m-choices",
    raw_at("schedule/choices", lambda: "[" + ",".join(["0"] * 10**6) + "]"),
)
# bombs under 1 MiB (so under the loader's file-size gate): they reach the parser and schema
file_case(
    "bomb-20k-invalid-ops",
    raw_at("workers/0", lambda: "[" + ",".join(['{"op":"nope","sch":-1}'] * 20_000) + "]"),
)
file_case(
    "bomb-50k-ccws",
    raw_at("workers/0/1/ccws", lambda: "[" + ",".join(["[3,32,1,0]"] * 50_000) + "]"),
)
doc_case("bomb-30k-top-level-keys", lambda: {**base_doc(), **{f"k{i}": i for i in range(30_000)}})
doc_case("bomb-500kb-data-hex", lambda: with_op({"op": "write", "sch": 0, "data": "00" * 250_000}))
doc_case("bomb-1mb-data-hex", lambda: with_op({"op": "write", "sch": 0, "data": "00" * 520_000}))
doc_case("bomb-yield-1e9", lambda: with_op({"op": "yield", "sch": 0, "n": 10**9}))
doc_case("bomb-after-1e9", functools.partial(with_value, "channel/0/after", 10**9))
doc_case("bomb-100k-top-level-keys", lambda: {**base_doc(), **{f"k{i}": i for i in range(10**5)}})
doc_case("bomb-1mb-key-name", lambda: {**base_doc(), "k" * MIB: 1})

# 5. unknown or refused names
for _case_id, _where, _value in [
    ("name-unknown-op", "workers/0/0/op", "frobnicate"),
    ("name-empty-op", "workers/0/0/op", ""),
    ("name-op-osc-escape", "workers/0/0/op", "\x1b]0;pwned\x07"),
    ("name-unknown-event", "channel/0/event", "meteor"),
    ("name-unknown-policy", "schedule/policy", "chaos"),
    ("name-unknown-top-level-key", "extra", 1),
    ("name-ansi-top-level-key", "\x1b[2J\x1b[31mextra", 1),
    ("name-unknown-key-in-op", "workers/0/1/bogus", 1),
    ("name-unknown-key-in-event", "channel/0/bogus", 1),
    ("name-unknown-key-in-schedule", "schedule/bogus", 1),
    ("name-unknown-contract", "contract", "nope"),
    ("name-wrong-format", "format", "ccwfuzz.programme"),
    ("name-target-os-system", "target", "os:system"),
    ("name-target-subprocess", "target", "subprocess:Popen"),
    ("name-target-zoo-nope", "target", "zoo:nope"),
    ("name-target-ansi", "target", "\x1b[31mred"),
    ("name-target-empty", "target", ""),
    ("name-target-path", "target", "../../etc/passwd"),
    ("name-version-unknown-999", "version", 999),
]:
    doc_case(_case_id, functools.partial(with_value, _where, _value))
for _key in ("format", "version", "workers"):
    doc_case(f"name-missing-{_key}", functools.partial(without, _key))

# 6. meta abuse
for _case_id, _value in [
    ("meta-list", ["mode", "free"]),
    ("meta-string", "controlled"),
    ("meta-null", None),
    ("meta-mode-freee", {"mode": "freee"}),
    ("meta-mode-unknown", {"mode": "turbo"}),
    ("meta-mode-number", {"mode": 1}),
    ("meta-mode-ansi", {"mode": "\x1b[2J\x1b[31m"}),
    ("meta-note-bidi-override", {"note": "benign\u202etxt.exe"}),
    ("meta-note-c1-csi", {"note": "x\x9b2Jx"}),
]:
    doc_case(_case_id, functools.partial(with_value, "meta", _value))
doc_case(
    "meta-raw-utf8-bidi-override",
    functools.partial(with_value, "meta", {"mode": "free\u202e", "note": "\u202e\u2066"}),
    ascii_only=False,
)
doc_case("meta-10mb-string", lambda: with_value("meta", {"note": "x" * (10 * MIB)}))
doc_case("meta-1mb-string", lambda: with_value("meta", {"note": "x" * 1_040_000}))
file_case("meta-deep-nesting", raw_at("meta", lambda: _nested(100_000, '{"a":', "}", "{}")))


# 7. paths that are not readable regular files
def _directory(tmp: Path) -> Path:
    (tmp / "dir.json").mkdir()
    return tmp / "dir.json"


def _unreadable(tmp: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root can read a file without read permission")
    path = tmp / PROGRAM_NAME
    path.write_bytes(encode(base_doc()))
    path.chmod(0)
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "fifo.json"
    os.mkfifo(path)  # no writer: a plain blocking open for reading would hang forever
    return path


def _dev_zero(tmp: Path) -> Path:
    path = Path("/dev/zero")
    if not path.exists():
        pytest.skip("no /dev/zero")
    return path


def _dangling_symlink(tmp: Path) -> Path:
    path = tmp / "dangling.json"
    path.symlink_to(tmp / "missing.json")
    return path


def _symlink_loop(tmp: Path) -> Path:
    path = tmp / "loop.json"
    path.symlink_to(path)
    return path


path_case("path-directory", _directory)
path_case("path-nonexistent", lambda tmp: tmp / "missing.json")
path_case("path-nonexistent-ansi-name", lambda tmp: tmp / "\x1b[31mred\x1b[0m\nsecond line.json")
path_case("path-empty-string", lambda tmp: "")
path_case("path-name-too-long", lambda tmp: tmp / ("a" * 5000))
path_case("path-unreadable", _unreadable)
path_case("path-fifo", _fifo)
path_case("path-dev-zero", _dev_zero)
path_case("path-dangling-symlink", _dangling_symlink)
path_case("path-symlink-loop", _symlink_loop)


# ---- running the command ----------------------------------------------------------------
#: Starts the command, reaps it with ``os.wait4`` and prints the outcome as JSON. It runs
#: in a fresh, small interpreter because on Linux a child's ``ru_maxrss`` is at least the
#: peak RSS of the process it was spawned from (``execve`` folds the old address space's
#: high-water mark into it): spawned straight from a pytest process that has ever held a
#: 20 MB input, every later case would "use" that much too.
SPAWNER = r"""
import contextlib, json, os, resource, signal, subprocess, sys, threading, time

timeout, cap = float(sys.argv[1]), int(sys.argv[2])
out_path, err_path, command = sys.argv[3], sys.argv[4], sys.argv[5:]
lock, killed, exited = threading.Lock(), [], []


def kill_group(pgid):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


with open(out_path, "wb") as out, open(err_path, "wb") as err:
    start = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            env=dict(os.environ), start_new_session=True)


def on_timeout():
    with lock:  # the child is not reaped before `exited` is set: its pid cannot recycle
        if not exited:
            killed.append(True)
            kill_group(proc.pid)


timer = threading.Timer(timeout, on_timeout)
timer.start()
if cap:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (cap, cap))
os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # it has exited; not reaped yet
seconds = time.monotonic() - start
with lock:
    exited.append(True)
timer.cancel()
kill_group(proc.pid)  # stragglers it left behind (the unreaped child still holds the pgid)
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps({"code": proc.returncode, "seconds": seconds, "killed": bool(killed),
                  "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "maxrss_kib": usage.ru_maxrss}))
"""


@dataclass(frozen=True)
class Outcome:
    code: int  # the exit status, or minus the signal that ended the process
    seconds: float  # wall time from start to exit
    cpu_seconds: float  # user + system time: far below ``seconds`` means a busy machine
    maxrss_kib: int  # the child's peak RSS (with any children it reaped)
    killed: bool  # killed by the harness after the timeout
    stdout: bytes
    stderr: bytes


def run_ccwfuzz(target: Path | str, tmp: Path, timeout: float, cap_memory: bool) -> Outcome:
    """Run ``python -m ccwfuzz run target`` (own process group, environment inherited,
    output to files rather than pipes) and measure it; see :data:`SPAWNER`."""
    out_path, err_path = tmp / "ccwfuzz.stdout", tmp / "ccwfuzz.stderr"
    command = [sys.executable, "-m", "ccwfuzz", "run", os.fspath(target)]
    cap = ADDRESS_SPACE_CAP if cap_memory else 0
    spawner = [sys.executable, "-I", "-c", SPAWNER, str(timeout), str(cap)]
    done = subprocess.run(
        [*spawner, os.fspath(out_path), os.fspath(err_path), *command],
        capture_output=True,
        env=dict(os.environ),
        timeout=timeout + 60,  # the spawner kills a hung child itself after `timeout`
    )
    assert done.returncode == 0, f"spawner failed: {done.stderr.decode(errors='replace')}"
    measured = json.loads(done.stdout)
    return Outcome(
        code=measured["code"],
        seconds=measured["seconds"],
        cpu_seconds=measured["cpu_seconds"],
        maxrss_kib=measured["maxrss_kib"],
        killed=measured["killed"],
        stdout=out_path.read_bytes(),
        stderr=err_path.read_bytes(),
    )


# ---- the contract ------------------------------------------------------------------------
_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C}


def _unescaped(data: bytes) -> list[str]:
    """What in ``data`` would drive a terminal: raw control bytes (newlines aside), C1 and
    bidi controls."""
    found = sorted({f"0x{b:02x}" for b in data if (b < 0x20 or b == 0x7F)} - {"0x0a"})
    text = data.decode("utf-8", "replace")
    found += sorted({f"U+{ord(c):04X}" for c in text if 0x80 <= ord(c) < 0xA0 or ord(c) in _BIDI})
    return found


def _show(data: bytes, most: int = 600) -> str:
    shown = repr(data[:most])  # repr: nothing raw reaches the test log either
    return shown if len(data) <= most else f"{shown}... ({len(data)} bytes)"


def contract_problems(o: Outcome) -> list[str]:
    problems = []
    if o.killed:
        problems.append(f"hung: killed after {TIMEOUT_S:.0f} s")
    if o.code != 2:
        problems.append(f"exit code {o.code}, expected 2")
    # CPU time, not wall time: the verdict must not depend on how loaded the machine is
    # (a hang is caught by the kill above).
    if o.cpu_seconds > TIME_LIMIT_S:
        problems.append(f"took {o.cpu_seconds:.2f} s CPU, limit {TIME_LIMIT_S:.0f} s")
    if o.maxrss_kib >= RSS_LIMIT_KIB:
        problems.append(f"peak RSS {o.maxrss_kib / 1024:.0f} MB, limit {RSS_LIMIT_KIB // 1024} MB")
    for name, data in (("stdout", o.stdout), ("stderr", o.stderr)):
        if b"Traceback" in data:
            problems.append(f"{name} holds a traceback")
        if bad := _unescaped(data):
            problems.append(f"{name} holds unescaped control characters {', '.join(bad)}")
    line = o.stderr[:-1]
    if not o.stderr.endswith(b"\n") or b"\n" in line:
        newlines = o.stderr.count(b"\n")
        problems.append(f"stderr is not exactly one line ({newlines} newlines)")
    if not line.startswith(b"ccwfuzz: ") or not line[len(b"ccwfuzz: ") :].strip():
        problems.append("stderr does not start with 'ccwfuzz: ' and a message")
    try:
        o.stderr.decode("utf-8")
    except UnicodeDecodeError:
        problems.append("stderr is not valid UTF-8 (raw bytes from the file?)")
    return problems


def _tidy(tmp: Path) -> None:
    """Drop the multi-megabyte inputs at once rather than keeping them in the basetemp."""
    for path in tmp.iterdir():
        if path.is_file() and not path.is_symlink() and path.stat().st_size > MIB:
            path.unlink()


# ---- the tests ---------------------------------------------------------------------------
def test_case_set_does_not_shrink() -> None:
    assert len(CASES) >= 60, len(CASES)
    per_class = {c: sum(i.startswith(f"{c}-") for i in CASES) for c in CLASSES}
    assert all(n >= 3 for n in per_class.values()), per_class


@pytest.mark.parametrize("case_id", list(CASES))
def test_hostile_file_is_refused_cleanly(case_id: str, tmp_path: Path) -> None:
    target = CASES[case_id](tmp_path)
    try:
        o = run_ccwfuzz(target, tmp_path, TIMEOUT_S, cap_memory=True)
    finally:
        _tidy(tmp_path)
    problems = contract_problems(o)
    measured = f"exit {o.code}, {o.seconds:.2f} s ({o.cpu_seconds:.2f} s CPU), {o.maxrss_kib} KiB"
    assert not problems, (
        f"{case_id}: " + "; ".join(problems) + f"\n  {measured}"
        f"\n  stderr: {_show(o.stderr)}\n  stdout: {_show(o.stdout)}"
    )


def test_valid_base_document_is_not_refused(tmp_path: Path) -> None:
    """Positive control: the harness tells a run from a refusal (0 ok, 1 a finding)."""
    path = tmp_path / PROGRAM_NAME
    path.write_bytes(encode(base_doc()))
    o = run_ccwfuzz(path, tmp_path, CONTROL_TIMEOUT_S, cap_memory=False)
    detail = f"exit {o.code}\n  stderr: {_show(o.stderr, 2000)}\n  stdout: {_show(o.stdout)}"
    assert o.code in (0, 1), detail
    assert b"Traceback" not in o.stderr, detail  # exit 1 from a crash is not a finding
