"""The coverage-guided fuzzer's harness: libFuzzer's ``TestOneInput`` in ccwfuzz terms.

libFuzzer (through atheris) mutates bytes; :class:`Harness` reads each input as the
choice sequence of the program generator (:class:`~ccwfuzz.choices.ByteSource`: the
program's ops, ORBs, channel programs, hardware events *and* its schedule come from the
same bytes, so a mutation moves timing and data together), runs the program in
controlled mode on the executor's persistent actors, judges it with every oracle
(:class:`~ccwfuzz.engines.loop.Session`), and hands the features the *actors* recorded
(:mod:`ccwfuzz.coverage`) to libFuzzer through the :class:`~ccwfuzz.engines.bridge.Bridge`.

What must stay true:

* **An input is a program.** Every byte string decodes to a valid program; decoding is
  a pure function of the bytes, and the recorded choices replay it without them.
* **A finding is data, not a crash.** A violation is saved (once per finding key, across
  every shard sharing the output folder) as the libFuzzer artifact (the input bytes) and
  as a program file with its recorded schedule and choices, which ``ccwfuzz replay``
  replays; the session goes on unless asked to stop. Nothing the driver does (raise,
  loop, deadlock) and nothing the tool suffers (a lost actor) ends libFuzzer's loop.
* **Only the run is signal.** The features are those of the controlled run, which is
  deterministic: the same input gives the same features, so libFuzzer's corpus
  decisions are sound.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ccwfuzz.choices import ByteSource, ChoiceSource, RecordingSource
from ccwfuzz.engines.loop import Judged, Session
from ccwfuzz.engines.mutate import TracingSource
from ccwfuzz.oracles import Finding
from ccwfuzz.program import Executor, Program, RequestError, dumps, random_program
from ccwfuzz.program.generate import STEPS_PER_OP, WALK, hw_events, schedule

#: The schedule's share of an input: a policy choice, then :data:`WALK` bytes of walk
#: choices (two bits say stay, six pick); a lagging walk then draws up to two windows
#: in at most nine more bytes, all inside the share.
SCHEDULE_BYTES = 64
#: The hardware events' share, right after the schedule: up to two events of at most
#: eight bytes each (a zero "one more" byte ends the list). At a fixed place, so a
#: mutation of the ops never moves an event, and one of an event never moves an op.
EVENT_BYTES = 16
#: Inputs longer than this are cut (libFuzzer's ``-max_len`` is set to it by default):
#: a program of 8 ops per worker with a walk schedule reads about 2 KiB.
MAX_INPUT = 4096
#: The byte ranges a fresh schedule or fresh hardware events may replace
#: (:func:`~ccwfuzz.engines.mutate.reschedule`).
RESCHEDULE_REGIONS = ((0, SCHEDULE_BYTES), (SCHEDULE_BYTES, SCHEDULE_BYTES + EVENT_BYTES))


def decode(data: bytes, *, workers: int, subchannels: int, ops: int, target: str,
           draw: str) -> tuple[Program, list[int]]:  # fmt: skip
    """The program an input stands for, and the choices it read (which replay it).

    Example:
        >>> p, choices = decode(b"", workers=2, subchannels=1, ops=8, target="reference",
        ...                     draw="valid")
        >>> [[o.kind for o in w] for w in p.workers], choices
        ([['open'], ['open']], [])
    """
    rec = RecordingSource(ByteSource(data[:MAX_INPUT]))
    program = generate(rec, workers=workers, subchannels=subchannels, ops=ops, target=target,
                       draw=draw)  # fmt: skip
    choices = rec.choices
    while choices and choices[-1] == 0:  # past the input's end: a replay draws 0 there too
        choices.pop()
    return program, choices


def generate(src: ChoiceSource, *, workers: int, subchannels: int, ops: int, target: str,
             draw: str) -> Program:  # fmt: skip
    """The fuzzer's generator: the schedule from the input's first
    :data:`SCHEDULE_BYTES` (so every input, however short, has one of its own, and a
    mutation of the program never moves it), the hardware events from the next
    :data:`EVENT_BYTES`, then a sized random program from the rest (see
    :func:`decode`)."""
    steps = STEPS_PER_OP * workers * (ops + subchannels)
    sched = schedule(src, workers + 2, steps, walk_length=WALK, walk_range=256)
    seek = getattr(src, "seek", None)
    if seek is not None:
        seek(SCHEDULE_BYTES)
    events = tuple(hw_events(src, subchannels, 2, True, steps))
    if seek is not None:
        seek(SCHEDULE_BYTES + EVENT_BYTES)
    return random_program(src, workers=workers, subchannels=subchannels, ops=ops,
                          target=target, mode=draw, sized=True, schedule_=sched,
                          channel_=events)  # fmt: skip


def unusable(path: Path) -> str | None:
    """Why one corpus entry cannot be an input, or None."""
    try:
        st = path.lstat()
    except OSError as e:
        return f"cannot stat it ({e.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_INPUT:
        return f"{st.st_size} bytes, more than the {MAX_INPUT} an input may have"
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        return f"unreadable ({e.strerror})"
    return None


def finding_slug(f: Finding) -> str:
    """The file name stem of a finding: its rule and a hash of its whole key."""
    h = hashlib.sha1("\x1f".join(f.key).encode()).hexdigest()[:10]
    return f"{f.rule}-{h}"


def write_once(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` unless it exists (atomic: written to a private
    file, flushed, then hard-linked into place, so a reader never sees half a file and
    two shards saving the same finding keep exactly one). True if this call made it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


@dataclasses.dataclass
class FuzzStats:
    execs: int = 0
    findings: int = 0  # finding keys this shard saved first
    known: int = 0  # findings whose key was already saved (here or by another shard)
    features: int = 0  # distinct features seen in this shard
    inconclusive: int = 0
    tool_faults: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)

    def exec_per_s(self) -> float:
        t = time.monotonic() - self.started
        return self.execs / t if t > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("started")
        d["exec_per_s"] = round(self.exec_per_s(), 1)
        d["seconds"] = round(time.monotonic() - self.started, 2)
        return d


class Harness:
    """``TestOneInput``: decode, run, judge, save, feed back (see the module text).

    ``feed`` receives each run's features (the bridge to libFuzzer), or is None to
    fuzz without actor coverage. ``out``: the folder findings go to (``findings/``
    programs, ``artifacts/`` inputs); None keeps them in :attr:`found` only.
    """

    def __init__(self, executor: Executor, *, out: Path | None = None, ops: int = 8,
                 draw: str = "valid", contract: str = "upstream", max_steps: int = 20_000,
                 feed: Callable[[Sequence[int]], None] | None = None,
                 on_finding: Callable[[Finding, Path | None, bool], None] | None = None,
                 ) -> None:  # fmt: skip
        self.executor = executor
        self.session = Session(executor, max_steps=max_steps, contract=contract, draw=draw,
                               ops=ops)  # fmt: skip
        self.ops = ops
        self.draw = draw
        self.out = out
        self.feed = feed
        self.on_finding = on_finding
        self.stats = FuzzStats()
        self.seen: set[int] = set()
        self.keys: set[tuple[str, ...]] = set()
        self.found: list[tuple[Finding, Program]] = []
        if out is not None:
            (out / "findings").mkdir(parents=True, exist_ok=True)
            (out / "artifacts").mkdir(parents=True, exist_ok=True)

    def decode(self, data: bytes) -> tuple[Program, list[int]]:
        ex = self.executor
        program, choices = decode(data, workers=ex.nworkers, subchannels=ex.nsch,
                                  ops=self.ops, target=ex.target, draw=self.draw)  # fmt: skip
        if self.session.contract != program.contract:
            program = dataclasses.replace(program, contract=self.session.contract)
        return program, choices

    def spans(self, data: bytes) -> list[tuple[int, int, int]]:
        """Where each draw of ``data`` sits (for :func:`~ccwfuzz.engines.mutate.mutate`)."""
        ex = self.executor
        src = TracingSource(data[:MAX_INPUT])
        generate(src, workers=ex.nworkers, subchannels=ex.nsch, ops=self.ops, target=ex.target,
                 draw=self.draw)  # fmt: skip
        return src.spans

    def __call__(self, data: bytes) -> None:
        self.stats.execs += 1
        program, choices = self.decode(data)
        try:
            judged = self.session.judge(program)
        except RequestError:  # too long for the step budget: nothing to say
            self.stats.inconclusive += 1
            return
        if judged is None:
            self.stats.inconclusive += 1
            return
        signal = judged.result.signal
        if signal:
            seen = self.seen
            seen.update(signal)
            self.stats.features = len(seen)
        for f in judged.findings:
            self._found(f, judged, data, choices)
        if self.feed is not None and signal:
            self.feed(signal)

    def _found(self, f: Finding, judged: Judged, data: bytes, choices: list[int]) -> None:
        if f.key in self.keys:
            return
        self.keys.add(f.key)
        program = judged.replay_program(f)
        meta = dict(program.meta)
        meta["choices"] = choices
        meta["input"] = data[:MAX_INPUT].hex()
        meta["found_after"] = {
            "execs": self.stats.execs,
            "seconds": round(time.monotonic() - self.stats.started, 3),
        }
        program = dataclasses.replace(program, meta=meta)
        self.found.append((f, program))
        path: Path | None = None
        new = True
        if self.out is not None:
            slug = finding_slug(f)
            path = self.out / "findings" / f"{slug}.json"
            new = write_once(path, dumps(program).encode())
            digest = hashlib.sha1(data).hexdigest()
            write_once(self.out / "artifacts" / f"crash-{digest}", data)
        if new:
            self.stats.findings += 1
        else:
            self.stats.known += 1
        if self.on_finding is not None:
            self.on_finding(f, path, new)


def write_status(path: Path, stats: FuzzStats, **extra: Any) -> None:
    """The shard's figures for the supervisor's live line (replaced atomically)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({**stats.to_dict(), **extra}))
    os.replace(tmp, path)


__all__ = ["MAX_INPUT", "FuzzStats", "Harness", "decode", "finding_slug", "unusable",
           "write_once", "write_status"]  # fmt: skip
